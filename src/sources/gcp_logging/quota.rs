//! The `entries.list` quota, charged per project before every request.
//!
//! Cloud Logging allows 60 `entries.list` requests per minute per project, counted for every
//! caller of the project. Each project gets one limiter in the process-wide registry (key
//! `gcp:<project>`), so every source reading a project shares its budget, and a request that
//! carries several projects is charged to each of them.
//!
//! The limiter admits one request every `60 s / N` with no burst: a burst of N on top of the
//! steady rate would let up to 2N requests land in one minute, which is exactly what the
//! quota forbids.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use crate::sources::rate_limit::{Budget, Limiter, RateLimits};

pub struct ProjectQuota {
    limiters: Vec<(String, Arc<Limiter>)>,
}

impl std::fmt::Debug for ProjectQuota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.limiters.iter().map(|(p, _)| p))
            .finish()
    }
}

/// `per_minute` requests per minute, spaced evenly.
pub fn budget(per_minute: NonZeroU32) -> Budget {
    Budget {
        requests: NonZeroU32::MIN,
        per: Duration::from_secs(60) / per_minute.get(),
    }
}

pub fn quota_key(project: &str) -> String {
    format!("gcp:{project}")
}

impl ProjectQuota {
    pub fn new(rate_limits: &RateLimits, projects: &[String], per_minute: NonZeroU32) -> Self {
        let budget = budget(per_minute);
        ProjectQuota {
            limiters: projects
                .iter()
                .map(|p| (p.clone(), rate_limits.get(&quota_key(p), budget)))
                .collect(),
        }
    }

    /// Waits until one more request fits the budget of every project in `projects`.
    pub async fn acquire(&self, projects: &[String]) {
        for (project, limiter) in &self.limiters {
            if projects.contains(project) {
                limiter.acquire().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn no_minute_holds_more_than_the_budget() {
        let limits = RateLimits::default();
        let projects = vec!["a".to_owned(), "b".to_owned()];
        let quota = ProjectQuota::new(&limits, &projects, NonZeroU32::new(50).unwrap());
        let other = ProjectQuota::new(&limits, &projects[..1], NonZeroU32::new(50).unwrap());
        let start = tokio::time::Instant::now();
        let mut times = Vec::new();
        for i in 0..200 {
            // Two sources share project `a`: they draw on one budget.
            if i % 2 == 0 {
                quota.acquire(&projects).await;
            } else {
                other.acquire(&projects[..1]).await;
            }
            times.push(start.elapsed());
        }
        for (i, t) in times.iter().enumerate() {
            let in_minute = times[i..]
                .iter()
                .take_while(|u| **u < *t + Duration::from_secs(60))
                .count();
            assert!(
                in_minute <= 50,
                "{in_minute} requests in the minute from {t:?}"
            );
        }
        // And the budget is used: 200 requests at 50/min take about 4 minutes.
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "{:?}",
            start.elapsed()
        );
    }
}

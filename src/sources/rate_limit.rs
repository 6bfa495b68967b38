//! Client-side request budgets, shared by every source that draws on the same provider quota.
//!
//! Provider quotas are per account and region (CloudWatch `FilterLogEvents`: 5 requests/s) or
//! per project (Cloud Logging `entries.list`: 60/min), not per source. Sources ask the registry
//! for the limiter of their quota key, so ten sources on one AWS account share five requests a
//! second instead of each taking five.
//!
//! The limiter (governor's GCRA) reads time from tokio's clock, so tests with a paused clock
//! measure request rates in simulated time.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// Time since the limiter was created, on tokio's (pausable) clock.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        TokioClock {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.origin.elapsed())
    }
}

/// A request budget: `requests` per `per`, with bursts up to `requests`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub requests: NonZeroU32,
    pub per: Duration,
}

impl Budget {
    pub fn per_second(requests: NonZeroU32) -> Self {
        Budget {
            requests,
            per: Duration::from_secs(1),
        }
    }

    pub fn per_minute(requests: NonZeroU32) -> Self {
        Budget {
            requests,
            per: Duration::from_secs(60),
        }
    }

    fn quota(self) -> Quota {
        let period = self.per / self.requests.get();
        Quota::with_period(period.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(self.requests))
            .allow_burst(self.requests)
    }
}

pub struct Limiter {
    budget: Budget,
    clock: TokioClock,
    gcra: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("budget", &self.budget)
            .finish()
    }
}

impl Limiter {
    pub fn new(budget: Budget) -> Self {
        let clock = TokioClock::default();
        Limiter {
            budget,
            clock,
            gcra: RateLimiter::direct_with_clock(budget.quota(), clock),
        }
    }

    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Waits until one more request fits the budget.
    pub async fn acquire(&self) {
        while let Err(not_until) = self.gcra.check() {
            let wait = not_until.wait_time_from(self.clock.now());
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }
}

/// Limiters by quota key (`aws:<account>:<region>`, `gcp:<project>`, …).
#[derive(Clone, Debug, Default)]
pub struct RateLimits {
    limiters: Arc<Mutex<HashMap<String, Arc<Limiter>>>>,
}

impl RateLimits {
    /// The shared limiter for `key`. The first caller's budget sets it; a later caller asking for
    /// a smaller budget tightens it, since the quota is the provider's and the strictest wins.
    pub fn get(&self, key: &str, budget: Budget) -> Arc<Limiter> {
        let mut limiters = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
        match limiters.get(key) {
            Some(existing) if existing.budget().quota_rate() <= budget.quota_rate() => {
                Arc::clone(existing)
            }
            _ => {
                let limiter = Arc::new(Limiter::new(budget));
                limiters.insert(key.to_owned(), Arc::clone(&limiter));
                limiter
            }
        }
    }
}

impl Budget {
    /// Requests per second, for comparing budgets.
    fn quota_rate(self) -> f64 {
        f64::from(self.requests.get()) / self.per.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn holds_the_rate_in_simulated_time() {
        let limiter = Limiter::new(Budget::per_minute(n(50)));
        let start = tokio::time::Instant::now();
        for _ in 0..150 {
            limiter.acquire().await;
        }
        // A burst of 50, then one every 1.2 s: 100 more take 120 s.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_secs(119), "{elapsed:?}");
        assert!(elapsed <= Duration::from_secs(121), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn sources_of_one_quota_share_a_limiter() {
        let limits = RateLimits::default();
        let a = limits.get("aws:1:eu-west-1", Budget::per_second(n(5)));
        let b = limits.get("aws:1:eu-west-1", Budget::per_second(n(5)));
        assert!(Arc::ptr_eq(&a, &b));
        let c = limits.get("aws:2:eu-west-1", Budget::per_second(n(5)));
        assert!(!Arc::ptr_eq(&a, &c));
        let strict = limits.get("aws:1:eu-west-1", Budget::per_second(n(2)));
        assert_eq!(strict.budget().requests.get(), 2);
    }
}

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
use std::sync::atomic::{AtomicU64, Ordering};
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

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

/// One quota's limiter. Its budget can only tighten, and every holder sees the tighter one.
pub struct Limiter {
    clock: TokioClock,
    current: Mutex<(Budget, Arc<Gcra>)>,
    /// Requests let through so far: with SDK retries off, one per HTTP request sent.
    acquired: AtomicU64,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("budget", &self.budget())
            .finish()
    }
}

impl Limiter {
    pub fn new(budget: Budget) -> Self {
        let clock = TokioClock::default();
        Limiter {
            clock,
            current: Mutex::new((
                budget,
                Arc::new(Gcra::direct_with_clock(budget.quota(), clock)),
            )),
            acquired: AtomicU64::new(0),
        }
    }

    /// How many requests this limiter has let through.
    pub fn acquired(&self) -> u64 {
        self.acquired.load(Ordering::Relaxed)
    }

    fn current(&self) -> std::sync::MutexGuard<'_, (Budget, Arc<Gcra>)> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn budget(&self) -> Budget {
        self.current().0
    }

    /// Lowers the budget if `budget` is stricter: the provider's quota is shared, so the
    /// strictest setting of any source drawing on it wins.
    fn tighten(&self, budget: Budget) {
        let mut current = self.current();
        if budget.rate() < current.0.rate() {
            *current = (
                budget,
                Arc::new(Gcra::direct_with_clock(budget.quota(), self.clock)),
            );
        }
    }

    /// Waits until one more request fits the budget.
    pub async fn acquire(&self) {
        loop {
            let gcra = Arc::clone(&self.current().1);
            match gcra.check() {
                Ok(()) => {
                    self.acquired.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                }
            }
        }
    }
}

/// Limiters by quota key (`aws:<account>:<region>`, `gcp:<project>`, …).
#[derive(Clone, Debug, Default)]
pub struct RateLimits {
    limiters: Arc<Mutex<HashMap<String, Arc<Limiter>>>>,
}

impl RateLimits {
    /// The shared limiter for `key`, tightened to `budget` if that is stricter than what other
    /// sources on the same quota asked for.
    pub fn get(&self, key: &str, budget: Budget) -> Arc<Limiter> {
        let mut limiters = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
        let limiter = limiters
            .entry(key.to_owned())
            .or_insert_with(|| Arc::new(Limiter::new(budget)));
        limiter.tighten(budget);
        Arc::clone(limiter)
    }
}

impl Budget {
    /// Requests per second, for comparing budgets.
    fn rate(self) -> f64 {
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
        // A stricter source tightens the limiter the others already hold; a looser one doesn't.
        let strict = limits.get("aws:1:eu-west-1", Budget::per_second(n(2)));
        assert!(Arc::ptr_eq(&a, &strict));
        assert_eq!(a.budget().requests.get(), 2);
        limits.get("aws:1:eu-west-1", Budget::per_second(n(9)));
        assert_eq!(a.budget().requests.get(), 2);
    }
}

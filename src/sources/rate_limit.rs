//! Client-side request budgets, shared by every source that draws on the same provider quota.
//!
//! Provider quotas are per account and region (CloudWatch `FilterLogEvents`: 5 requests/s) or
//! per project (Cloud Logging `entries.list`: 60/min), not per source. Sources ask the registry
//! for the limiter of their quota key, so ten sources on one AWS account share five requests a
//! second instead of each taking five.
//!
//! Replicas sharing a PostgreSQL store split each budget by lease share: the lease keeper sets
//! every key's share ([`RateLimits::set_share`]) and the limiter runs at `budget × share`. A
//! limiter created before its share is known starts at the registry's initial share (1 for a
//! lone process, 0 for a replica: nothing is sent until the keeper says how much is ours).
//! The registry also remembers which source asked for which key ([`RateLimits::keys_of`]), so
//! the keeper can record the keys each source lease draws on.
//!
//! The limiter (governor's GCRA) reads time from tokio's clock, so tests with a paused clock
//! measure request rates in simulated time.

use std::collections::{BTreeSet, HashMap};
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

    /// This budget times `share` (in `0..=1`): fewer requests per window where at least one
    /// is left (so the bursts of all replicas together stay within the budget), else a longer
    /// window for one request.
    fn scaled(self, share: f64) -> Budget {
        if share >= 1.0 {
            return self;
        }
        let exact = f64::from(self.requests.get()) * share;
        if exact >= 1.0 {
            let requests = exact.floor();
            Budget {
                // `exact` is below `requests`, a u32: the floor fits.
                requests: NonZeroU32::new(requests as u32).unwrap_or(NonZeroU32::MIN),
                per: self.per.mul_f64(requests / exact),
            }
        } else {
            Budget {
                requests: NonZeroU32::MIN,
                per: self.per.mul_f64(1.0 / exact.max(1e-9)),
            }
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

/// One quota's limiter. Its budget can only tighten, and every holder sees the tighter one;
/// its share of that budget is set by the lease keeper.
pub struct Limiter {
    clock: TokioClock,
    current: Mutex<Current>,
    /// Requests let through so far: with SDK retries off, one per HTTP request sent.
    acquired: AtomicU64,
}

struct Current {
    budget: Budget,
    share: f64,
    /// `None` while the share is 0: nothing may be sent.
    gcra: Option<Arc<Gcra>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("budget", &self.budget())
            .field("share", &self.share())
            .finish()
    }
}

/// How often a limiter whose share is 0 looks again (the keeper changes it once a renew tick).
const NO_SHARE_RECHECK: Duration = Duration::from_millis(100);

impl Limiter {
    pub fn new(budget: Budget) -> Self {
        Limiter::with_share(budget, 1.0)
    }

    fn with_share(budget: Budget, share: f64) -> Self {
        let clock = TokioClock::default();
        let limiter = Limiter {
            clock,
            current: Mutex::new(Current {
                budget,
                share: 1.0,
                gcra: None,
            }),
            acquired: AtomicU64::new(0),
        };
        {
            let mut current = limiter.current();
            limiter.rebuild(&mut current, budget, share, false);
        }
        limiter
    }

    /// How many requests this limiter has let through.
    pub fn acquired(&self) -> u64 {
        self.acquired.load(Ordering::Relaxed)
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn budget(&self) -> Budget {
        self.current().budget
    }

    pub fn share(&self) -> f64 {
        self.current().share
    }

    /// A new GCRA for `budget × share`. When it replaces one in use it starts with its burst
    /// spent: a fresh GCRA would let a request through at once, right after the old one let
    /// one through, and each change of share would add a request to the window.
    fn rebuild(&self, current: &mut Current, budget: Budget, share: f64, replacing: bool) {
        let share = share.clamp(0.0, 1.0);
        current.budget = budget;
        current.share = share;
        current.gcra = (share > 0.0).then(|| {
            let scaled = budget.scaled(share);
            let gcra = Gcra::direct_with_clock(scaled.quota(), self.clock);
            if replacing {
                for _ in 0..scaled.requests.get() {
                    let _ = gcra.check();
                }
            }
            Arc::new(gcra)
        });
    }

    /// Lowers the budget if `budget` is stricter: the provider's quota is shared, so the
    /// strictest setting of any source drawing on it wins.
    fn tighten(&self, budget: Budget) {
        let mut current = self.current();
        if budget.rate() < current.budget.rate() {
            let share = current.share;
            self.rebuild(&mut current, budget, share, true);
        }
    }

    /// Runs at `budget × share` from now on (`share` in `0..=1`; 0 sends nothing).
    pub fn set_share(&self, share: f64) {
        let mut current = self.current();
        if (current.share - share).abs() > f64::EPSILON {
            let budget = current.budget;
            self.rebuild(&mut current, budget, share, true);
        }
    }

    /// Waits until one more request fits the budget.
    pub async fn acquire(&self) {
        loop {
            let gcra = self.current().gcra.clone();
            let Some(gcra) = gcra else {
                // No share of the quota (yet): the keeper sets one at its next tick.
                tokio::time::sleep(NO_SHARE_RECHECK).await;
                continue;
            };
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
    registry: Arc<Mutex<Registry>>,
    /// The source asking, in the view [`RateLimits::for_source`] hands a source.
    source: Option<String>,
}

#[derive(Debug)]
struct Registry {
    limiters: HashMap<String, Arc<Limiter>>,
    /// Shares set by the keeper, kept for limiters created later.
    shares: HashMap<String, f64>,
    initial_share: f64,
    keys_by_source: HashMap<String, BTreeSet<String>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            limiters: HashMap::new(),
            shares: HashMap::new(),
            initial_share: 1.0,
            keys_by_source: HashMap::new(),
        }
    }
}

impl RateLimits {
    /// A registry whose limiters start at `share` of their budget until told otherwise (0 for
    /// a replica whose share is not known yet).
    pub fn with_initial_share(share: f64) -> Self {
        let limits = RateLimits::default();
        limits.registry().initial_share = share.clamp(0.0, 1.0);
        limits
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The same registry, remembering that `source` asks for the keys it gets.
    pub fn for_source(&self, source: &str) -> RateLimits {
        RateLimits {
            registry: Arc::clone(&self.registry),
            source: Some(source.to_owned()),
        }
    }

    /// The shared limiter for `key`, tightened to `budget` if that is stricter than what other
    /// sources on the same quota asked for.
    pub fn get(&self, key: &str, budget: Budget) -> Arc<Limiter> {
        let mut registry = self.registry();
        if let Some(source) = &self.source {
            registry
                .keys_by_source
                .entry(source.clone())
                .or_default()
                .insert(key.to_owned());
        }
        let share = registry
            .shares
            .get(key)
            .copied()
            .unwrap_or(registry.initial_share);
        let limiter = registry
            .limiters
            .entry(key.to_owned())
            .or_insert_with(|| Arc::new(Limiter::with_share(budget, share)));
        limiter.tighten(budget);
        Arc::clone(limiter)
    }

    /// The quota keys `source` has asked for so far (once built, all of them).
    pub fn keys_of(&self, source: &str) -> Vec<String> {
        self.registry()
            .keys_by_source
            .get(source)
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every key with a limiter or a share.
    pub fn keys(&self) -> Vec<String> {
        let registry = self.registry();
        let mut keys: BTreeSet<String> = registry.limiters.keys().cloned().collect();
        keys.extend(registry.shares.keys().cloned());
        keys.into_iter().collect()
    }

    /// The share of `key`'s budget this process may use (see the module doc).
    pub fn share(&self, key: &str) -> f64 {
        let registry = self.registry();
        registry
            .shares
            .get(key)
            .copied()
            .unwrap_or(registry.initial_share)
    }

    /// Sets `key`'s share, for its limiter now and for one created later.
    pub fn set_share(&self, key: &str, share: f64) {
        let share = share.clamp(0.0, 1.0);
        let mut registry = self.registry();
        registry.shares.insert(key.to_owned(), share);
        if let Some(limiter) = registry.limiters.get(key) {
            limiter.set_share(share);
        }
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

    /// Requests let through in `window` of simulated time by `limiters` acquiring in turn.
    async fn sent_within(limiters: &[Arc<Limiter>], window: Duration) -> u64 {
        let start = tokio::time::Instant::now();
        let before: u64 = limiters.iter().map(|l| l.acquired()).sum();
        let tasks: Vec<_> = limiters
            .iter()
            .map(|l| {
                let l = Arc::clone(l);
                tokio::spawn(async move {
                    loop {
                        l.acquire().await;
                        if start.elapsed() >= window {
                            return;
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(window).await;
        for t in &tasks {
            t.abort();
        }
        let after: u64 = limiters.iter().map(|l| l.acquired()).sum();
        after - before
    }

    #[tokio::test(start_paused = true)]
    async fn shares_split_the_budget_and_a_zero_share_sends_nothing() {
        // Three processes (three registries) on one quota of 60/min, shares 1/2, 1/3, 1/6.
        let budget = Budget::per_minute(n(60));
        let limiters: Vec<_> = [0.5, 1.0 / 3.0, 1.0 / 6.0]
            .iter()
            .map(|share| {
                let limits = RateLimits::with_initial_share(0.0);
                limits.set_share("gcp:p", *share);
                limits.get("gcp:p", budget)
            })
            .collect();
        let sent = sent_within(&limiters, Duration::from_secs(120)).await;
        // The bursts (at most 30 + 20 + 10) and then 60/min in all.
        assert!(
            (150..=181).contains(&sent),
            "{sent} requests in two minutes"
        );

        let idle = RateLimits::with_initial_share(0.0).get("gcp:q", budget);
        let sent = sent_within(&[Arc::clone(&idle)], Duration::from_secs(10)).await;
        assert_eq!(sent, 0, "no share, no request");
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_share_starts_with_its_burst_spent() {
        let limiter = Limiter::new(Budget::per_minute(n(1)));
        limiter.acquire().await;
        limiter.set_share(0.5);
        let start = tokio::time::Instant::now();
        limiter.acquire().await;
        assert!(
            start.elapsed() >= Duration::from_secs(119),
            "{:?}",
            start.elapsed()
        );
        let limits = RateLimits::default().for_source("gke");
        limits.get("gcp:a", Budget::per_minute(n(1)));
        limits.get("gcp:b", Budget::per_minute(n(1)));
        assert_eq!(limits.keys_of("gke"), ["gcp:a", "gcp:b"]);
        assert!(limits.keys_of("other").is_empty());
    }
}

//! What the lease keeper tells readiness and metrics: which leases this replica holds, whether
//! it could renew them lately, and whether it is the one replica exporting the fleet-wide
//! metrics read from the shared outbox.
//!
//! A lone process on a single-writer store ([`LeaseHealth::sole`]) holds everything, always:
//! readiness and metrics then behave as they did before replicas existed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::time::Instant;

pub struct LeaseHealth {
    shared: bool,
    /// Renewals older than this make the replica not ready.
    stale_after: Duration,
    inner: Mutex<Inner>,
    fleet_metrics: AtomicBool,
    /// Woken at every keeper tick, for [`LeaseHealth::until_released`].
    ticked: Notify,
}

#[derive(Default)]
struct Inner {
    /// Unit → when this replica took it.
    held: BTreeMap<String, DateTime<Utc>>,
    renewed: Option<Instant>,
    last_error: Option<String>,
}

impl LeaseHealth {
    /// The only process of a single-writer store: every lease is its own.
    pub fn sole() -> Self {
        LeaseHealth {
            shared: false,
            stale_after: Duration::MAX,
            inner: Mutex::default(),
            fleet_metrics: AtomicBool::new(true),
            ticked: Notify::new(),
        }
    }

    /// A replica of a shared store, not ready once its last renewal is `stale_after` old.
    pub fn replica(stale_after: Duration) -> Self {
        LeaseHealth {
            shared: true,
            stale_after,
            inner: Mutex::default(),
            fleet_metrics: AtomicBool::new(false),
            ticked: Notify::new(),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// The keeper's view after a tick: what it holds, and whether the store answered.
    pub fn record_tick(&self, held: BTreeMap<String, DateTime<Utc>>, error: Option<String>) {
        let mut inner = self.inner();
        inner.held = held;
        match error {
            None => {
                inner.renewed = Some(Instant::now());
                inner.last_error = None;
            }
            Some(e) => inner.last_error = Some(e),
        }
        drop(inner);
        self.ticked.notify_waiters();
    }

    /// Whether this process works on `unit` (always, alone on a single-writer store).
    pub fn holds(&self, unit: &str) -> bool {
        !self.shared || self.inner().held.contains_key(unit)
    }

    /// Resolves once this process no longer holds `unit` (never alone on a single-writer store).
    pub async fn until_released(&self, unit: &str) {
        loop {
            let ticked = self.ticked.notified();
            tokio::pin!(ticked);
            // Registered before the check, so a tick between the two is not missed.
            ticked.as_mut().enable();
            if !self.holds(unit) {
                return;
            }
            ticked.await;
        }
    }

    pub fn set_fleet_metrics(&self, on: bool) {
        self.fleet_metrics.store(on, Ordering::Relaxed);
    }

    /// Whether this process exports what is read from the shared outbox (one replica does).
    pub fn exports_fleet_metrics(&self) -> bool {
        self.fleet_metrics.load(Ordering::Relaxed)
    }

    /// For `/readyz`: whether the leases are healthy, and a line saying so (none for the sole
    /// owner of a single-writer store: it has no lease to lose).
    pub fn report(&self) -> (bool, Option<String>) {
        if !self.shared {
            return (true, None);
        }
        let inner = self.inner();
        let held: Vec<&str> = inner.held.keys().map(String::as_str).collect();
        let held = if held.is_empty() {
            "none".to_owned()
        } else {
            held.join(", ")
        };
        match inner.renewed {
            Some(at) if at.elapsed() <= self.stale_after => {
                (true, Some(format!("leases: ok (held: {held})")))
            }
            Some(at) => (
                false,
                Some(format!(
                    "leases: NOT RENEWED for {}s (the store cannot be reached for renewal{}); held: {held}",
                    at.elapsed().as_secs(),
                    inner
                        .last_error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                )),
            ),
            None => (false, Some("leases: starting (no renewal yet)".to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn until_released_waits_for_the_tick_that_drops_the_unit() {
        let health = Arc::new(LeaseHealth::replica(Duration::from_secs(5)));
        let held = BTreeMap::from([("source/a".to_owned(), Utc::now())]);
        health.record_tick(held.clone(), None);
        let waiter = tokio::spawn({
            let health = Arc::clone(&health);
            async move { health.until_released("source/a").await }
        });
        health.record_tick(held, None);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "still held");
        health.record_tick(BTreeMap::new(), None);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("released")
            .expect("no panic");
        // Alone on a single-writer store nothing is ever released.
        let sole = LeaseHealth::sole();
        let never =
            tokio::time::timeout(Duration::from_millis(50), sole.until_released("source/a"));
        assert!(never.await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_replica_is_ready_while_it_renews_and_holds_only_what_it_holds() {
        let health = LeaseHealth::replica(Duration::from_secs(5));
        assert!(!health.report().0, "no renewal yet");
        let held = BTreeMap::from([("source/a".to_owned(), Utc::now())]);
        health.record_tick(held.clone(), None);
        let (ready, line) = health.report();
        assert!(ready, "{line:?}");
        assert_eq!(line.as_deref(), Some("leases: ok (held: source/a)"));
        assert!(health.holds("source/a") && !health.holds("source/b"));

        // The store stops answering: ready until the last renewal is too old.
        tokio::time::advance(Duration::from_secs(4)).await;
        health.record_tick(held, Some("renewing source/a: connection refused".into()));
        assert!(health.report().0);
        tokio::time::advance(Duration::from_secs(2)).await;
        let (ready, line) = health.report();
        let line = line.unwrap_or_default();
        assert!(!ready);
        assert!(
            line.starts_with("leases: NOT RENEWED for 6s") && line.contains("connection refused"),
            "{line}"
        );

        let sole = LeaseHealth::sole();
        assert_eq!(sole.report(), (true, None));
        assert!(sole.holds("source/any") && sole.exports_fleet_metrics());
    }
}

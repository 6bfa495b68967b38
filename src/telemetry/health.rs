//! Per-source liveness, for readiness checks, the lag and last-success metrics, and scan
//! progress.
//!
//! The daemon's live sources share one registry; every scan gets its own, so a scan's
//! successes never make a failing live source look healthy.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::Clock;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceHealth {
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    /// How far the source has read, in event time.
    pub position: Option<DateTime<Utc>>,
    /// When the source was registered.
    pub since: Option<DateTime<Utc>>,
    /// Batches committed (scans report progress with it).
    pub batches: u64,
    /// What the committed batches held, for a scan's closing summary.
    pub totals: BatchTotals,
    /// How far the local clock is behind an instant the source already reached, while that is
    /// more than the source's tolerance (a clock jump; see `time_axis::skew`).
    pub clock_skew: Option<Duration>,
}

/// Counts summed over the batches a source committed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchTotals {
    pub records: u64,
    /// Alerts detection produced.
    pub alerts_found: u64,
    /// Of those, alerts new to the outbox (queued for the sinks).
    pub alerts_queued: u64,
    /// Of those, alerts the outbox already had (queued or delivered before): not sent again.
    pub alerts_known: u64,
}

impl BatchTotals {
    pub fn add(&mut self, other: &BatchTotals) {
        self.records += other.records;
        self.alerts_found += other.alerts_found;
        self.alerts_queued += other.alerts_queued;
        self.alerts_known += other.alerts_known;
    }
}

/// A supervised task (a deliverer, a scan schedule) as its supervisor last saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskHealth {
    /// Restarts after a panic since the process started.
    pub restarts: u64,
    /// Why it is down (its last panic), until it has run a while again.
    pub down: Option<String>,
}

/// Shared by the source drivers (writers) and the health endpoints (readers).
#[derive(Debug)]
pub struct Health {
    clock: Arc<dyn Clock>,
    sources: Mutex<BTreeMap<String, SourceHealth>>,
    /// By `"{task} {name}"`, e.g. `deliverer soc-webhook`.
    tasks: Mutex<BTreeMap<String, TaskHealth>>,
}

impl Health {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Health {
            clock,
            sources: Mutex::new(BTreeMap::new()),
            tasks: Mutex::new(BTreeMap::new()),
        }
    }

    /// A supervised task panicked (`reason`) and will be restarted.
    pub fn task_down(&self, task: &str, reason: &str) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        let entry = tasks.entry(task.to_owned()).or_default();
        entry.restarts += 1;
        entry.down = Some(reason.to_owned());
    }

    /// A restarted task has run long enough to count as up again.
    pub fn task_up(&self, task: &str) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = tasks.get_mut(task) {
            entry.down = None;
        }
    }

    /// Tasks that were ever restarted; the others have nothing to report.
    pub fn tasks(&self) -> BTreeMap<String, TaskHealth> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update(&self, source: &str, f: impl FnOnce(&mut SourceHealth)) {
        let now = self.clock.now();
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        f(sources
            .entry(source.to_owned())
            .or_insert_with(|| SourceHealth {
                since: Some(now),
                ..SourceHealth::default()
            }));
    }

    /// Registers a source before its first poll, so readiness can see it has not succeeded yet.
    pub fn register(&self, source: &str) {
        self.update(source, |_| {});
    }

    pub fn record_success(&self, source: &str) {
        let now = self.clock.now();
        self.update(source, |h| {
            h.last_success = Some(now);
            h.batches += 1;
            h.consecutive_failures = 0;
            h.last_error = None;
        });
    }

    /// Adds one committed batch's counts.
    pub fn record_totals(&self, source: &str, batch: &BatchTotals) {
        self.update(source, |h| h.totals.add(batch));
    }

    pub fn record_failure(&self, source: &str, error: &str) {
        self.update(source, |h| {
            h.consecutive_failures += 1;
            h.last_error = Some(error.to_owned());
        });
    }

    /// The source's clock skew at its last poll (`None`: within the tolerance).
    pub fn record_clock_skew(&self, source: &str, skew: Option<Duration>) {
        self.update(source, |h| h.clock_skew = skew);
    }

    pub fn record_position(&self, source: &str, position: DateTime<Utc>) {
        self.update(source, |h| h.position = Some(position));
    }

    pub fn snapshot(&self) -> BTreeMap<String, SourceHealth> {
        self.sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

//! Counters of one source's API use, readable while it runs.
//!
//! Metrics go to the exporter; these counters are for the code that embeds a source and wants
//! the numbers back (the measurement binary, tests asserting that a paused clock never timed a
//! request out).

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct PollStats {
    requests: AtomicU64,
    entries: AtomicU64,
    empty_pages: AtomicU64,
    throttled: AtomicU64,
    failed: AtomicU64,
    timeouts: AtomicU64,
    windows: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// `entries.list` calls made, answered or not.
    pub requests: u64,
    pub entries: u64,
    /// Pages that held no entry but a token to continue.
    pub empty_pages: u64,
    /// 429 RESOURCE_EXHAUSTED answers.
    pub throttled: u64,
    /// Other failed calls (5xx, network, refused).
    pub failed: u64,
    /// Calls that ran out of time (also counted in `failed`).
    pub timeouts: u64,
    /// Windows read to the end.
    pub windows: u64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl PollStats {
    pub(super) fn request(&self) {
        add(&self.requests, 1);
    }

    pub(super) fn page(&self, entries: usize, has_more: bool) {
        add(&self.entries, entries as u64);
        if entries == 0 && has_more {
            add(&self.empty_pages, 1);
        }
    }

    pub(super) fn throttled(&self) {
        add(&self.throttled, 1);
    }

    pub(super) fn failed(&self, timeout: bool) {
        add(&self.failed, 1);
        if timeout {
            add(&self.timeouts, 1);
        }
    }

    pub(super) fn window(&self) {
        add(&self.windows, 1);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: get(&self.requests),
            entries: get(&self.entries),
            empty_pages: get(&self.empty_pages),
            throttled: get(&self.throttled),
            failed: get(&self.failed),
            timeouts: get(&self.timeouts),
            windows: get(&self.windows),
        }
    }
}

impl From<StatsSnapshot> for crate::sources::time_axis::progress::ReadCounts {
    fn from(s: StatsSnapshot) -> Self {
        crate::sources::time_axis::progress::ReadCounts {
            requests: s.requests,
            entries: s.entries,
            throttled: s.throttled,
        }
    }
}

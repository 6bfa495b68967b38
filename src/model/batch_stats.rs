//! What one batch held, counted: filled by the pipeline, read by the ingest loop, `detect`'s
//! summary and the metrics.

use std::collections::BTreeMap;

use super::{Quiet, SkipReason};

/// Counts of what a batch held, for summaries and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchStats {
    pub records: u64,
    /// Audit events normalized (including degraded ones).
    pub events: u64,
    /// Records the prefilter rejected without parsing: they cannot be a Service write.
    pub irrelevant: u64,
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Events read only in part.
    pub degraded: u64,
    /// Rules that fired but an exception silenced.
    pub suppressed: u64,
    /// Events outside a scan's time range, not inspected.
    pub out_of_range: u64,
    /// Alerts produced (after deduplicating stages within the batch).
    pub alerts: u64,
    /// Events the detector looked at and let pass, by its reason.
    pub quiet: BTreeMap<Quiet, u64>,
    /// Alerts dropped because another stage of the same request already gave them.
    pub duplicate_stages: u64,
    /// Events on which only rules that are not enabled fired.
    pub rules_off: u64,
}

impl BatchStats {
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub fn add(&mut self, other: &BatchStats) {
        self.records += other.records;
        self.events += other.events;
        self.irrelevant += other.irrelevant;
        for (reason, n) in &other.skipped {
            *self.skipped.entry(*reason).or_default() += n;
        }
        self.degraded += other.degraded;
        self.suppressed += other.suppressed;
        self.out_of_range += other.out_of_range;
        self.alerts += other.alerts;
        for (reason, n) in &other.quiet {
            *self.quiet.entry(*reason).or_default() += n;
        }
        self.duplicate_stages += other.duplicate_stages;
        self.rules_off += other.rules_off;
    }
}

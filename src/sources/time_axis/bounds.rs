//! What a scan's range means on the axis, defined once for every source type.
//!
//! `scan --since S --until U` reads every entry stamped `S <= t <= U`: both ends inclusive, so
//! an entry stamped exactly at `--until` is found (a user copies the time of the last event
//! they care about). Windows on the axis are half-open `[start, end)` in milliseconds, so the
//! scan's exclusive end is `U + 1 ms`. A scan reads each instant once: no window of a scan
//! starts before `S`, and none re-reads an overlap (late arrivals are the live poller's
//! concern; a scan reads a past that has settled).

use chrono::{DateTime, Utc};

use crate::sources::TimeRange;

/// A scan's range in axis milliseconds: `[start_ms, end_ms)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanBounds {
    /// `--since`, inclusive.
    pub start_ms: i64,
    /// `--until` + 1 ms, exclusive.
    pub end_ms: i64,
}

impl ScanBounds {
    pub fn of(range: &TimeRange) -> Self {
        ScanBounds {
            start_ms: range.since.timestamp_millis(),
            end_ms: range.until.timestamp_millis().saturating_add(1),
        }
    }

    /// Whether an entry stamped `t` belongs to the scan.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let ms = t.timestamp_millis();
        self.start_ms <= ms && ms < self.end_ms
    }

    /// Whether a stream whose watermark is `watermark_ms` has read the whole range.
    pub fn finished(&self, watermark_ms: i64) -> bool {
        watermark_ms >= self.end_ms
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn both_ends_are_inclusive() {
        let since = Utc.timestamp_millis_opt(1_000).unwrap();
        let until = Utc.timestamp_millis_opt(2_000).unwrap();
        let b = ScanBounds::of(&TimeRange { since, until });
        assert_eq!((b.start_ms, b.end_ms), (1_000, 2_001));
        assert!(b.contains(since));
        assert!(b.contains(until));
        assert!(!b.contains(Utc.timestamp_millis_opt(999).unwrap()));
        assert!(!b.contains(Utc.timestamp_millis_opt(2_001).unwrap()));
        assert!(!b.finished(2_000));
        assert!(b.finished(2_001));
    }
}

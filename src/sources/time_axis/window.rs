//! Poll windows over a time axis, for the pollers of cloud logging APIs.
//!
//! Logging APIs make records visible late: CloudWatch accepts events up to 14 days old, Cloud
//! Logging's `receiveTimestamp` trails `timestamp` by seconds, Log Analytics ingests up to
//! minutes late. So a window's upper edge stays `lag` behind now, and every window starts
//! `overlap` before the watermark to pick up records that became visible after their time was
//! passed; records read twice are dropped by id (the driver's seen set).
//!
//! The axis is event time for CloudWatch and Cloud Logging and ingestion time for Log Analytics;
//! the planner does not care which. A scan's windows follow [`ScanBounds`]: they end at
//! `--until` (inclusive) and never re-read an overlap.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::bounds::ScanBounds;
use super::millis;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowPlanner {
    /// How far behind now the upper edge stays.
    pub lag: Duration,
    /// How far before the watermark each window starts again.
    pub overlap: Duration,
    /// The longest window fetched in one batch (bounds a catch-up batch).
    pub max_span: Duration,
}

/// `[start_ms, end_ms)` in milliseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// The planned window and whether more time is waiting after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    pub window: Window,
    /// The window stops short of the horizon: poll again right away.
    pub more: bool,
}

impl WindowPlanner {
    /// The window after `watermark_ms` (everything before it has been read), or `None` when the
    /// watermark has reached the horizon (`now - lag`, or the end of a scan's bounds).
    pub fn next(
        &self,
        watermark_ms: i64,
        now: DateTime<Utc>,
        scan: Option<ScanBounds>,
    ) -> Option<Planned> {
        let horizon = self.horizon(now, scan);
        if horizon <= watermark_ms {
            return None;
        }
        let end_ms = horizon.min(watermark_ms.saturating_add(millis(self.max_span).max(1)));
        let start_ms = match scan {
            None => watermark_ms.saturating_sub(millis(self.overlap)),
            Some(b) => watermark_ms.max(b.start_ms),
        };
        Some(Planned {
            window: Window { start_ms, end_ms },
            more: end_ms < horizon,
        })
    }

    /// Where windows end at `now`: `now - lag`, or the end of a scan's bounds if earlier.
    pub fn horizon(&self, now: DateTime<Utc>, scan: Option<ScanBounds>) -> i64 {
        let live_horizon = now.timestamp_millis().saturating_sub(millis(self.lag));
        scan.map_or(live_horizon, |b| b.end_ms.min(live_horizon))
    }

    /// Ids of records older than this cannot be re-read once the watermark is `watermark_ms`.
    pub fn forget_before(&self, watermark_ms: i64) -> i64 {
        watermark_ms.saturating_sub(millis(self.overlap))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn planner() -> WindowPlanner {
        WindowPlanner {
            lag: Duration::from_secs(30),
            overlap: Duration::from_secs(120),
            max_span: Duration::from_secs(600),
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    #[test]
    fn the_upper_edge_stays_lag_behind_now() {
        let p = planner().next(1_000_000, at(1_100), None).unwrap();
        assert_eq!(p.window.start_ms, 1_000_000 - 120_000);
        assert_eq!(p.window.end_ms, 1_070_000);
        assert!(!p.more);
        assert_eq!(planner().next(1_070_000, at(1_100), None), None);
    }

    #[test]
    fn long_backlogs_are_cut_into_spans() {
        let p = planner().next(0, at(10_000), None).unwrap();
        assert_eq!(p.window.end_ms, 600_000);
        assert!(p.more);
    }

    #[test]
    fn scans_stop_just_after_until_and_never_overlap() {
        let bounds = ScanBounds {
            start_ms: 100_000,
            end_ms: 300_001,
        };
        let p = planner().next(100_000, at(10_000), Some(bounds)).unwrap();
        assert_eq!((p.window.start_ms, p.window.end_ms), (100_000, 300_001));
        assert!(!p.more);
        let again = planner().next(200_000, at(10_000), Some(bounds)).unwrap();
        assert_eq!(again.window.start_ms, 200_000, "no overlap in a scan");
        assert_eq!(planner().next(300_001, at(10_000), Some(bounds)), None);
    }
}

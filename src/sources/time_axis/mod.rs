//! The time axis every cloud source reads along: watermarks, resume tokens, windows, scan
//! bounds, backlog skipping, the page-failure policy and progress lines — written once here,
//! used by `aws_cloudwatch`, `gcp_logging`, `azure_monitor` and `azure_blob`.
//!
//! A provider file only says how to fetch one window (or one page of it) and what a stream is
//! (a log group, a request group of projects, a workspace, an hour of blobs). Everything that
//! decides *which* instants are read — and so whether an entry is missed or read twice — lives
//! in this folder, so the four sources cannot drift apart again. User-facing description:
//! `docs/time-axis.md`.
//!
//! - [`window`]: the next window after a watermark (`lag`, `overlap`, `max_span`, scan bounds);
//! - [`bounds`]: what `--since`/`--until` mean (both inclusive) in half-open milliseconds;
//! - [`position`]: a stream's watermark and the resume token of a window read in part;
//! - [`backlog`]: `max_catchup`, moving watermarks too far behind forward;
//! - [`config`]: the shared window keys of every cloud source's table, one set of rules;
//! - [`page_failure`]: a page failing after earlier pages of the same window succeeded;
//! - [`progress`]: catch-up and scan progress lines;
//! - [`skew`]: a watermark ahead of the local clock (a clock jump): rewinding and reporting it.

pub mod backlog;
pub mod bounds;
pub mod config;
pub mod page_failure;
pub mod position;
pub mod progress;
pub mod skew;
pub mod window;

pub use backlog::{Watermarked, skip_backlog};
pub use bounds::ScanBounds;
pub use config::{RawWindowSettings, WindowDefaults, WindowSettings};
pub use page_failure::HeldFailure;
pub use position::{ResumePoint, StreamPosition};
pub use skew::{Rewound, SkewChange, SkewWatch, rewind_ahead, rewind_past, skew_tolerance};
pub use window::{Planned, Window, WindowPlanner};

use std::time::Duration;

/// A duration in whole milliseconds, saturating (a configured duration never overflows the axis).
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_saturates() {
        assert_eq!(millis(Duration::from_millis(1_500)), 1_500);
        assert_eq!(millis(Duration::MAX), i64::MAX);
    }
}

//! A range of event time: what a scan reads, and what it reports progress against.

use chrono::{DateTime, Utc};

/// `since..=until` in event time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

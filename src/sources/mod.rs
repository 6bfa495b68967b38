//! Where audit records come from: one poller per provider, and files.
//!
//! A provider implements [`Source`]: how to fetch the next batch after a cursor, and what the
//! cursor becomes; it is built by [`BuildSource::build`] from a [`SourceContext`] and its own
//! settings. Everything else belongs to the ingest layer (`ingest`): loading and committing the
//! cursor, dropping records already seen in a window overlap, running the pipeline, retrying
//! with backoff, stopping cleanly. Sources are leaves: they import `model`,
//! their own config types, the clock, the rate-limit registry, `retry`, the leaf
//! `telemetry::metrics` and `normalize`'s record framing (a file or blob must be cut into
//! records, and a CloudWatch message checked for EKS's cut marker, before it can be handed on),
//! never `ingest`, `state`, `pipeline`, `delivery` or `runtime`. So a failed fetch can never move
//! a checkpoint. The cloud sources read along one shared [`time_axis`] (watermarks, resume
//! tokens, windows, scan bounds, backlog skipping, page failures).

pub mod aws_cloudwatch;
pub mod azure;
pub mod azure_blob;
pub mod azure_monitor;
pub mod committed;
pub mod context;
pub mod diagnosis;
pub mod file;
pub mod gcp_logging;
pub mod rate_limit;
pub mod time_axis;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

pub use context::{BuildSource, SourceContext};

use crate::model::Cursor;
pub use crate::model::{Record, RecordOrigin, TimeRange};

/// What the daemon reads: from the checkpoint on (live), or a bounded past range (scan).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollMode {
    Live,
    Scan(TimeRange),
}

/// Where a source stands after a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// More is available now: poll again without waiting.
    More,
    /// Nothing more for now: wait for the poll interval.
    CaughtUp,
    /// A scan reached the end of its range.
    Finished,
}

/// A fetched batch and the cursor to commit once its alerts are in the outbox.
#[derive(Clone, Debug)]
pub struct Batch<C> {
    pub records: Vec<Record>,
    pub cursor: C,
    pub progress: Progress,
    /// Seen ids of events older than this can be forgotten: no later window reaches them.
    pub forget_seen_before_ms: Option<i64>,
    /// How far the source has read, in event time, for the lag metric.
    pub position: Option<DateTime<Utc>>,
}

/// How a source's failure is retried: the one classification shared with delivery.
pub use crate::retry::ErrorKind as SourceErrorKind;

#[derive(Debug, Error)]
#[error("{message}")]
pub struct SourceError {
    pub kind: SourceErrorKind,
    pub message: String,
    /// Wait at least this long before the next attempt (from `Retry-After` and the like).
    pub retry_after: Option<Duration>,
}

impl SourceError {
    pub fn new(kind: SourceErrorKind, message: impl Into<String>) -> Self {
        SourceError {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn throttled(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        SourceError {
            retry_after,
            ..Self::new(SourceErrorKind::Throttled, message)
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(SourceErrorKind::Transient, message)
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        Self::new(SourceErrorKind::Fatal, message)
    }
}

/// A provider's poller: how to fetch the next batch after a cursor.
///
/// `poll` must have no durable side effects; the driver commits the returned cursor only after
/// the batch's alerts are in the outbox.
#[async_trait]
pub trait Source: Send + Sync + 'static {
    type Cursor: Cursor;

    /// Where to begin when no checkpoint exists (live), or the start of a scan.
    fn start(&self, mode: &PollMode, now: DateTime<Utc>) -> Self::Cursor;

    async fn poll(
        &mut self,
        cursor: &Self::Cursor,
        mode: &PollMode,
    ) -> Result<Batch<Self::Cursor>, SourceError>;

    /// Called when the daemon resumes a checkpoint: if the cursor is more than `keep` behind
    /// `now`, move it to `now - keep` and return the range that will not be read (the daemon
    /// logs it so an operator can `scan` it). Sources without a time axis keep the default.
    fn skip_backlog(
        &self,
        cursor: &mut Self::Cursor,
        keep: Duration,
        now: DateTime<Utc>,
    ) -> Option<TimeRange> {
        let _ = (cursor, keep, now);
        None
    }

    /// Called before each live poll: a cursor standing past the live horizon (the clock went
    /// back) is moved back so the source keeps reading, and the rewind returned for the driver
    /// to judge the skew ([`time_axis::skew`]). Sources without a time axis keep the default.
    fn rewind_ahead(
        &self,
        cursor: &mut Self::Cursor,
        now: DateTime<Utc>,
    ) -> Option<time_axis::Rewound> {
        let _ = (cursor, now);
        None
    }

    /// How far ahead of the local clock a reached instant may be before it is a clock skew.
    fn skew_tolerance(&self) -> Duration {
        time_axis::skew::MIN_SKEW_TOLERANCE
    }

    /// A real call proving the source can read (credentials, permissions, the log exists);
    /// run by `validate --connect`.
    async fn healthcheck(&mut self) -> Result<(), SourceError> {
        Ok(())
    }
}

/// A source table as validated: its own settings plus the poll timing every source has. Each
/// source type's `config::build` returns this; `config::sources` wraps it with the name and kind,
/// so no source imports the top-level configuration.
#[derive(Clone, Debug)]
pub struct Validated<S> {
    pub interval: Duration,
    /// On restart, a checkpoint further behind than this is moved forward (and the gap logged).
    pub max_catchup: Option<Duration>,
    pub settings: S,
}

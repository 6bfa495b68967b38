//! Where audit records come from: one poller per provider, and files.
//!
//! A provider implements [`Source`]: how to fetch the next batch after a cursor, and what the
//! cursor becomes. Everything else is shared in [`driver`]: loading and committing the cursor,
//! dropping records already seen in a window overlap, running the pipeline, retrying with backoff,
//! stopping cleanly. A source never writes state itself, so a failed fetch can never move its
//! checkpoint.

pub mod aws_cloudwatch;
pub mod azure;
pub mod azure_blob;
pub mod azure_monitor;
pub mod diagnosis;
pub mod driver;
pub mod file;
pub mod gcp_logging;
pub mod rate_limit;
pub mod window;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

pub use driver::{DriverError, SourceDriver, StepReport};

use crate::model::{Cursor, Format, Provider};
use crate::normalize::RecordContext;
use crate::state::SeenKey;

/// What a record says about where it came from, shared by every record of one stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordOrigin {
    pub format: Format,
    /// The provider of bare audit Events in this stream.
    pub provider: Option<Provider>,
    pub cluster: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    /// Human-readable stream name for logs: a file path, `log-group/stream`, a workspace.
    pub stream: String,
}

/// One record as fetched, not yet parsed.
#[derive(Clone, Debug)]
pub struct Record {
    pub text: Vec<u8>,
    pub origin: Arc<RecordOrigin>,
    /// The transport's id of the record (CloudWatch `eventId`, …) when it is not in the text.
    pub record_id: Option<String>,
    pub record_time: Option<DateTime<Utc>>,
    /// Identity for dropping re-reads of an overlapping window; `None` for sources without
    /// overlap (files).
    pub dedupe: Option<SeenKey>,
}

impl Record {
    pub fn context(&self) -> RecordContext<'_> {
        RecordContext {
            format: self.origin.format,
            provider: self.origin.provider,
            cluster: self.origin.cluster.as_deref(),
            account: self.origin.account.as_deref(),
            region: self.origin.region.as_deref(),
            record_id: self.record_id.as_deref(),
            record_time: self.record_time,
        }
    }
}

/// What the daemon reads: from the checkpoint on (live), or a bounded past range (scan).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollMode {
    Live,
    Scan(TimeRange),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
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

    /// A real call proving the source can read (credentials, permissions, the log exists);
    /// run by `validate --connect`.
    async fn healthcheck(&mut self) -> Result<(), SourceError> {
        Ok(())
    }
}

//! One record as a source fetched it, not yet parsed: what sources hand to the ingest loop.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Format;
use super::Provider;

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

/// The identity of a record read in an overlapping poll window, with its event time so the ids
/// can be forgotten once no later window reaches back that far.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SeenKey {
    pub key: String,
    pub event_ms: i64,
}

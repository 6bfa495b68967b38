//! Turns every provider's record shape into [`AuditEvent`]s. Pure functions: no I/O, no clock.
//!
//! One record (a line, a CloudWatch event, a Log Analytics row…) may hold many audit events
//! (`{"events": […]}`, `{"records": […]}`, a JSON array), so results are emitted through a
//! callback rather than returned.
//!
//! Records are read in three steps of increasing cost:
//! 1. [`prefilter`]: a substring search rejects records that cannot be a Service write (the
//!    vast majority of an audit log) without parsing them;
//! 2. [`shape`]: the top-level keys of the record are read to tell which shape it is;
//! 3. the shape's normalizer reads only the fields it needs; bodies stay unparsed JSON text.
//!
//! Nothing here panics on bad input: a record that cannot be understood is reported as
//! [`Normalized::Skipped`] with a [`SkipReason`], and a record understood in part yields an event
//! whose `degraded` list says what is missing.

mod aks;
pub mod content;
pub(crate) mod eks;
mod framing;
mod gke;
pub(crate) mod json;
mod k8s;
pub mod prefilter;
mod repair;
mod shape;
mod time;

pub use crate::model::SkipReason;

use chrono::{DateTime, Utc};

use crate::model::{AuditEvent, Format, Origin, Provider};

pub use framing::{Frame, Framing, LineSplit, RecordReader, detect_framing, split_lines};
pub use time::parse_timestamp;

/// What the reader of a record knows that the record itself may not say.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecordContext<'a> {
    /// The shape to expect; `Auto` detects it per record.
    pub format: Format,
    /// The provider of raw audit events (a CloudWatch `message` is an EKS event).
    pub provider: Option<Provider>,
    pub cluster: Option<&'a str>,
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
    /// The transport's id of this record, when the transport gave it outside the record.
    pub record_id: Option<&'a str>,
    /// The transport's timestamp of this record, used when the event carries none.
    pub record_time: Option<DateTime<Utc>>,
}

impl<'a> RecordContext<'a> {
    fn origin(&self) -> Origin {
        Origin {
            cluster: self.cluster.map(str::to_owned),
            account: self.account.map(str::to_owned),
            region: self.region.map(str::to_owned),
        }
    }
}

/// The result of reading one record, or one element of an envelope.
#[derive(Debug)]
pub enum Normalized {
    Event(Box<AuditEvent>),
    /// Cannot be a Service write: rejected by the prefilter without being parsed.
    Irrelevant,
    Skipped(SkipReason),
}

/// Reads one record and emits what it holds.
///
/// The record is the raw bytes of one JSON document: a line of a JSONL file, a CloudWatch
/// `message`, a whole `filter-log-events` output, a Log Analytics row rendered as an object.
pub fn normalize(record: &[u8], ctx: &RecordContext<'_>, emit: &mut dyn FnMut(Normalized)) {
    if !prefilter::may_be_service_write(record) {
        emit(Normalized::Irrelevant);
        return;
    }
    match std::str::from_utf8(record) {
        Ok(text) => shape::dispatch(text, ctx, emit),
        Err(_) => emit(Normalized::Skipped(SkipReason::InvalidJson)),
    }
}

/// Convenience for tests and one-off callers: every outcome of one record, in order.
pub fn normalize_to_vec(record: &[u8], ctx: &RecordContext<'_>) -> Vec<Normalized> {
    let mut out = Vec::new();
    normalize(record, ctx, &mut |n| out.push(n));
    out
}

//! What goes in and out of the store: plain data shared by every backend.

use chrono::{DateTime, Utc};

use crate::exposure::Observation;
use crate::model::{Alert, SeenKey, StoredCursor};

/// An alert and the sinks it must reach (already filtered by each sink's rules and severity).
#[derive(Clone, Debug)]
pub struct RoutedAlert {
    pub alert: Alert,
    pub sinks: Vec<String>,
}

/// Record ids read in the overlap of a poll window: a re-read drops them instead of processing
/// them twice. Ids are forgotten once older than the window can reach.
#[derive(Clone, Debug, Default)]
pub struct SeenUpdate {
    pub add: Vec<SeenKey>,
    /// Forget ids of events older than this (milliseconds since the epoch).
    pub forget_before_ms: Option<i64>,
}

/// One atomic step of a source: its new position and what the records up to it produced.
#[derive(Clone, Debug)]
pub struct Commit {
    /// `live/<source>` for the daemon, `scan/<source>/<range>` for catch-up scans.
    pub cursor_key: String,
    pub cursor: StoredCursor,
    pub alerts: Vec<RoutedAlert>,
    pub seen: SeenUpdate,
    /// What the batch's writes did to exposures, in batch order: applied in the same
    /// transaction, before the alerts (which learn their `exposure_id` from them).
    pub exposures: Vec<Observation>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitReport {
    /// Alerts that were new to the outbox.
    pub inserted: usize,
    /// Alerts whose id was already there (another stage, a re-read, a scan).
    pub duplicates: usize,
    /// Exposures the batch opened and closed.
    pub opened: usize,
    pub closed: usize,
}

/// An alert waiting for one sink.
#[derive(Clone, Debug)]
pub struct Pending {
    /// Outbox order: deliveries to a sink happen in increasing `seq`.
    pub seq: i64,
    pub alert: Alert,
    pub attempts: u32,
}

/// A pending delivery whose stored alert cannot be decoded (a damaged row, or written by a
/// release with an incompatible alert format).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    pub seq: i64,
    pub error: String,
}

/// The head of a sink's queue, read without changing anything.
///
/// Unreadable rows are returned beside the readable ones rather than dropped: the deliverer
/// dead-letters them explicitly, so one damaged row can never hold the queue behind it, and a
/// reader such as `alerts` never writes.
#[derive(Clone, Debug, Default)]
pub struct PendingBatch {
    /// Readable deliveries, in outbox order.
    pub ready: Vec<Pending>,
    pub unreadable: Vec<Unreadable>,
}

impl PendingBatch {
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.unreadable.is_empty()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 3] = [
        DeliveryState::Pending,
        DeliveryState::Delivered,
        DeliveryState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        DeliveryState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

/// One row of the outbox as the `alerts` command lists it.
#[derive(Clone, Debug)]
pub struct DeliveryRecord {
    pub seq: i64,
    pub sink: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// When the store last changed this delivery, by the store's clock.
    pub updated_at: DateTime<Utc>,
    pub alert: Alert,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertCount {
    pub rule: String,
    pub source: String,
    pub count: u64,
}

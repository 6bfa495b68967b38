//! Durable state: source checkpoints, recently seen record ids, and the alert outbox.
//!
//! The guarantee everything else relies on: a batch's alerts and the cursor that moves past the
//! batch are written in **one transaction** ([`StateStore::commit`]). Sinks are then fed from the
//! outbox and each delivery is marked when it succeeds. So a crash before the commit re-reads the
//! batch (same alert ids, deduplicated), and a crash after it finds the alerts still pending.
//!
//! The trait is small on purpose: the embedded SQLite store implements it today, and a shared
//! PostgreSQL store (with per-source leases for replicas) is meant to slot in behind it without
//! touching the pollers.

pub mod postgres;
mod schema;
mod sqlite;

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

pub use sqlite::SqliteStore;

use crate::model::{Alert, StoredCursor};

#[derive(Debug, Error)]
pub enum StateError {
    #[error("state database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create the directory of the state database {path}: {source}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("state database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("an alert in the outbox could not be read back: {0}")]
    Corrupt(#[source] serde_json::Error),
    #[error("state database: the worker thread stopped: {0}")]
    Worker(String),
    #[error(
        "state database {path} has schema version {found}, newer than this release ({supported}); \
         run the matching release or restore a backup"
    )]
    NewerSchema {
        path: String,
        found: i64,
        supported: i64,
    },
}

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

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SeenKey {
    pub key: String,
    pub event_ms: i64,
}

/// One atomic step of a source: its new position and what the records up to it produced.
#[derive(Clone, Debug)]
pub struct Commit {
    /// `live/<source>` for the daemon, `scan/<source>/<range>` for catch-up scans.
    pub cursor_key: String,
    pub cursor: StoredCursor,
    pub alerts: Vec<RoutedAlert>,
    pub seen: SeenUpdate,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitReport {
    /// Alerts that were new to the outbox.
    pub inserted: usize,
    /// Alerts whose id was already there (another stage, a re-read, a scan).
    pub duplicates: usize,
}

/// An alert waiting for one sink.
#[derive(Clone, Debug)]
pub struct Pending {
    /// Outbox order: deliveries to a sink happen in increasing `seq`.
    pub seq: i64,
    pub alert: Alert,
    pub attempts: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "dead" => Some(DeliveryState::Dead),
            _ => None,
        }
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
    pub updated_at: DateTime<Utc>,
    pub alert: Alert,
}

#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    async fn load_cursor(&self, key: &str) -> Result<Option<StoredCursor>, StateError>;

    /// Writes alerts, seen ids and the cursor in one transaction.
    async fn commit(&self, commit: Commit) -> Result<CommitReport, StateError>;

    /// The subset of `keys` already seen under `scope` (the cursor key).
    async fn seen(&self, scope: &str, keys: Vec<String>) -> Result<HashSet<String>, StateError>;

    /// Removes a cursor and its seen ids (a finished scan cleans up after itself).
    async fn delete_cursor(&self, key: &str) -> Result<(), StateError>;

    /// The oldest pending deliveries of a sink, in outbox order.
    async fn pending(&self, sink: &str, limit: usize) -> Result<Vec<Pending>, StateError>;

    async fn mark_delivered(&self, sink: &str, seq: i64) -> Result<(), StateError>;

    /// Records a failed attempt; `dead` moves the delivery to the dead letters.
    async fn mark_failed(
        &self,
        sink: &str,
        seq: i64,
        error: &str,
        dead: bool,
    ) -> Result<(), StateError>;

    /// Deliveries in the given states, newest first.
    async fn deliveries(
        &self,
        states: &[DeliveryState],
        sink: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StateError>;

    /// Moves dead letters back to pending (all of a sink's, or one alert's); returns how many.
    async fn requeue_dead(
        &self,
        sink: Option<&str>,
        alert_id: Option<&str>,
    ) -> Result<usize, StateError>;

    /// Counts of deliveries per sink and state.
    async fn delivery_counts(&self) -> Result<Vec<(String, DeliveryState, u64)>, StateError>;

    /// Proves the store accepts writes (for readiness).
    async fn check_writable(&self) -> Result<(), StateError>;

    /// Alerts ever written to the outbox, by rule and source (for metrics). Stores that cannot
    /// count cheaply may report nothing.
    async fn alert_counts(&self) -> Result<Vec<AlertCount>, StateError> {
        Ok(Vec::new())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertCount {
    pub rule: String,
    pub source: String,
    pub count: u64,
}

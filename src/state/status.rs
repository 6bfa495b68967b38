//! What `nodeport-watch status` reads from a store: each cursor's last move and, on a shared
//! store, the replicas and who holds which lease. Plain data shared by every backend.

use chrono::{DateTime, Utc};

use crate::model::StoredCursor;

/// A cursor as last committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CursorStatus {
    /// `live/<source>` for the daemon, `scan/<source>/<range>` for a scan in progress.
    pub key: String,
    /// The cursor itself: `status` asks its source type how far along the time axis it is.
    pub cursor: StoredCursor,
    /// When it last moved, by the store's clock.
    pub updated_at: DateTime<Utc>,
}

/// A replica of the daemon as it registered itself in a shared store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaStatus {
    pub id: String,
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
}

/// A lease of a shared store; `live` is judged by the database's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseStatus {
    pub name: String,
    pub owner: String,
    pub epoch: u64,
    /// When this owner took it.
    pub since: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub live: bool,
}

/// Who works where in a shared store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fleet {
    pub replicas: Vec<ReplicaStatus>,
    pub leases: Vec<LeaseStatus>,
}

//! The store's roles, one trait each, so every caller names only what it uses and a backend
//! can be checked role by role.
//!
//! - [`Checkpoints`]: the ingest loop's cursors, overlap dedupe and the atomic commit.
//! - [`OutboxDelivery`]: a deliverer's view of one sink's queue.
//! - [`OutboxAdmin`]: operators and telemetry (listing, re-queueing, counts, readiness).
//! - [`StoreStatus`]: what `nodeport-watch status` shows (cursors, replicas, leases).
//! - [`ExposureInventory`]: the exposures the commits keep (`nodeport-watch exposures`,
//!   metrics, reminders).
//!
//! - [`Leases`]: who works on what when replicas share a store; the fence it hands out is what
//!   [`Checkpoints::commit`] receives. Its default methods are those of a single-writer store
//!   (every lease granted to the one process, [`Fence::Sole`]), so the daemon runs the same
//!   code on both backends.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    AlertCount, Commit, CommitReport, CursorStatus, DeliveryRecord, DeliveryState, Fence, Fleet,
    Grant, LeaseStatus, PendingBatch, QuotaHolding, ReplicaStatus, StateError,
};
use crate::exposure::{Exposure, ExposureFilter, ExposureKey, OpenCount};
use crate::model::{Alert, StoredCursor};

#[async_trait]
pub trait Checkpoints: Send + Sync {
    async fn load_cursor(&self, key: &str) -> Result<Option<StoredCursor>, StateError>;

    /// Writes alerts (each id once: a repeated id is counted as a duplicate and queued for no
    /// sink again), seen ids and the cursor in one transaction. A shared backend refuses it
    /// with [`StateError::LeaseLost`] when `fence` no longer owns the lease.
    async fn commit(&self, commit: Commit, fence: &Fence) -> Result<CommitReport, StateError>;

    /// The subset of `keys` already seen under `scope` (the cursor key).
    async fn seen(&self, scope: &str, keys: Vec<String>) -> Result<HashSet<String>, StateError>;

    /// Removes a cursor and its seen ids (a finished scan cleans up after itself).
    async fn delete_cursor(&self, key: &str) -> Result<(), StateError>;
}

#[async_trait]
pub trait OutboxDelivery: Send + Sync {
    /// The oldest pending deliveries of a sink, in outbox order. Reads only.
    async fn pending(&self, sink: &str, limit: usize) -> Result<PendingBatch, StateError>;

    /// Marks and failures apply to a pending delivery only: a late mark (from a deliverer that
    /// has since lost the sink's lease, or a repeat) on a settled delivery changes nothing.
    async fn mark_delivered(&self, sink: &str, seq: i64) -> Result<(), StateError>;

    /// Records a failed attempt; `dead` moves the delivery to the dead letters.
    async fn mark_failed(
        &self,
        sink: &str,
        seq: i64,
        error: &str,
        dead: bool,
    ) -> Result<(), StateError>;
}

#[async_trait]
pub trait OutboxAdmin: Send + Sync {
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

    /// Alerts ever written to the outbox, by rule and source (for metrics). Stores that cannot
    /// count cheaply may report nothing.
    async fn alert_counts(&self) -> Result<Vec<AlertCount>, StateError> {
        Ok(Vec::new())
    }

    /// Retention: removes up to `batch` delivered deliveries last changed before `cutoff`, and
    /// up to `batch` alerts written before it that no delivery refers to any more (delivered
    /// everywhere, or routed to no sink). Pending and dead deliveries, and their alerts, stay.
    /// Returns how many rows went; callers repeat while it is not zero.
    async fn prune_delivered(
        &self,
        cutoff: DateTime<Utc>,
        batch: usize,
    ) -> Result<usize, StateError>;

    /// Proves the store accepts writes (for readiness).
    async fn check_writable(&self) -> Result<(), StateError>;
}

#[async_trait]
pub trait StoreStatus: Send + Sync {
    /// Every cursor, by key.
    async fn cursors(&self) -> Result<Vec<CursorStatus>, StateError>;

    /// The replicas and leases of a shared store; `None` for a single-writer one (it has
    /// neither).
    async fn fleet(&self) -> Result<Option<Fleet>, StateError> {
        Ok(None)
    }
}

#[async_trait]
pub trait ExposureInventory: Send + Sync {
    /// Exposures the filter accepts, the most recently opened first.
    async fn exposures(
        &self,
        filter: &ExposureFilter,
        limit: usize,
    ) -> Result<Vec<Exposure>, StateError>;

    /// Open exposures per cluster and rule, with the oldest opening (read through the status
    /// index), for every cluster and rule that has open or closed exposures: a group whose
    /// last exposure closed reports 0.
    async fn open_counts(&self) -> Result<Vec<OpenCount>, StateError>;

    /// Open exposures opened before `before_ms` whose episode has sent no reminder yet, with
    /// the alert that opened each, when the outbox still holds it.
    async fn due_reminders(
        &self,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Exposure, Option<Alert>)>, StateError>;

    /// Queues `reminder` for `sinks` and marks the exposure reminded, in one transaction; an
    /// exposure that closed or reopened meanwhile (another episode) is left alone.
    async fn queue_reminder(
        &self,
        key: &ExposureKey,
        episode: &str,
        reminder: Alert,
        sinks: Vec<String>,
    ) -> Result<bool, StateError>;
}

/// Leases with fencing, the replica registry and once-per-fleet claims. The defaults answer as
/// the sole owner of a single-writer store: every lease is granted at once and never lost,
/// every claim is won, and there are no other replicas.
#[async_trait]
pub trait Leases: Send + Sync {
    /// Whether other processes may hold leases of this store (a shared backend).
    fn shared(&self) -> bool {
        false
    }

    /// Takes `name` for `owner` for `ttl` if it is free, expired or already ours; `None` while
    /// another replica holds it.
    async fn acquire(
        &self,
        name: &str,
        owner: &str,
        _ttl: Duration,
    ) -> Result<Option<Grant>, StateError> {
        Ok(Some(Grant {
            name: name.to_owned(),
            owner: owner.to_owned(),
            epoch: 0,
            fence: Fence::Sole,
        }))
    }

    /// Extends a lease still held; [`StateError::LeaseLost`] once it expired or moved on.
    async fn renew(&self, grant: &Grant, _ttl: Duration) -> Result<Grant, StateError> {
        Ok(grant.clone())
    }

    /// Gives a lease up now (graceful shutdown, rebalancing); whether it was still held.
    async fn release(&self, _grant: &Grant) -> Result<bool, StateError> {
        Ok(true)
    }

    /// Every lease, live or not.
    async fn lease_list(&self) -> Result<Vec<LeaseStatus>, StateError> {
        Ok(Vec::new())
    }

    /// Registers a replica, or records that it is alive.
    async fn heartbeat(&self, _id: &str, _host: &str) -> Result<(), StateError> {
        Ok(())
    }

    /// Replicas heard from within `within`.
    async fn live_replicas(&self, _within: Duration) -> Result<Vec<ReplicaStatus>, StateError> {
        Ok(Vec::new())
    }

    /// Removes a replica that shut down cleanly.
    async fn forget_replica(&self, _id: &str) -> Result<(), StateError> {
        Ok(())
    }

    /// True for exactly one owner of the occurrence of `schedule` due at `due_at`.
    async fn claim_occurrence(
        &self,
        _schedule: &str,
        _due_at: DateTime<Utc>,
        _owner: &str,
    ) -> Result<bool, StateError> {
        Ok(true)
    }

    /// Records the provider quota keys the work under lease `lease` draws on.
    async fn record_quota_keys(&self, _lease: &str, _keys: &[String]) -> Result<(), StateError> {
        Ok(())
    }

    /// The quota keys recorded for `lease` (by any holder).
    async fn quota_keys(&self, _lease: &str) -> Result<Vec<String>, StateError> {
        Ok(Vec::new())
    }

    /// For every quota key with a live lease: how many of them `owner` holds, of how many.
    async fn quota_holdings(&self, _owner: &str) -> Result<Vec<QuotaHolding>, StateError> {
        Ok(Vec::new())
    }
}

/// A complete backend: every role. Processes hold one `Arc<dyn StateStore>` and hand each part
/// the role it needs (`Arc<dyn StateStore>` upcasts to `Arc<dyn OutboxDelivery>` and so on).
pub trait StateStore:
    Checkpoints + OutboxDelivery + OutboxAdmin + StoreStatus + ExposureInventory + Leases + 'static
{
}

impl<T> StateStore for T where
    T: Checkpoints
        + OutboxDelivery
        + OutboxAdmin
        + StoreStatus
        + ExposureInventory
        + Leases
        + 'static
{
}

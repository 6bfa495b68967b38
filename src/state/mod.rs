//! Durable state: source checkpoints, recently seen record ids, the alert outbox, and the
//! exposures the alerts opened (kept by the same commit).
//!
//! The guarantee everything else relies on: a batch's alerts and the cursor that moves past the
//! batch are written in **one transaction** ([`Checkpoints::commit`]). Sinks are then fed from
//! the outbox and each delivery is marked when it succeeds. So a crash before the commit
//! re-reads the batch (same alert ids, deduplicated), and a crash after it finds the alerts
//! still pending.
//!
//! The store is split by role ([`roles`]) and has one folder per backend ([`sqlite`], the
//! embedded default, and [`postgres`], shared by replicas); [`open`] is the only place that
//! picks a backend from `[state]`. Every backend passes the
//! same contract tests (`tests/it/state_contract.rs`).

mod error;
mod exposure_rows;
mod fence;
mod lease;
pub mod postgres;
mod records;
mod roles;
pub mod settings;
mod sqlite;
mod status;

use std::sync::Arc;

pub use crate::model::SeenKey;
pub use error::{BackendError, StateError};
pub use fence::{Fence, LeaseToken};
pub use lease::{Grant, QuotaHolding};
pub use postgres::PostgresStore;
pub use records::{
    AlertCount, Commit, CommitReport, DeliveryRecord, DeliveryState, Pending, PendingBatch,
    RoutedAlert, SeenUpdate, Unreadable,
};
pub use roles::{
    Checkpoints, ExposureInventory, Leases, OutboxAdmin, OutboxDelivery, StateStore, StoreStatus,
};
pub use settings::{RawState, StatePath, StateSettings};
pub use sqlite::SqliteStore;
pub use status::{CursorStatus, Fleet, LeaseStatus, ReplicaStatus};

use crate::clock::Clock;

/// What a process means to do with the store; a backend uses it to refuse what would be unsafe.
///
/// On PostgreSQL, replicas share the database: `Deliver` opens it like `Write`, and who polls
/// and delivers what is decided by the [`Leases`] the daemon keeps; `Inspect` connects to an
/// existing database and never creates or migrates its tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Poll and deliver (the daemon). SQLite lets one such process in at a time (a second is
    /// refused with [`StateError::Locked`]); PostgreSQL lets replicas in, sharing the work
    /// through leases.
    Deliver,
    /// Write beside whoever delivers: enqueue alerts (a `scan` beside a daemon), check sources.
    Write,
    /// Read and repair an existing store (`alerts`): a store that does not exist yet is an
    /// error rather than created empty.
    Inspect,
}

/// Opens the store `[state]` names. The one place a backend is chosen.
pub async fn open(
    settings: &StateSettings,
    access: Access,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn StateStore>, StateError> {
    match settings {
        StateSettings::Sqlite(StatePath::File(path)) => {
            Ok(Arc::new(SqliteStore::open_with(path, access, clock)?))
        }
        StateSettings::Sqlite(StatePath::Memory) if access == Access::Inspect => {
            Err(StateError::InMemory)
        }
        StateSettings::Sqlite(StatePath::Memory) => {
            Ok(Arc::new(SqliteStore::in_memory_with(clock)?))
        }
        StateSettings::Postgres(pg) => {
            let store = match access {
                Access::Inspect => PostgresStore::open_existing(pg, clock).await,
                Access::Deliver | Access::Write => PostgresStore::open_with(pg, clock).await,
            };
            store
                .map(|s| Arc::new(s) as Arc<dyn StateStore>)
                .map_err(|e| match StateError::from(e) {
                    // Keep the transient/permanent distinction, and say which store it was.
                    e @ (StateError::Unavailable(_)
                    | StateError::NewerSchema { .. }
                    | StateError::Locked { .. }) => e,
                    StateError::NotFound { location } => StateError::NotFound { location },
                    other => StateError::Open {
                        location: pg.target().to_owned(),
                        source: Box::new(other),
                    },
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    #[tokio::test]
    async fn inspecting_never_creates_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/state.db");
        let settings = StateSettings::Sqlite(StatePath::File(path.clone()));
        let err = open(&settings, Access::Inspect, Arc::new(SystemClock))
            .await
            .err();
        assert!(matches!(err, Some(StateError::NotFound { .. })), "{err:?}");
        assert!(!path.exists() && !dir.path().join("missing").exists());

        let memory = StateSettings::Sqlite(StatePath::Memory);
        let err = open(&memory, Access::Inspect, Arc::new(SystemClock))
            .await
            .err();
        assert!(matches!(err, Some(StateError::InMemory)), "{err:?}");
        assert!(
            open(&memory, Access::Deliver, Arc::new(SystemClock))
                .await
                .is_ok()
        );
    }
}

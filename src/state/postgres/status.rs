//! `status` on PostgreSQL: the cursors, every registered replica and every lease.

use async_trait::async_trait;

use super::{PostgresError, PostgresStore, lease};
use crate::model::StoredCursor;
use crate::state::{CursorStatus, Fleet, ReplicaStatus, StateError, StoreStatus};

impl PostgresStore {
    async fn cursor_rows(&self) -> Result<Vec<CursorStatus>, PostgresError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT key, kind, version, value, updated_at FROM cursors ORDER BY key",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CursorStatus {
                    key: r.try_get(0)?,
                    cursor: StoredCursor {
                        kind: r.try_get(1)?,
                        version: u32::try_from(r.try_get::<_, i64>(2)?).unwrap_or(u32::MAX),
                        json: r.try_get(3)?,
                    },
                    updated_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Every registered replica, live or not: `status` shows the heartbeat and lets the
    /// operator judge (a replica that shut down cleanly has removed itself).
    async fn all_replicas(&self) -> Result<Vec<ReplicaStatus>, PostgresError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, host, started_at, heartbeat_at FROM replicas ORDER BY started_at, id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let r = lease::replica_from(row)?;
                Ok(ReplicaStatus {
                    id: r.id,
                    host: r.host,
                    started_at: r.started_at,
                    heartbeat_at: r.heartbeat_at,
                })
            })
            .collect()
    }
}

#[async_trait]
impl StoreStatus for PostgresStore {
    async fn cursors(&self) -> Result<Vec<CursorStatus>, StateError> {
        Ok(self.cursor_rows().await?)
    }

    async fn fleet(&self) -> Result<Option<Fleet>, StateError> {
        Ok(Some(Fleet {
            replicas: self.all_replicas().await?,
            leases: crate::state::Leases::lease_list(self).await?,
        }))
    }
}

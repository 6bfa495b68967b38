//! `status` on SQLite: the cursors. A single-writer store has no replicas or leases.

use async_trait::async_trait;
use chrono::DateTime;

use super::SqliteStore;
use crate::model::StoredCursor;
use crate::state::{CursorStatus, StateError, StoreStatus};

#[async_trait]
impl StoreStatus for SqliteStore {
    async fn cursors(&self) -> Result<Vec<CursorStatus>, StateError> {
        self.run(|conn| {
            let mut stmt = conn.prepare(
                "SELECT key, kind, version, value, updated_at FROM cursors ORDER BY key",
            )?;
            let rows = stmt.query_map([], |r| {
                let ms: i64 = r.get(4)?;
                Ok(CursorStatus {
                    key: r.get(0)?,
                    cursor: StoredCursor {
                        kind: r.get(1)?,
                        version: r.get(2)?,
                        json: r.get(3)?,
                    },
                    updated_at: DateTime::from_timestamp_millis(ms).unwrap_or_default(),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

/// The sole owner: one process writes a SQLite file at a time (its file lock), so every lease
/// is its own and every scheduled occurrence is its to run (the trait's defaults).
impl crate::state::Leases for SqliteStore {}

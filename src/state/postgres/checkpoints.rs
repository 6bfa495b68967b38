//! Checkpoints: a source's cursor, the ids it has seen, and the commit that moves the cursor
//! together with the batch's alerts (fenced by the source's lease when replicas share it).

use std::collections::HashSet;

use deadpool_postgres::Transaction;

use super::error::PostgresError;
use chrono::{DateTime, Utc};

use super::exposures;
use super::{PostgresStore, lease};
use crate::model::StoredCursor;
use crate::state::{Commit, CommitReport, Fence, RoutedAlert};

impl PostgresStore {
    pub async fn load_cursor(&self, key: &str) -> Result<Option<StoredCursor>, PostgresError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT kind, version, value FROM cursors WHERE key = $1")
            .await?;
        let Some(row) = client.query_opt(&stmt, &[&key]).await? else {
            return Ok(None);
        };
        let version: i64 = row.try_get(1)?;
        Ok(Some(StoredCursor {
            kind: row.try_get(0)?,
            // Written from a u32 by `commit`; anything else was not written by this store.
            version: u32::try_from(version).unwrap_or(u32::MAX),
            json: row.try_get(2)?,
        }))
    }

    /// Writes alerts, seen ids and the cursor in one transaction. Under a lease, the
    /// transaction first checks that the lease is still held by the token's owner and epoch,
    /// and is refused with [`PostgresError::LeaseLost`] otherwise (nothing is written).
    pub async fn commit(
        &self,
        commit: &Commit,
        fence: &Fence,
    ) -> Result<CommitReport, PostgresError> {
        let now = self.now();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if let Fence::Lease(token) = fence {
            lease::check_fence(&tx, token).await?;
        }
        let applied = exposures::apply(&tx, commit).await?;
        let mut report = insert_alerts(&tx, &applied.alerts(&commit.alerts), now).await?;
        report.opened = applied.opened;
        report.closed = applied.closed;
        update_seen(&tx, commit).await?;
        let upsert = tx
            .prepare_cached(
                "INSERT INTO cursors (key, kind, version, value, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, version = excluded.version,
                     value = excluded.value, updated_at = excluded.updated_at",
            )
            .await?;
        let cursor = &commit.cursor;
        tx.execute(
            &upsert,
            &[
                &commit.cursor_key,
                &cursor.kind,
                &i64::from(cursor.version),
                &cursor.json,
                &now,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }

    /// The subset of `keys` already seen under `scope` (the cursor key).
    pub async fn seen(
        &self,
        scope: &str,
        keys: Vec<String>,
    ) -> Result<HashSet<String>, PostgresError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT key FROM seen WHERE scope = $1 AND key = ANY($2)")
            .await?;
        let rows = client.query(&stmt, &[&scope, &keys]).await?;
        rows.iter()
            .map(|r| r.try_get::<_, String>(0).map_err(PostgresError::from))
            .collect()
    }

    /// Removes a cursor and its seen ids (a finished scan cleans up after itself).
    pub async fn delete_cursor(&self, key: &str) -> Result<(), PostgresError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("DELETE FROM cursors WHERE key = $1", &[&key])
            .await?;
        tx.execute("DELETE FROM seen WHERE scope = $1", &[&key])
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

pub(super) async fn insert_alerts(
    tx: &Transaction<'_>,
    alerts: &[RoutedAlert],
    now: DateTime<Utc>,
) -> Result<CommitReport, PostgresError> {
    let mut report = CommitReport::default();
    // Under concurrent commits of one id, the second INSERT waits for the first transaction
    // and then does nothing: exactly one of them queues the deliveries.
    let insert = tx
        .prepare_cached(
            "INSERT INTO alerts (id, rule, severity, source, body, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO NOTHING RETURNING seq",
        )
        .await?;
    let deliver = tx
        .prepare_cached(
            "INSERT INTO deliveries (sink, alert_seq, state, updated_at)
             SELECT sink, $1, 'pending', $3 FROM unnest($2::TEXT[]) AS sink ON CONFLICT DO NOTHING",
        )
        .await?;
    for routed in alerts {
        let alert = &routed.alert;
        let body = serde_json::to_string(alert).map_err(PostgresError::Corrupt)?;
        let row = tx
            .query_opt(
                &insert,
                &[
                    &alert.id,
                    &alert.rule.as_str(),
                    &alert.severity.as_str(),
                    &alert.source,
                    &body,
                    &now,
                ],
            )
            .await?;
        let Some(row) = row else {
            // Already in the outbox: delivered or on its way. Never queue it again.
            report.duplicates += 1;
            continue;
        };
        report.inserted += 1;
        let seq: i64 = row.try_get(0)?;
        tx.execute(&deliver, &[&seq, &routed.sinks, &now]).await?;
    }
    Ok(report)
}

async fn update_seen(tx: &Transaction<'_>, commit: &Commit) -> Result<(), PostgresError> {
    let scope = &commit.cursor_key;
    if !commit.seen.add.is_empty() {
        let keys: Vec<&str> = commit.seen.add.iter().map(|s| s.key.as_str()).collect();
        let times: Vec<i64> = commit.seen.add.iter().map(|s| s.event_ms).collect();
        // DISTINCT ON: a key twice in one batch would make the upsert touch a row twice.
        let add = tx
            .prepare_cached(
                "INSERT INTO seen (scope, key, event_ms)
                 SELECT DISTINCT ON (key) $1, key, event_ms
                 FROM unnest($2::TEXT[], $3::BIGINT[]) WITH ORDINALITY AS s (key, event_ms, n)
                 ORDER BY key, n DESC
                 ON CONFLICT (scope, key) DO UPDATE SET event_ms = excluded.event_ms",
            )
            .await?;
        tx.execute(&add, &[scope, &keys, &times]).await?;
    }
    if let Some(before) = commit.seen.forget_before_ms {
        tx.execute(
            "DELETE FROM seen WHERE scope = $1 AND event_ms < $2",
            &[scope, &before],
        )
        .await?;
    }
    Ok(())
}

//! The checkpoint role on SQLite: cursors, seen ids and the one-transaction commit.

use std::collections::HashSet;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Transaction, params};

use super::SqliteStore;
use super::exposures;
use crate::model::StoredCursor;
use crate::state::{Checkpoints, Commit, CommitReport, Fence, RoutedAlert, StateError};

pub(super) fn insert_alerts(
    tx: &Transaction<'_>,
    alerts: &[RoutedAlert],
    now: i64,
) -> Result<CommitReport, StateError> {
    let mut report = CommitReport::default();
    let mut insert = tx.prepare_cached(
        "INSERT INTO alerts (id, rule, severity, created_at, body) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO NOTHING",
    )?;
    let mut deliver = tx.prepare_cached(
        "INSERT INTO deliveries (sink, alert_seq, state, updated_at) VALUES (?1, ?2, 'pending', ?3)
         ON CONFLICT DO NOTHING",
    )?;
    for routed in alerts {
        let alert = &routed.alert;
        let body = serde_json::to_string(alert).map_err(StateError::Corrupt)?;
        let inserted = insert.execute(params![
            alert.id,
            alert.rule.as_str(),
            alert.severity.as_str(),
            now,
            body
        ])?;
        if inserted == 0 {
            // Already in the outbox: delivered or on its way. Never queue it again.
            report.duplicates += 1;
            continue;
        }
        report.inserted += 1;
        let seq = tx.last_insert_rowid();
        for sink in &routed.sinks {
            deliver.execute(params![sink, seq, now])?;
        }
    }
    Ok(report)
}

fn update_seen(tx: &Transaction<'_>, commit: &Commit) -> Result<(), StateError> {
    let scope = &commit.cursor_key;
    let mut add = tx.prepare_cached(
        "INSERT INTO seen (scope, key, event_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (scope, key) DO UPDATE SET event_ms = excluded.event_ms",
    )?;
    for seen in &commit.seen.add {
        add.execute(params![scope, seen.key, seen.event_ms])?;
    }
    if let Some(before) = commit.seen.forget_before_ms {
        tx.execute(
            "DELETE FROM seen WHERE scope = ?1 AND event_ms < ?2",
            params![scope, before],
        )?;
    }
    Ok(())
}

#[async_trait]
impl Checkpoints for SqliteStore {
    async fn load_cursor(&self, key: &str) -> Result<Option<StoredCursor>, StateError> {
        let key = key.to_owned();
        self.run(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT kind, version, value FROM cursors WHERE key = ?1",
                    params![key],
                    |r| {
                        Ok(StoredCursor {
                            kind: r.get(0)?,
                            version: r.get(1)?,
                            json: r.get(2)?,
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    /// The fence is not checked: one process writes a SQLite file at a time (the delivery
    /// lock keeps a second daemon out), so there is no lease to lose.
    async fn commit(&self, commit: Commit, _fence: &Fence) -> Result<CommitReport, StateError> {
        let now = self.now_ms();
        self.run(move |conn| {
            let tx = conn.transaction()?;
            let applied = exposures::apply(&tx, &commit)?;
            let mut report = insert_alerts(&tx, &applied.alerts(&commit.alerts), now)?;
            report.opened = applied.opened;
            report.closed = applied.closed;
            update_seen(&tx, &commit)?;
            tx.execute(
                "INSERT INTO cursors (key, kind, version, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, version = excluded.version,
                     value = excluded.value, updated_at = excluded.updated_at",
                params![
                    commit.cursor_key,
                    commit.cursor.kind,
                    commit.cursor.version,
                    commit.cursor.json,
                    now
                ],
            )?;
            tx.commit()?;
            Ok(report)
        })
        .await
    }

    async fn seen(&self, scope: &str, keys: Vec<String>) -> Result<HashSet<String>, StateError> {
        let scope = scope.to_owned();
        self.run(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT 1 FROM seen WHERE scope = ?1 AND key = ?2")?;
            let mut found = HashSet::new();
            for key in keys {
                if stmt.exists(params![scope, key])? {
                    found.insert(key);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn delete_cursor(&self, key: &str) -> Result<(), StateError> {
        let key = key.to_owned();
        self.run(move |conn| {
            let tx = conn.transaction()?;
            tx.execute("DELETE FROM cursors WHERE key = ?1", params![key])?;
            tx.execute("DELETE FROM seen WHERE scope = ?1", params![key])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

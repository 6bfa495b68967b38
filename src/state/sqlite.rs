//! The embedded state store: one SQLite file in WAL mode, fully synchronous.
//!
//! rusqlite is blocking, so every call runs on tokio's blocking pool behind one connection; the
//! statements are small and the store is not on a hot path (one commit per poll batch).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{
    AlertCount, Commit, CommitReport, DeliveryRecord, DeliveryState, Pending, StateError,
    StateStore, schema,
};
use crate::model::{Alert, StoredCursor};

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let display = path.display().to_string();
        let open_err = |source| StateError::Open {
            path: display.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StateError::CreateDir {
                path: display.clone(),
                source,
            })?;
        }
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        // WAL lets `nodeport-watch alerts` read while the daemon writes; FULL makes every
        // committed batch survive a power cut, which is the point of the outbox.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        schema::migrate(&mut conn, &display)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
        })
    }

    /// A store that lives as long as the process: for demos and tests, never for production.
    pub fn open_in_memory() -> Result<Self, StateError> {
        let mut conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn, ":memory:")?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path: PathBuf::from(":memory:"),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn run<T, F>(&self, f: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StateError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a transaction half-applied (SQLite
            // rolls it back), so a poisoned lock is safe to reuse.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StateError::Worker(e.to_string()))?
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn insert_alerts(tx: &Transaction<'_>, commit: &Commit) -> Result<CommitReport, StateError> {
    let mut report = CommitReport::default();
    let now = now_ms();
    let mut insert = tx.prepare_cached(
        "INSERT INTO alerts (id, rule, severity, created_at, body) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO NOTHING",
    )?;
    let mut deliver = tx.prepare_cached(
        "INSERT INTO deliveries (sink, alert_seq, state, updated_at) VALUES (?1, ?2, 'pending', ?3)
         ON CONFLICT DO NOTHING",
    )?;
    for routed in &commit.alerts {
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

fn decode_alert(body: &str) -> Result<Alert, StateError> {
    serde_json::from_str(body).map_err(StateError::Corrupt)
}

fn millis_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[async_trait]
impl StateStore for SqliteStore {
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

    async fn commit(&self, commit: Commit) -> Result<CommitReport, StateError> {
        self.run(move |conn| {
            let tx = conn.transaction()?;
            let report = insert_alerts(&tx, &commit)?;
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
                    now_ms()
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

    async fn pending(&self, sink: &str, limit: usize) -> Result<Vec<Pending>, StateError> {
        let sink = sink.to_owned();
        self.run(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT d.alert_seq, d.attempts, a.body FROM deliveries d
                 JOIN alerts a ON a.seq = d.alert_seq
                 WHERE d.sink = ?1 AND d.state = 'pending'
                 ORDER BY d.alert_seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![sink, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            let rows = rows.collect::<Result<Vec<_>, _>>()?;
            drop(stmt);
            let mut pending = Vec::new();
            for (seq, attempts, body) in rows {
                match decode_alert(&body) {
                    Ok(alert) => pending.push(Pending {
                        seq,
                        attempts,
                        alert,
                    }),
                    // One unreadable row must not block the sink's queue forever: it becomes a
                    // dead letter that `alerts` shows, and the rest of the queue moves on.
                    Err(e) => {
                        tracing::error!(sink = %sink, seq, error = %e, "an alert in the outbox cannot be read; dead-lettered");
                        conn.execute(
                            "UPDATE deliveries SET state = 'dead', last_error = ?3, updated_at = ?4
                             WHERE sink = ?1 AND alert_seq = ?2",
                            params![sink, seq, format!("stored alert unreadable: {e}"), now_ms()],
                        )?;
                    }
                }
            }
            Ok(pending)
        })
        .await
    }

    async fn mark_delivered(&self, sink: &str, seq: i64) -> Result<(), StateError> {
        let sink = sink.to_owned();
        self.run(move |conn| {
            conn.execute(
                "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,
                     last_error = NULL, updated_at = ?3
                 WHERE sink = ?1 AND alert_seq = ?2",
                params![sink, seq, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    async fn mark_failed(
        &self,
        sink: &str,
        seq: i64,
        error: &str,
        dead: bool,
    ) -> Result<(), StateError> {
        let sink = sink.to_owned();
        let error = error.to_owned();
        self.run(move |conn| {
            conn.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ?3, updated_at = ?4,
                     state = CASE WHEN ?5 THEN 'dead' ELSE state END
                 WHERE sink = ?1 AND alert_seq = ?2",
                params![sink, seq, error, now_ms(), dead],
            )?;
            Ok(())
        })
        .await
    }

    async fn deliveries(
        &self,
        states: &[DeliveryState],
        sink: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StateError> {
        // The state names come from the enum, never from input, so they can be inlined.
        let states = states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let sink = sink.map(str::to_owned);
        self.run(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT d.alert_seq, d.sink, d.state, d.attempts, d.last_error, d.updated_at, a.body
                 FROM deliveries d JOIN alerts a ON a.seq = d.alert_seq
                 WHERE (?1 IS NULL OR d.sink = ?1) AND d.state IN ({states})
                 ORDER BY d.alert_seq DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![sink, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, sink, state, attempts, last_error, updated_at, body) = row?;
                let Some(state) = DeliveryState::parse(&state) else {
                    continue;
                };
                out.push(DeliveryRecord {
                    seq,
                    sink,
                    state,
                    attempts,
                    last_error,
                    updated_at: millis_to_time(updated_at),
                    alert: decode_alert(&body)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn requeue_dead(
        &self,
        sink: Option<&str>,
        alert_id: Option<&str>,
    ) -> Result<usize, StateError> {
        let sink = sink.map(str::to_owned);
        let alert_id = alert_id.map(str::to_owned);
        self.run(move |conn| {
            Ok(conn.execute(
                "UPDATE deliveries SET state = 'pending', updated_at = ?3
                 WHERE state = 'dead' AND (?1 IS NULL OR sink = ?1)
                   AND (?2 IS NULL OR alert_seq = (SELECT seq FROM alerts WHERE id = ?2))",
                params![sink, alert_id, now_ms()],
            )?)
        })
        .await
    }

    async fn delivery_counts(&self) -> Result<Vec<(String, DeliveryState, u64)>, StateError> {
        self.run(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT sink, state, COUNT(*) FROM deliveries GROUP BY sink, state ORDER BY sink",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (sink, state, count) = row?;
                if let Some(state) = DeliveryState::parse(&state) {
                    out.push((sink, state, count.max(0) as u64));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn alert_counts(&self) -> Result<Vec<AlertCount>, StateError> {
        self.run(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT rule, COALESCE(json_extract(body, '$.source'), ''), COUNT(*) FROM alerts
                 GROUP BY 1, 2 ORDER BY 1, 2",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(AlertCount {
                    rule: r.get(0)?,
                    source: r.get(1)?,
                    count: r.get::<_, i64>(2)?.max(0) as u64,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn check_writable(&self) -> Result<(), StateError> {
        self.run(|conn| {
            // A write that changes nothing still takes the write lock and touches the journal.
            conn.execute_batch("BEGIN IMMEDIATE; COMMIT;")?;
            Ok(())
        })
        .await
    }
}

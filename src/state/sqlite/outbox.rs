//! The outbox roles on SQLite: a deliverer's queue per sink, and what operators and telemetry
//! read or repair.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::params;

use super::SqliteStore;
use crate::model::Alert;
use crate::state::{
    AlertCount, DeliveryRecord, DeliveryState, OutboxAdmin, OutboxDelivery, Pending, PendingBatch,
    StateError, Unreadable,
};

fn decode_alert(body: &str) -> Result<Alert, StateError> {
    serde_json::from_str(body).map_err(StateError::Corrupt)
}

fn millis_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[async_trait]
impl OutboxDelivery for SqliteStore {
    async fn pending(&self, sink: &str, limit: usize) -> Result<PendingBatch, StateError> {
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
            let mut batch = PendingBatch::default();
            for row in rows {
                let (seq, attempts, body) = row?;
                match decode_alert(&body) {
                    Ok(alert) => batch.ready.push(Pending {
                        seq,
                        attempts,
                        alert,
                    }),
                    Err(e) => batch.unreadable.push(Unreadable {
                        seq,
                        error: e.to_string(),
                    }),
                }
            }
            Ok(batch)
        })
        .await
    }

    async fn mark_delivered(&self, sink: &str, seq: i64) -> Result<(), StateError> {
        let sink = sink.to_owned();
        let now = self.now_ms();
        self.run(move |conn| {
            conn.execute(
                "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,
                     last_error = NULL, updated_at = ?3
                 WHERE sink = ?1 AND alert_seq = ?2 AND state = 'pending'",
                params![sink, seq, now],
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
        let now = self.now_ms();
        self.run(move |conn| {
            conn.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ?3, updated_at = ?4,
                     state = CASE WHEN ?5 THEN 'dead' ELSE state END
                 WHERE sink = ?1 AND alert_seq = ?2 AND state = 'pending'",
                params![sink, seq, error, now, dead],
            )?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl OutboxAdmin for SqliteStore {
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
        let now = self.now_ms();
        self.run(move |conn| {
            Ok(conn.execute(
                "UPDATE deliveries SET state = 'pending', updated_at = ?3
                 WHERE state = 'dead' AND (?1 IS NULL OR sink = ?1)
                   AND (?2 IS NULL OR alert_seq = (SELECT seq FROM alerts WHERE id = ?2))",
                params![sink, alert_id, now],
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
        let now = self.now_ms();
        self.run(move |conn| {
            // A committed change, so a page really goes to disk (and is synced): an empty
            // transaction writes nothing and would not notice a full or read-only volume.
            conn.execute(
                "INSERT INTO writable_probe (id, written_at) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at",
                params![now],
            )?;
            Ok(())
        })
        .await
    }
}

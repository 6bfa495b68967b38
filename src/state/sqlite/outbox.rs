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

/// Kept by a trigger on insert: a scrape reads a few rows, however big the outbox.
const ALERT_TOTALS: &str = "SELECT rule, source, count FROM alert_totals ORDER BY 1, 2";
/// Counted from an index, never the rows.
const DELIVERY_COUNTS: &str =
    "SELECT sink, state, COUNT(*) FROM deliveries GROUP BY sink, state ORDER BY sink";

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
            let mut stmt = conn.prepare_cached(DELIVERY_COUNTS)?;
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
            let mut stmt = conn.prepare_cached(ALERT_TOTALS)?;
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

    async fn prune_delivered(
        &self,
        cutoff: DateTime<Utc>,
        batch: usize,
    ) -> Result<usize, StateError> {
        let cutoff = cutoff.timestamp_millis();
        self.run(move |conn| {
            let tx = conn.transaction()?;
            let deliveries = tx.execute(
                "DELETE FROM deliveries WHERE (sink, alert_seq) IN (
                     SELECT sink, alert_seq FROM deliveries
                     WHERE state = 'delivered' AND updated_at < ?1 LIMIT ?2)",
                params![cutoff, batch as i64],
            )?;
            let alerts = tx.execute(
                "DELETE FROM alerts WHERE seq IN (
                     SELECT seq FROM alerts a WHERE a.created_at < ?1
                       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_seq = a.seq)
                     LIMIT ?2)",
                params![cutoff, batch as i64],
            )?;
            tx.commit()?;
            Ok(deliveries + alerts)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a `/metrics` scrape asks must not read the outbox's rows one by one: alert totals
    /// come from their own small table, delivery counts from an index.
    #[tokio::test]
    async fn a_scrape_reads_no_outbox_rows() {
        let store = SqliteStore::open_in_memory().unwrap();
        let plans = store
            .run(|conn| {
                let mut plans = Vec::new();
                for sql in [ALERT_TOTALS, DELIVERY_COUNTS] {
                    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                    let rows = stmt.query_map([], |r| r.get::<_, String>(3))?;
                    plans.push(rows.collect::<Result<Vec<_>, _>>()?.join("; "));
                }
                Ok(plans)
            })
            .await
            .unwrap();
        assert!(!plans[0].contains("alerts "), "{}", plans[0]);
        assert!(plans[1].contains("COVERING INDEX"), "{}", plans[1]);
    }
}

//! The outbox: each sink's queue of alerts in `seq` order, delivery marks, dead letters and the
//! counts the metrics and the `alerts` command read.
//!
//! Marks are idempotent (they set a state, they do not toggle one), so a mark written by a
//! replica that has just lost a sink's lease is harmless: the new holder finds the delivery
//! already marked and skips it.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use super::PostgresStore;
use super::error::PostgresError;
use crate::model::Alert;
use crate::state::{AlertCount, DeliveryRecord, DeliveryState, Pending, PendingBatch, Unreadable};

impl PostgresStore {
    /// The oldest pending deliveries of a sink, in outbox order. Reads only: an alert that
    /// cannot be read back is returned as [`Unreadable`] for the deliverer to dead-letter.
    pub async fn pending(&self, sink: &str, limit: usize) -> Result<PendingBatch, PostgresError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT d.alert_seq, d.attempts, a.body FROM deliveries d
                 JOIN alerts a ON a.seq = d.alert_seq
                 WHERE d.sink = $1 AND d.state = 'pending'
                 ORDER BY d.alert_seq LIMIT $2",
            )
            .await?;
        let rows = client.query(&stmt, &[&sink, &limit_param(limit)]).await?;
        let mut batch = PendingBatch::default();
        for row in rows {
            let seq: i64 = row.try_get(0)?;
            let attempts: i32 = row.try_get(1)?;
            let body: String = row.try_get(2)?;
            match decode_alert(&body) {
                Ok(alert) => batch.ready.push(Pending {
                    seq,
                    alert,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                }),
                Err(e) => batch.unreadable.push(Unreadable {
                    seq,
                    error: e.to_string(),
                }),
            }
        }
        Ok(batch)
    }

    pub async fn mark_delivered(&self, sink: &str, seq: i64) -> Result<(), PostgresError> {
        let now = self.now();
        let client = self.client().await?;
        // `state = 'pending'`: a late mark from a replica that lost the sink must not count a
        // second attempt on a delivery the new holder already marked.
        client
            .execute(
                "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,
                     last_error = NULL, updated_at = $3
                 WHERE sink = $1 AND alert_seq = $2 AND state = 'pending'",
                &[&sink, &seq, &now],
            )
            .await?;
        Ok(())
    }

    /// Records a failed attempt; `dead` moves the delivery to the dead letters.
    pub async fn mark_failed(
        &self,
        sink: &str,
        seq: i64,
        error: &str,
        dead: bool,
    ) -> Result<(), PostgresError> {
        let now = self.now();
        let client = self.client().await?;
        client
            .execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = $3, updated_at = $5,
                     state = CASE WHEN $4 THEN 'dead' ELSE state END
                 WHERE sink = $1 AND alert_seq = $2 AND state = 'pending'",
                &[&sink, &seq, &error, &dead, &now],
            )
            .await?;
        Ok(())
    }

    /// Deliveries in the given states, newest first.
    pub async fn deliveries(
        &self,
        states: &[DeliveryState],
        sink: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, PostgresError> {
        let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT d.alert_seq, d.sink, d.state, d.attempts, d.last_error, d.updated_at, a.body
                 FROM deliveries d JOIN alerts a ON a.seq = d.alert_seq
                 WHERE ($1::TEXT IS NULL OR d.sink = $1) AND d.state = ANY($2)
                 ORDER BY d.alert_seq DESC LIMIT $3",
            )
            .await?;
        let rows = client
            .query(&stmt, &[&sink, &states, &limit_param(limit)])
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(record) = delivery_record(&row)? {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Moves dead letters back to pending (all of a sink's, or one alert's); returns how many.
    pub async fn requeue_dead(
        &self,
        sink: Option<&str>,
        alert_id: Option<&str>,
    ) -> Result<usize, PostgresError> {
        let now = self.now();
        let client = self.client().await?;
        let moved = client
            .execute(
                "UPDATE deliveries SET state = 'pending', updated_at = $3
                 WHERE state = 'dead' AND ($1::TEXT IS NULL OR sink = $1)
                   AND ($2::TEXT IS NULL OR alert_seq = (SELECT seq FROM alerts WHERE id = $2))",
                &[&sink, &alert_id, &now],
            )
            .await?;
        Ok(usize::try_from(moved).unwrap_or(usize::MAX))
    }

    /// Counts of deliveries per sink and state.
    pub async fn delivery_counts(
        &self,
    ) -> Result<Vec<(String, DeliveryState, u64)>, PostgresError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT sink, state, COUNT(*) FROM deliveries GROUP BY sink, state ORDER BY sink, state",
                &[],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let state: String = row.try_get(1)?;
            if let Some(state) = DeliveryState::parse(&state) {
                out.push((row.try_get(0)?, state, count(&row, 2)?));
            }
        }
        Ok(out)
    }

    /// Alerts ever written to the outbox, by rule and source.
    pub async fn alert_counts(&self) -> Result<Vec<AlertCount>, PostgresError> {
        let client = self.client().await?;
        let rows = client
            .query(
                // Kept by a trigger on insert: a scrape reads a few rows, however big the outbox.
                "SELECT rule, source, count FROM alert_totals ORDER BY 1, 2",
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(AlertCount {
                    rule: row.try_get(0)?,
                    source: row.try_get(1)?,
                    count: count(row, 2)?,
                })
            })
            .collect()
    }
}

impl PostgresStore {
    /// See [`crate::state::OutboxAdmin::prune_delivered`].
    pub async fn prune_delivered(
        &self,
        cutoff: DateTime<Utc>,
        batch: usize,
    ) -> Result<usize, PostgresError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let limit = limit_param(batch);
        let deliveries = tx
            .execute(
                "DELETE FROM deliveries WHERE (sink, alert_seq) IN (
                     SELECT sink, alert_seq FROM deliveries
                     WHERE state = 'delivered' AND updated_at < $1 LIMIT $2)",
                &[&cutoff, &limit],
            )
            .await?;
        let alerts = tx
            .execute(
                "DELETE FROM alerts WHERE seq IN (
                     SELECT seq FROM alerts a WHERE a.created_at < $1
                       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_seq = a.seq)
                     LIMIT $2)",
                &[&cutoff, &limit],
            )
            .await?;
        tx.commit().await?;
        Ok((deliveries + alerts) as usize)
    }
}

fn delivery_record(row: &Row) -> Result<Option<DeliveryRecord>, PostgresError> {
    let state: String = row.try_get(2)?;
    let Some(state) = DeliveryState::parse(&state) else {
        return Ok(None);
    };
    let attempts: i32 = row.try_get(3)?;
    let updated_at: DateTime<Utc> = row.try_get(5)?;
    let body: String = row.try_get(6)?;
    Ok(Some(DeliveryRecord {
        seq: row.try_get(0)?,
        sink: row.try_get(1)?,
        state,
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_error: row.try_get(4)?,
        updated_at,
        alert: decode_alert(&body)?,
    }))
}

fn decode_alert(body: &str) -> Result<Alert, PostgresError> {
    serde_json::from_str(body).map_err(PostgresError::Corrupt)
}

fn count(row: &Row, index: usize) -> Result<u64, PostgresError> {
    let n: i64 = row.try_get(index)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

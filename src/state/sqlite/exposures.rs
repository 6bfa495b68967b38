//! The exposures on SQLite: applied inside the commit's transaction, listed and counted for
//! the `exposures` command and the metrics, and reminded once.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Transaction, params};

use super::SqliteStore;
use super::checkpoints::insert_alerts;
use crate::exposure::{Exposure, ExposureFilter, ExposureKey, OpenCount, Target, plan};
use crate::model::Alert;
use crate::state::exposure_rows::{Applied, columns, decode};
use crate::state::{Commit, ExposureInventory, RoutedAlert, StateError};

/// Applies the commit's observations in batch order; each reads the rows as the previous
/// ones left them.
pub(super) fn apply(tx: &Transaction<'_>, commit: &Commit) -> Result<Applied, StateError> {
    let mut applied = Applied::default();
    let mut by_service = tx.prepare_cached(
        "SELECT body FROM exposures WHERE cluster = ?1 AND namespace = ?2 AND service = ?3",
    )?;
    let mut by_namespace = tx.prepare_cached(
        "SELECT body FROM exposures WHERE cluster = ?1 AND namespace = ?2 AND status = 'open'",
    )?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO exposures (cluster, namespace, service, rule, status, opened_at, reminded, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (cluster, namespace, service, rule) DO UPDATE SET status = excluded.status,
             opened_at = excluded.opened_at, reminded = excluded.reminded, body = excluded.body",
    )?;
    for observation in &commit.exposures {
        let bodies: Vec<String> = match &observation.target {
            Target::Service(s) => by_service
                .query_map(params![s.cluster, s.namespace, s.service], |r| r.get(0))?
                .collect::<Result<_, _>>()?,
            Target::Namespace { cluster, namespace } => by_namespace
                .query_map(params![cluster, namespace], |r| r.get(0))?
                .collect::<Result<_, _>>()?,
        };
        let current: Vec<Exposure> = bodies.iter().filter_map(|b| decode(b)).collect();
        let planned = plan(observation, &current);
        for row in planned.transitions.iter().filter_map(|t| t.row()) {
            let c = columns(row).map_err(StateError::Corrupt)?;
            let s = &row.key.service;
            upsert.execute(params![
                s.cluster,
                s.namespace,
                s.service,
                row.key.rule.as_str(),
                c.status,
                c.opened_ms,
                c.reminded,
                c.body
            ])?;
        }
        applied.add(planned);
    }
    Ok(applied)
}

#[async_trait]
impl ExposureInventory for SqliteStore {
    async fn exposures(
        &self,
        filter: &ExposureFilter,
        limit: usize,
    ) -> Result<Vec<Exposure>, StateError> {
        let filter = filter.clone();
        self.run(move |conn| {
            let statuses: Vec<&str> = filter.statuses().iter().map(|s| s.as_str()).collect();
            let mut stmt = conn.prepare_cached(
                "SELECT body FROM exposures
                 WHERE status IN (SELECT value FROM json_each(?1))
                   AND (?2 IS NULL OR cluster = ?2) AND (?3 IS NULL OR namespace = ?3)
                 ORDER BY opened_at DESC LIMIT ?4",
            )?;
            let statuses = serde_json::to_string(&statuses).map_err(StateError::Corrupt)?;
            let bodies = stmt
                .query_map(
                    params![statuses, filter.cluster, filter.namespace, limit as i64],
                    |r| r.get::<_, String>(0),
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(bodies.iter().filter_map(|b| decode(b)).collect())
        })
        .await
    }

    async fn open_counts(&self) -> Result<Vec<OpenCount>, StateError> {
        self.run(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT cluster, rule, SUM(status = 'open'),
                     MIN(CASE WHEN status = 'open' THEN opened_at END) FROM exposures
                 WHERE status IN ('open', 'closed') GROUP BY cluster, rule ORDER BY cluster, rule",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(OpenCount {
                    cluster: r.get(0)?,
                    rule: r.get(1)?,
                    count: r.get::<_, i64>(2)?.max(0) as u64,
                    oldest_opened_ms: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn due_reminders(
        &self,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Exposure, Option<Alert>)>, StateError> {
        self.run(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT body FROM exposures
                 WHERE status = 'open' AND reminded = 0 AND opened_at < ?1
                 ORDER BY opened_at LIMIT ?2",
            )?;
            let bodies = stmt
                .query_map(params![before_ms, limit as i64], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            let mut alert = conn.prepare_cached("SELECT body FROM alerts WHERE id = ?1")?;
            let mut out = Vec::new();
            for row in bodies.iter().filter_map(|b| decode(b)) {
                let open = match &row.alert_id {
                    Some(id) => alert
                        .query_row(params![id], |r| r.get::<_, String>(0))
                        .optional()?
                        .and_then(|b| serde_json::from_str::<Alert>(&b).ok()),
                    None => None,
                };
                out.push((row, open));
            }
            Ok(out)
        })
        .await
    }

    async fn queue_reminder(
        &self,
        key: &ExposureKey,
        episode: &str,
        reminder: Alert,
        sinks: Vec<String>,
    ) -> Result<bool, StateError> {
        let key = key.clone();
        let episode = episode.to_owned();
        let now = self.now_ms();
        self.run(move |conn| {
            let tx = conn.transaction()?;
            let s = &key.service;
            let body: Option<String> = tx
                .query_row(
                    "SELECT body FROM exposures WHERE cluster = ?1 AND namespace = ?2
                         AND service = ?3 AND rule = ?4 AND status = 'open' AND reminded = 0",
                    params![s.cluster, s.namespace, s.service, key.rule.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(mut row) = body.as_deref().and_then(decode).filter(|r| r.id == episode) else {
                return Ok(false);
            };
            row.reminded_at = Some(reminder.detected_at);
            let c = columns(&row).map_err(StateError::Corrupt)?;
            tx.execute(
                "UPDATE exposures SET reminded = 1, body = ?5 WHERE cluster = ?1
                     AND namespace = ?2 AND service = ?3 AND rule = ?4",
                params![s.cluster, s.namespace, s.service, key.rule.as_str(), c.body],
            )?;
            insert_alerts(
                &tx,
                &[RoutedAlert {
                    alert: reminder,
                    sinks,
                }],
                now,
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }
}

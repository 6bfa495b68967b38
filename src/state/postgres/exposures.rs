//! The exposures on PostgreSQL: applied inside the commit's transaction (rows locked, so two
//! replicas' commits touching one Service apply one after the other), listed, counted and
//! reminded as on SQLite.

use deadpool_postgres::Transaction;

use super::PostgresStore;
use super::checkpoints::insert_alerts;
use super::error::PostgresError;
use crate::exposure::{Exposure, ExposureFilter, ExposureKey, OpenCount, Target, plan};
use crate::model::Alert;
use crate::state::exposure_rows::{Applied, columns, decode};
use crate::state::{Commit, RoutedAlert};

fn bodies(rows: &[tokio_postgres::Row]) -> Result<Vec<Exposure>, PostgresError> {
    let mut out = Vec::new();
    for row in rows {
        let body: String = row.try_get(0)?;
        out.extend(decode(&body));
    }
    Ok(out)
}

pub(super) async fn apply(tx: &Transaction<'_>, commit: &Commit) -> Result<Applied, PostgresError> {
    let mut applied = Applied::default();
    if commit.exposures.is_empty() {
        return Ok(applied);
    }
    let by_service = tx
        .prepare_cached(
            "SELECT body FROM exposures WHERE cluster = $1 AND namespace = $2 AND service = $3
             FOR UPDATE",
        )
        .await?;
    let by_namespace = tx
        .prepare_cached(
            "SELECT body FROM exposures WHERE cluster = $1 AND namespace = $2 AND status = 'open'
             FOR UPDATE",
        )
        .await?;
    let upsert = tx
        .prepare_cached(
            "INSERT INTO exposures (cluster, namespace, service, rule, status, opened_at, reminded, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (cluster, namespace, service, rule) DO UPDATE SET status = excluded.status,
                 opened_at = excluded.opened_at, reminded = excluded.reminded, body = excluded.body",
        )
        .await?;
    for observation in &commit.exposures {
        let rows = match &observation.target {
            Target::Service(s) => {
                tx.query(&by_service, &[&s.cluster, &s.namespace, &s.service])
                    .await?
            }
            Target::Namespace { cluster, namespace } => {
                tx.query(&by_namespace, &[cluster, namespace]).await?
            }
        };
        let planned = plan(observation, &bodies(&rows)?);
        for row in planned.transitions.iter().filter_map(|t| t.row()) {
            let c = columns(row).map_err(PostgresError::Corrupt)?;
            let s = &row.key.service;
            tx.execute(
                &upsert,
                &[
                    &s.cluster,
                    &s.namespace,
                    &s.service,
                    &row.key.rule.as_str(),
                    &c.status,
                    &c.opened_ms,
                    &c.reminded,
                    &c.body,
                ],
            )
            .await?;
        }
        applied.add(planned);
    }
    Ok(applied)
}

impl PostgresStore {
    pub async fn exposures(
        &self,
        filter: &ExposureFilter,
        limit: usize,
    ) -> Result<Vec<Exposure>, PostgresError> {
        let client = self.client().await?;
        let statuses: Vec<&str> = filter.statuses().iter().map(|s| s.as_str()).collect();
        let stmt = client
            .prepare_cached(
                "SELECT body FROM exposures
                 WHERE status = ANY($1) AND ($2::TEXT IS NULL OR cluster = $2)
                   AND ($3::TEXT IS NULL OR namespace = $3)
                 ORDER BY opened_at DESC NULLS LAST LIMIT $4",
            )
            .await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(
                &stmt,
                &[&statuses, &filter.cluster, &filter.namespace, &limit],
            )
            .await?;
        bodies(&rows)
    }

    pub async fn open_counts(&self) -> Result<Vec<OpenCount>, PostgresError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT cluster, rule, COUNT(*) FILTER (WHERE status = 'open')::BIGINT,
                     MIN(opened_at) FILTER (WHERE status = 'open') FROM exposures
                 WHERE status IN ('open', 'closed') GROUP BY cluster, rule ORDER BY cluster, rule",
                &[],
            )
            .await?;
        let mut out = Vec::new();
        for row in rows {
            let count: i64 = row.try_get(2)?;
            out.push(OpenCount {
                cluster: row.try_get(0)?,
                rule: row.try_get(1)?,
                count: u64::try_from(count).unwrap_or(0),
                oldest_opened_ms: row.try_get(3)?,
            });
        }
        Ok(out)
    }

    pub async fn due_reminders(
        &self,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Exposure, Option<Alert>)>, PostgresError> {
        let client = self.client().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(
                "SELECT e.body, a.body FROM exposures e
                 LEFT JOIN alerts a ON a.id = (e.body::jsonb ->> 'alert_id')
                 WHERE e.status = 'open' AND NOT e.reminded AND e.opened_at < $1
                 ORDER BY e.opened_at LIMIT $2",
                &[&before_ms, &limit],
            )
            .await?;
        let mut out = Vec::new();
        for row in rows {
            let body: String = row.try_get(0)?;
            let alert: Option<String> = row.try_get(1)?;
            if let Some(exposure) = decode(&body) {
                let open = alert.and_then(|a| serde_json::from_str(&a).ok());
                out.push((exposure, open));
            }
        }
        Ok(out)
    }

    pub async fn queue_reminder(
        &self,
        key: &ExposureKey,
        episode: &str,
        reminder: Alert,
        sinks: Vec<String>,
    ) -> Result<bool, PostgresError> {
        let now = self.now();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let s = &key.service;
        let row = tx
            .query_opt(
                "SELECT body FROM exposures WHERE cluster = $1 AND namespace = $2
                     AND service = $3 AND rule = $4 AND status = 'open' AND NOT reminded
                 FOR UPDATE",
                &[&s.cluster, &s.namespace, &s.service, &key.rule.as_str()],
            )
            .await?;
        let body: Option<String> = row.map(|r| r.try_get(0)).transpose()?;
        let Some(mut exposure) = body.as_deref().and_then(decode).filter(|r| r.id == episode)
        else {
            return Ok(false);
        };
        exposure.reminded_at = Some(reminder.detected_at);
        let c = columns(&exposure).map_err(PostgresError::Corrupt)?;
        tx.execute(
            "UPDATE exposures SET reminded = true, body = $5 WHERE cluster = $1
                 AND namespace = $2 AND service = $3 AND rule = $4",
            &[
                &s.cluster,
                &s.namespace,
                &s.service,
                &key.rule.as_str(),
                &c.body,
            ],
        )
        .await?;
        insert_alerts(
            &tx,
            &[RoutedAlert {
                alert: reminder,
                sinks,
            }],
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

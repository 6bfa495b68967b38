//! Reads one window of one workspace, splitting it until every query's result is complete.
//!
//! A result is incomplete when it fills `max_rows` (the query's own `take`) or when the service
//! says it cut the result at its row or size limit. Rows of an incomplete result are never
//! used: the window first drops its overlap (rows already read once), then its end moves
//! halfway to the watermark, and the query runs again, so the watermark only ever moves past
//! rows that were all read. Any other partial error leaves the window unread, to be retried.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tracing::{info, warn};

use super::client::LogAnalyticsClient;
use super::config::AzureMonitorSettings;
use super::kql::{Axis, WindowQuery};
use super::response::Row;
use crate::model::SeenKey;
use crate::sources::time_axis::Window;
use crate::sources::{Record, RecordOrigin, SourceError};

/// The rows of a window, and where the window really ended after splits.
pub(super) struct Fetched {
    pub records: Vec<Record>,
    pub end_ms: i64,
}

pub(super) struct WindowReader<'a> {
    pub source: &'a str,
    pub client: &'a LogAnalyticsClient,
    pub settings: &'a AzureMonitorSettings,
    pub origin: &'a Arc<RecordOrigin>,
}

impl WindowReader<'_> {
    /// Reads `[window.start_ms, end)` for the largest `end <= window.end_ms` whose result is
    /// complete; `watermark` is where unread time starts (the window begins earlier by the
    /// overlap).
    pub async fn read(
        &self,
        workspace: &str,
        axis: Axis,
        window: Window,
        watermark: i64,
    ) -> Result<Fetched, SourceError> {
        let max_rows = self.settings.max_rows;
        let mut start = window.start_ms;
        let mut end = window.end_ms;
        loop {
            let query = WindowQuery {
                table: self.settings.table,
                clusters: &self.settings.clusters,
                axis,
                start_ms: start,
                end_ms: end,
                max_ingestion_delay: self.settings.max_ingestion_delay,
                max_rows,
            };
            let result = self
                .client
                .query(workspace, &query.text(), &query.timespan())
                .await?;
            let full = result.rows.len() >= max_rows as usize || result.truncated_by_service();
            if !full {
                if let Some(summary) = result.partial_error_summary() {
                    warn!(source = self.source, workspace, error = %summary, "partial query result; the window will be read again");
                    return Err(SourceError::transient(format!(
                        "workspace {workspace}: partial result ({summary}); the window will be read again"
                    )));
                }
                let records = result
                    .rows
                    .into_iter()
                    .map(|row| self.record(row, axis, start))
                    .collect();
                return Ok(Fetched {
                    records,
                    end_ms: end,
                });
            }
            if start < watermark {
                // Rows of the overlap were read before; under a load that fills a result they
                // must not starve the unread part (halving could then never pass them).
                warn!(
                    source = self.source,
                    workspace,
                    rows = max_rows,
                    "window result is full; reading it without its overlap"
                );
                start = watermark;
            } else if end - watermark >= 2 {
                end = watermark + (end - watermark) / 2;
                info!(
                    source = self.source,
                    workspace,
                    rows = max_rows,
                    new_end_ms = end,
                    "window result is full; splitting the window"
                );
            } else {
                return Err(SourceError::fatal(format!(
                    "workspace {workspace}: more than {max_rows} matching rows in one millisecond; \
                     raise max_rows (up to 500000)"
                )));
            }
        }
    }

    fn record(&self, row: Row, axis: Axis, window_start: i64) -> Record {
        let axis_time = match axis {
            Axis::Ingestion => row.ingestion_time,
            Axis::TimeGenerated => row.time_generated,
        };
        let event_ms = axis_time.map_or(window_start, |t| t.timestamp_millis());
        let record_id = match (&row.audit_id, &row.stage) {
            (Some(id), Some(stage)) => Some(format!("{id}/{stage}")),
            (Some(id), None) => Some(id.clone()),
            _ => None,
        };
        // The audit ID and stage come from the client (`Audit-ID` header) and cannot tell two
        // requests apart on their own: a decoy sharing a later request's ID would otherwise
        // hide it. The row's content (the server's timestamps, verb, objectRef, …) does, and a
        // row is immutable once ingested, so every re-read gives the same key.
        let content = hex::encode(&Sha256::digest(row.json.as_bytes())[..16]);
        let key = match &record_id {
            Some(id) => format!("{id}/{content}"),
            None => format!("row:{content}"),
        };
        Record {
            text: row.json.into_bytes(),
            origin: Arc::clone(self.origin),
            record_id,
            record_time: row.time_generated,
            dedupe: Some(SeenKey { key, event_ms }),
        }
    }
}

//! `type = "azure_monitor"`: AKS audit rows from Log Analytics workspaces.
//!
//! Each poll reads, for every workspace, the next window of **ingestion time** after its
//! watermark (minus an overlap), as the [`WindowPlanner`] lays it out, and hands every row to
//! the pipeline as one JSON object (the AKS normalizer reads the `AKSAudit*` and
//! `AzureDiagnostics` row shapes). Rows read twice in an overlap are dropped by the driver on
//! their `AuditId` + `Stage`. The cursor holds one watermark per workspace and moves only when
//! the poll returns, i.e. after the driver has committed the window's alerts; a failed or
//! partial query returns an error and moves nothing.
//!
//! The workspaces of one source are read together: a workspace that keeps failing holds the
//! others back (nothing is lost). Give each its own source to keep them independent.

pub mod client;
pub mod config;
pub mod cursor;
mod fetch;
pub mod kql;
pub mod response;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::http::RetryOptions;
use azure_core::http::policies::Policy;
use chrono::{DateTime, Utc};
use tracing::debug;

pub use cursor::AzureMonitorCursor;

use self::client::LogAnalyticsClient;
use self::config::AzureMonitorSettings;
use self::fetch::WindowReader;
use self::kql::Axis;
use super::azure::bearer::BearerPolicy;
use super::azure::credential::token_credential;
use super::rate_limit::{Budget, Limiter};
use super::time_axis::{self, ScanBounds};
use super::{
    Batch, BuildSource, PollMode, Progress, Record, RecordOrigin, Source, SourceContext,
    SourceError, TimeRange,
};
use crate::clock::Clock;
use crate::model::{Format, Provider};

/// The query API allows 200 requests per 30 s per identity; sources of one endpoint share it.
fn budget() -> Budget {
    Budget {
        requests: NonZeroU32::new(200).unwrap_or(NonZeroU32::MIN),
        per: Duration::from_secs(30),
    }
}

pub struct AzureMonitorSource {
    name: String,
    settings: Arc<AzureMonitorSettings>,
    client: LogAnalyticsClient,
    clock: Arc<dyn Clock>,
    origins: HashMap<String, Arc<RecordOrigin>>,
}

impl BuildSource for AzureMonitorSource {
    type Settings = AzureMonitorSettings;

    /// Builds the source with the credential its settings choose.
    async fn build(
        ctx: SourceContext,
        settings: &AzureMonitorSettings,
    ) -> Result<Self, SourceError> {
        let credential = token_credential(&settings.credential)
            .map_err(|e| SourceError::fatal(format!("source {}: {e}", ctx.name)))?;
        let limiter = ctx.rate_limits.get(
            &format!(
                "azure_monitor:{}",
                settings.endpoint.host_str().unwrap_or("")
            ),
            budget(),
        );
        Ok(Self::new(
            ctx,
            settings.clone(),
            credential,
            limiter,
            super::azure::sdk_retry(),
        ))
    }
}

impl AzureMonitorSource {
    /// Builds the source with an explicit credential (`None`: no authorization header) and
    /// SDK retry policy (production and tests: [`super::azure::sdk_retry`], none).
    pub fn new(
        ctx: SourceContext,
        settings: AzureMonitorSettings,
        credential: Option<Arc<dyn TokenCredential>>,
        limiter: Arc<Limiter>,
        retry: RetryOptions,
    ) -> Self {
        let SourceContext { name, clock, .. } = ctx;
        let name = name.as_str();
        let auth =
            credential.map(|c| Arc::new(BearerPolicy::new(c, &settings.scope)) as Arc<dyn Policy>);
        let client = LogAnalyticsClient::new(name, settings.endpoint.clone(), auth, retry, limiter);
        let origins = settings
            .workspaces
            .iter()
            .map(|ws| {
                let origin = RecordOrigin {
                    format: Format::Aks,
                    provider: Some(Provider::Aks),
                    stream: format!("workspace {ws} / {}", settings.table.as_str()),
                    ..RecordOrigin::default()
                };
                (ws.clone(), Arc::new(origin))
            })
            .collect();
        AzureMonitorSource {
            name: name.to_owned(),
            settings: Arc::new(settings),
            client,
            clock,
            origins,
        }
    }

    /// The axis and the bounds a mode reads: ingestion time live (rows arrive late), the
    /// rows' own time in a scan (a user asks about when things happened).
    fn plan(&self, mode: &PollMode) -> (Axis, Option<ScanBounds>) {
        match mode {
            PollMode::Live => (Axis::Ingestion, None),
            PollMode::Scan(range) => (Axis::TimeGenerated, Some(ScanBounds::of(range))),
        }
    }

    /// Where a workspace without a watermark starts.
    fn initial_watermark(&self, mode: &PollMode, now: DateTime<Utc>) -> i64 {
        self.settings.window.start_ms(mode, now)
    }
}

#[async_trait]
impl Source for AzureMonitorSource {
    type Cursor = AzureMonitorCursor;

    fn start(&self, mode: &PollMode, now: DateTime<Utc>) -> AzureMonitorCursor {
        let at = self.initial_watermark(mode, now);
        AzureMonitorCursor {
            watermarks: self
                .settings
                .workspaces
                .iter()
                .map(|ws| (ws.clone(), at))
                .collect(),
        }
    }

    async fn poll(
        &mut self,
        cursor: &AzureMonitorCursor,
        mode: &PollMode,
    ) -> Result<Batch<AzureMonitorCursor>, SourceError> {
        let now = self.clock.now();
        let (axis, scan) = self.plan(mode);
        let planner = self.settings.window.planner();
        let mut next = AzureMonitorCursor::default();
        let mut records: Vec<Record> = Vec::new();
        let mut more = false;
        for (workspace, origin) in &self.origins {
            let watermark = cursor
                .watermark(workspace)
                .unwrap_or_else(|| self.initial_watermark(mode, now));
            let Some(planned) = planner.next(watermark, now, scan) else {
                next.watermarks.insert(workspace.clone(), watermark);
                continue;
            };
            let reader = WindowReader {
                source: &self.name,
                client: &self.client,
                settings: &self.settings,
                origin,
            };
            let fetched = reader
                .read(workspace, axis, planned.window, watermark)
                .await?;
            debug!(source = %self.name, workspace, rows = fetched.records.len(), start_ms = planned.window.start_ms, end_ms = fetched.end_ms, "window read");
            more |= planned.more || fetched.end_ms < planned.window.end_ms;
            records.extend(fetched.records);
            next.watermarks.insert(workspace.clone(), fetched.end_ms);
        }
        let progress = match (more, scan) {
            (true, _) => Progress::More,
            (false, Some(bounds)) if next.watermarks.values().all(|w| bounds.finished(*w)) => {
                Progress::Finished
            }
            (false, _) => Progress::CaughtUp,
        };
        let oldest = next.oldest();
        Ok(Batch {
            records,
            progress,
            forget_seen_before_ms: oldest.map(|w| planner.forget_before(w)),
            position: oldest.and_then(DateTime::<Utc>::from_timestamp_millis),
            cursor: next,
        })
    }

    fn skip_backlog(
        &self,
        cursor: &mut AzureMonitorCursor,
        keep: Duration,
        now: DateTime<Utc>,
    ) -> Option<TimeRange> {
        time_axis::skip_backlog(cursor, keep, now)
    }

    fn rewind_ahead(
        &self,
        cursor: &mut Self::Cursor,
        now: DateTime<Utc>,
    ) -> Option<time_axis::Rewound> {
        time_axis::rewind_ahead(cursor, &self.settings.window.planner(), now)
    }

    fn skew_tolerance(&self) -> std::time::Duration {
        time_axis::skew_tolerance(&self.settings.window.planner())
    }

    async fn healthcheck(&mut self) -> Result<(), SourceError> {
        let query = kql::healthcheck(self.settings.table);
        for workspace in &self.settings.workspaces {
            self.client
                .query(workspace, &query, "P1D")
                .await
                .map_err(|e| {
                    if e.message.contains("HTTP 400") {
                        SourceError {
                            message: format!(
                                "{} (does table {} exist in the workspace? A diagnostic setting in \
                                 Azure diagnostics mode writes to AzureDiagnostics, in \
                                 resource-specific mode to AKSAudit/AKSAuditAdmin)",
                                e.message,
                                self.settings.table.as_str()
                            ),
                            ..e
                        }
                    } else {
                        e
                    }
                })?;
        }
        Ok(())
    }
}

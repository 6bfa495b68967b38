//! Builds sinks from their settings and starts their deliverers; sources are built and started
//! by [`crate::ingest::launch`].

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Settings, SinkKind, SinkSettings};
use crate::delivery::Deliverer;
use crate::ingest::Services;
use crate::sinks::alertmanager::AlertmanagerSink;
use crate::sinks::azure_logs_ingestion::AzureLogsIngestionSink;
use crate::sinks::elasticsearch::ElasticsearchSink;
use crate::sinks::pagerduty::PagerDutySink;
use crate::sinks::slack::SlackSink;
use crate::sinks::splunk_hec::SplunkHecSink;
use crate::sinks::webhook::WebhookSink;
use crate::sinks::{Sink, file::FileSink, stdout::StdoutSink};
use crate::state::OutboxDelivery;

/// Builds the sink `settings` describe.
pub fn build_sink(settings: &SinkSettings) -> Result<Arc<dyn Sink>, String> {
    Ok(match &settings.kind {
        SinkKind::Stdout => Arc::new(StdoutSink::default()),
        SinkKind::File(f) => Arc::new(FileSink::with_format(&f.path, f.format)),
        SinkKind::Webhook(w) => Arc::new(WebhookSink::new(w)?),
        SinkKind::Slack(s) => Arc::new(SlackSink::new(s)?),
        SinkKind::SplunkHec(s) => Arc::new(SplunkHecSink::new(s)?),
        SinkKind::PagerDuty(s) => Arc::new(PagerDutySink::new(s)?),
        SinkKind::Alertmanager(s) => Arc::new(AlertmanagerSink::new(s)?),
        SinkKind::Elasticsearch(s) => Arc::new(ElasticsearchSink::new(s)?),
        SinkKind::AzureLogsIngestion(s) => Arc::new(AzureLogsIngestionSink::new(s)?),
    })
}

/// How long a stopping daemon waits for a source to finish its batch.
pub const SOURCE_GRACE: Duration = Duration::from_secs(30);

/// A sink that could not be built.
#[derive(Debug, thiserror::Error)]
#[error("sink `{name}`: {message}")]
pub struct SinkError {
    pub name: String,
    pub message: String,
}

/// Starts one deliverer per configured sink on `tracker`; they stop when `stop` is cancelled
/// (after emptying the outbox as far as their sinks accept).
pub fn spawn_deliverers(
    settings: &Settings,
    services: &Services,
    tracker: &TaskTracker,
    stop: &CancellationToken,
) -> Result<(), SinkError> {
    for sink in &settings.sinks {
        let built = build_sink(sink).map_err(|message| SinkError {
            name: sink.name.clone(),
            message,
        })?;
        let deliverer = Deliverer::new(
            &sink.name,
            built,
            Arc::clone(&services.store) as Arc<dyn OutboxDelivery>,
            &services.outbox,
            settings.delivery,
        );
        tracker.spawn(deliverer.run(stop.clone()));
    }
    Ok(())
}

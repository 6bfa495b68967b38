//! Builds sinks from their settings and starts their deliverers; sources are built and started
//! by [`crate::ingest::launch`].

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Settings, SinkKind, SinkSettings};
use crate::delivery::{Deliverer, RetryPolicy};
use crate::ingest::Services;
use crate::sinks::alertmanager::AlertmanagerSink;
use crate::sinks::aws_eventbridge::AwsEventBridgeSink;
use crate::sinks::aws_security_hub::AwsSecurityHubSink;
use crate::sinks::azure_logs_ingestion::AzureLogsIngestionSink;
use crate::sinks::elasticsearch::ElasticsearchSink;
use crate::sinks::pagerduty::PagerDutySink;
use crate::sinks::slack::SlackSink;
use crate::sinks::splunk_hec::SplunkHecSink;
use crate::sinks::webhook::WebhookSink;
use crate::sinks::{Sink, file::FileSink, stdout::StdoutSink};
use crate::state::OutboxDelivery;

use super::supervise::{Restart, supervise};

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
        SinkKind::AwsEventBridge(s) => Arc::new(AwsEventBridgeSink::new(s)),
        SinkKind::AwsSecurityHub(s) => Arc::new(AwsSecurityHubSink::new(s)),
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

/// How long deliverers get to drop a send in flight once told to.
const ABORT_GRACE: Duration = Duration::from_secs(1);

/// One sink's deliverer under supervision (restarted after a panic): it empties the outbox
/// until `stop`, and drops a send in flight once `abort` fires (the alert stays pending).
pub fn supervised_deliverer(
    name: String,
    sink: Arc<dyn Sink>,
    services: &Services,
    policy: RetryPolicy,
    stop: CancellationToken,
    abort: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let services = services.clone();
    supervise(
        "deliverer",
        name.clone(),
        Arc::clone(&services.health),
        Restart::default(),
        stop.clone(),
        move || {
            Deliverer::new(
                &name,
                Arc::clone(&sink),
                Arc::clone(&services.store) as Arc<dyn OutboxDelivery>,
                &services.outbox,
                policy,
            )
            .abort_on(abort.clone())
            .run(stop.clone())
        },
    )
}

/// The running deliverers, one supervised task per sink.
pub struct Deliverers {
    tracker: TaskTracker,
    /// Finish what the sinks accept, then return.
    stop: CancellationToken,
    /// Drop even a send in flight (its alert stays pending).
    abort: CancellationToken,
}

impl Deliverers {
    /// No deliverers (a `scan` that only queues).
    pub fn none() -> Self {
        let tracker = TaskTracker::new();
        tracker.close();
        Deliverers {
            tracker,
            stop: CancellationToken::new(),
            abort: CancellationToken::new(),
        }
    }

    /// Starts one supervised deliverer per configured sink.
    pub fn start(settings: &Settings, services: &Services) -> Result<Self, SinkError> {
        let deliverers = Deliverers::none();
        for sink in &settings.sinks {
            let built = build_sink(sink).map_err(|message| SinkError {
                name: sink.name.clone(),
                message,
            })?;
            deliverers.tracker.spawn(supervised_deliverer(
                sink.name.clone(),
                built,
                services,
                settings.delivery,
                deliverers.stop.clone(),
                deliverers.abort.clone(),
            ));
        }
        Ok(deliverers)
    }

    /// Stops them: they may keep emptying the outbox for `grace`, then a send still in flight
    /// is abandoned (a sink that hangs must not hold the process past its termination grace
    /// period; its alert stays pending). Whether they all finished within `grace`.
    pub async fn stop(self, grace: Duration) -> bool {
        self.stop.cancel();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
        {
            return true;
        }
        self.abort.cancel();
        let _ = tokio::time::timeout(ABORT_GRACE, self.tracker.wait()).await;
        false
    }
}

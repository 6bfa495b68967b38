//! Builds sources and sinks from their settings and starts them.
//!
//! Sources have different cursor types, so they cannot sit behind one `dyn` trait object; the
//! per-type dispatch lives in [`with_source`], the only place a new source type is wired in.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Services;
use crate::config::{Settings, SinkKind, SinkSettings, SourceKind, SourceSettings};
use crate::delivery::Deliverer;
use crate::sinks::pagerduty::PagerDutySink;
use crate::sinks::slack::SlackSink;
use crate::sinks::splunk_hec::SplunkHecSink;
use crate::sinks::webhook::WebhookSink;
use crate::sinks::{Sink, file::FileSink, stdout::StdoutSink};
use crate::sources::aws_cloudwatch::AwsCloudWatchSource;
use crate::sources::azure_blob::AzureBlobSource;
use crate::sources::azure_monitor::AzureMonitorSource;
use crate::sources::file::FileSource;
use crate::sources::gcp_logging::GcpLoggingSource;
use crate::sources::{DriverError, PollMode, Source, SourceDriver, SourceError};
use crate::state::OutboxDelivery;

/// Something to do with a freshly built source, whatever its type.
pub trait SourceVisitor {
    type Output;
    fn visit<S: Source>(self, source: S) -> impl Future<Output = Self::Output> + Send;
}

/// Builds the source `settings` describe and hands it to `visitor`.
pub async fn with_source<V: SourceVisitor>(
    settings: &SourceSettings,
    services: &Services,
    visitor: V,
) -> Result<V::Output, SourceError> {
    Ok(match &settings.kind {
        SourceKind::File(f) => {
            visitor
                .visit(FileSource::new(&settings.name, f.clone()))
                .await
        }
        SourceKind::AzureMonitor(s) => {
            let source = AzureMonitorSource::from_services(&settings.name, s, services)?;
            visitor.visit(source).await
        }
        SourceKind::AzureBlob(s) => {
            let source = AzureBlobSource::from_services(&settings.name, s, services)?;
            visitor.visit(source).await
        }
        SourceKind::GcpLogging(g) => {
            let source = GcpLoggingSource::connect(
                &settings.name,
                g.clone(),
                &services.rate_limits,
                Arc::clone(&services.clock),
            )
            .await?;
            visitor.visit(source).await
        }
        SourceKind::AwsCloudWatch(s) => {
            let source = AwsCloudWatchSource::new(
                &settings.name,
                (**s).clone(),
                services.rate_limits.clone(),
                Arc::clone(&services.clock),
                None,
            )
            .await;
            visitor.visit(source).await
        }
    })
}

/// A started source.
pub struct Launched {
    pub name: String,
    pub cursor_key: String,
    pub task: JoinHandle<Result<(), DriverError>>,
}

struct Launch<'a> {
    settings: &'a SourceSettings,
    services: &'a Services,
    mode: &'a PollMode,
    tracker: &'a TaskTracker,
    cancel: &'a CancellationToken,
}

impl SourceVisitor for Launch<'_> {
    type Output = Result<Launched, DriverError>;

    async fn visit<S: Source>(self, source: S) -> Result<Launched, DriverError> {
        let name = &self.settings.name;
        let mut pipeline = self.services.pipeline(name);
        if let PollMode::Scan(range) = self.mode {
            pipeline = pipeline.with_event_window(*range);
        }
        let driver = SourceDriver::open(
            name,
            source,
            self.mode.clone(),
            self.settings.max_catchup,
            Arc::clone(&self.services.store),
            pipeline,
            self.services.outbox.clone(),
            Arc::clone(&self.services.health),
            self.services.clock.as_ref(),
        )
        .await?;
        self.services.health.register(name);
        let cursor_key = driver.cursor_key().to_owned();
        let task = self
            .tracker
            .spawn(driver.run(self.settings.interval, self.cancel.clone()));
        Ok(Launched {
            name: name.clone(),
            cursor_key,
            task,
        })
    }
}

/// Builds a source, loads its checkpoint and starts polling it on `tracker`.
pub async fn launch_source(
    settings: &SourceSettings,
    services: &Services,
    mode: &PollMode,
    tracker: &TaskTracker,
    cancel: &CancellationToken,
) -> Result<Launched, DriverError> {
    let launch = Launch {
        settings,
        services,
        mode,
        tracker,
        cancel,
    };
    with_source(settings, services, launch).await?
}

struct Healthcheck;

impl SourceVisitor for Healthcheck {
    type Output = Result<(), SourceError>;

    async fn visit<S: Source>(self, mut source: S) -> Result<(), SourceError> {
        source.healthcheck().await
    }
}

/// Builds a source and makes one real call with it.
pub async fn check_source(
    settings: &SourceSettings,
    services: &Services,
) -> Result<(), SourceError> {
    with_source(settings, services, Healthcheck).await?
}

/// Builds the sink `settings` describe.
pub fn build_sink(settings: &SinkSettings) -> Result<Arc<dyn Sink>, String> {
    Ok(match &settings.kind {
        SinkKind::Stdout => Arc::new(StdoutSink::default()),
        SinkKind::File(f) => Arc::new(FileSink::with_format(&f.path, f.format)),
        SinkKind::Webhook(w) => Arc::new(WebhookSink::new(w)?),
        SinkKind::Slack(s) => Arc::new(SlackSink::new(s)?),
        SinkKind::SplunkHec(s) => Arc::new(SplunkHecSink::new(s)?),
        SinkKind::PagerDuty(s) => Arc::new(PagerDutySink::new(s)?),
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

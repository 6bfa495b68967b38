//! Builds a source from its settings and starts it under a [`SourceDriver`].
//!
//! Sources have different cursor types, so they cannot sit behind one `dyn` trait object; the
//! per-type dispatch lives in [`with_source`], the only place a new source type is wired in.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{DriverError, Services, SourceDriver};
use crate::config::{SourceKind, SourceSettings};
use crate::sources::aws_cloudwatch::AwsCloudWatchSource;
use crate::sources::azure_blob::AzureBlobSource;
use crate::sources::azure_monitor::AzureMonitorSource;
use crate::sources::file::FileSource;
use crate::sources::gcp_logging::GcpLoggingSource;
use crate::sources::{BuildSource, PollMode, Source, SourceError};
use crate::state::Fence;

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
    let ctx = services.source_context(&settings.name);
    Ok(match &settings.kind {
        SourceKind::File(s) => visitor.visit(FileSource::build(ctx, s).await?).await,
        SourceKind::AzureMonitor(s) => {
            visitor
                .visit(AzureMonitorSource::build(ctx, s).await?)
                .await
        }
        SourceKind::AzureBlob(s) => visitor.visit(AzureBlobSource::build(ctx, s).await?).await,
        SourceKind::GcpLogging(s) => visitor.visit(GcpLoggingSource::build(ctx, s).await?).await,
        SourceKind::AwsCloudWatch(s) => {
            visitor
                .visit(AwsCloudWatchSource::build(ctx, s).await?)
                .await
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
    fence: Fence,
}

impl SourceVisitor for Launch<'_> {
    type Output = Result<Launched, DriverError>;

    async fn visit<S: Source>(self, source: S) -> Result<Launched, DriverError> {
        let name = &self.settings.name;
        let driver = SourceDriver::open(
            self.services,
            name,
            source,
            self.mode.clone(),
            self.settings.max_catchup,
        )
        .await?
        .fenced(self.fence);
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

/// Builds a source, loads its checkpoint and starts polling it on `tracker`, as the only
/// writer of its checkpoint (a scan, or a daemon alone on its store).
pub async fn launch_source(
    settings: &SourceSettings,
    services: &Services,
    mode: &PollMode,
    tracker: &TaskTracker,
    cancel: &CancellationToken,
) -> Result<Launched, DriverError> {
    launch_source_fenced(settings, services, mode, tracker, cancel, Fence::Sole).await
}

/// [`launch_source`] under a lease: every commit carries `fence`, and a refused one stops it.
pub async fn launch_source_fenced(
    settings: &SourceSettings,
    services: &Services,
    mode: &PollMode,
    tracker: &TaskTracker,
    cancel: &CancellationToken,
    fence: Fence,
) -> Result<Launched, DriverError> {
    let launch = Launch {
        settings,
        services,
        mode,
        tracker,
        cancel,
        fence,
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

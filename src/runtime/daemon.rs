//! `run`: every configured source polled, every sink fed, until asked to stop.
//!
//! Stopping is ordered so that nothing is lost: sources and scheduled scans stop first (each
//! finishes and commits the batch in hand), then deliverers get a short while to empty the
//! outbox; whatever is still pending is delivered at the next start. The health and metrics
//! server answers until the very end.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use super::launch::{Deliverers, SOURCE_GRACE, SinkError};
use super::scheduler::run_schedule;
use super::supervise::{Restart, supervise as supervise_task};
use crate::config::{ServerSettings, Settings, SourceSettings};
use crate::ingest::Services;
use crate::ingest::launch::launch_source;
use crate::ingest::orphans::warn_about_orphan_cursors;
use crate::retry::Backoff;
use crate::sources::PollMode;
use crate::telemetry::exporter::{self, ExporterError};
use crate::telemetry::readiness::Readiness;
use crate::telemetry::server::{self, ServerError, ServerState};

/// How long stopping deliverers may keep emptying the outbox.
const DELIVERY_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("[server]: {0}")]
    Server(#[from] ServerError),
    #[error("[server]: {0}")]
    Metrics(#[from] ExporterError),
}

/// Runs until `stop` resolves, then shuts down gracefully.
pub async fn run(
    settings: &Settings,
    services: &Services,
    stop: impl Future<Output = ()>,
) -> Result<(), RunError> {
    // Bind first: a port already taken is a configuration error worth failing fast on.
    let server_stop = CancellationToken::new();
    let server_task = match &settings.server {
        Some(server) => Some(start_server(server, settings, services, &server_stop).await?),
        None => None,
    };
    warn_about_orphans(settings, services).await;
    let source_names: Vec<&str> = settings.sources.iter().map(|s| s.name.as_str()).collect();
    warn_about_orphan_cursors(services.store.as_ref(), &source_names).await;
    let deliverers = Deliverers::start(settings, services)?;

    let sources = TaskTracker::new();
    let sources_stop = CancellationToken::new();
    for source in &settings.sources {
        services.health.register(&source.name);
        sources.spawn(supervise(
            source.clone(),
            services.clone(),
            sources_stop.clone(),
        ));
    }
    sources.spawn(super::retention::prune_periodically(
        Arc::clone(&services.store) as _,
        Arc::clone(&services.clock),
        settings.retention,
        sources_stop.clone(),
    ));
    for schedule in &settings.scans {
        let (schedule, all, services, stop) = (
            schedule.clone(),
            settings.clone(),
            services.clone(),
            sources_stop.clone(),
        );
        sources.spawn(supervise_task(
            "scan",
            schedule.name.clone(),
            Arc::clone(&services.health),
            Restart::default(),
            stop.clone(),
            move || {
                run_schedule(
                    schedule.clone(),
                    all.clone(),
                    services.clone(),
                    stop.clone(),
                )
            },
        ));
    }
    sources.spawn(super::reminders::run(
        super::reminders::wanted(&settings.sinks),
        services.clone(),
        sources_stop.clone(),
    ));
    sources.close();
    info!(
        sources = settings.sources.len(),
        sinks = settings.sinks.len(),
        scans = settings.scans.len(),
        "nodeport-watch running"
    );

    stop.await;
    info!("stopping: finishing the batches in hand");
    sources_stop.cancel();
    if tokio::time::timeout(SOURCE_GRACE, sources.wait())
        .await
        .is_err()
    {
        warn!(grace = ?SOURCE_GRACE, "some sources did not finish their batch in time; their uncommitted batch will be read again at the next start");
    }
    if !deliverers.stop(DELIVERY_GRACE).await {
        warn!("some alerts are still pending; they will be delivered at the next start");
    }
    server_stop.cancel();
    if let Some(task) = server_task {
        let _ = task.await;
    }
    info!("stopped");
    Ok(())
}

/// Installs the metrics exporter, binds `[server] listen` and serves the endpoints.
async fn start_server(
    server: &ServerSettings,
    settings: &Settings,
    services: &Services,
    stop: &CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, RunError> {
    let metrics = exporter::install()?;
    let listener = server::bind(server.listen).await?;
    let intervals = settings
        .sources
        .iter()
        .map(|s| (s.name.clone(), s.interval))
        .collect();
    let state = ServerState {
        readiness: Arc::new(Readiness::new(
            Arc::clone(&services.health),
            Arc::clone(&services.store),
            intervals,
            server.readiness_intervals,
        )),
        health: Arc::clone(&services.health),
        store: Arc::clone(&services.store),
        metrics,
    };
    Ok(tokio::spawn(server::serve(listener, state, stop.clone())))
}

/// Deliveries still pending for a sink that is no longer configured would wait forever.
async fn warn_about_orphans(settings: &Settings, services: &Services) {
    let Ok(counts) = services.store.delivery_counts().await else {
        return;
    };
    for (sink, state, n) in counts {
        let configured = settings.sinks.iter().any(|s| s.name == sink);
        if !configured && state != crate::state::DeliveryState::Delivered && n > 0 {
            warn!(sink = %sink, state = state.as_str(), count = n, "the outbox holds alerts for a sink that is no longer configured; restore the sink to deliver them, or inspect them with `nodeport-watch alerts --sink {sink}`");
        }
    }
}

/// Keeps one source running: builds it (retrying if its cloud client cannot be set up yet) and
/// polls it until stopped.
async fn supervise(settings: SourceSettings, services: Services, stop: CancellationToken) {
    let name = settings.name.clone();
    let mut backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(300));
    loop {
        let tracker = TaskTracker::new();
        match launch_source(&settings, &services, &PollMode::Live, &tracker, &stop).await {
            Ok(launched) => {
                info!(source = %name, r#type = settings.kind.type_name(), "source started");
                match launched.task.await {
                    Ok(Ok(())) => return,
                    Ok(Err(e)) => {
                        error!(source = %name, error = %e, "source stopped");
                        return;
                    }
                    Err(e) => {
                        error!(source = %name, error = %e, "source task failed; restarting it");
                    }
                }
            }
            Err(e) => {
                services.health.record_failure(&name, &e.to_string());
                error!(source = %name, error = %e, "source could not start; retrying");
            }
        }
        let delay = backoff.next_delay(None);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

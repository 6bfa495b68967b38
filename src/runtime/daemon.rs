//! `run`: every configured source polled, every sink fed, until asked to stop.
//!
//! Stopping is ordered so that nothing is lost: sources stop first (each finishes and commits
//! the batch in hand), then deliverers get a short while to empty the outbox; whatever is
//! still pending is delivered at the next start.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use super::Services;
use super::launch::{SOURCE_GRACE, build_sink, launch_source};
use crate::config::{Settings, SourceSettings};
use crate::delivery::Deliverer;
use crate::runtime::backoff;
use crate::sources::PollMode;

/// How long stopping deliverers may keep emptying the outbox.
const DELIVERY_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum RunError {
    #[error("sink `{name}`: {message}")]
    Sink { name: String, message: String },
}

/// Runs until `stop` resolves, then shuts down gracefully.
pub async fn run(
    settings: &Settings,
    services: &Services,
    stop: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let deliverers = TaskTracker::new();
    let delivery_stop = CancellationToken::new();
    for sink in &settings.sinks {
        let built = build_sink(sink).map_err(|message| RunError::Sink {
            name: sink.name.clone(),
            message,
        })?;
        let deliverer = Deliverer::new(
            &sink.name,
            built,
            Arc::clone(&services.store),
            &services.outbox,
            settings.delivery,
        );
        deliverers.spawn(deliverer.run(delivery_stop.clone()));
    }
    deliverers.close();

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
    sources.close();
    info!(
        sources = settings.sources.len(),
        sinks = settings.sinks.len(),
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
    delivery_stop.cancel();
    if tokio::time::timeout(DELIVERY_GRACE, deliverers.wait())
        .await
        .is_err()
    {
        warn!("some alerts are still pending; they will be delivered at the next start");
    }
    info!("stopped");
    Ok(())
}

/// Keeps one source running: builds it (retrying if its cloud client cannot be set up yet) and
/// polls it until stopped.
async fn supervise(settings: SourceSettings, services: Services, stop: CancellationToken) {
    let name = settings.name.clone();
    let mut delays = backoff::exponential(Duration::from_secs(5), Duration::from_secs(300));
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
        let delay = delays.next().unwrap_or(Duration::from_secs(300));
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

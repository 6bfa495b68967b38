//! The daemon's units of work, started and stopped by the lease keeper: a source's poll loop
//! (`source/<name>`), a sink's deliverer (`sink/<name>`) and the fleet-wide metrics export
//! (`fleet/metrics`, which needs no task: holding the lease is the job).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use super::daemon::DELIVERY_GRACE;
use super::fleet::{FLEET_METRICS, Work};
use super::launch::{SinkError, build_sink, supervised_deliverer};
use crate::config::{Settings, SourceSettings};
use crate::ingest::Services;
use crate::ingest::launch::launch_source_fenced;
use crate::retry::Backoff;
use crate::sinks::Sink;
use crate::sources::PollMode;
use crate::state::Fence;

pub struct DaemonWork {
    settings: Settings,
    services: Services,
    /// Built once at start, so a bad sink fails the start rather than a lease later.
    sinks: HashMap<String, Arc<dyn Sink>>,
}

impl DaemonWork {
    pub fn new(settings: &Settings, services: &Services) -> Result<Self, SinkError> {
        let mut sinks = HashMap::new();
        for sink in &settings.sinks {
            let built = build_sink(sink).map_err(|message| SinkError {
                name: sink.name.clone(),
                message,
            })?;
            sinks.insert(sink.name.clone(), built);
        }
        Ok(DaemonWork {
            settings: settings.clone(),
            services: services.clone(),
            sinks,
        })
    }

    /// Every unit of this configuration: sources, sinks, and the metrics export when served.
    pub fn units(settings: &Settings) -> Vec<String> {
        let mut units: Vec<String> = settings
            .sources
            .iter()
            .map(|s| format!("source/{}", s.name))
            .chain(settings.sinks.iter().map(|s| format!("sink/{}", s.name)))
            .collect();
        if settings.server.is_some() {
            units.push(FLEET_METRICS.to_owned());
        }
        units
    }
}

impl Work for DaemonWork {
    fn start(&self, unit: &str, fence: Fence, stop: CancellationToken) -> JoinHandle<()> {
        match unit.split_once('/') {
            Some(("source", name)) => match self.settings.source(name) {
                Some(source) => tokio::spawn(keep_source_running(
                    source.clone(),
                    self.services.clone(),
                    stop,
                    fence,
                )),
                None => idle(stop),
            },
            Some(("sink", name)) => match self.sinks.get(name) {
                Some(sink) => {
                    let abort = CancellationToken::new();
                    let deliverer = supervised_deliverer(
                        name.to_owned(),
                        Arc::clone(sink),
                        &self.services,
                        self.settings.delivery,
                        stop.clone(),
                        abort.clone(),
                    );
                    tokio::spawn(async move {
                        tokio::select! {
                            () = deliverer => {}
                            () = abandon_before_the_grace_ends(stop, abort) => {}
                        }
                    })
                }
                None => idle(stop),
            },
            _ => idle(stop),
        }
    }

    fn abort_on_loss(&self, unit: &str) -> bool {
        unit.starts_with("sink/")
    }
}

/// Once stopping has gone on for nearly the keeper's delivery grace, tells the deliverer to
/// drop a send still in flight itself: it then logs the alert as abandoned (still pending)
/// instead of being torn down without a word when the grace ends. Never completes.
async fn abandon_before_the_grace_ends(stop: CancellationToken, abort: CancellationToken) {
    stop.cancelled().await;
    tokio::time::sleep(DELIVERY_GRACE.saturating_sub(Duration::from_secs(1))).await;
    abort.cancel();
    std::future::pending::<()>().await;
}

/// A unit with nothing to run: it holds its lease until stopped.
fn idle(stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move { stop.cancelled().await })
}

/// Keeps one source running: builds it (retrying if its cloud client cannot be set up yet) and
/// polls it until stopped. Its commits carry `fence`.
async fn keep_source_running(
    settings: SourceSettings,
    services: Services,
    stop: CancellationToken,
    fence: Fence,
) {
    let name = settings.name.clone();
    let mut backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(300));
    services.health.register(&name);
    loop {
        let tracker = TaskTracker::new();
        let launched = launch_source_fenced(
            &settings,
            &services,
            &PollMode::Live,
            &tracker,
            &stop,
            fence.clone(),
        )
        .await;
        match launched {
            Ok(launched) => {
                info!(source = %name, r#type = settings.kind.type_name(), "source started");
                match launched.task.await {
                    Ok(Ok(())) => return,
                    Ok(Err(e)) => {
                        error!(source = %name, error = %e, "source stopped");
                        return;
                    }
                    Err(e) if e.is_cancelled() => return,
                    Err(e) => {
                        error!(source = %name, error = %e, "source task failed; restarting it");
                    }
                }
            }
            Err(e) => {
                services.health.record_failure(&name, &e.to_string());
                warn!(source = %name, error = %e, "source could not start; retrying");
            }
        }
        let delay = backoff.next_delay(None);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

//! `run`: every configured source polled, every sink fed, until asked to stop.
//!
//! The sources and sinks are units of work under leases (`fleet/`): alone on a SQLite file the
//! daemon holds them all; as one of several replicas on PostgreSQL it holds its share, takes
//! over those of a replica that died, and commits each batch fenced by its lease.
//!
//! Stopping is ordered so that nothing is lost: scheduled scans and sources stop first (each
//! finishes and commits the batch in hand), then deliverers get a short while to empty the
//! outbox; whatever is still pending is delivered at the next start or by another replica.
//! Only then are the leases released. The health and metrics server answers until the very
//! end.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use super::fleet::{Graces, Keeper, LeaseTiming, ReplicaId};
use super::launch::{SOURCE_GRACE, SinkError};
use super::scheduler::run_schedule;
use super::supervise::{Restart, supervise};
use super::units::DaemonWork;
use crate::config::{ServerSettings, Settings};
use crate::ingest::Services;
use crate::ingest::orphans::warn_about_orphan_cursors;
use crate::sources::rate_limit::RateLimits;
use crate::telemetry::exporter::{self, ExporterError};
use crate::telemetry::leases::LeaseHealth;
use crate::telemetry::readiness::Readiness;
use crate::telemetry::server::{self, ServerError, ServerState};

/// How long stopping deliverers may keep emptying the outbox.
pub(super) const DELIVERY_GRACE: Duration = Duration::from_secs(10);

/// The lease timing when no source is configured (sinks only).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

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
    let shared = services.store.shared();
    let shortest = settings.sources.iter().map(|s| s.interval).min();
    let timing = LeaseTiming::for_interval(shortest.unwrap_or(DEFAULT_INTERVAL));
    let leases = Arc::new(if shared {
        LeaseHealth::replica(timing.stop_after)
    } else {
        LeaseHealth::sole()
    });
    // A replica sends nothing on a quota until the keeper has worked out its share of it.
    let services = &if shared {
        Services {
            rate_limits: RateLimits::with_initial_share(0.0),
            ..services.clone()
        }
    } else {
        services.clone()
    };
    // Bind first: a port already taken is a configuration error worth failing fast on.
    let server_stop = CancellationToken::new();
    let server_task = match &settings.server {
        Some(server) => {
            Some(start_server(server, settings, services, &leases, &server_stop).await?)
        }
        None => None,
    };
    warn_about_orphans(settings, services).await;
    let source_names: Vec<&str> = settings.sources.iter().map(|s| s.name.as_str()).collect();
    warn_about_orphan_cursors(services.store.as_ref(), &source_names).await;
    let me = ReplicaId::from_environment();
    let work = DaemonWork::new(settings, services)?;
    let keeper = Keeper::new(
        Arc::clone(&services.store),
        me.clone(),
        timing,
        DaemonWork::units(settings),
        Arc::new(work),
        services.rate_limits.clone(),
        Arc::clone(&leases),
    );
    let keeper_stop = CancellationToken::new();
    let graces = Graces {
        sources: SOURCE_GRACE,
        sinks: DELIVERY_GRACE,
    };
    let keeper_task = tokio::spawn(keeper.run(keeper_stop.clone(), graces));

    // Scheduled scans (claimed once per fleet), retention and reminders: the store's own
    // checks (claims, single-row updates) keep them from repeating across replicas.
    let schedules = TaskTracker::new();
    let schedules_stop = CancellationToken::new();
    for schedule in &settings.scans {
        let (schedule, all, services, leases, owner, stop) = (
            schedule.clone(),
            settings.clone(),
            services.clone(),
            Arc::clone(&leases),
            me.id.clone(),
            schedules_stop.clone(),
        );
        schedules.spawn(supervise(
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
                    Arc::clone(&leases),
                    owner.clone(),
                    stop.clone(),
                )
            },
        ));
    }
    schedules.spawn(super::retention::prune_periodically(
        Arc::clone(&services.store) as _,
        Arc::clone(&services.clock),
        settings.retention,
        schedules_stop.clone(),
    ));
    schedules.spawn(super::reminders::run(
        super::reminders::wanted(&settings.sinks),
        services.clone(),
        schedules_stop.clone(),
    ));
    schedules.close();
    info!(
        sources = settings.sources.len(),
        sinks = settings.sinks.len(),
        scans = settings.scans.len(),
        replica = %me.id,
        "nodeport-watch running"
    );

    stop.await;
    info!("stopping: finishing the batches in hand");
    schedules_stop.cancel();
    keeper_stop.cancel();
    if tokio::time::timeout(SOURCE_GRACE, schedules.wait())
        .await
        .is_err()
    {
        warn!(grace = ?SOURCE_GRACE, "some scheduled scans did not finish their batch in time; run them again with the same range to resume");
    }
    if let Err(e) = keeper_task.await {
        error!(error = %e, "the lease keeper failed while stopping");
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
    leases: &Arc<LeaseHealth>,
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
        readiness: Arc::new(
            Readiness::new(
                Arc::clone(&services.health),
                Arc::clone(&services.store),
                intervals,
                server.readiness_intervals,
            )
            .with_leases(Arc::clone(leases)),
        ),
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

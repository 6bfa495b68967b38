//! Catch-up over a past time range: the `scan` command and the daemon's `[[scans]]`.
//!
//! A scan reads through the same source code as the daemon but under its own checkpoint key
//! (`scan/<source>/<range>`), so it never moves the live checkpoint, and a scan interrupted by
//! a crash resumes where it stopped when run again with the same range. Its alerts go through
//! the same outbox, so an alert already delivered (or already queued) is never sent again.
//!
//! Each scan has its own health registry: its progress is shown from it, and its successes
//! never make a failing live source look ready.

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::task::{JoinError, JoinHandle};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info};

use super::launch::{Deliverers, SinkError};
use super::progress::{self, Display};
use crate::config::Settings;
use crate::ingest::DriverError;
use crate::ingest::Services;
use crate::ingest::launch::launch_source;
use crate::sources::{PollMode, TimeRange};
use crate::telemetry::Health;
use crate::telemetry::health::BatchTotals;

/// How long a finished `scan` command waits for its alerts to be delivered.
const DELIVERY_GRACE: Duration = Duration::from_secs(60);
/// How long a cancelled scan's step may take to end by itself before it is aborted.
const STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum ScanError {
    #[error("no source named `{0}` in the configuration")]
    UnknownSource(String),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("{failed} of {total} sources failed; see the log")]
    Failed { failed: usize, total: usize },
}

/// What a scan is asked to do.
#[derive(Clone, Debug)]
pub struct ScanRequest<'a> {
    /// For log lines: `scan` for the command, the schedule's name in the daemon.
    pub label: &'a str,
    pub range: TimeRange,
    /// Source names; empty means every source.
    pub only: &'a [String],
    pub display: Display,
}

/// Scans `range` on the named sources (all when `only` is empty) and returns once done. This is
/// the `scan` command: with `deliver` it runs its own deliverers and waits for them; without
/// (a daemon delivers from the same store) it only queues the alerts it finds.
pub async fn scan(
    settings: &Settings,
    services: &Services,
    range: TimeRange,
    only: &[String],
    deliver: bool,
    cancel: CancellationToken,
) -> Result<BatchTotals, ScanError> {
    let deliverers = if deliver {
        Deliverers::start(settings, services)?
    } else {
        Deliverers::none()
    };

    let request = ScanRequest {
        label: "scan",
        range,
        only,
        display: Display::for_stderr(),
    };
    let result = scan_sources(settings, services, &request, cancel).await;

    if !deliverers.stop(DELIVERY_GRACE).await {
        error!("some alerts are still pending; `nodeport-watch run` will deliver them");
    }
    result
}

/// Reads the range on the selected sources and puts their alerts in the outbox; delivery is
/// left to whoever runs deliverers (the daemon's, or [`scan`]'s).
pub async fn scan_sources(
    settings: &Settings,
    services: &Services,
    request: &ScanRequest<'_>,
    cancel: CancellationToken,
) -> Result<BatchTotals, ScanError> {
    if let Some(unknown) = request.only.iter().find(|n| settings.source(n).is_none()) {
        return Err(ScanError::UnknownSource(unknown.clone()));
    }
    let selected: Vec<_> = settings
        .sources
        .iter()
        .filter(|s| request.only.is_empty() || request.only.contains(&s.name))
        .collect();
    let health = Arc::new(Health::new(Arc::clone(&services.clock)));
    let services = Services {
        health: Arc::clone(&health),
        ..services.clone()
    };
    let range = request.range;
    info!(
        scan = request.label,
        since = %range.since.to_rfc3339(),
        until = %range.until.to_rfc3339(),
        sources = selected.len(),
        "scan started"
    );

    let mode = PollMode::Scan(range);
    let tracker = TaskTracker::new();
    let mut launched = Vec::new();
    let mut failed = 0;
    for source in &selected {
        match launch_source(source, &services, &mode, &tracker, &cancel).await {
            Ok(l) => launched.push(l),
            Err(e) => {
                error!(scan = request.label, source = %source.name, error = %e, "scan could not start");
                failed += 1;
            }
        }
    }
    tracker.close();
    let progress_done = CancellationToken::new();
    let progress = progress::watch(
        request.label.to_owned(),
        Arc::clone(&health),
        launched.iter().map(|l| l.name.clone()).collect(),
        range,
        request.display,
        progress_done.clone(),
    );

    for l in launched {
        match join_or_abort(l.task, &cancel).await {
            Ok(Ok(())) if !cancel.is_cancelled() => {
                if let Err(e) = services.store.delete_cursor(&l.cursor_key).await {
                    error!(source = %l.name, error = %e, "scan finished but its checkpoint could not be removed");
                }
                let (batches, t) = health
                    .snapshot()
                    .get(&l.name)
                    .map_or((0, BatchTotals::default()), |h| (h.batches, h.totals));
                info!(
                    scan = request.label,
                    source = %l.name,
                    batches,
                    records = t.records,
                    alerts_found = t.alerts_found,
                    alerts_queued = t.alerts_queued,
                    alerts_already_in_outbox = t.alerts_known,
                    "scan finished"
                );
            }
            Ok(Ok(())) => {
                info!(scan = request.label, source = %l.name, "scan interrupted; run it again with the same range to resume")
            }
            Ok(Err(e)) => {
                error!(scan = request.label, source = %l.name, error = %e, "scan failed; run it again with the same range to resume");
                failed += 1;
            }
            Err(e) if e.is_cancelled() => {
                info!(scan = request.label, source = %l.name, "scan stopped mid-step; run it again with the same range to resume")
            }
            Err(e) => {
                error!(scan = request.label, source = %l.name, error = %e, "scan task failed");
                failed += 1;
            }
        }
    }
    progress_done.cancel();
    let _ = progress.await;
    if failed > 0 {
        return Err(ScanError::Failed {
            failed,
            total: selected.len(),
        });
    }
    let mut totals = BatchTotals::default();
    for h in health.snapshot().values() {
        totals.add(&h.totals);
    }
    Ok(totals)
}

/// Awaits a scan's task; once `cancel` fires, the task gets [`STOP_GRACE`] to end its step and
/// is aborted after. A step may be waiting for a quota share this process no longer has (its
/// replica lost the source's lease) and would never end; aborting it is safe because a batch
/// commits atomically, so an aborted step leaves nothing half-written.
async fn join_or_abort(
    mut task: JoinHandle<Result<(), DriverError>>,
    cancel: &CancellationToken,
) -> Result<Result<(), DriverError>, JoinError> {
    tokio::select! {
        joined = &mut task => return joined,
        () = cancel.cancelled() => {}
    }
    if let Ok(joined) = tokio::time::timeout(STOP_GRACE, &mut task).await {
        return joined;
    }
    task.abort();
    task.await
}

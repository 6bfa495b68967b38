//! `scan`: catch-up over a past time range.
//!
//! A scan reads through the same source code as the daemon but under its own checkpoint key
//! (`scan/<source>/<range>`), so it never moves the live checkpoint, and a scan interrupted by
//! a crash resumes where it stopped when run again with the same range. Its alerts go through
//! the same outbox, so an alert already delivered is never sent again.

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info};

use super::Services;
use super::launch::{build_sink, launch_source};
use crate::config::Settings;
use crate::delivery::Deliverer;
use crate::sources::{PollMode, TimeRange};

/// How long a finished scan waits for its alerts to be delivered.
const DELIVERY_GRACE: Duration = Duration::from_secs(60);

#[derive(Debug, Error)]
pub enum ScanError {
    #[error("no source named `{0}` in the configuration")]
    UnknownSource(String),
    #[error("sink `{name}`: {message}")]
    Sink { name: String, message: String },
    #[error("{failed} of {total} sources failed; see the log")]
    Failed { failed: usize, total: usize },
}

/// Scans `range` on the named sources (all when `only` is empty), delivers the new alerts and
/// returns once both are done.
pub async fn scan(
    settings: &Settings,
    services: &Services,
    range: TimeRange,
    only: &[String],
    cancel: CancellationToken,
) -> Result<(), ScanError> {
    if let Some(unknown) = only.iter().find(|n| settings.source(n).is_none()) {
        return Err(ScanError::UnknownSource(unknown.clone()));
    }
    let selected: Vec<_> = settings
        .sources
        .iter()
        .filter(|s| only.is_empty() || only.contains(&s.name))
        .collect();

    let deliverers = TaskTracker::new();
    let delivery_stop = CancellationToken::new();
    for sink in &settings.sinks {
        let built = build_sink(sink).map_err(|message| ScanError::Sink {
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

    let mode = PollMode::Scan(range);
    let tracker = TaskTracker::new();
    let mut launched = Vec::new();
    let mut failed = 0;
    for source in &selected {
        match launch_source(source, services, &mode, &tracker, &cancel).await {
            Ok(l) => launched.push(l),
            Err(e) => {
                error!(source = %source.name, error = %e, "scan could not start");
                failed += 1;
            }
        }
    }
    tracker.close();
    for l in launched {
        match l.task.await {
            Ok(Ok(())) if !cancel.is_cancelled() => {
                if let Err(e) = services.store.delete_cursor(&l.cursor_key).await {
                    error!(source = %l.name, error = %e, "scan finished but its checkpoint could not be removed");
                }
                info!(source = %l.name, "scan finished");
            }
            Ok(Ok(())) => {
                info!(source = %l.name, "scan interrupted; run it again with the same range to resume")
            }
            Ok(Err(e)) => {
                error!(source = %l.name, error = %e, "scan failed; run it again with the same range to resume");
                failed += 1;
            }
            Err(e) => {
                error!(source = %l.name, error = %e, "scan task failed");
                failed += 1;
            }
        }
    }

    delivery_stop.cancel();
    if tokio::time::timeout(DELIVERY_GRACE, deliverers.wait())
        .await
        .is_err()
    {
        error!("some alerts are still pending; `nodeport-watch run` will deliver them");
    }
    if failed > 0 {
        return Err(ScanError::Failed {
            failed,
            total: selected.len(),
        });
    }
    Ok(())
}

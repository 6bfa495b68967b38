//! Still-open reminders (`remind_after` on a sink): a periodic look at the exposures table for
//! exposures open longer than the shortest `remind_after`, each re-sent once per episode to the
//! sinks of its open alert that ask for reminders and whose own delay has passed.
//!
//! The reminder is queued in the outbox like any alert, in one transaction with the mark that
//! it was sent, so a restart neither loses nor repeats it.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::SinkSettings;
use crate::exposure::remind;
use crate::ingest::Services;

/// How often the table is read: reminders are about days, a few minutes late is fine.
const CHECK_EVERY: Duration = Duration::from_secs(300);
const BATCH: usize = 100;

/// The sinks that want reminders and after how long; empty when none does.
pub fn wanted(sinks: &[SinkSettings]) -> Vec<(String, Duration)> {
    sinks
        .iter()
        .filter_map(|s| s.route.remind_after.map(|after| (s.name.clone(), after)))
        .collect()
}

/// Runs until `stop`; a failing store is logged and tried again at the next check.
pub async fn run(wanted: Vec<(String, Duration)>, services: Services, stop: CancellationToken) {
    let Some(shortest) = wanted.iter().map(|(_, after)| *after).min() else {
        return;
    };
    loop {
        if let Err(e) = check(&wanted, shortest, &services).await {
            warn!(error = %e, "cannot look for still-open exposures; will retry");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}

/// One pass: queues every reminder due now; returns how many were queued.
pub async fn check(
    wanted: &[(String, Duration)],
    shortest: Duration,
    services: &Services,
) -> Result<usize, crate::state::StateError> {
    let now = services.clock.now();
    let since = |d: Duration| now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    let before_ms = since(shortest).timestamp_millis();
    let mut queued = 0;
    for (exposure, open) in services.store.due_reminders(before_ms, BATCH).await? {
        let Some(open) = open else {
            debug!(exposure = ?exposure.key.to_string(), "no reminder: its open alert is no longer in the outbox");
            continue;
        };
        let Some(opened) = exposure.opened_at() else {
            continue;
        };
        let sinks: Vec<String> = wanted
            .iter()
            .filter(|(sink, after)| exposure.sinks.contains(sink) && opened <= since(*after))
            .map(|(sink, _)| sink.clone())
            .collect();
        if sinks.is_empty() {
            continue;
        }
        let mut reminder = remind(&open, &exposure);
        reminder.detected_at = now;
        if services
            .store
            .queue_reminder(&exposure.key, &exposure.id, reminder, sinks)
            .await?
        {
            queued += 1;
            info!(exposure = ?exposure.key.to_string(), "still-open reminder queued");
        }
    }
    if queued > 0 {
        services.outbox.notify();
    }
    Ok(queued)
}

//! Supervision of the long-running tasks that have no loop of their own to survive a bug: the
//! deliverers and the scan schedules. A panic inside one must not silently stop a sink: the
//! task runs in its own tokio task, so a panic surfaces as a `JoinError` here, where it is
//! counted (`nodeport_watch_task_restarts_total`), logged, shown by `/readyz` as down, and the
//! task started again after a backoff. Sources have their own supervisor
//! ([`super::daemon`]), which also retries a source that cannot be built.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::{error, info};

use crate::retry::Backoff;
use crate::telemetry::Health;
use crate::telemetry::metrics;

/// How a panicking task is restarted.
#[derive(Clone, Copy, Debug)]
pub struct Restart {
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// A restarted task that runs this long without a panic is up again (and the backoff
    /// starts over); until then `/readyz` reports it down.
    pub stable_after: Duration,
}

impl Default for Restart {
    fn default() -> Self {
        Restart {
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            stable_after: Duration::from_secs(60),
        }
    }
}

/// Runs the task `start` makes until it ends by itself (or `stop` is cancelled while it waits
/// to restart); every panic restarts it. `task` is its kind (`deliverer`, `scan`), `name`
/// which one.
pub async fn supervise<F, Fut>(
    task: &'static str,
    name: String,
    health: Arc<Health>,
    restart: Restart,
    stop: CancellationToken,
    mut start: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let key = format!("{task} {name}");
    let mut backoff = Backoff::new(restart.min_backoff, restart.max_backoff);
    let mut restarted = false;
    loop {
        // Dropping the supervisor (a lease lost, a shutdown past its grace) must stop the task
        // too, or a deliverer would go on sending under a lease another replica holds.
        let mut handle = AbortOnDropHandle::new(tokio::spawn(start()));
        let outcome = if restarted {
            tokio::select! {
                outcome = &mut handle => outcome,
                _ = tokio::time::sleep(restart.stable_after) => {
                    health.task_up(&key);
                    backoff.reset();
                    info!(task, name = %name, "restarted task is running again");
                    handle.await
                }
            }
        } else {
            handle.await
        };
        let panic = match outcome {
            Ok(()) => return,
            Err(e) if e.is_panic() => panic_text(e.into_panic()),
            // Cancelled: only a runtime shutting down does that.
            Err(_) => return,
        };
        metrics::record_task_restart(task, &name);
        health.task_down(&key, &panic);
        let delay = backoff.next_delay(None);
        error!(task, name = %name, panic = %panic, restart_in = ?delay, "task panicked; restarting it (this is a bug: please report it with this log line)");
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        restarted = true;
    }
}

/// The panic's message, when it is a string (as `panic!` and `unwrap` make it).
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(text) => (*text).to_owned(),
            Err(_) => "a panic without a message".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::clock::SystemClock;

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_restarted_reported_down_then_up() {
        let health = Arc::new(Health::new(Arc::new(SystemClock)));
        let runs = Arc::new(AtomicU32::new(0));
        let restart = Restart {
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(4),
            stable_after: Duration::from_secs(30),
        };
        let stop = CancellationToken::new();
        let counter = Arc::clone(&runs);
        let supervisor = tokio::spawn(supervise(
            "deliverer",
            "soc".to_owned(),
            Arc::clone(&health),
            restart,
            stop.clone(),
            move || {
                let run = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    if run < 2 {
                        panic!("boom {run}");
                    }
                    // The third run lives long enough to count as up, then ends by itself.
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
            },
        ));
        // Virtual time: each step is instant; the deadline only bounds a broken supervisor.
        for _ in 0..100 {
            if health
                .tasks()
                .get("deliverer soc")
                .is_some_and(|t| t.restarts == 2)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let tasks = health.tasks();
        let soc = &tasks["deliverer soc"];
        assert_eq!(soc.restarts, 2, "{soc:?}");
        assert_eq!(soc.down.as_deref(), Some("boom 1"));
        tokio::time::sleep(Duration::from_secs(40)).await;
        assert_eq!(health.tasks()["deliverer soc"].down, None);
        supervisor.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }
}

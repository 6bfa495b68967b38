//! One unit held by this replica: its grant, its running work, and the watchdog that stops
//! the work when the lease was not renewed in time.
//!
//! The watchdog is a task of its own so that it fires even while the keeper waits on a store
//! that does not answer: the deadline is local (the keeper moves it forward after each
//! successful renewal), and it passes before the database can expire the lease.

use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::error;

use super::keeper::Work;
use crate::state::Grant;

pub(super) struct Held {
    pub grant: Grant,
    pub since: Instant,
    pub since_wall: chrono::DateTime<chrono::Utc>,
    /// The local deadline the watchdog enforces; `None` on a single-writer store.
    pub deadline: Option<watch::Sender<Instant>>,
    pub stop: CancellationToken,
    /// Cancelled once the work was stopped for losing the lease.
    pub lost: CancellationToken,
    pub task: JoinHandle<()>,
}

/// Stops the work of a unit whose lease is lost (or about to be).
pub(super) fn halt(unit: &str, held: &Held, work: &dyn Work) {
    held.stop.cancel();
    if work.abort_on_loss(unit) {
        held.task.abort();
    }
    held.lost.cancel();
}

/// Stops `unit`'s work once its deadline passes without a renewal; ends when the keeper drops
/// the deadline's sender.
pub(super) async fn watchdog(
    unit: String,
    mut deadline: watch::Receiver<Instant>,
    stop: CancellationToken,
    lost: CancellationToken,
    abort: Option<AbortHandle>,
) {
    loop {
        let at = *deadline.borrow_and_update();
        tokio::select! {
            changed = deadline.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep_until(at) => {
                error!(lease = %unit, "lease not renewed in time: its work stops here before the lease expires");
                stop.cancel();
                if let Some(abort) = &abort {
                    abort.abort();
                }
                lost.cancel();
                return;
            }
        }
    }
}

//! `[state] retention`: delivered alerts and their delivery rows are pruned once older than
//! the retention (30 days by default), so the store does not grow for ever.
//!
//! Pruning runs at start and then every hour, in small batches (each its own short
//! transaction), so commits and deliveries are never held up behind one big delete. Pending
//! and dead-lettered deliveries are kept whatever their age: they are work still to do.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::clock::Clock;
use crate::state::{OutboxAdmin, StateError};

/// How often the store is pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Rows deleted per transaction.
const BATCH: usize = 500;

/// Prunes now and then every [`PRUNE_EVERY`] until `stop`.
pub async fn prune_periodically(
    store: Arc<dyn OutboxAdmin>,
    clock: Arc<dyn Clock>,
    retention: Duration,
    stop: CancellationToken,
) {
    loop {
        if let Err(e) = prune_once(store.as_ref(), clock.as_ref(), retention, &stop).await {
            warn!(error = %e, "could not prune delivered alerts past `[state] retention`; will try again in an hour");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}

/// Deletes, batch by batch, what is past the retention; returns how many rows went.
pub async fn prune_once(
    store: &dyn OutboxAdmin,
    clock: &dyn Clock,
    retention: Duration,
    stop: &CancellationToken,
) -> Result<usize, StateError> {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let Some(cutoff) = clock.now().checked_sub_signed(retention) else {
        return Ok(0);
    };
    let mut total = 0;
    while !stop.is_cancelled() {
        let removed = store.prune_delivered(cutoff, BATCH).await?;
        if removed == 0 {
            break;
        }
        total += removed;
        // Between batches others get their turn at the store.
        tokio::task::yield_now().await;
    }
    if total > 0 {
        info!(rows = total, before = %cutoff, "pruned delivered alerts past `[state] retention`");
    }
    Ok(total)
}

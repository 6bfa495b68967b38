//! The delivery loop of one sink.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

use super::OutboxSignal;
use crate::runtime::backoff;
use crate::sinks::{DeliveryError, Sink};
use crate::state::{Pending, StateError, StateStore};
use crate::telemetry::metrics;

/// How a deliverer retries a failing sink.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Give up on an alert after this many attempts and dead-letter it; `None` retries forever.
    pub max_attempts: Option<u32>,
    /// How often to look at the outbox even without a wake-up (alerts queued by another process,
    /// such as `alerts --requeue` or a `scan`).
    pub idle_poll: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(300),
            max_attempts: None,
            idle_poll: Duration::from_secs(5),
        }
    }
}

/// What happened to one alert.
enum Attempt {
    Delivered,
    DeadLettered,
    /// Stopped while waiting to retry; the alert stays pending.
    Interrupted,
}

pub struct Deliverer {
    name: String,
    sink: Arc<dyn Sink>,
    store: Arc<dyn StateStore>,
    wake: watch::Receiver<u64>,
    policy: RetryPolicy,
}

const BATCH: usize = 100;

impl Deliverer {
    pub fn new(
        name: &str,
        sink: Arc<dyn Sink>,
        store: Arc<dyn StateStore>,
        signal: &OutboxSignal,
        policy: RetryPolicy,
    ) -> Self {
        Deliverer {
            name: name.to_owned(),
            sink,
            store,
            wake: signal.subscribe(),
            policy,
        }
    }

    /// Delivers until `stop` is cancelled. On stop, what is pending is still delivered as long as
    /// the sink accepts it; the first failure ends the run and leaves the rest for next start.
    pub async fn run(mut self, stop: CancellationToken) {
        loop {
            match self.deliver_pending(&stop).await {
                Ok(0) if stop.is_cancelled() => return,
                Ok(0) => {}
                Ok(_) => continue,
                Err(e) => {
                    error!(sink = %self.name, error = %e, "cannot read the outbox");
                    if stop.is_cancelled() {
                        return;
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = self.wake.changed() => {}
                _ = tokio::time::sleep(self.policy.idle_poll) => {}
            }
        }
    }

    /// Delivers every pending alert once, in order; returns how many left the queue
    /// (delivered or dead-lettered). Stops early when `stop` fires during a retry wait.
    pub async fn deliver_pending(&mut self, stop: &CancellationToken) -> Result<usize, StateError> {
        let mut done = 0;
        loop {
            let batch = self.store.pending(&self.name, BATCH).await?;
            if batch.is_empty() {
                return Ok(done);
            }
            for pending in batch {
                match self.deliver_one(&pending, stop).await? {
                    Attempt::Delivered | Attempt::DeadLettered => done += 1,
                    Attempt::Interrupted => return Ok(done),
                }
            }
        }
    }

    /// Retries one alert until it is delivered, rejected, out of attempts, or stopped. Later
    /// alerts wait behind it, which keeps each sink's order.
    async fn deliver_one(
        &self,
        pending: &Pending,
        stop: &CancellationToken,
    ) -> Result<Attempt, StateError> {
        let mut delays = backoff::exponential(self.policy.min_backoff, self.policy.max_backoff);
        let mut attempts = pending.attempts;
        loop {
            let error = match self.sink.deliver(&pending.alert).await {
                Ok(()) => {
                    self.store.mark_delivered(&self.name, pending.seq).await?;
                    metrics::record_delivery(&self.name, "delivered");
                    debug!(sink = %self.name, alert = %pending.alert.id, "delivered");
                    return Ok(Attempt::Delivered);
                }
                Err(e) => e,
            };
            attempts += 1;
            let out_of_attempts = self.policy.max_attempts.is_some_and(|max| attempts >= max);
            match &error {
                DeliveryError::Rejected { .. } => {}
                DeliveryError::Retriable { .. } if out_of_attempts => {}
                DeliveryError::Retriable { retry_after, .. } => {
                    self.store
                        .mark_failed(&self.name, pending.seq, &error.to_string(), false)
                        .await?;
                    metrics::record_delivery_retry(&self.name);
                    let delay = delays.next().unwrap_or(self.policy.max_backoff);
                    let delay = retry_after.map_or(delay, |at_least| delay.max(at_least));
                    warn!(sink = %self.name, alert = %pending.alert.id, error = %error, attempts, retry_in = ?delay, "delivery failed; will retry");
                    if stop.is_cancelled() {
                        return Ok(Attempt::Interrupted);
                    }
                    tokio::select! {
                        _ = stop.cancelled() => return Ok(Attempt::Interrupted),
                        _ = tokio::time::sleep(delay) => continue,
                    }
                }
            }
            self.store
                .mark_failed(&self.name, pending.seq, &error.to_string(), true)
                .await?;
            metrics::record_delivery(&self.name, "dead");
            metrics::record_dead_letter(&self.name);
            error!(sink = %self.name, alert = %pending.alert.id, error = %error, attempts, "alert dead-lettered; requeue it with `nodeport-watch alerts --requeue`");
            return Ok(Attempt::DeadLettered);
        }
    }
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("name", &self.name)
            .finish()
    }
}

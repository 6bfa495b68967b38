//! The delivery loop of one sink.
//!
//! One alert at a time, in outbox order: a later alert never overtakes an earlier one that is
//! still being retried, so each sink sees alerts in the order they were detected. Failures are
//! classified by the sink: retriable ones are retried with exponential backoff and jitter (at
//! least as long as the receiver's `Retry-After`, up to `max_backoff`), rejected ones are
//! dead-lettered at once, counted and logged, and the queue moves on.
//!
//! A send that succeeded is never repeated while the process lives, even when the store then
//! refuses to record it (a read-only or full volume): the mark is kept in memory
//! ([`Unrecorded`]) and written once the store accepts writes again. Only a restart before
//! that re-sends it (at-least-once, with the same alert id).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::OutboxSignal;
use crate::retry::Backoff;
use crate::sinks::{DeliveryError, Sink};
use crate::state::{OutboxDelivery, Pending, StateError, Unreadable};
use crate::telemetry::metrics;

/// How a deliverer retries a failing sink.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Give up on an alert after this many attempts and dead-letter it; `None` retries forever.
    pub max_attempts: Option<u32>,
    // `Retry-After` is honoured up to `max_backoff`: a receiver asking for a day would otherwise
    // silence the sink for a day.
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
    store: Arc<dyn OutboxDelivery>,
    wake: watch::Receiver<u64>,
    policy: RetryPolicy,
    unrecorded: Unrecorded,
    /// Cancelled when even a send in flight must be dropped (the shutdown grace is over).
    abort: CancellationToken,
}

const BATCH: usize = 100;
/// No send may take longer, whatever the sink: one that hangs (a receiver that accepts and
/// never answers, a sink without a timeout of its own) is retried like a network error instead
/// of holding its queue forever. The HTTP sinks' own `timeout` is shorter by default.
pub const SEND_LIMIT: Duration = Duration::from_secs(300);

/// At most this many sent-but-unrecorded deliveries are held per sink. Past it the sink gets
/// nothing new until the store takes the marks: an alert waiting in the outbox is safe, while
/// an unbounded set would grow for as long as the store stays read-only.
pub const MAX_UNRECORDED: usize = 1_000;

/// Outbox sequence numbers the sink confirmed but the store could not mark delivered.
#[derive(Debug, Default)]
struct Unrecorded {
    seqs: BTreeSet<i64>,
}

impl Unrecorded {
    fn is_full(&self) -> bool {
        self.seqs.len() >= MAX_UNRECORDED
    }
}

impl Deliverer {
    pub fn new(
        name: &str,
        sink: Arc<dyn Sink>,
        store: Arc<dyn OutboxDelivery>,
        signal: &OutboxSignal,
        policy: RetryPolicy,
    ) -> Self {
        Deliverer {
            name: name.to_owned(),
            sink,
            store,
            wake: signal.subscribe(),
            policy,
            unrecorded: Unrecorded::default(),
            abort: CancellationToken::new(),
        }
    }

    /// Drops the send in flight when `abort` is cancelled: its alert stays pending, for the
    /// next start.
    pub fn abort_on(mut self, abort: CancellationToken) -> Self {
        self.abort = abort;
        self
    }

    /// Delivers until `stop` is cancelled. On stop, what is pending is still delivered as long as
    /// the sink accepts it; the first failure ends the run and leaves the rest for next start.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut signal_alive = true;
        loop {
            match self.deliver_pending(&stop).await {
                Ok(0) if stop.is_cancelled() => {
                    self.warn_unrecorded_at_stop();
                    return;
                }
                Ok(0) => {}
                Ok(_) => continue,
                Err(e) => {
                    error!(sink = %self.name, error = %e, "cannot read the outbox");
                    if stop.is_cancelled() {
                        self.warn_unrecorded_at_stop();
                        return;
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => {}
                // Once every signal sender is gone `changed` returns at once, forever: stop
                // listening to it (a busy loop otherwise) and rely on the idle poll.
                changed = self.wake.changed(), if signal_alive => signal_alive = changed.is_ok(),
                _ = tokio::time::sleep(self.policy.idle_poll) => {}
            }
        }
    }

    /// Delivers every pending alert once, in order; returns how many left the queue
    /// (delivered or dead-lettered). Stops early when `stop` fires during a retry wait.
    pub async fn deliver_pending(&mut self, stop: &CancellationToken) -> Result<usize, StateError> {
        self.record_unrecorded().await;
        let mut done = 0;
        loop {
            if self.unrecorded.is_full() {
                error!(sink = %self.name, held = self.unrecorded.seqs.len(), "the state store refuses writes and too many delivery marks are waiting; nothing more is sent to this sink until it accepts them (make the state volume writable or free space)");
                return Ok(done);
            }
            // Sent alerts still look pending in the store: read past them.
            let limit = BATCH + self.unrecorded.seqs.len();
            let batch = self.store.pending(&self.name, limit).await?;
            let mut progressed = false;
            for unreadable in &batch.unreadable {
                if self.unrecorded.seqs.contains(&unreadable.seq) {
                    continue;
                }
                self.dead_letter_unreadable(unreadable).await?;
                done += 1;
                progressed = true;
            }
            for pending in batch.ready {
                if self.unrecorded.seqs.contains(&pending.seq) {
                    continue;
                }
                progressed = true;
                match self.deliver_one(&pending, stop).await? {
                    Attempt::Delivered | Attempt::DeadLettered => done += 1,
                    Attempt::Interrupted => return Ok(done),
                }
                if self.unrecorded.is_full() {
                    break;
                }
            }
            if !progressed {
                return Ok(done);
            }
        }
    }

    /// Writes the marks the store refused earlier, oldest first; stops at the first refusal
    /// (the store is still not writable) and keeps the rest for the next round.
    async fn record_unrecorded(&mut self) {
        let before = self.unrecorded.seqs.len();
        while let Some(&seq) = self.unrecorded.seqs.first() {
            if let Err(e) = self.store.mark_delivered(&self.name, seq).await {
                debug!(sink = %self.name, seq, error = %e, "the state store still refuses delivery marks");
                break;
            }
            self.unrecorded.seqs.remove(&seq);
        }
        let after = self.unrecorded.seqs.len();
        if after != before {
            metrics::record_unrecorded_deliveries(&self.name, after);
            if after == 0 {
                info!(sink = %self.name, recorded = before, "the state store accepts writes again; every delivery is recorded");
            }
        }
    }

    fn warn_unrecorded_at_stop(&self) {
        if !self.unrecorded.seqs.is_empty() {
            warn!(sink = %self.name, unrecorded = self.unrecorded.seqs.len(), "stopping with deliveries the state store never recorded; they are sent again after restart (same alert ids)");
        }
    }

    /// Retries one alert until it is delivered, rejected, out of attempts, or stopped. Later
    /// alerts wait behind it, which keeps each sink's order.
    async fn deliver_one(
        &mut self,
        pending: &Pending,
        stop: &CancellationToken,
    ) -> Result<Attempt, StateError> {
        let mut backoff = Backoff::new(self.policy.min_backoff, self.policy.max_backoff);
        let mut attempts = pending.attempts;
        loop {
            let sent = tokio::select! {
                sent = tokio::time::timeout(SEND_LIMIT, self.sink.deliver(&pending.alert)) => sent,
                _ = self.abort.cancelled() => {
                    warn!(sink = %self.name, alert = %pending.alert.id, "send abandoned at shutdown; the alert stays pending and is delivered at the next start");
                    return Ok(Attempt::Interrupted);
                }
            };
            let sent = sent.unwrap_or_else(|_| {
                Err(DeliveryError::retriable(format!(
                    "the sink did not answer within {}s",
                    SEND_LIMIT.as_secs()
                )))
            });
            let error = match sent {
                Ok(()) => {
                    if let Err(e) = self.store.mark_delivered(&self.name, pending.seq).await {
                        // The sink has it: sending it again would be the repeat the outbox
                        // exists to avoid. Hold the mark and write it once the store recovers.
                        self.unrecorded.seqs.insert(pending.seq);
                        metrics::record_unrecorded_deliveries(
                            &self.name,
                            self.unrecorded.seqs.len(),
                        );
                        error!(sink = %self.name, alert = %pending.alert.id, error = %e, "delivered, but the state store cannot record it; the mark is kept in memory and retried, and the alert is not sent again (make the state volume writable or free space)");
                    }
                    metrics::record_delivery(&self.name, "delivered");
                    let waited = chrono::Utc::now() - pending.alert.detected_at;
                    metrics::record_delivery_latency(
                        &self.name,
                        waited.num_milliseconds() as f64 / 1000.0,
                    );
                    if attempts > pending.attempts {
                        info!(sink = %self.name, alert = %pending.alert.id, attempts = attempts + 1, "delivered after retrying; the sink is back");
                    } else {
                        debug!(sink = %self.name, alert = %pending.alert.id, "delivered");
                    }
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
                    let delay = backoff.next_delay(*retry_after);
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

impl Deliverer {
    /// A stored alert that cannot be decoded will never deliver: it becomes a dead letter that
    /// `alerts` shows, so the queue behind it moves on.
    async fn dead_letter_unreadable(&self, unreadable: &Unreadable) -> Result<(), StateError> {
        error!(sink = %self.name, seq = unreadable.seq, error = %unreadable.error, "an alert in the outbox cannot be read; dead-lettered");
        self.store
            .mark_failed(
                &self.name,
                unreadable.seq,
                &format!("stored alert unreadable: {}", unreadable.error),
                true,
            )
            .await?;
        metrics::record_delivery(&self.name, "dead");
        metrics::record_dead_letter(&self.name);
        Ok(())
    }
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("name", &self.name)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::model::{Alert, StoredCursor};
    use crate::state::{
        Checkpoints, Commit, DeliveryState, Fence, OutboxAdmin, RoutedAlert, SqliteStore,
    };

    /// Answers from a script, then succeeds.
    struct Scripted {
        replies: Mutex<Vec<DeliveryError>>,
        calls: Mutex<u32>,
    }

    #[async_trait]
    impl Sink for Scripted {
        async fn deliver(&self, _alert: &Alert) -> Result<(), DeliveryError> {
            *self.calls.lock().unwrap() += 1;
            match self.replies.lock().unwrap().pop() {
                Some(e) => Err(e),
                None => Ok(()),
            }
        }
    }

    async fn setup(replies: Vec<DeliveryError>) -> (Arc<SqliteStore>, Arc<Scripted>, Pending) {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/corpus/raw-k8s/falco-create-service-nodeport.json"
        ))
        .unwrap();
        let mut alerts = Vec::new();
        crate::normalize::normalize(text.as_bytes(), &Default::default(), &mut |n| {
            if let crate::normalize::Normalized::Event(e) = n {
                let detector = crate::detect::Detector::new(
                    crate::detect::Detector::default_rules(),
                    Default::default(),
                );
                let v = detector.inspect(&e, chrono::Utc::now());
                for d in &v.detections {
                    let ctx = crate::alert::AlertContext {
                        source: "t",
                        detected_at: chrono::Utc::now(),
                        include_raw: false,
                    };
                    alerts.push(crate::alert::build(&e, v.change.as_ref().unwrap(), d, &ctx));
                }
            }
        });
        store
            .commit(
                Commit {
                    cursor_key: "live/t".into(),
                    cursor: StoredCursor {
                        kind: "t".into(),
                        version: 1,
                        json: "{}".into(),
                    },
                    alerts: vec![RoutedAlert {
                        alert: alerts.remove(0),
                        sinks: vec!["s".into()],
                    }],
                    seen: Default::default(),
                    exposures: Vec::new(),
                },
                &Fence::Sole,
            )
            .await
            .unwrap();
        let pending = store.pending("s", 1).await.unwrap().ready.remove(0);
        let sink = Arc::new(Scripted {
            replies: Mutex::new(replies),
            calls: Mutex::new(0),
        });
        (store, sink, pending)
    }

    fn deliverer(store: Arc<SqliteStore>, sink: Arc<Scripted>, policy: RetryPolicy) -> Deliverer {
        Deliverer::new("s", sink, store, &OutboxSignal::default(), policy)
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_up_to_max_backoff() {
        let (store, sink, pending) = setup(vec![DeliveryError::Retriable {
            message: "busy".into(),
            retry_after: Some(Duration::from_secs(3600)),
        }])
        .await;
        let policy = RetryPolicy {
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(2),
            ..RetryPolicy::default()
        };
        let mut d = deliverer(Arc::clone(&store), Arc::clone(&sink), policy);
        let start = tokio::time::Instant::now();
        let outcome = d
            .deliver_one(&pending, &CancellationToken::new())
            .await
            .unwrap();
        assert!(matches!(outcome, Attempt::Delivered));
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(2) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn out_of_attempts_and_rejections_are_dead_letters() {
        let retriable = || DeliveryError::retriable("down");
        let (store, sink, pending) = setup(vec![retriable(), retriable(), retriable()]).await;
        let policy = RetryPolicy {
            max_attempts: Some(3),
            ..RetryPolicy::default()
        };
        let mut d = deliverer(Arc::clone(&store), Arc::clone(&sink), policy);
        let outcome = d
            .deliver_one(&pending, &CancellationToken::new())
            .await
            .unwrap();
        assert!(matches!(outcome, Attempt::DeadLettered));
        assert_eq!(*sink.calls.lock().unwrap(), 3);
        let dead = store
            .deliveries(&[DeliveryState::Dead], Some("s"), 10)
            .await
            .unwrap();
        assert_eq!(dead[0].attempts, 3);

        let (store, sink, pending) = setup(vec![DeliveryError::rejected("HTTP 400")]).await;
        let mut d = deliverer(
            Arc::clone(&store),
            Arc::clone(&sink),
            RetryPolicy::default(),
        );
        let outcome = d
            .deliver_one(&pending, &CancellationToken::new())
            .await
            .unwrap();
        assert!(matches!(outcome, Attempt::DeadLettered));
        assert_eq!(
            *sink.calls.lock().unwrap(),
            1,
            "a rejection is never retried"
        );
    }
}

//! One source under the ingest layer: its checkpoint, its steps, and how its failures are
//! retried.
//!
//! One step: poll a batch → drop records already seen in an overlap → run the pipeline → commit
//! alerts, seen ids and the new cursor in one transaction → wake the deliverers. [`SourceDriver::run`]
//! hands the steps to the one [`poll_loop`](super::poll_loop).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::Services;
use super::poll_loop::{self, Next, Steps};
use crate::clock::Clock;
use crate::delivery::OutboxSignal;
use crate::model::{BatchStats, CursorError, Record, SeenKey, StoredCursor};
use crate::pipeline::Pipeline;
use crate::retry::{Backoff, ErrorKind};
use crate::sources::time_axis::{SkewChange, SkewWatch};
use crate::sources::{PollMode, Progress, Source, SourceError};
use crate::state::{Commit, CommitReport, Fence, SeenUpdate, StateError, StateStore};
use crate::telemetry::health::BatchTotals;
use crate::telemetry::{Health, metrics};

#[derive(Debug, Error)]
pub enum DriverError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Cursor(#[from] CursorError),
}

impl DriverError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            DriverError::Source(e) => e.retry_after,
            _ => None,
        }
    }

    fn is_throttle(&self) -> bool {
        matches!(self, DriverError::Source(e) if e.kind == ErrorKind::Throttled)
    }
}

/// What one step did.
#[derive(Clone, Debug)]
pub struct StepReport {
    pub progress: Progress,
    pub stats: BatchStats,
    /// Records dropped because an earlier window already read them.
    pub already_seen: usize,
    /// Alerts new to the outbox.
    pub inserted: usize,
    /// Alerts whose id the outbox already had.
    pub duplicates: usize,
}

pub struct SourceDriver<S: Source> {
    name: String,
    source: S,
    mode: PollMode,
    cursor_key: String,
    cursor: S::Cursor,
    store: Arc<dyn StateStore>,
    pipeline: Pipeline,
    outbox: OutboxSignal,
    health: Arc<Health>,
    /// The writer's claim on the checkpoint, checked by the store at every commit.
    fence: Fence,
    /// The cursor as the store last saw it, so an idle poll writes nothing (see [`Self::idle`]).
    committed: Option<StoredCursor>,
    /// For scans: give up after this many failures in a row instead of retrying forever.
    max_failures: Option<u32>,
    failures: u32,
    throttled: bool,
    clock: Arc<dyn Clock>,
    /// A live checkpoint ahead of the local clock (a clock jump), for the log, `/readyz` and
    /// the skew gauge.
    skew: SkewWatch,
}

impl<S: Source> SourceDriver<S> {
    /// Loads the source's checkpoint (a scan always starts at its range) and prepares to poll;
    /// a scan's pipeline inspects only events inside its range. A live checkpoint more than
    /// `max_catchup` behind is moved forward, loudly.
    pub async fn open(
        services: &Services,
        name: &str,
        source: S,
        mode: PollMode,
        max_catchup: Option<Duration>,
    ) -> Result<Self, DriverError> {
        let mut pipeline = services.pipeline(name);
        if let PollMode::Scan(range) = &mode {
            pipeline = pipeline.with_event_window(*range);
        }
        let store = Arc::clone(&services.store);
        let clock = services.clock.as_ref();
        let cursor_key = cursor_key(name, &mode);
        let stored = store.load_cursor(&cursor_key).await?;
        let cursor = match &stored {
            Some(stored) => {
                let mut cursor = stored.decode::<S::Cursor>()?;
                info!(source = name, checkpoint = %cursor_key, "resuming from checkpoint");
                if let (PollMode::Live, Some(keep)) = (&mode, max_catchup)
                    && let Some(skipped) = source.skip_backlog(&mut cursor, keep, clock.now())
                {
                    error!(
                        source = name,
                        skipped_from = %skipped.since,
                        skipped_until = %skipped.until,
                        "the checkpoint is older than max_catchup: events in this range will NOT be read; \
                         run `nodeport-watch scan --source {name} --since {} --until {}` to check them",
                        skipped.since.to_rfc3339(),
                        skipped.until.to_rfc3339(),
                    );
                }
                cursor
            }
            None => source.start(&mode, clock.now()),
        };
        let max_failures = matches!(mode, PollMode::Scan(_)).then_some(8);
        let skew = SkewWatch::new(source.skew_tolerance());
        Ok(SourceDriver {
            name: name.to_owned(),
            source,
            mode,
            cursor_key,
            cursor,
            store,
            pipeline,
            outbox: services.outbox.clone(),
            health: Arc::clone(&services.health),
            fence: Fence::Sole,
            committed: stored,
            max_failures,
            failures: 0,
            throttled: false,
            clock: Arc::clone(&services.clock),
            skew,
        })
    }

    /// Commits under `fence` (a lease) instead of as the sole writer.
    pub fn fenced(mut self, fence: Fence) -> Self {
        self.fence = fence;
        self
    }

    pub fn cursor(&self) -> &S::Cursor {
        &self.cursor
    }

    pub fn cursor_key(&self) -> &str {
        &self.cursor_key
    }

    /// Polls one batch and commits it.
    pub async fn step(&mut self) -> Result<StepReport, DriverError> {
        self.rewind_if_ahead();
        let batch = self.source.poll(&self.cursor, &self.mode).await?;
        let total = batch.records.len();
        let (records, seen_keys) = self.drop_already_seen(batch.records).await?;
        let already_seen = total - records.len();

        let outcome = self.pipeline.process(&records);
        let detected: Vec<(&'static str, Option<String>)> = outcome
            .alerts
            .iter()
            .map(|a| (a.alert.rule.as_str(), a.alert.cluster.clone()))
            .collect();
        let cursor = StoredCursor::encode(&batch.cursor)?;
        let report = if self.idle(total, &cursor, batch.forget_seen_before_ms) {
            CommitReport::default()
        } else {
            let commit = Commit {
                cursor_key: self.cursor_key.clone(),
                cursor: cursor.clone(),
                alerts: outcome.alerts,
                seen: SeenUpdate {
                    add: seen_keys,
                    forget_before_ms: batch.forget_seen_before_ms,
                },
                exposures: outcome.exposures,
            };
            let report = self.store.commit(commit, &self.fence).await?;
            self.committed = Some(cursor);
            report
        };
        self.cursor = batch.cursor;
        if report.inserted > 0 {
            self.outbox.notify();
        }
        if let Some(position) = batch.position {
            self.health.record_position(&self.name, position);
            if self.mode == PollMode::Live {
                self.watch_skew(Some(position.timestamp_millis()));
            }
        }
        metrics::record_commit(&self.name, report.inserted, report.duplicates, already_seen);
        metrics::record_detections(detected.iter().map(|(r, c)| (*r, c.as_deref())));
        self.health.record_totals(
            &self.name,
            &BatchTotals {
                records: total as u64,
                alerts_found: outcome.stats.alerts,
                alerts_queued: report.inserted as u64,
                alerts_known: report.duplicates as u64,
            },
        );
        debug!(
            source = %self.name,
            records = total,
            already_seen,
            events = outcome.stats.events,
            alerts = report.inserted,
            duplicates = report.duplicates,
            "batch committed"
        );
        Ok(StepReport {
            progress: batch.progress,
            stats: outcome.stats,
            already_seen,
            inserted: report.inserted,
            duplicates: report.duplicates,
        })
    }

    /// Whether a poll found nothing and left the cursor where the store has it: then there is
    /// nothing to write. A thousand idle sources would otherwise commit (and `fsync`) the same
    /// row hundreds of times a second. Skipping writes nothing, so it cannot weaken fencing.
    fn idle(&self, records: usize, cursor: &StoredCursor, forget_before_ms: Option<i64>) -> bool {
        records == 0 && forget_before_ms.is_none() && self.committed.as_ref() == Some(cursor)
    }

    /// A live cursor standing past the clock's horizon is moved back before the poll (the
    /// clock went back), so the source keeps reading; the poll's commit makes it durable.
    fn rewind_if_ahead(&mut self) {
        if self.mode != PollMode::Live {
            return;
        }
        let now = self.clock.now();
        let rewound = self.source.rewind_ahead(&mut self.cursor, now);
        if let Some(r) = rewound {
            debug!(
                source = %self.name.escape_debug(),
                from_ms = r.from_ms,
                to_ms = r.to_ms,
                "checkpoint ahead of the clock's horizon; reading again from now − overlap"
            );
        }
        self.watch_skew(rewound.map(|r| r.from_ms));
    }

    /// Judges the skew after the source reached `reached_ms`: one loud line per episode, the
    /// gauge and `/readyz` through the health registry.
    fn watch_skew(&mut self, reached_ms: Option<i64>) {
        let now = self.clock.now();
        let (skew, change) = self.skew.observe(reached_ms, now);
        let reached = self
            .skew
            .reached_ms()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        match change {
            SkewChange::Started => warn!(
                source = %self.name.escape_debug(),
                skew_seconds = skew.map_or(0, |s| s.as_secs()),
                reached = %reached,
                now = %now.to_rfc3339(),
                "CLOCK SKEW: the local clock is behind the time this source had already read up to \
                 (the clock jumped back, or ran fast before); the source re-reads from now − overlap \
                 (repeats are dropped) and is not ready until the clock catches up; check the host's \
                 time sync (NTP)"
            ),
            SkewChange::Ended => info!(
                source = %self.name.escape_debug(),
                reached = %reached,
                "clock skew over: the local clock has caught up"
            ),
            SkewChange::Same => {}
        }
        self.health.record_clock_skew(&self.name, skew);
    }

    /// Splits off records an earlier window already read; returns the rest and their ids.
    async fn drop_already_seen(
        &self,
        records: Vec<Record>,
    ) -> Result<(Vec<Record>, Vec<SeenKey>), DriverError> {
        let keys: Vec<String> = records
            .iter()
            .filter_map(|r| r.dedupe.as_ref().map(|d| d.key.clone()))
            .collect();
        if keys.is_empty() {
            return Ok((records, Vec::new()));
        }
        let seen = self.store.seen(&self.cursor_key, keys).await?;
        let mut in_batch = HashSet::new();
        let mut kept = Vec::with_capacity(records.len());
        let mut new_keys = Vec::new();
        for record in records {
            match &record.dedupe {
                Some(d) if seen.contains(&d.key) || !in_batch.insert(d.key.clone()) => continue,
                Some(d) => new_keys.push(d.clone()),
                None => {}
            }
            kept.push(record);
        }
        Ok((kept, new_keys))
    }

    /// Polls until cancelled (live) or until the range is done (scan).
    pub async fn run(
        mut self,
        interval: Duration,
        cancel: CancellationToken,
    ) -> Result<(), DriverError> {
        let backoff = Backoff::new(Duration::from_secs(1), MAX_BACKOFF);
        poll_loop::run(&mut self, interval, backoff, &cancel).await
    }
}

impl<S: Source> Steps for SourceDriver<S> {
    type Error = DriverError;

    async fn step(&mut self) -> Result<Next, DriverError> {
        let report = SourceDriver::step(self).await?;
        self.failures = 0;
        self.throttled = false;
        self.health.record_success(&self.name);
        Ok(match report.progress {
            Progress::More => Next::Now,
            Progress::CaughtUp => Next::AfterInterval,
            Progress::Finished => Next::Done,
        })
    }

    fn asked_wait(&self, error: &DriverError) -> Option<Duration> {
        error.retry_after()
    }

    fn keep_going(&mut self, e: &DriverError, retry_in: Duration) -> bool {
        self.health.record_failure(&self.name, &e.to_string());
        if let DriverError::Cursor(_) = e {
            error!(source = %self.name, error = %e, "cannot read the checkpoint; source stopped");
            return false;
        }
        if let DriverError::State(StateError::LeaseLost { .. }) = e {
            // Another replica owns the source now: nothing was written, and it reads on.
            metrics::record_commit_refused(&self.name);
            error!(source = %self.name, error = %e, "commit refused (lease lost); the source stops on this replica");
            return false;
        }
        if e.is_throttle() {
            // Throttling is the API pacing us, not a failure: it never makes a scan give up.
            metrics::record_throttle(&self.name);
            // One line per burst: a throttled API would otherwise flood the log.
            if !self.throttled {
                warn!(source = %self.name, error = %e, ?retry_in, "throttled; backing off");
            }
            self.throttled = true;
            return true;
        }
        self.failures += 1;
        warn!(source = %self.name, error = %e, failures = self.failures, ?retry_in, "poll failed; the checkpoint stays put");
        self.max_failures.is_none_or(|max| self.failures < max)
    }
}

const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The state-store key of a source's checkpoint. Scans get their own key per range so they can
/// resume after a crash without ever touching the live checkpoint.
pub fn cursor_key(name: &str, mode: &PollMode) -> String {
    match mode {
        PollMode::Live => format!("live/{name}"),
        PollMode::Scan(range) => format!(
            "scan/{name}/{}..{}",
            range.since.timestamp_millis(),
            range.until.timestamp_millis()
        ),
    }
}

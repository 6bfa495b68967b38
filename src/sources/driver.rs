//! The generic poll loop shared by every source.
//!
//! One step: poll a batch → drop records already seen in an overlap → run the pipeline → commit
//! alerts, seen ids and the new cursor in one transaction → wake the deliverers. A step is never
//! interrupted half-way: shutdown is checked between steps, so a stop always leaves the last
//! complete batch committed and nothing half-applied.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::{PollMode, Progress, Source, SourceError, SourceErrorKind};
use crate::clock::Clock;
use crate::delivery::OutboxSignal;
use crate::model::{CursorError, StoredCursor};
use crate::pipeline::{BatchStats, Pipeline};
use crate::retry::Backoff;
use crate::state::{Commit, Fence, SeenKey, SeenUpdate, StateError, StateStore};
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
        matches!(self, DriverError::Source(e) if e.kind == SourceErrorKind::Throttled)
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
    /// For scans: give up after this many failures in a row instead of retrying forever.
    max_failures: Option<u32>,
}

impl<S: Source> SourceDriver<S> {
    /// Loads the source's checkpoint (a scan always starts at its range) and prepares to poll.
    /// A live checkpoint more than `max_catchup` behind is moved forward, loudly.
    #[allow(clippy::too_many_arguments)]
    pub async fn open(
        name: &str,
        source: S,
        mode: PollMode,
        max_catchup: Option<Duration>,
        store: Arc<dyn StateStore>,
        pipeline: Pipeline,
        outbox: OutboxSignal,
        health: Arc<Health>,
        clock: &dyn Clock,
    ) -> Result<Self, DriverError> {
        let cursor_key = cursor_key(name, &mode);
        let cursor = match store.load_cursor(&cursor_key).await? {
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
        Ok(SourceDriver {
            name: name.to_owned(),
            source,
            mode,
            cursor_key,
            cursor,
            store,
            pipeline,
            outbox,
            health,
            max_failures,
        })
    }

    pub fn cursor(&self) -> &S::Cursor {
        &self.cursor
    }

    pub fn cursor_key(&self) -> &str {
        &self.cursor_key
    }

    /// Polls one batch and commits it.
    pub async fn step(&mut self) -> Result<StepReport, DriverError> {
        let batch = self.source.poll(&self.cursor, &self.mode).await?;
        let total = batch.records.len();
        let (records, seen_keys) = self.drop_already_seen(batch.records).await?;
        let already_seen = total - records.len();

        let outcome = self.pipeline.process(&records);
        let commit = Commit {
            cursor_key: self.cursor_key.clone(),
            cursor: StoredCursor::encode(&batch.cursor)?,
            alerts: outcome.alerts,
            seen: SeenUpdate {
                add: seen_keys,
                forget_before_ms: batch.forget_seen_before_ms,
            },
        };
        let report = self.store.commit(commit, &Fence::Sole).await?;
        self.cursor = batch.cursor;
        if report.inserted > 0 {
            self.outbox.notify();
        }
        if let Some(position) = batch.position {
            self.health.record_position(&self.name, position);
        }
        metrics::record_commit(&self.name, report.inserted, report.duplicates, already_seen);
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

    /// Splits off records an earlier window already read; returns the rest and their ids.
    async fn drop_already_seen(
        &self,
        records: Vec<super::Record>,
    ) -> Result<(Vec<super::Record>, Vec<SeenKey>), DriverError> {
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
        let mut backoff = new_backoff();
        let mut failures = 0u32;
        let mut throttled = false;
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let wait = match self.step().await {
                Ok(report) => {
                    backoff.reset();
                    failures = 0;
                    throttled = false;
                    self.health.record_success(&self.name);
                    match report.progress {
                        Progress::More => continue,
                        Progress::CaughtUp => interval,
                        Progress::Finished => return Ok(()),
                    }
                }
                Err(e @ DriverError::Cursor(_)) => {
                    error!(source = %self.name, error = %e, "cannot read the checkpoint; source stopped");
                    self.health.record_failure(&self.name, &e.to_string());
                    return Err(e);
                }
                Err(e) => {
                    // Throttling is the API pacing us, not a failure: it never makes a scan
                    // give up.
                    if !e.is_throttle() {
                        failures += 1;
                    }
                    self.health.record_failure(&self.name, &e.to_string());
                    let delay = backoff.next_delay(e.retry_after());
                    if e.is_throttle() {
                        metrics::record_throttle(&self.name);
                        // One line per burst: a throttled API would otherwise flood the log.
                        if !throttled {
                            warn!(source = %self.name, error = %e, retry_in = ?delay, "throttled; backing off");
                        }
                        throttled = true;
                    } else {
                        warn!(source = %self.name, error = %e, failures, retry_in = ?delay, "poll failed; the checkpoint stays put");
                    }
                    if self.max_failures.is_some_and(|max| failures >= max) {
                        return Err(e);
                    }
                    delay
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

const MAX_BACKOFF: Duration = Duration::from_secs(300);

fn new_backoff() -> Backoff {
    Backoff::new(Duration::from_secs(1), MAX_BACKOFF)
}

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

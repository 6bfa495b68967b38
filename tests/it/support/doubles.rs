//! Test doubles: a source with a time axis that can be told to fail, and a state store whose
//! writability can be switched off. Both drive the real driver, server and scheduler code.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nodeport_watch::clock::Clock;
use nodeport_watch::exposure::{Exposure, ExposureFilter, ExposureKey, OpenCount};
use nodeport_watch::model::{Alert, Cursor, StoredCursor};
use nodeport_watch::sources::{
    Batch, PollMode, Progress, Record, RecordOrigin, Source, SourceError, TimeRange,
};
use nodeport_watch::state::{
    AlertCount, Checkpoints, Commit, CommitReport, CursorStatus, DeliveryRecord, DeliveryState,
    ExposureInventory, Fence, Leases, OutboxAdmin, OutboxDelivery, PendingBatch, SqliteStore,
    StateError, StateStore, StoreStatus,
};
use serde::{Deserialize, Serialize};

/// Everything before `watermark_ms` has been read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeCursor {
    pub watermark_ms: i64,
}

impl Cursor for TimeCursor {
    const KIND: &'static str = "test-time";
    const VERSION: u32 = 1;
}

/// A source over a time axis: each poll returns the queued records, moves the watermark to the
/// clock's now, or fails while `fail` is set. A poll waits while a test holds `gate` for
/// writing (to keep a first poll from finishing).
#[derive(Clone)]
pub struct ScriptedSource {
    pub fail: Arc<AtomicBool>,
    pub gate: Arc<tokio::sync::RwLock<()>>,
    pub queued: Arc<Mutex<VecDeque<Vec<u8>>>>,
    pub clock: Arc<dyn Clock>,
    /// Where a source without a checkpoint starts.
    pub start_ms: i64,
}

impl ScriptedSource {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        ScriptedSource {
            fail: Arc::default(),
            gate: Arc::default(),
            queued: Arc::default(),
            start_ms: clock.now().timestamp_millis(),
            clock,
        }
    }

    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
}

#[async_trait]
impl Source for ScriptedSource {
    type Cursor = TimeCursor;

    fn start(&self, _mode: &PollMode, _now: DateTime<Utc>) -> TimeCursor {
        TimeCursor {
            watermark_ms: self.start_ms,
        }
    }

    async fn poll(
        &mut self,
        _cursor: &TimeCursor,
        _mode: &PollMode,
    ) -> Result<Batch<TimeCursor>, SourceError> {
        let _open = self.gate.read().await;
        if self.fail.load(Ordering::SeqCst) {
            return Err(SourceError::transient("simulated outage"));
        }
        let now = self.clock.now();
        let origin = Arc::new(RecordOrigin {
            stream: "scripted".into(),
            ..RecordOrigin::default()
        });
        let records = self
            .queued
            .lock()
            .unwrap()
            .drain(..)
            .map(|text| Record {
                text,
                origin: Arc::clone(&origin),
                record_id: None,
                record_time: None,
                dedupe: None,
            })
            .collect();
        Ok(Batch {
            records,
            cursor: TimeCursor {
                watermark_ms: now.timestamp_millis(),
            },
            progress: Progress::CaughtUp,
            forget_seen_before_ms: None,
            position: Some(now),
        })
    }

    fn skip_backlog(
        &self,
        cursor: &mut TimeCursor,
        keep: Duration,
        now: DateTime<Utc>,
    ) -> Option<TimeRange> {
        let earliest = now - chrono::Duration::from_std(keep).ok()?;
        let since = DateTime::from_timestamp_millis(cursor.watermark_ms)?;
        if since >= earliest {
            return None;
        }
        cursor.watermark_ms = earliest.timestamp_millis();
        Some(TimeRange {
            since,
            until: earliest,
        })
    }
}

/// SQLite underneath; `check_writable` fails while `broken` is set.
#[derive(Clone)]
pub struct SwitchableStore {
    pub inner: SqliteStore,
    pub broken: Arc<AtomicBool>,
}

#[async_trait]
impl Checkpoints for SwitchableStore {
    async fn load_cursor(&self, key: &str) -> Result<Option<StoredCursor>, StateError> {
        self.inner.load_cursor(key).await
    }
    async fn commit(&self, commit: Commit, fence: &Fence) -> Result<CommitReport, StateError> {
        self.inner.commit(commit, fence).await
    }
    async fn seen(&self, scope: &str, keys: Vec<String>) -> Result<HashSet<String>, StateError> {
        self.inner.seen(scope, keys).await
    }
    async fn delete_cursor(&self, key: &str) -> Result<(), StateError> {
        self.inner.delete_cursor(key).await
    }
}

#[async_trait]
impl OutboxDelivery for SwitchableStore {
    async fn pending(&self, sink: &str, limit: usize) -> Result<PendingBatch, StateError> {
        self.inner.pending(sink, limit).await
    }
    async fn mark_delivered(&self, sink: &str, seq: i64) -> Result<(), StateError> {
        self.inner.mark_delivered(sink, seq).await
    }
    async fn mark_failed(
        &self,
        sink: &str,
        seq: i64,
        error: &str,
        dead: bool,
    ) -> Result<(), StateError> {
        self.inner.mark_failed(sink, seq, error, dead).await
    }
}

/// The sole owner, as SQLite is.
impl Leases for SwitchableStore {}

#[async_trait]
impl StoreStatus for SwitchableStore {
    async fn cursors(&self) -> Result<Vec<CursorStatus>, StateError> {
        self.inner.cursors().await
    }
}

#[async_trait]
impl OutboxAdmin for SwitchableStore {
    async fn deliveries(
        &self,
        states: &[DeliveryState],
        sink: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StateError> {
        self.inner.deliveries(states, sink, limit).await
    }
    async fn requeue_dead(
        &self,
        sink: Option<&str>,
        alert_id: Option<&str>,
    ) -> Result<usize, StateError> {
        self.inner.requeue_dead(sink, alert_id).await
    }
    async fn delivery_counts(&self) -> Result<Vec<(String, DeliveryState, u64)>, StateError> {
        self.inner.delivery_counts().await
    }
    async fn prune_delivered(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
        batch: usize,
    ) -> Result<usize, StateError> {
        self.inner.prune_delivered(cutoff, batch).await
    }
    async fn check_writable(&self) -> Result<(), StateError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(StateError::Worker("disk is read-only (simulated)".into()));
        }
        self.inner.check_writable().await
    }
    async fn alert_counts(&self) -> Result<Vec<AlertCount>, StateError> {
        self.inner.alert_counts().await
    }
}

/// Alerts in an outbox, for assertions.
pub async fn outbox_alerts(store: &dyn StateStore) -> Vec<Alert> {
    store
        .deliveries(
            &[
                DeliveryState::Pending,
                DeliveryState::Delivered,
                DeliveryState::Dead,
            ],
            None,
            10_000,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.alert)
        .collect()
}

#[async_trait]
impl ExposureInventory for SwitchableStore {
    async fn exposures(
        &self,
        filter: &ExposureFilter,
        limit: usize,
    ) -> Result<Vec<Exposure>, StateError> {
        self.inner.exposures(filter, limit).await
    }

    async fn open_counts(&self) -> Result<Vec<OpenCount>, StateError> {
        self.inner.open_counts().await
    }

    async fn due_reminders(
        &self,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Exposure, Option<Alert>)>, StateError> {
        self.inner.due_reminders(before_ms, limit).await
    }

    async fn queue_reminder(
        &self,
        key: &ExposureKey,
        episode: &str,
        reminder: Alert,
        sinks: Vec<String>,
    ) -> Result<bool, StateError> {
        self.inner
            .queue_reminder(key, episode, reminder, sinks)
            .await
    }
}

//! A state store that stops accepting writes, on real SQLite files: a volume that fills up, one
//! that turns read-only under the daemon, and a damaged file at start. A send that succeeded is
//! never repeated because its mark could not be written; readiness notices a full volume.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use nodeport_watch::delivery::{Deliverer, OutboxSignal, RetryPolicy};
use nodeport_watch::state::{
    Checkpoints, DeliveryState, Fence, OutboxAdmin, OutboxDelivery, PendingBatch, SqliteStore,
    StateError,
};
use tokio_util::sync::CancellationToken;

use crate::support::sinks::RecordingSink;
use crate::support::store::{alerts_tagged, commit};
use crate::support::volume::{Mount, fill};

async fn delivered(store: &SqliteStore) -> usize {
    store
        .deliveries(&[DeliveryState::Delivered], Some("s"), 100)
        .await
        .unwrap()
        .len()
}

fn deliverer(sink: &Arc<RecordingSink>, store: Arc<dyn OutboxDelivery>) -> Deliverer {
    Deliverer::new(
        "s",
        Arc::clone(sink) as _,
        store,
        &OutboxSignal::default(),
        RetryPolicy::default(),
    )
}

#[tokio::test]
async fn a_full_volume_never_resends_a_sent_alert_and_records_it_once_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let volume = dir.path().join("vol");
    let _mount = Mount::tmpfs(&volume, 2048);
    let store = SqliteStore::open(&volume.join("state.db")).unwrap();
    let alerts = alerts_tagged("full", 3);
    store
        .commit(commit("live/a", 1, &alerts, &["s"]), &Fence::Sole)
        .await
        .unwrap();
    let filler = fill(&volume);
    assert!(
        store.mark_delivered("s", 1).await.is_err(),
        "the volume should refuse the write"
    );

    let sink = Arc::new(RecordingSink::default());
    let mut d = deliverer(&sink, Arc::new(store.clone()));
    let stop = CancellationToken::new();
    // Each round is what the daemon does on every wake-up or idle poll.
    for _ in 0..4 {
        d.deliver_pending(&stop).await.unwrap();
    }
    let mut sent = sink.ids();
    assert_eq!(sent.len(), 3, "each alert sent exactly once: {sent:?}");
    sent.sort();
    let mut expected: Vec<String> = alerts.iter().map(|a| a.id.clone()).collect();
    expected.sort();
    assert_eq!(sent, expected);
    assert_eq!(delivered(&store).await, 0, "the full volume took no mark");

    std::fs::remove_file(filler).unwrap();
    d.deliver_pending(&stop).await.unwrap();
    assert_eq!(delivered(&store).await, 3, "the held marks are written");
    assert_eq!(sink.ids().len(), 3, "and nothing was sent again");
}

/// The writable store, or the same file seen through a read-only mount, as `read_only` says.
struct TurnsReadOnly {
    writable: SqliteStore,
    read_only_view: SqliteStore,
    read_only: AtomicBool,
}

impl TurnsReadOnly {
    fn current(&self) -> &SqliteStore {
        if self.read_only.load(Ordering::SeqCst) {
            &self.read_only_view
        } else {
            &self.writable
        }
    }
}

#[async_trait]
impl OutboxDelivery for TurnsReadOnly {
    async fn pending(&self, sink: &str, limit: usize) -> Result<PendingBatch, StateError> {
        self.current().pending(sink, limit).await
    }
    async fn mark_delivered(&self, sink: &str, seq: i64) -> Result<(), StateError> {
        self.current().mark_delivered(sink, seq).await
    }
    async fn mark_failed(
        &self,
        sink: &str,
        seq: i64,
        error: &str,
        dead: bool,
    ) -> Result<(), StateError> {
        self.current().mark_failed(sink, seq, error, dead).await
    }
}

#[tokio::test]
async fn a_store_turned_read_only_never_resends_a_sent_alert() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let writable = SqliteStore::open(&data.join("state.db")).unwrap();
    let alerts = alerts_tagged("read-only", 2);
    writable
        .commit(commit("live/a", 1, &alerts, &["s"]), &Fence::Sole)
        .await
        .unwrap();
    let view = dir.path().join("view");
    let _mount = Mount::read_only_view(&data, &view);
    let store = Arc::new(TurnsReadOnly {
        writable: writable.clone(),
        read_only_view: SqliteStore::open(&view.join("state.db")).unwrap(),
        read_only: AtomicBool::new(true),
    });
    let refused = store.mark_delivered("s", 1).await.unwrap_err();
    assert!(
        refused.to_string().contains("readonly") || refused.to_string().contains("read-only"),
        "{refused}"
    );

    let sink = Arc::new(RecordingSink::default());
    let mut d = deliverer(&sink, Arc::clone(&store) as _);
    let stop = CancellationToken::new();
    for _ in 0..3 {
        d.deliver_pending(&stop).await.unwrap();
    }
    assert_eq!(sink.ids().len(), 2, "{:?}", sink.ids());
    assert_eq!(delivered(&writable).await, 0);

    store.read_only.store(false, Ordering::SeqCst);
    d.deliver_pending(&stop).await.unwrap();
    assert_eq!(delivered(&writable).await, 2);
    assert_eq!(sink.ids().len(), 2, "nothing sent twice");
}

#[tokio::test]
async fn readiness_notices_a_full_volume() {
    let dir = tempfile::tempdir().unwrap();
    let volume = dir.path().join("vol");
    let _mount = Mount::tmpfs(&volume, 2048);
    let store = SqliteStore::open(&volume.join("state.db")).unwrap();
    store.check_writable().await.unwrap();
    let filler = fill(&volume);
    let err = store.check_writable().await.unwrap_err();
    assert!(err.to_string().contains("full"), "{err}");
    std::fs::remove_file(filler).unwrap();
    store.check_writable().await.unwrap();
}

#[test]
fn a_damaged_state_file_stops_the_daemon_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    std::fs::write(
        &state,
        "garbage where the SQLite header belongs\n".repeat(200),
    )
    .unwrap();
    let config = dir.path().join("npw.toml");
    std::fs::write(
        &config,
        format!(
            "[state]\npath = {state:?}\n\n[[sources]]\nname = \"f\"\ntype = \"file\"\n\
             paths = [{:?}]\nformat = \"auto\"\n\n[[sinks]]\nname = \"out\"\ntype = \"stdout\"\n",
            dir.path().join("audit.log")
        ),
    )
    .unwrap();
    let out = crate::support::daemon::run(&["run", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not a SQLite database") && stderr.contains("restore it from a backup"),
        "{stderr}"
    );
}

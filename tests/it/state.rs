//! The state store keeps its promise across crashes: a batch's alerts and cursor land together
//! or not at all; an alert in the outbox is delivered after a crash, and never twice once
//! delivered. "Crash" here is dropping the store without any shutdown step and reopening the
//! file, which is what a killed process leaves behind (SQLite commits are durable at commit).

use std::sync::Arc;
use std::time::Duration;

use nodeport_watch::delivery::{Deliverer, OutboxSignal, RetryPolicy};
use nodeport_watch::state::{
    Checkpoints, DeliveryState, Fence, OutboxAdmin, OutboxDelivery, SqliteStore, StateStore,
};
use tokio_util::sync::CancellationToken;

use crate::support::sinks::{Answer, RecordingSink};
use crate::support::store::{alerts, commit, cursor};

fn deliverer(name: &str, sink: Arc<RecordingSink>, store: Arc<dyn StateStore>) -> Deliverer {
    let policy = RetryPolicy {
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    Deliverer::new(name, sink, store, &OutboxSignal::default(), policy)
}

#[tokio::test]
async fn a_crash_between_outbox_write_and_delivery_redelivers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let alerts = alerts(3);
    {
        let store = SqliteStore::open(&path).unwrap();
        store
            .commit(commit("live/src", 10, &alerts, &["hook"]), &Fence::Sole)
            .await
            .unwrap();
        // Crash: the process dies before any deliverer ran.
    }
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(&path).unwrap());
    assert_eq!(
        store.load_cursor("live/src").await.unwrap(),
        Some(cursor(10))
    );
    let sink = Arc::new(RecordingSink::default());
    let mut d = deliverer("hook", Arc::clone(&sink), Arc::clone(&store));
    assert_eq!(
        d.deliver_pending(&CancellationToken::new()).await.unwrap(),
        3
    );
    let expected: Vec<String> = alerts.iter().map(|a| a.id.clone()).collect();
    assert_eq!(sink.ids(), expected, "delivered once each, in outbox order");
}

#[tokio::test]
async fn a_crash_after_delivery_does_not_resend() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let alerts = alerts(2);
    {
        let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(&path).unwrap());
        store
            .commit(commit("live/src", 1, &alerts, &["hook"]), &Fence::Sole)
            .await
            .unwrap();
        let sink = Arc::new(RecordingSink::default());
        let mut d = deliverer("hook", Arc::clone(&sink), Arc::clone(&store));
        d.deliver_pending(&CancellationToken::new()).await.unwrap();
        assert_eq!(sink.ids().len(), 2);
    }
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let sink = Arc::new(RecordingSink::default());
    let mut d = deliverer("hook", Arc::clone(&sink), Arc::clone(&store));
    assert_eq!(
        d.deliver_pending(&CancellationToken::new()).await.unwrap(),
        0
    );
    assert!(sink.ids().is_empty());
    // Re-reading the same records (a restart that re-polls) must not queue them again.
    let report = store
        .commit(commit("live/src", 2, &alerts, &["hook"]), &Fence::Sole)
        .await
        .unwrap();
    assert_eq!((report.inserted, report.duplicates), (0, 2));
    assert!(store.pending("hook", 10).await.unwrap().ready.is_empty());
}

#[tokio::test]
async fn alerts_and_cursor_land_together_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    // Make the cursor write of one source fail inside the commit transaction.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER boom BEFORE INSERT ON cursors WHEN NEW.key = 'live/broken'
         BEGIN SELECT RAISE(ABORT, 'disk said no'); END;",
    )
    .unwrap();
    let alerts = alerts(2);
    assert!(
        store
            .commit(commit("live/broken", 5, &alerts, &["hook"]), &Fence::Sole)
            .await
            .is_err()
    );
    assert!(
        store.pending("hook", 10).await.unwrap().ready.is_empty(),
        "no alert without its cursor"
    );
    assert_eq!(store.load_cursor("live/broken").await.unwrap(), None);
    store
        .commit(commit("live/fine", 5, &alerts, &["hook"]), &Fence::Sole)
        .await
        .unwrap();
    assert_eq!(store.pending("hook", 10).await.unwrap().ready.len(), 2);
}

#[tokio::test]
async fn each_sink_has_its_own_queue_and_dead_letters() {
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let alerts = alerts(3);
    store
        .commit(
            commit("live/src", 1, &alerts, &["flaky", "steady"]),
            &Fence::Sole,
        )
        .await
        .unwrap();
    // `flaky` fails twice, then rejects the second alert for good.
    let flaky = Arc::new(RecordingSink::scripted([
        Answer::Fail,
        Answer::Fail,
        Answer::Reject,
    ]));
    let steady = Arc::new(RecordingSink::default());
    let stop = CancellationToken::new();
    deliverer("steady", Arc::clone(&steady), Arc::clone(&store))
        .deliver_pending(&stop)
        .await
        .unwrap();
    deliverer("flaky", Arc::clone(&flaky), Arc::clone(&store))
        .deliver_pending(&stop)
        .await
        .unwrap();
    let ids: Vec<String> = alerts.iter().map(|a| a.id.clone()).collect();
    assert_eq!(steady.ids(), ids);
    assert_eq!(flaky.ids(), vec![ids[1].clone(), ids[2].clone()]);
    let dead = store
        .deliveries(&[DeliveryState::Dead], Some("flaky"), 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].alert.id, ids[0]);
    assert_eq!(dead[0].attempts, 3);
    // Requeued, it goes through once the receiver accepts it.
    assert_eq!(store.requeue_dead(Some("flaky"), None).await.unwrap(), 1);
    deliverer("flaky", Arc::clone(&flaky), Arc::clone(&store))
        .deliver_pending(&stop)
        .await
        .unwrap();
    assert_eq!(flaky.ids().len(), 3);
    assert!(store.pending("flaky", 10).await.unwrap().ready.is_empty());
}

#[tokio::test]
async fn an_unreadable_alert_is_dead_lettered_by_the_deliverer_and_the_queue_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    let alerts = alerts(3);
    store
        .commit(commit("live/src", 1, &alerts, &["hook"]), &Fence::Sole)
        .await
        .unwrap();
    // Damage the first alert's stored body, as a bad disk or an incompatible release would.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE alerts SET body = '{not json' WHERE id = ?1",
        [&alerts[0].id],
    )
    .unwrap();

    // Reading the queue reports the row and changes nothing.
    for _ in 0..2 {
        let batch = store.pending("hook", 10).await.unwrap();
        assert_eq!(batch.unreadable.len(), 1);
        assert_eq!(batch.ready.len(), 2);
    }
    assert!(
        store
            .deliveries(&[DeliveryState::Dead], None, 10)
            .await
            .unwrap()
            .is_empty(),
        "pending() must not write"
    );

    let sink = Arc::new(RecordingSink::default());
    let store: Arc<dyn StateStore> = Arc::new(store);
    let mut d = deliverer("hook", Arc::clone(&sink), Arc::clone(&store));
    assert_eq!(
        d.deliver_pending(&CancellationToken::new()).await.unwrap(),
        3
    );
    assert_eq!(sink.ids(), [alerts[1].id.clone(), alerts[2].id.clone()]);
    let counts = store.delivery_counts().await.unwrap();
    assert!(
        counts.contains(&("hook".to_owned(), DeliveryState::Dead, 1)),
        "{counts:?}"
    );
    assert!(store.pending("hook", 10).await.unwrap().is_empty());
}

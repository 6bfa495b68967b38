//! The delivery-queue part of the state-store contract: each sink's queue in outbox order and
//! read-only until marked, delivered alerts leaving it, dead letters waiting for a re-queue, and
//! late marks (a deliverer that lost its sink's lease) changing nothing. The cases run through
//! `state_contract!` on SQLite (file, memory) and PostgreSQL.

use std::sync::Arc;

use nodeport_watch::state::{DeliveryState, Fence, StateStore};

use crate::state_contract::ids_of;
use crate::support::store::{alerts_tagged, commit};

/// Each sink reads its own queue in outbox order, at most `limit` at a time, and reading
/// changes nothing.
pub async fn pending_is_per_sink_in_order_and_read_only(store: Arc<dyn StateStore>) {
    let alerts = alerts_tagged("order", 3);
    store
        .commit(commit("live/a", 1, &alerts[..2], &["x"]), &Fence::Sole)
        .await
        .unwrap();
    store
        .commit(commit("live/a", 2, &alerts[2..], &["x", "y"]), &Fence::Sole)
        .await
        .unwrap();
    let all: Vec<String> = alerts.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids_of(&store.pending("x", 10).await.unwrap()), all);
    assert_eq!(ids_of(&store.pending("x", 2).await.unwrap()), all[..2]);
    assert_eq!(ids_of(&store.pending("y", 10).await.unwrap()), all[2..]);
    assert!(store.pending("z", 10).await.unwrap().is_empty());
    let seqs: Vec<i64> = store
        .pending("x", 10)
        .await
        .unwrap()
        .ready
        .iter()
        .map(|p| p.seq)
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // Reading twice gives the same and leaves every delivery as it was.
    assert_eq!(ids_of(&store.pending("x", 10).await.unwrap()), all);
    let states = store
        .deliveries(&DeliveryState::ALL, None, 10)
        .await
        .unwrap();
    assert!(
        states
            .iter()
            .all(|d| d.state == DeliveryState::Pending && d.attempts == 0)
    );
}

/// A delivered alert leaves its sink's queue (not the other sinks').
pub async fn a_delivered_alert_leaves_the_queue(store: Arc<dyn StateStore>) {
    let alerts = alerts_tagged("delivered", 2);
    store
        .commit(commit("live/a", 1, &alerts, &["x", "y"]), &Fence::Sole)
        .await
        .unwrap();
    let first = store.pending("x", 10).await.unwrap().ready.remove(0);
    store.mark_delivered("x", first.seq).await.unwrap();
    assert_eq!(
        ids_of(&store.pending("x", 10).await.unwrap()),
        [alerts[1].id.clone()]
    );
    assert_eq!(store.pending("y", 10).await.unwrap().ready.len(), 2);
    let delivered = store
        .deliveries(&[DeliveryState::Delivered], Some("x"), 10)
        .await
        .unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].alert.id, alerts[0].id);
    assert_eq!(delivered[0].attempts, 1);
    assert_eq!(delivered[0].last_error, None);
}

/// Failures count attempts; a dead letter leaves the queue until re-queued, by sink or by id.
pub async fn dead_letters_wait_until_requeued(store: Arc<dyn StateStore>) {
    let alerts = alerts_tagged("dead", 3);
    store
        .commit(commit("live/a", 1, &alerts, &["x", "y"]), &Fence::Sole)
        .await
        .unwrap();
    let queue = store.pending("x", 10).await.unwrap().ready;
    store
        .mark_failed("x", queue[0].seq, "HTTP 503", false)
        .await
        .unwrap();
    let head = store.pending("x", 10).await.unwrap().ready.remove(0);
    assert_eq!((head.seq, head.attempts), (queue[0].seq, 1));
    for p in &queue {
        store
            .mark_failed("x", p.seq, "HTTP 400", true)
            .await
            .unwrap();
    }
    let y_head = store.pending("y", 10).await.unwrap().ready.remove(0);
    store
        .mark_failed("y", y_head.seq, "HTTP 400", true)
        .await
        .unwrap();
    assert!(store.pending("x", 10).await.unwrap().is_empty());
    let dead = store
        .deliveries(&[DeliveryState::Dead], Some("x"), 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 3);
    assert_eq!(dead[0].alert.id, alerts[2].id, "newest first");
    assert_eq!(dead[2].attempts, 2);
    assert_eq!(dead[2].last_error.as_deref(), Some("HTTP 400"));

    assert_eq!(
        store.requeue_dead(None, Some(&alerts[1].id)).await.unwrap(),
        1,
        "one alert's dead letters, for every sink where it is dead"
    );
    assert_eq!(
        ids_of(&store.pending("x", 10).await.unwrap()),
        [alerts[1].id.clone()]
    );
    assert_eq!(store.requeue_dead(Some("y"), None).await.unwrap(), 1);
    assert_eq!(
        ids_of(&store.pending("y", 10).await.unwrap()).len(),
        3,
        "y's dead letter is back with the rest of its queue"
    );
    assert_eq!(store.requeue_dead(Some("x"), None).await.unwrap(), 2);
    assert_eq!(store.pending("x", 10).await.unwrap().ready.len(), 3);
    assert_eq!(store.requeue_dead(None, None).await.unwrap(), 0);
}

/// A mark on a delivery that is no longer pending (a repeat, or a late one from a deliverer
/// that lost the sink's lease to another replica) changes nothing: it neither counts another
/// attempt nor moves a delivered alert to the dead letters, from where a re-queue would send
/// it again.
pub async fn late_marks_on_a_settled_delivery_change_nothing(store: Arc<dyn StateStore>) {
    let alerts = alerts_tagged("late", 2);
    store
        .commit(commit("live/a", 1, &alerts, &["x"]), &Fence::Sole)
        .await
        .unwrap();
    let queue = store.pending("x", 10).await.unwrap().ready;
    let (delivered, dead) = (queue[0].seq, queue[1].seq);
    store.mark_delivered("x", delivered).await.unwrap();
    store.mark_delivered("x", delivered).await.unwrap();
    store
        .mark_failed("x", delivered, "late", true)
        .await
        .unwrap();
    store
        .mark_failed("x", dead, "HTTP 400", true)
        .await
        .unwrap();
    store.mark_delivered("x", dead).await.unwrap();
    store.mark_failed("x", dead, "late", false).await.unwrap();
    let mut rows = store
        .deliveries(&DeliveryState::ALL, Some("x"), 10)
        .await
        .unwrap();
    rows.sort_by_key(|d| d.seq);
    let seen: Vec<_> = rows
        .iter()
        .map(|d| (d.seq, d.state, d.attempts, d.last_error.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (delivered, DeliveryState::Delivered, 1, None),
            (dead, DeliveryState::Dead, 1, Some("HTTP 400")),
        ]
    );
}

//! The state-store contract: what every backend must do, written once against the traits.
//!
//! Each case is a plain async function over a fresh store; [`state_contract!`] turns them into
//! one `#[tokio::test]` per case for a backend, given a factory that opens an empty store whose
//! timestamps come from the clock it is handed. SQLite runs it on a file and in memory, and
//! PostgreSQL on a fresh database of the shared throwaway server, all opened through the one
//! factory (`state::open`) the daemon uses.
//!
//! The delivery-queue cases live in `state_contract_outbox` and the exposure cases (issue 14)
//! in `state_contract_exposures`; they run here too.
//!
//! What only one backend can show (SQLite's rollback of a commit whose cursor write fails, a
//! damaged row in the file) stays in `state`.

use std::any::Any;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use nodeport_watch::clock::{Clock, ManualClock};
use nodeport_watch::model::StoredCursor;
use nodeport_watch::state::{
    DeliveryState, Fence, LeaseToken, SeenKey, SeenUpdate, StateError, StateStore,
};

pub use crate::state_contract_exposures::{
    a_namespace_delete_closes_its_exposures_and_counts_follow, a_reminder_is_queued_once,
    an_exposure_opens_and_closes_in_the_commit, older_writes_and_replays_change_nothing,
};
pub use crate::state_contract_outbox::{
    a_delivered_alert_leaves_the_queue, dead_letters_wait_until_requeued,
    late_marks_on_a_settled_delivery_change_nothing, pending_is_per_sink_in_order_and_read_only,
};
use crate::support::store::{alerts, alerts_tagged, commit, cursor};

/// A store under test and whatever must live as long as it (a temporary directory, a server).
pub struct Opened {
    pub store: Arc<dyn StateStore>,
    pub keep: Box<dyn Any + Send>,
}

/// How a backend treats the ownership token of a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fencing {
    /// A single-writer backend: any token is accepted.
    Ignored,
    /// A shared backend: a token for a lease it never granted is refused.
    Enforced,
}

/// Where every contract clock starts: far from the wall clock, so a backend reading it shows.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 1, 2, 3, 4, 5).unwrap()
}

pub fn ids_of(pending: &nodeport_watch::state::PendingBatch) -> Vec<String> {
    pending.ready.iter().map(|p| p.alert.id.clone()).collect()
}

/// Alerts, seen ids and the cursor of one commit are all there afterwards.
pub async fn commit_writes_alerts_cursor_and_seen_ids_together(store: Arc<dyn StateStore>) {
    let alerts = alerts_tagged("together", 2);
    let mut c = commit("live/src", 7, &alerts, &["hook"]);
    c.seen.add = vec![SeenKey {
        key: "record-1".into(),
        event_ms: 1_000,
    }];
    let report = store.commit(c, &Fence::Sole).await.unwrap();
    assert_eq!((report.inserted, report.duplicates), (2, 0));
    assert_eq!(
        store.load_cursor("live/src").await.unwrap(),
        Some(cursor(7))
    );
    let seen = store
        .seen("live/src", vec!["record-1".into(), "record-2".into()])
        .await
        .unwrap();
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["record-1"]);
    let pending = store.pending("hook", 10).await.unwrap();
    assert_eq!(
        ids_of(&pending),
        alerts.iter().map(|a| a.id.clone()).collect::<Vec<_>>()
    );
}

/// An alert id already in the outbox is counted as a duplicate and queued for no sink again,
/// whether it comes back in a later commit or twice in one.
pub async fn an_alert_id_is_enqueued_once(store: Arc<dyn StateStore>) {
    let alerts = alerts_tagged("once", 2);
    let twice = [alerts[0].clone(), alerts[0].clone()];
    let report = store
        .commit(commit("live/a", 1, &twice, &["hook"]), &Fence::Sole)
        .await
        .unwrap();
    assert_eq!((report.inserted, report.duplicates), (1, 1));
    let report = store
        .commit(
            commit("live/b", 1, &alerts, &["hook", "other"]),
            &Fence::Sole,
        )
        .await
        .unwrap();
    assert_eq!((report.inserted, report.duplicates), (1, 1));
    assert_eq!(
        ids_of(&store.pending("hook", 10).await.unwrap()),
        [alerts[0].id.clone(), alerts[1].id.clone()]
    );
    // The duplicate was not routed to the sink it did not have the first time.
    assert_eq!(
        ids_of(&store.pending("other", 10).await.unwrap()),
        [alerts[1].id.clone()]
    );
}

/// Seen ids are kept per scope, then forgotten once older than the window reaches.
pub async fn seen_ids_are_kept_per_scope_then_forgotten(store: Arc<dyn StateStore>) {
    let mut c = commit("live/cw", 1, &[], &[]);
    c.seen = SeenUpdate {
        add: vec![
            SeenKey {
                key: "old".into(),
                event_ms: 1_000,
            },
            SeenKey {
                key: "new".into(),
                event_ms: 9_000,
            },
        ],
        forget_before_ms: None,
    };
    store.commit(c, &Fence::Sole).await.unwrap();
    let seen = store
        .seen("live/cw", vec!["old".into(), "new".into(), "never".into()])
        .await
        .unwrap();
    assert_eq!(seen.len(), 2);
    let mut c = commit("live/cw", 2, &[], &[]);
    c.seen.forget_before_ms = Some(5_000);
    store.commit(c, &Fence::Sole).await.unwrap();
    let seen = store
        .seen("live/cw", vec!["old".into(), "new".into()])
        .await
        .unwrap();
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec!["new".to_owned()]);
    // Other sources (and scans) have their own scope.
    assert!(
        store
            .seen("live/other", vec!["new".into()])
            .await
            .unwrap()
            .is_empty()
    );
}

/// A cursor comes back exactly as stored, a newer kind or version replaces it, and deleting it
/// removes its seen ids too.
pub async fn cursors_round_trip_with_their_version(store: Arc<dyn StateStore>) {
    assert_eq!(store.load_cursor("scan/a/r").await.unwrap(), None);
    let v1 = StoredCursor {
        kind: "aws-cloudwatch".into(),
        version: 1,
        json: r#"{"streams":{"a/b":{"watermark_ms":5}}}"#.into(),
    };
    let mut c = commit("scan/a/r", 0, &[], &[]);
    c.cursor = v1.clone();
    c.seen.add = vec![SeenKey {
        key: "k".into(),
        event_ms: 5,
    }];
    store.commit(c, &Fence::Sole).await.unwrap();
    assert_eq!(store.load_cursor("scan/a/r").await.unwrap(), Some(v1));
    let v2 = StoredCursor {
        kind: "time-axis".into(),
        version: 2,
        json: "{\"unicode\":\"é ✓\"}".into(),
    };
    let mut c = commit("scan/a/r", 0, &[], &[]);
    c.cursor = v2.clone();
    store.commit(c, &Fence::Sole).await.unwrap();
    assert_eq!(store.load_cursor("scan/a/r").await.unwrap(), Some(v2));
    assert_eq!(store.load_cursor("scan/a/other").await.unwrap(), None);

    store.delete_cursor("scan/a/r").await.unwrap();
    assert_eq!(store.load_cursor("scan/a/r").await.unwrap(), None);
    assert!(
        store
            .seen("scan/a/r", vec!["k".into()])
            .await
            .unwrap()
            .is_empty()
    );
}

/// Every timestamp the store writes comes from the injected clock, never the wall clock.
pub async fn timestamps_come_from_the_clock(store: Arc<dyn StateStore>, clock: ManualClock) {
    let alerts = alerts_tagged("clock", 1);
    store
        .commit(commit("live/a", 1, &alerts, &["x"]), &Fence::Sole)
        .await
        .unwrap();
    let updated = |store: Arc<dyn StateStore>| async move {
        store
            .deliveries(&DeliveryState::ALL, Some("x"), 1)
            .await
            .unwrap()[0]
            .updated_at
    };
    assert_eq!(updated(Arc::clone(&store)).await, t0());
    let seq = store.pending("x", 1).await.unwrap().ready[0].seq;
    clock.advance(Duration::hours(1));
    store.mark_failed("x", seq, "down", true).await.unwrap();
    assert_eq!(updated(Arc::clone(&store)).await, t0() + Duration::hours(1));
    clock.advance(Duration::hours(1));
    store.requeue_dead(Some("x"), None).await.unwrap();
    assert_eq!(updated(Arc::clone(&store)).await, t0() + Duration::hours(2));
    clock.advance(Duration::days(400));
    store.mark_delivered("x", seq).await.unwrap();
    assert_eq!(
        updated(Arc::clone(&store)).await,
        t0() + Duration::hours(2) + Duration::days(400)
    );
}

/// Counts for `alerts` and metrics, and the readiness probe.
pub async fn counts_and_writability(store: Arc<dyn StateStore>) {
    store.check_writable().await.unwrap();
    let alerts = alerts(2);
    store
        .commit(commit("live/a", 1, &alerts, &["x", "y"]), &Fence::Sole)
        .await
        .unwrap();
    let seq = store.pending("y", 1).await.unwrap().ready[0].seq;
    store.mark_delivered("y", seq).await.unwrap();
    let mut counts = store.delivery_counts().await.unwrap();
    counts.sort();
    assert_eq!(
        counts,
        [
            ("x".to_owned(), DeliveryState::Pending, 2),
            ("y".to_owned(), DeliveryState::Pending, 1),
            ("y".to_owned(), DeliveryState::Delivered, 1),
        ]
    );
    let by_rule: u64 = store
        .alert_counts()
        .await
        .unwrap()
        .iter()
        .map(|c| c.count)
        .sum();
    assert_eq!(by_rule, 2);
}

/// `[state] retention`: delivered deliveries older than the cutoff go in small batches, then
/// their alerts once nothing refers to them; pending, dead and recent ones stay; the alert
/// totals for metrics never drop.
pub async fn retention_prunes_only_old_delivered_alerts(
    store: Arc<dyn StateStore>,
    clock: ManualClock,
) {
    let alerts = alerts_tagged("retention", 3);
    store
        .commit(commit("live/a", 1, &alerts, &["x", "y"]), &Fence::Sole)
        .await
        .unwrap();
    let seqs: Vec<i64> = (store.pending("x", 10).await.unwrap().ready.iter())
        .map(|p| p.seq)
        .collect();
    store.mark_delivered("x", seqs[0]).await.unwrap();
    store.mark_delivered("x", seqs[1]).await.unwrap();
    store.mark_delivered("y", seqs[0]).await.unwrap();
    store.mark_failed("y", seqs[1], "400", true).await.unwrap();
    clock.advance(Duration::days(40));
    // Delivered just now: inside the retention however old the alert is.
    store.mark_delivered("y", seqs[2]).await.unwrap();
    let cutoff = clock.now() - Duration::days(30);
    let mut rounds = 0;
    while store.prune_delivered(cutoff, 1).await.unwrap() > 0 {
        rounds += 1;
        assert!(rounds < 50, "pruning never ends");
    }
    assert!(rounds >= 3, "one row per batch: {rounds} rounds");

    let mut left: Vec<(String, i64, DeliveryState)> = store
        .deliveries(&DeliveryState::ALL, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.sink, r.seq, r.state))
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            ("x".to_owned(), seqs[2], DeliveryState::Pending),
            ("y".to_owned(), seqs[1], DeliveryState::Dead),
            ("y".to_owned(), seqs[2], DeliveryState::Delivered),
        ]
    );
    let total: u64 = (store.alert_counts().await.unwrap().iter())
        .map(|c| c.count)
        .sum();
    assert_eq!(total, 3, "alerts ever written, pruned or not");
    // The first alert is gone from the outbox: its id would be queued again (documented).
    let again = store
        .commit(commit("live/a", 2, &alerts[..1], &["x"]), &Fence::Sole)
        .await
        .unwrap();
    assert_eq!(again.inserted, 1);
    assert_eq!(store.prune_delivered(cutoff, 10).await.unwrap(), 0);
}

/// The ownership token reaches the backend: ignored by a single writer, and for a shared one a
/// lease it never granted must not move a cursor or write an alert.
pub async fn commits_carry_the_ownership_token(store: Arc<dyn StateStore>, fencing: Fencing) {
    let alerts = alerts_tagged("fence", 1);
    let stale = Fence::Lease(LeaseToken {
        key: "src".into(),
        owner: "replica-1".into(),
        epoch: 41,
    });
    let result = store
        .commit(commit("live/src", 3, &alerts, &["x"]), &stale)
        .await;
    match fencing {
        Fencing::Ignored => {
            assert_eq!(result.unwrap().inserted, 1);
            assert_eq!(
                store.load_cursor("live/src").await.unwrap(),
                Some(cursor(3))
            );
        }
        Fencing::Enforced => {
            match result {
                Err(StateError::LeaseLost { key, epoch }) => {
                    assert_eq!((key.as_str(), epoch), ("src", 41))
                }
                other => panic!("expected LeaseLost, got {other:?}"),
            }
            assert_eq!(store.load_cursor("live/src").await.unwrap(), None);
            assert!(store.pending("x", 10).await.unwrap().is_empty());
        }
    }
}

/// One `#[tokio::test]` per contract case for a backend. `$open` is an async function taking an
/// `Arc<dyn Clock>` and returning an [`Opened`] store that is empty.
#[macro_export]
macro_rules! state_contract {
    ($backend:ident, $open:path, $fencing:expr) => {
        mod $backend {
            use std::sync::Arc;

            use nodeport_watch::clock::ManualClock;

            use $crate::state_contract::*;

            async fn open() -> (Opened, ManualClock) {
                let clock = ManualClock::new(t0());
                ($open(Arc::new(clock.clone())).await, clock)
            }

            $crate::state_contract!(@cases
                commit_writes_alerts_cursor_and_seen_ids_together,
                an_alert_id_is_enqueued_once,
                pending_is_per_sink_in_order_and_read_only,
                a_delivered_alert_leaves_the_queue,
                dead_letters_wait_until_requeued,
                late_marks_on_a_settled_delivery_change_nothing,
                seen_ids_are_kept_per_scope_then_forgotten,
                cursors_round_trip_with_their_version,
                counts_and_writability,
                an_exposure_opens_and_closes_in_the_commit,
                older_writes_and_replays_change_nothing,
                a_namespace_delete_closes_its_exposures_and_counts_follow,
                a_reminder_is_queued_once,
            );

            #[tokio::test]
            async fn timestamps_come_from_the_clock() {
                let (Opened { store, keep: _keep }, clock) = open().await;
                $crate::state_contract::timestamps_come_from_the_clock(store, clock).await;
            }

            #[tokio::test]
            async fn retention_prunes_only_old_delivered_alerts() {
                let (Opened { store, keep: _keep }, clock) = open().await;
                $crate::state_contract::retention_prunes_only_old_delivered_alerts(store, clock)
                    .await;
            }

            #[tokio::test]
            async fn commits_carry_the_ownership_token() {
                let (Opened { store, keep: _keep }, _clock) = open().await;
                $crate::state_contract::commits_carry_the_ownership_token(store, $fencing).await;
            }
        }
    };
    (@cases $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (Opened { store, keep: _keep }, _clock) = open().await;
                $crate::state_contract::$case(store).await;
            }
        )*
    };
}

mod sqlite {
    use std::sync::Arc;

    use nodeport_watch::clock::Clock;
    use nodeport_watch::state::{self, Access, StatePath, StateSettings};

    use super::Opened;

    /// A file in a temporary directory, opened as the daemon opens it (through the factory,
    /// holding the delivery lock).
    pub async fn file(clock: Arc<dyn Clock>) -> Opened {
        let dir = tempfile::tempdir().unwrap();
        let settings = StateSettings::Sqlite(StatePath::File(dir.path().join("state.db")));
        Opened {
            store: state::open(&settings, Access::Deliver, clock)
                .await
                .unwrap(),
            keep: Box::new(dir),
        }
    }

    pub async fn memory(clock: Arc<dyn Clock>) -> Opened {
        let settings = StateSettings::Sqlite(StatePath::Memory);
        Opened {
            store: state::open(&settings, Access::Deliver, clock)
                .await
                .unwrap(),
            keep: Box::new(()),
        }
    }
}

mod postgres_factory {
    use std::sync::Arc;

    use nodeport_watch::clock::Clock;
    use nodeport_watch::state::postgres::{PostgresOptions, PostgresSettings};
    use nodeport_watch::state::{self, Access, StateSettings};
    use nodeport_watch::validation::Secret;

    use super::Opened;
    use crate::support::postgres::PgServer;

    /// A fresh database of the shared throwaway server, opened through the factory.
    pub async fn database(clock: Arc<dyn Clock>) -> Opened {
        let server = PgServer::shared();
        let database = server.database().await;
        let settings = PostgresSettings::new(
            &Secret::new(server.url(&database)),
            PostgresOptions::default(),
        )
        .unwrap();
        let settings = StateSettings::Postgres(Box::new(settings));
        Opened {
            store: state::open(&settings, Access::Deliver, clock)
                .await
                .unwrap(),
            keep: Box::new(()),
        }
    }
}

state_contract!(sqlite_file, super::sqlite::file, Fencing::Ignored);
state_contract!(sqlite_memory, super::sqlite::memory, Fencing::Ignored);
state_contract!(
    postgres,
    super::postgres_factory::database,
    Fencing::Enforced
);

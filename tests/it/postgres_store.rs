//! The PostgreSQL state store against a real server (started by `support::postgres`):
//! the server harness itself, migrations, commits and the outbox.

use std::time::Duration;

use nodeport_watch::model::Alert;
use nodeport_watch::state::postgres::{
    PostgresError, PostgresOptions, PostgresSettings, PostgresStore,
};
use nodeport_watch::state::{DeliveryState, Fence, SeenKey};
use nodeport_watch::validation::Secret;

use crate::support::fixtures::alert;
use crate::support::postgres::PgServer;
use crate::support::store::commit;
use crate::support::wait::eventually;

pub fn settings(server: &PgServer, database: &str) -> PostgresSettings {
    PostgresSettings::new(
        &Secret::new(server.url(database)),
        PostgresOptions::default(),
    )
    .expect("test settings are valid")
}

/// A store on a fresh database of the shared server.
pub async fn fresh_store() -> (PostgresStore, String) {
    let server = PgServer::shared();
    let database = server.database().await;
    let store = PostgresStore::open(&settings(server, &database))
        .await
        .expect("store opens");
    (store, database)
}

/// The ids pending for `sink`, in outbox order.
pub async fn pending_ids(store: &PostgresStore, sink: &str) -> Vec<String> {
    let pending = store.pending(sink, 100).await.expect("pending deliveries");
    pending.ready.into_iter().map(|p| p.alert.id).collect()
}

#[tokio::test]
async fn the_server_restarts_and_the_store_reconnects() {
    let server = tokio::task::spawn_blocking(PgServer::start).await.unwrap();
    let database = server.database().await;
    let client = server.connect(&database).await.unwrap();
    client
        .batch_execute("CREATE TABLE t (x INT); INSERT INTO t VALUES (7)")
        .await
        .unwrap();
    let store = PostgresStore::open(&settings(&server, &database))
        .await
        .unwrap();
    store.check_writable().await.unwrap();

    server.restart();
    assert!(
        client.simple_query("SELECT 1").await.is_err(),
        "the old session was cut"
    );
    let again = server.connect(&database).await.unwrap();
    let row = again.query_one("SELECT x FROM t", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 7);
    // Pooled connections to the old server are dropped and replaced on use.
    eventually(
        "the store to reconnect",
        Duration::from_secs(20),
        async || store.check_writable().await.ok(),
    )
    .await;

    server.stop();
    let err = store.check_writable().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(!err.to_string().contains("password"), "{err}");
}

#[tokio::test]
async fn replicas_starting_at_once_migrate_once() {
    let server = PgServer::shared();
    let database = server.database().await;
    let s = settings(server, &database);
    let (a, b, c) = tokio::join!(
        PostgresStore::open(&s),
        PostgresStore::open(&s),
        PostgresStore::open(&s)
    );
    for opened in [a, b, c] {
        opened.expect("every replica opens");
    }
    let client = server.connect(&database).await.unwrap();
    let rows = client
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .await
        .unwrap();
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    let expected: Vec<i32> = (1..=PostgresStore::schema_version() as i32).collect();
    assert_eq!(versions, expected);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let (_store, database) = fresh_store().await;
    let server = PgServer::shared();
    let newer = PostgresStore::schema_version() as i32 + 1;
    let client = server.connect(&database).await.unwrap();
    client
        .execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&newer],
        )
        .await
        .unwrap();
    let err = PostgresStore::open(&settings(server, &database))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PostgresError::NewerSchema { found, .. } if found == i64::from(newer)),
        "{err}"
    );
    assert!(
        err.to_string().contains("run the matching release"),
        "{err}"
    );
}

#[tokio::test]
async fn a_commit_writes_alerts_seen_ids_and_cursor_together_or_not_at_all() {
    let (store, _) = fresh_store().await;
    let mut first = commit("live/a", 1, &[alert("a1"), alert("a2")], &["hook", "slack"]);
    first.seen.add = vec![
        SeenKey {
            key: "r1".into(),
            event_ms: 100,
        },
        SeenKey {
            key: "r2".into(),
            event_ms: 200,
        },
        SeenKey {
            key: "r2".into(),
            event_ms: 250,
        },
    ];
    let report = store.commit(&first, &Fence::Sole).await.unwrap();
    assert_eq!((report.inserted, report.duplicates), (2, 0));
    assert_eq!(
        store.load_cursor("live/a").await.unwrap().unwrap().json,
        "{\"at\":1}"
    );
    let seen = store
        .seen("live/a", vec!["r1".into(), "r2".into(), "r3".into()])
        .await
        .unwrap();
    assert_eq!(seen.len(), 2);
    assert!(
        store
            .seen("live/b", vec!["r1".into()])
            .await
            .unwrap()
            .is_empty()
    );

    // A cursor PostgreSQL cannot store (a NUL byte) fails the commit after its alerts and
    // seen ids were written in the transaction: none of them may remain.
    let mut broken = commit("live/a", 2, &[alert("a3")], &["hook"]);
    broken.cursor.json = "{\"at\":\"\u{0}\"}".into();
    broken.seen.add = vec![SeenKey {
        key: "r9".into(),
        event_ms: 300,
    }];
    broken.seen.forget_before_ms = Some(150);
    assert!(store.commit(&broken, &Fence::Sole).await.is_err());
    assert_eq!(
        store.load_cursor("live/a").await.unwrap().unwrap().json,
        "{\"at\":1}"
    );
    let seen = store
        .seen("live/a", vec!["r1".into(), "r9".into()])
        .await
        .unwrap();
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["r1"]);
    assert_eq!(pending_ids(&store, "hook").await, ["a1", "a2"]);

    // A re-read of the same alerts queues nothing again; forgetting old ids works.
    let mut again = commit("live/a", 3, &[alert("a2"), alert("a3")], &["hook"]);
    again.seen.forget_before_ms = Some(150);
    let report = store.commit(&again, &Fence::Sole).await.unwrap();
    assert_eq!((report.inserted, report.duplicates), (1, 1));
    assert!(
        store
            .seen("live/a", vec!["r1".into()])
            .await
            .unwrap()
            .is_empty()
    );
    store.delete_cursor("live/a").await.unwrap();
    assert!(store.load_cursor("live/a").await.unwrap().is_none());
    assert!(
        store
            .seen("live/a", vec!["r2".into()])
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commits_of_the_same_alerts_enqueue_each_once() {
    let (store, database) = fresh_store().await;
    // A second pool: another replica.
    let other = PostgresStore::open(&settings(PgServer::shared(), &database))
        .await
        .unwrap();
    let alerts: Vec<Alert> = (0..40).map(|i| alert(&format!("race-{i}"))).collect();
    let mut inserted = 0;
    let mut duplicates = 0;
    for chunk in alerts.chunks(4) {
        let a = commit("live/x", 1, chunk, &["hook"]);
        let b = commit("live/y", 1, chunk, &["hook"]);
        let (ra, rb) = tokio::join!(
            store.commit(&a, &Fence::Sole),
            other.commit(&b, &Fence::Sole)
        );
        for report in [ra.unwrap(), rb.unwrap()] {
            inserted += report.inserted;
            duplicates += report.duplicates;
        }
    }
    assert_eq!((inserted, duplicates), (40, 40));
    let pending = store.pending("hook", 100).await.unwrap().ready;
    let mut ids: Vec<String> = pending.iter().map(|p| p.alert.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    assert_eq!(pending.len(), 40);
}

#[tokio::test]
async fn the_outbox_delivers_in_order_and_keeps_dead_letters() {
    let (store, _) = fresh_store().await;
    let alerts: Vec<Alert> = (0..4).map(|i| alert(&format!("o{i}"))).collect();
    store
        .commit(
            &commit("live/a", 1, &alerts, &["hook", "slack"]),
            &Fence::Sole,
        )
        .await
        .unwrap();

    let pending = store.pending("hook", 10).await.unwrap().ready;
    let ids: Vec<&str> = pending.iter().map(|p| p.alert.id.as_str()).collect();
    assert_eq!(ids, ["o0", "o1", "o2", "o3"]);
    assert!(pending.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(store.pending("hook", 2).await.unwrap().ready.len(), 2);

    store.mark_delivered("hook", pending[0].seq).await.unwrap();
    store.mark_delivered("hook", pending[0].seq).await.unwrap();
    store
        .mark_failed("hook", pending[1].seq, "503 from receiver", false)
        .await
        .unwrap();
    store
        .mark_failed("hook", pending[2].seq, "400 bad request", true)
        .await
        .unwrap();
    let next = store.pending("hook", 10).await.unwrap().ready;
    let ids: Vec<(&str, u32)> = next
        .iter()
        .map(|p| (p.alert.id.as_str(), p.attempts))
        .collect();
    assert_eq!(ids, [("o1", 1), ("o3", 0)]);

    let dead = store
        .deliveries(&[DeliveryState::Dead], Some("hook"), 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].alert.id, "o2");
    assert_eq!(dead[0].last_error.as_deref(), Some("400 bad request"));
    let delivered = store
        .deliveries(&[DeliveryState::Delivered], None, 10)
        .await
        .unwrap();
    assert_eq!(
        (delivered.len(), delivered[0].attempts),
        (1, 1),
        "a repeated mark counts once"
    );
    let all = store
        .deliveries(
            &[
                DeliveryState::Pending,
                DeliveryState::Delivered,
                DeliveryState::Dead,
            ],
            None,
            100,
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 8);
    assert!(all.windows(2).all(|w| w[0].seq >= w[1].seq), "newest first");

    let mut counts = store.delivery_counts().await.unwrap();
    counts.sort();
    let expected = [
        ("hook".to_owned(), DeliveryState::Pending, 2),
        ("hook".to_owned(), DeliveryState::Delivered, 1),
        ("hook".to_owned(), DeliveryState::Dead, 1),
        ("slack".to_owned(), DeliveryState::Pending, 4),
    ];
    assert_eq!(counts, expected);
    let rules = store.alert_counts().await.unwrap();
    assert_eq!(
        (rules.len(), rules[0].source.as_str(), rules[0].count),
        (1, "eks-prod", 4)
    );

    assert_eq!(store.requeue_dead(Some("slack"), None).await.unwrap(), 0);
    assert_eq!(store.requeue_dead(None, Some("o2")).await.unwrap(), 1);
    assert_eq!(pending_ids(&store, "hook").await, ["o1", "o2", "o3"]);
}

#[tokio::test]
async fn an_unreadable_alert_is_reported_beside_the_readable_ones_and_reading_writes_nothing() {
    let (store, database) = fresh_store().await;
    store
        .commit(
            &commit("live/a", 1, &[alert("bad"), alert("good")], &["hook"]),
            &Fence::Sole,
        )
        .await
        .unwrap();
    let client = PgServer::shared().connect(&database).await.unwrap();
    client
        .execute("UPDATE alerts SET body = '{not json' WHERE id = 'bad'", &[])
        .await
        .unwrap();
    let batch = store.pending("hook", 10).await.unwrap();
    let ready: Vec<&str> = batch.ready.iter().map(|p| p.alert.id.as_str()).collect();
    assert_eq!(ready, ["good"]);
    assert_eq!(batch.unreadable.len(), 1);
    let bad_seq = batch.unreadable[0].seq;
    assert!(batch.ready[0].seq > bad_seq, "the damaged row is older");
    // Reading left it pending; the deliverer dead-letters it explicitly.
    let counts = store.delivery_counts().await.unwrap();
    assert_eq!(counts, [("hook".to_owned(), DeliveryState::Pending, 2)]);
    store
        .mark_failed("hook", bad_seq, &batch.unreadable[0].error, true)
        .await
        .unwrap();
    assert!(
        store
            .pending("hook", 10)
            .await
            .unwrap()
            .unreadable
            .is_empty()
    );
}

#[tokio::test]
async fn a_missing_database_is_a_clear_error_not_worth_retrying() {
    let server = PgServer::shared();
    let err = PostgresStore::open(&settings(server, "npw_no_such_database"))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(!err.is_transient(), "{message}");
    assert!(message.contains("npw_no_such_database"), "{message}");
    assert!(message.contains("does not exist"), "{message}");
}

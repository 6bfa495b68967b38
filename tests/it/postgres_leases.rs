//! Leases on the PostgreSQL store against a real server: change of hands with a new epoch,
//! expiry by the database's clock, fenced commits refused after a takeover, and the fleet-wide
//! claims (scan occurrences, replica registry).
//!
//! Expiry is simulated by moving a lease's `expires_at` into the past in the database (the
//! clock the store trusts) instead of sleeping through a TTL.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use nodeport_watch::state::postgres::{PostgresError, PostgresStore};

use crate::postgres_store::{fresh_store, pending_ids, settings};
use crate::support::fixtures::alert;
use crate::support::postgres::PgServer;
use crate::support::store::commit;
use crate::support::wait::eventually;

const TTL: Duration = Duration::from_secs(60);

async fn expire(database: &str, lease: &str) {
    let client = PgServer::shared().connect(database).await.unwrap();
    client
        .execute(
            "UPDATE leases SET expires_at = now() - INTERVAL '1 second' WHERE name = $1",
            &[&lease],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lease_changes_hands_only_when_free_and_each_change_bumps_the_epoch() {
    let (store, database) = fresh_store().await;
    let first = store
        .acquire_lease("source/eks", "r1", TTL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.owner.as_str(), first.epoch), ("r1", 1));
    assert!(first.expires_at > Utc::now() + chrono::Duration::seconds(30));
    assert!(
        store
            .acquire_lease("source/eks", "r2", TTL)
            .await
            .unwrap()
            .is_none()
    );
    let again = store
        .acquire_lease("source/eks", "r1", TTL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.epoch, again.acquired_at),
        (1, first.acquired_at),
        "holding it keeps the epoch"
    );
    let renewed = store.renew_lease(&again, TTL).await.unwrap();
    assert_eq!(renewed.epoch, 1);

    expire(&database, "source/eks").await;
    let err = store.renew_lease(&renewed, TTL).await.unwrap_err();
    assert!(
        matches!(err, PostgresError::LeaseLost { epoch: 1, .. }),
        "{err}"
    );
    let taken = store
        .acquire_lease("source/eks", "r2", TTL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((taken.owner.as_str(), taken.epoch), ("r2", 2));
    assert!(
        store
            .acquire_lease("source/eks", "r1", TTL)
            .await
            .unwrap()
            .is_none()
    );

    assert!(
        !store.release_lease(&renewed).await.unwrap(),
        "an old epoch releases nothing"
    );
    assert!(store.release_lease(&taken).await.unwrap());
    let back = store
        .acquire_lease("source/eks", "r1", TTL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (back.owner.as_str(), back.epoch),
        ("r1", 3),
        "no waiting after a release"
    );

    // The same owner coming back after its lease lapsed gets a new epoch too: work it started
    // under the old one must not be able to commit.
    expire(&database, "source/eks").await;
    let lapsed = store
        .acquire_lease("source/eks", "r1", TTL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lapsed.epoch, 4);

    store
        .acquire_lease("sink/hook", "r2", TTL)
        .await
        .unwrap()
        .unwrap();
    let leases = store.leases().await.unwrap();
    let listed: Vec<(&str, &str, i64, bool)> = leases
        .iter()
        .map(|l| {
            (
                l.lease.name.as_str(),
                l.lease.owner.as_str(),
                l.lease.epoch,
                l.live,
            )
        })
        .collect();
    assert_eq!(
        listed,
        [("sink/hook", "r2", 1, true), ("source/eks", "r1", 4, true)]
    );
}

#[tokio::test]
async fn a_commit_under_a_lost_lease_is_refused_and_writes_nothing() {
    let (store, database) = fresh_store().await;
    let mine = store
        .acquire_lease("source/eks", "r1", TTL)
        .await
        .unwrap()
        .unwrap();
    let report = store
        .commit(
            &commit("live/eks", 1, &[alert("f1")], &["hook"]),
            &mine.fence(),
        )
        .await
        .unwrap();
    assert_eq!(report.inserted, 1);

    // r1 pauses past its lease; r2 takes over and moves on.
    expire(&database, "source/eks").await;
    let refused = store
        .commit(
            &commit("live/eks", 2, &[alert("f2")], &["hook"]),
            &mine.fence(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, PostgresError::LeaseLost { .. }),
        "expired: {refused}"
    );
    let theirs = store
        .acquire_lease("source/eks", "r2", TTL)
        .await
        .unwrap()
        .unwrap();
    store
        .commit(
            &commit("live/eks", 3, &[alert("f3")], &["hook"]),
            &theirs.fence(),
        )
        .await
        .unwrap();
    let late = store
        .commit(
            &commit("live/eks", 2, &[alert("f2")], &["hook"]),
            &mine.fence(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(late, PostgresError::LeaseLost { epoch: 1, .. }),
        "taken over: {late}"
    );
    assert!(late.to_string().contains("source/eks"));
    let unknown = nodeport_watch::state::Fence::Lease(nodeport_watch::state::LeaseToken {
        key: "source/none".into(),
        owner: "r1".into(),
        epoch: 1,
    });
    assert!(
        store
            .commit(&commit("live/none", 1, &[], &[]), &unknown)
            .await
            .is_err()
    );

    assert_eq!(
        store.load_cursor("live/eks").await.unwrap().unwrap().json,
        "{\"at\":3}"
    );
    assert_eq!(pending_ids(&store, "hook").await, ["f1", "f3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_waits_for_a_fenced_commit_in_flight() {
    let (store, database) = fresh_store().await;
    let other = PostgresStore::open(&settings(PgServer::shared(), &database))
        .await
        .unwrap();
    let mine = store
        .acquire_lease("source/eks", "r1", TTL)
        .await
        .unwrap()
        .unwrap();
    expire(&database, "source/eks").await;
    // Hold the lease row as a commit's fence check does, in an open transaction.
    let mut client = PgServer::shared().connect(&database).await.unwrap();
    let tx = client.transaction().await.unwrap();
    tx.query_one(
        "SELECT epoch FROM leases WHERE name = 'source/eks' FOR SHARE",
        &[],
    )
    .await
    .unwrap();
    let takeover = tokio::spawn(async move { other.acquire_lease("source/eks", "r2", TTL).await });
    // The takeover's session waits on the row lock (seen by the server), not on anything else.
    // Watched from another session: a transaction sees one snapshot of the statistics.
    let watcher = PgServer::shared().connect(&database).await.unwrap();
    eventually(
        "the takeover to wait on the lease row",
        Duration::from_secs(20),
        async || {
            let row = watcher
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                )
                .await
                .ok()?;
            (row.get::<_, i64>(0) == 1).then_some(())
        },
    )
    .await;
    assert!(
        !takeover.is_finished(),
        "the takeover did not wait for the row lock"
    );
    tx.commit().await.unwrap();
    let taken = takeover.await.unwrap().unwrap().unwrap();
    assert_eq!(taken.epoch, mine.epoch + 1);
}

#[tokio::test]
async fn a_scan_occurrence_runs_on_one_replica() {
    let (store, database) = fresh_store().await;
    let other = PostgresStore::open(&settings(PgServer::shared(), &database))
        .await
        .unwrap();
    let due = Utc.with_ymd_and_hms(2026, 12, 1, 3, 0, 0).unwrap();
    let (a, b) = tokio::join!(
        store.claim_occurrence("nightly", due, "r1"),
        other.claim_occurrence("nightly", due, "r2")
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a ^ b, "exactly one replica runs it: r1={a} r2={b}");
    let winner = if a { "r1" } else { "r2" };
    assert!(
        store
            .claim_occurrence("nightly", due, winner)
            .await
            .unwrap(),
        "a retry by the winner"
    );
    let next = due + chrono::Duration::days(1);
    assert!(store.claim_occurrence("nightly", next, "r2").await.unwrap());
}

#[tokio::test]
async fn replicas_register_and_heartbeat() {
    let (store, _) = fresh_store().await;
    store.heartbeat_replica("r1", "pod-a").await.unwrap();
    store.heartbeat_replica("r2", "pod-b").await.unwrap();
    let first = store.replicas(TTL).await.unwrap();
    store.heartbeat_replica("r1", "pod-a").await.unwrap();
    let second = store.replicas(TTL).await.unwrap();
    let ids: Vec<&str> = second.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["r1", "r2"]);
    assert_eq!(second[0].started_at, first[0].started_at);
    assert!(second[0].heartbeat_at >= first[0].heartbeat_at);
    store.forget_replica("r2").await.unwrap();
    assert_eq!(store.replicas(TTL).await.unwrap().len(), 1);
    assert!(store.replicas(Duration::ZERO).await.unwrap().is_empty());
}

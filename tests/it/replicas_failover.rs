//! Replicas failing, as real processes of the binary on PostgreSQL (see `support::fleet`):
//! - kill -9 of a replica: its sources are taken over within two poll intervals plus the lease
//!   time, and every alert still reaches the webhook exactly once;
//! - SIGSTOP of a replica past its lease, then SIGCONT: its work stops on waking (the local
//!   deadline passed, or its commit is refused by the fence), nothing is sent twice, and it
//!   rejoins with a share of the sources;
//! - PostgreSQL restarted under running replicas: they reconnect and nothing is lost (a
//!   delivery the store could not record during the outage may be sent again, same id).

use std::time::{Duration, Instant};

use crate::support::fleet::{Fleet, INTERVAL, TTL, WAIT, one_at_a_time};
use crate::support::postgres::PgServer;
use crate::support::wait::eventually;

/// Polling for the takeover and process scheduling on a loaded 2-core machine: what the
/// measurement itself may add to the bound.
const SLACK: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_is_taken_over_in_time_and_a_paused_one_cannot_commit() {
    let _fleet = one_at_a_time().await;
    let pairs = [("gke-a", "pa"), ("gke-b", "pb"), ("gke-c", "pc")];
    let mut fleet = Fleet::new(PgServer::shared(), &pairs, 60).await;
    for _ in 0..3 {
        fleet.spawn();
    }
    eventually("each replica to hold one source", WAIT, async || {
        let spread = fleet.spread().await;
        let sources = fleet
            .leases()
            .await
            .into_iter()
            .filter(|l| l.live && l.name.starts_with("source/"))
            .map(|l| l.owner)
            .collect::<std::collections::HashSet<_>>();
        (spread.len() == 3 && sources.len() == 3).then_some(())
    })
    .await;
    let mut expected = 0;
    for (_, project) in pairs {
        fleet.insert(project);
        expected += 1;
    }
    fleet.wait_for_alerts(expected, WAIT).await;

    // kill -9 the holder of gke-a: another replica takes it once the lease expires.
    let victim = fleet.daemon_holding("source/gke-a").await;
    let victim_id = fleet.replica_id(victim).await;
    let killed = Instant::now();
    fleet.daemons[victim].kill9();
    let heir = fleet.heir("source/gke-a", &victim_id).await;
    let takeover = killed.elapsed();
    let bound = INTERVAL * 2 + TTL;
    assert!(
        takeover <= bound + SLACK,
        "gke-a taken over by {heir} after {takeover:?}; bound {bound:?}"
    );
    // Its sink too, if the victim delivered: every alert written since still arrives.
    fleet.insert("pa");
    fleet.insert("pb");
    expected += 2;
    fleet.wait_for_alerts(expected, WAIT).await;

    // SIGSTOP the holder of gke-b past its lease, then let it go on.
    let paused = fleet.daemon_holding("source/gke-b").await;
    let paused_id = fleet.replica_id(paused).await;
    fleet.signal(paused, "STOP");
    eventually("gke-b taken from the paused replica", WAIT, async || {
        fleet
            .holder("source/gke-b")
            .await
            .filter(|owner| *owner != paused_id)
    })
    .await;
    fleet.insert("pb");
    fleet.insert("pc");
    expected += 2;
    fleet.wait_for_alerts(expected, WAIT).await;
    fleet.signal(paused, "CONT");
    let log = eventually(
        "the woken replica to stop its stale work",
        WAIT,
        async || {
            let log = fleet.log(paused);
            (log.contains("lease not renewed in time")
                || log.contains("commit refused")
                || log.contains("lease lost"))
            .then_some(log)
        },
    )
    .await;
    assert!(!log.contains("panicked"), "{log}");
    // It rejoins: two live replicas and three sources, so it gets one back.
    eventually(
        "the woken replica to hold a source again",
        WAIT,
        async || {
            fleet
                .leases()
                .await
                .into_iter()
                .any(|l| l.live && l.name.starts_with("source/") && l.owner == paused_id)
                .then_some(())
        },
    )
    .await;
    for (_, project) in pairs {
        fleet.insert(project);
        expected += 1;
    }
    fleet.wait_for_alerts(expected, WAIT).await;
    for i in (0..3).filter(|i| *i != victim) {
        assert!(fleet.daemons[i].terminate().success(), "{}", fleet.log(i));
    }
    fleet.assert_each_once(expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_reconnect_after_postgres_restarts_and_lose_nothing() {
    let _fleet = one_at_a_time().await;
    let server = tokio::task::spawn_blocking(PgServer::start).await.unwrap();
    let pairs = [("gke-a", "pa"), ("gke-b", "pb")];
    let mut fleet = Fleet::new(&server, &pairs, 60).await;
    fleet.spawn();
    fleet.spawn();
    let mut expected = 0;
    for (_, project) in pairs {
        fleet.insert(project);
        expected += 1;
    }
    fleet.wait_for_alerts(expected, WAIT).await;

    server.restart();
    // Written while the replicas were cut off or reconnecting.
    for (_, project) in pairs {
        fleet.insert(project);
        expected += 1;
    }
    fleet.wait_for_alerts(expected, WAIT).await;
    eventually("both sources held again", WAIT, async || {
        let held = fleet
            .leases()
            .await
            .into_iter()
            .filter(|l| l.live && l.name.starts_with("source/"))
            .count();
        (held == 2).then_some(())
    })
    .await;
    for (_, project) in pairs {
        fleet.insert(project);
        expected += 1;
    }
    fleet.wait_for_alerts(expected, WAIT).await;
    for i in 0..2 {
        assert!(fleet.daemons[i].terminate().success(), "{}", fleet.log(i));
    }
    fleet.assert_none_lost(expected);
    assert!(!fleet.log(0).contains("panicked") && !fleet.log(1).contains("panicked"));
}

//! Replicas of the daemon sharing one PostgreSQL database, as real processes of the binary over
//! Cloud Logging sources on the local fake (see `support::fleet`):
//! - three replicas over six sources: each takes two, and every alert reaches the webhook once;
//!   each is ready judging only its own sources, and one alone exports the outbox totals;
//! - a replica joining takes its share from the one holding everything, and the units of one
//!   leaving (gracefully: it releases them) move to the one left, before the leases expire;
//! - three replicas reading one project stay within its `entries.list` budget together, as the
//!   fake counts it, where each alone would use all of it.

use std::time::{Duration, Instant};

use crate::support::fleet::{Fleet, TTL, WAIT, one_at_a_time};
use crate::support::postgres::PgServer;
use crate::support::wait::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_the_sources_and_deliver_every_alert_once() {
    let _fleet = one_at_a_time().await;
    let sources: Vec<(String, String)> = (0..6)
        .map(|i| (format!("gke-{i}"), format!("p{i}")))
        .collect();
    let pairs: Vec<(&str, &str)> = sources
        .iter()
        .map(|(s, p)| (s.as_str(), p.as_str()))
        .collect();
    let mut fleet = Fleet::new(PgServer::shared(), &pairs, 60).await;
    // Some alerts wait in the logs before any replica starts, more come while they run.
    let mut expected = 0;
    for (_, project) in &sources {
        fleet.insert(project);
        expected += 1;
    }
    for _ in 0..3 {
        fleet.spawn();
    }
    let spread = fleet.wait_for_spread(3, 2).await;
    for i in 0..3 {
        let id = fleet.replica_id(i).await;
        assert_eq!(spread.get(&id), Some(&2), "{id} in {spread:?}");
    }
    for _ in 0..3 {
        for (_, project) in &sources {
            fleet.insert(project);
            expected += 1;
        }
        fleet.wait_for_alerts(expected, WAIT).await;
    }
    // One sink, one deliverer in the fleet.
    let sink_holders: Vec<_> = fleet
        .leases()
        .await
        .into_iter()
        .filter(|l| l.name == "sink/hook" && l.live)
        .collect();
    assert_eq!(sink_holders.len(), 1, "{sink_holders:?}");
    // Each replica is ready and judges only its own sources; one exports the outbox totals.
    let metrics_holder = fleet.daemon_holding("fleet/metrics").await;
    for i in 0..3 {
        let body = eventually("the replica to be ready", WAIT, async || {
            fleet
                .get(i, "/readyz")
                .await
                .filter(|(status, _)| *status == 200)
                .map(|(_, body)| body)
        })
        .await;
        assert!(body.contains("leases: ok (held: "), "{body}");
        assert_eq!(
            body.matches("polled by another replica").count(),
            4,
            "{body}"
        );
        let (_, metrics) = fleet.get(i, "/metrics").await.unwrap();
        assert_eq!(
            metrics.contains("nodeport_watch_outbox_deliveries{"),
            i == metrics_holder,
            "replica {i}, holder {metrics_holder}"
        );
    }
    for i in 0..3 {
        assert!(fleet.daemons[i].terminate().success(), "{}", fleet.log(i));
    }
    fleet.assert_each_once(expected);
    for i in 0..3 {
        let log = fleet.log(i);
        assert!(!log.contains("commit refused"), "{log}");
        assert!(!log.contains("panicked"), "{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ownership_rebalances_when_a_replica_joins_and_when_one_leaves() {
    let _fleet = one_at_a_time().await;
    let pairs = [("a", "pa"), ("b", "pb"), ("c", "pc"), ("d", "pd")];
    let mut fleet = Fleet::new(PgServer::shared(), &pairs, 60).await;
    let first = fleet.spawn();
    let first_id = fleet.replica_id(first).await;
    fleet.wait_for_spread(1, 4).await;

    // A second replica joins: the first gives up its surplus, one unit at a time.
    let second = fleet.spawn();
    let second_id = fleet.replica_id(second).await;
    let spread = fleet.wait_for_spread(2, 2).await;
    assert_eq!(spread.get(&first_id), Some(&2));
    assert_eq!(spread.get(&second_id), Some(&2));
    let moved: Vec<_> = fleet
        .leases()
        .await
        .into_iter()
        .filter(|l| l.name.starts_with("source/") && l.owner == second_id)
        .collect();
    assert!(
        moved.iter().all(|l| l.epoch >= 2),
        "taken from the first replica, with a new epoch: {moved:?}"
    );
    // Alerts keep flowing through the handover.
    for (_, project) in pairs {
        fleet.insert(project);
    }
    fleet.wait_for_alerts(4, WAIT).await;

    // The first leaves gracefully: it releases its leases, so the second takes them at its
    // next tick instead of waiting for them to expire.
    let left = Instant::now();
    assert!(
        fleet.daemons[first].terminate().success(),
        "{}",
        fleet.log(first)
    );
    let stopped = left.elapsed();
    fleet.wait_for_spread(1, 4).await;
    let taken = left.elapsed() - stopped;
    assert!(
        taken < TTL,
        "released leases were taken in {taken:?}, no faster than waiting for expiry ({TTL:?})"
    );
    for (_, project) in pairs {
        fleet.insert(project);
    }
    fleet.wait_for_alerts(8, WAIT).await;
    assert!(
        fleet.daemons[second].terminate().success(),
        "{}",
        fleet.log(second)
    );
    fleet.assert_each_once(8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_on_one_project_stay_within_its_budget_together() {
    let _fleet = one_at_a_time().await;
    // Three sources on one project, 20 requests a minute: each replica alone would send 20 a
    // minute (its sources poll every second, far more often than the budget allows).
    const BUDGET: usize = 20;
    let pairs = [("q1", "q"), ("q2", "q"), ("q3", "q")];
    let mut fleet = Fleet::new(PgServer::shared(), &pairs, BUDGET as u32).await;
    for _ in 0..3 {
        fleet.spawn();
    }
    fleet.wait_for_spread(3, 1).await;
    fleet.insert("q");
    fleet.wait_for_alerts(1, WAIT).await;
    // Long enough that three full budgets (one per replica) would show: 3 × 20/min × 40 s = 40
    // requests, twice the budget.
    let watched = Instant::now();
    let before = fleet.api.requests().len();
    eventually("40 s of polling", Duration::from_secs(90), async || {
        (watched.elapsed() >= Duration::from_secs(40)).then_some(())
    })
    .await;
    let sent = fleet.api.requests().len() - before;
    let worst = fleet.api.max_requests_in_a_minute("q");
    for i in 0..3 {
        assert!(fleet.daemons[i].terminate().success(), "{}", fleet.log(i));
    }
    assert!(
        worst <= BUDGET,
        "{worst} requests for project q in one minute, over the budget of {BUDGET}"
    );
    // And the budget is used, not starved: about 2/3 of it in 40 s.
    assert!(sent >= BUDGET / 2, "only {sent} requests in 40 s");
    fleet.assert_each_once(1);
}

//! Replicas of the daemon over CloudWatch Logs on moto, as real processes of the binary sharing
//! one PostgreSQL database (see `support::fleet` and `support::fleet_aws`): the AWS side of
//! `replicas` and `replicas_failover`.
//! - three replicas over three sources: one source each, every alert delivered exactly once;
//! - kill -9 of the holder of a source: taken over within two poll intervals plus the lease
//!   time, and the events written after the kill alert exactly once;
//! - three replicas over sources in one account and region stay within its FilterLogEvents
//!   budget together, as the proxy counts it, where each alone would use all of it.

use std::time::{Duration, Instant};

use crate::support::fleet::{Fleet, INTERVAL, TTL, WAIT, one_at_a_time};
use crate::support::fleet_aws::FILTER_QUOTA;
use crate::support::postgres::PgServer;
use crate::support::wait::eventually;

/// Polling for the takeover and process scheduling on a loaded 2-core machine: what the
/// measurement itself may add to the bound (as in `replicas_failover`).
const SLACK: Duration = Duration::from_secs(2);

const GROUPS: [&str; 3] = [
    "/aws/eks/alpha/cluster",
    "/aws/eks/beta/cluster",
    "/aws/eks/gamma/cluster",
];

/// One source per log group, with a budget that never holds the polls back.
fn one_group_each() -> [(&'static str, &'static [&'static str]); 3] {
    [
        ("eks-a", &GROUPS[0..1]),
        ("eks-b", &GROUPS[1..2]),
        ("eks-c", &GROUPS[2..3]),
    ]
}

/// Stops the daemons still running, then checks that every alert of `expected` (audit IDs)
/// was delivered exactly once and that no log shows a panic.
fn stop_and_check<S>(fleet: &mut Fleet<'_, S>, mut expected: Vec<String>) {
    for i in 0..fleet.daemons.len() {
        if fleet.daemons[i].is_running() {
            assert!(fleet.daemons[i].terminate().success(), "{}", fleet.log(i));
        }
        assert!(!fleet.log(i).contains("panicked"), "{}", fleet.log(i));
    }
    expected.sort();
    assert_eq!(fleet.delivered_audit_ids(), expected);
    fleet.assert_each_once(expected.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_three_replicas_take_a_source_each_and_deliver_every_alert_once() {
    let _fleet = one_at_a_time().await;
    let mut fleet = Fleet::aws(PgServer::shared(), &one_group_each(), 100).await;
    // Some alerts wait in the log groups before any replica starts, more come while they run.
    let mut expected = Vec::new();
    for group in GROUPS {
        expected.push(fleet.put(group).await);
    }
    for _ in 0..3 {
        fleet.spawn();
    }
    let spread = fleet.wait_for_spread(3, 1).await;
    for i in 0..3 {
        let id = fleet.replica_id(i).await;
        assert_eq!(spread.get(&id), Some(&1), "{id} in {spread:?}");
    }
    for _ in 0..2 {
        for group in GROUPS {
            expected.push(fleet.put(group).await);
        }
        fleet.wait_for_alerts(expected.len(), WAIT).await;
    }
    let sink_holders: Vec<_> = fleet
        .leases()
        .await
        .into_iter()
        .filter(|l| l.name == "sink/hook" && l.live)
        .collect();
    assert_eq!(sink_holders.len(), 1, "one deliverer: {sink_holders:?}");
    stop_and_check(&mut fleet, expected);
    for i in 0..3 {
        assert!(!fleet.log(i).contains("commit refused"), "{}", fleet.log(i));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_killed_replicas_source_is_taken_over_in_time_and_alerts_once() {
    let _fleet = one_at_a_time().await;
    let mut fleet = Fleet::aws(PgServer::shared(), &one_group_each(), 100).await;
    for _ in 0..3 {
        fleet.spawn();
    }
    fleet.wait_for_spread(3, 1).await;
    let mut expected = Vec::new();
    for group in GROUPS {
        expected.push(fleet.put(group).await);
    }
    fleet.wait_for_alerts(expected.len(), WAIT).await;
    // Nothing in flight to the webhook: what reaches it twice would be the failover's doing.
    fleet.wait_for_outbox_settled().await;

    let victim = fleet.daemon_holding("source/eks-a").await;
    let victim_id = fleet.replica_id(victim).await;
    let killed = Instant::now();
    fleet.daemons[victim].kill9();
    // Written after the kill, into every group: the victim's, and the others (whose alerts
    // may wait for the webhook's lease, if the victim held it).
    for group in GROUPS {
        expected.push(fleet.put(group).await);
    }
    let heir = fleet.heir("source/eks-a", &victim_id).await;
    let takeover = killed.elapsed();
    let bound = INTERVAL * 2 + TTL;
    assert!(
        takeover <= bound + SLACK,
        "eks-a taken over by {heir} after {takeover:?}; bound {bound:?}"
    );
    fleet.wait_for_alerts(expected.len(), WAIT).await;
    expected.push(fleet.put(GROUPS[0]).await);
    fleet.wait_for_alerts(expected.len(), WAIT).await;
    stop_and_check(&mut fleet, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_three_replicas_in_one_account_stay_within_its_filter_budget_together() {
    let _fleet = one_at_a_time().await;
    // FilterLogEvents requests per second for the account and region, shared by the fleet.
    const BUDGET: u32 = 2;
    const WINDOW: Duration = Duration::from_secs(10);
    // Three groups per source, polled every second: each source asks for at least three
    // requests a second, so each replica alone would use the whole budget.
    let sources: [(&str, &[&str]); 3] = [
        (
            "q1",
            &[
                "/aws/eks/q1a/cluster",
                "/aws/eks/q1b/cluster",
                "/aws/eks/q1c/cluster",
            ],
        ),
        (
            "q2",
            &[
                "/aws/eks/q2a/cluster",
                "/aws/eks/q2b/cluster",
                "/aws/eks/q2c/cluster",
            ],
        ),
        (
            "q3",
            &[
                "/aws/eks/q3a/cluster",
                "/aws/eks/q3b/cluster",
                "/aws/eks/q3c/cluster",
            ],
        ),
    ];
    let mut fleet = Fleet::aws(PgServer::shared(), &sources, BUDGET).await;
    let mut expected = Vec::new();
    for (_, groups) in sources {
        expected.push(fleet.put(groups[0]).await);
    }
    for _ in 0..3 {
        fleet.spawn();
    }
    fleet.wait_for_spread(3, 1).await;
    // Every source lease records the account's FilterLogEvents key, so the three replicas
    // split one budget.
    for (name, _) in sources {
        let lease = format!("source/{name}");
        eventually(
            &format!("{lease} to record its quota keys"),
            WAIT,
            async || {
                fleet
                    .quota_keys(&lease)
                    .await
                    .contains(&FILTER_QUOTA.to_owned())
                    .then_some(())
            },
        )
        .await;
    }
    // Each source has read its first group on its share: the fleet is past its start.
    fleet.wait_for_alerts(expected.len(), WAIT).await;

    let before = fleet.api.proxy.filter_calls();
    let watched = Instant::now();
    eventually("the window of polling", WAIT, async || {
        (watched.elapsed() >= WINDOW).then_some(())
    })
    .await;
    let sent = fleet.api.proxy.filter_calls() - before;
    let window = watched.elapsed();
    // The bound. Each replica holds one of the three leases on the key, so it runs its limiter
    // at a third of the budget: 2/3 of a request a second, which `Budget::scaled` runs as one
    // request every 1.5 s with a burst of one, and such a limiter lets through at most
    // `1 + t / 1.5 s` requests in any t seconds. The three together: `3 + t × BUDGET`. The proxy
    // counts arrivals, not admissions: a request admitted just before the window may arrive
    // in it, so t is the window plus 1 s of transit on a loaded machine. Three full budgets
    // (no split) would send `3 × BUDGET` a second, about three times the slope.
    let t = window.as_secs_f64() + 1.0;
    let bound = 3 + (t * f64::from(BUDGET)).floor() as u64;
    assert!(
        sent <= bound,
        "{sent} FilterLogEvents calls in {window:?}, over the fleet's bound of {bound}"
    );
    // And the budget is used, not starved.
    let used = (window.as_secs_f64() * f64::from(BUDGET) / 2.0) as u64;
    assert!(sent >= used, "only {sent} calls in {window:?}");
    stop_and_check(&mut fleet, expected);
}

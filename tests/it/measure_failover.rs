//! (ignored; run explicitly) Failover time over repeated kills (issue 13): three replicas of the
//! debug binary on PostgreSQL over three GKE projects on the fake; ten times, kill -9 the
//! replica holding `source/gke-a`, time until another replica holds it, and start a fresh
//! replica in its place. Prints the median and the worst takeover against the bound (two poll
//! intervals plus the lease time), then checks that every alert written meanwhile arrived.
//!
//! `cargo test --locked --test it measure_failover -- --ignored --nocapture`

use std::time::{Duration, Instant};

use crate::support::fleet::{Fleet, INTERVAL, TTL, WAIT, one_at_a_time};
use crate::support::postgres::PgServer;
use crate::support::wait::eventually;

const KILLS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run explicitly"]
async fn measure_failover_over_repeated_kills() {
    let _fleet = one_at_a_time().await;
    let pairs = [("gke-a", "pa"), ("gke-b", "pb"), ("gke-c", "pc")];
    let mut fleet = Fleet::new(PgServer::shared(), &pairs, 60).await;
    for _ in 0..3 {
        fleet.spawn();
    }
    eventually("the sources to be spread", WAIT, async || {
        (fleet.spread().await.len() == 3).then_some(())
    })
    .await;

    let mut takeovers = Vec::new();
    let mut expected = 0;
    for kill in 0..KILLS {
        fleet.insert("pa");
        expected += 1;
        fleet.wait_for_alerts(expected, WAIT).await;
        let victim = fleet.daemon_holding("source/gke-a").await;
        let victim_id = fleet.replica_id(victim).await;
        let killed = Instant::now();
        fleet.daemons[victim].kill9();
        fleet.heir("source/gke-a", &victim_id).await;
        let took = killed.elapsed();
        println!("kill {}: taken over after {took:?}", kill + 1);
        takeovers.push(took);
        fleet.spawn();
    }
    fleet.insert("pa");
    expected += 1;
    fleet.wait_for_alerts(expected, WAIT).await;
    fleet.assert_none_lost(expected);

    takeovers.sort();
    let median = takeovers[takeovers.len() / 2];
    let worst = takeovers[takeovers.len() - 1];
    let bound: Duration = INTERVAL * 2 + TTL;
    println!(
        "failover over {KILLS} kills: median {median:?}, worst {worst:?}, bound {bound:?} \
         (interval {INTERVAL:?}, lease {TTL:?})"
    );
}

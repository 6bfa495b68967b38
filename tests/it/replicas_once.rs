//! Work done once per fleet, on real replicas of the binary sharing PostgreSQL (see
//! `support::fleet`):
//! - a scheduled scan's occurrence is split by source: each replica scans the sources it holds
//!   (within its share of their quota), so no source waits on a replica with no share of it;
//! - the totals read from the shared outbox follow the `fleet/metrics` lease: a replica that
//!   lost it stops exporting them at once, so a sum over replicas never counts them twice.

use crate::support::fleet::{Fleet, WAIT, one_at_a_time};
use crate::support::postgres::PgServer;
use crate::support::wait::eventually;

const SCHEDULE: &str = "\n[[scans]]\nname = \"catchup\"\nevery = \"2s\"\nlookback = \"5m\"\n";
const OUTBOX_SERIES: &str = "nodeport_watch_outbox_deliveries{";

/// Whether daemon `i`'s log, past its first `from` bytes, says a scan of `source` finished.
fn scanned(fleet: &Fleet<'_>, i: usize, from: usize, source: &str) -> bool {
    fleet
        .log(i)
        .get(from..)
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains("scan finished") && l.contains(source))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_scan_runs_each_source_on_its_holder_and_metrics_follow_their_lease() {
    let _fleet = one_at_a_time().await;
    let pairs = [("gke-a", "pa"), ("gke-b", "pb")];
    let mut fleet = Fleet::new(PgServer::shared(), &pairs, 60).await;
    let shared = std::fs::read_to_string(&fleet.config).unwrap();
    std::fs::write(&fleet.config, format!("{shared}{SCHEDULE}")).unwrap();
    fleet.insert("pa");
    fleet.insert("pb");
    fleet.spawn();
    fleet.spawn();
    eventually("each replica to hold one source", WAIT, async || {
        let a = fleet.holder("source/gke-a").await?;
        let b = fleet.holder("source/gke-b").await?;
        (a != b).then_some(())
    })
    .await;
    fleet.wait_for_alerts(2, WAIT).await;

    // From here on, each source's scheduled scan keeps finishing on its holder. (Before, one
    // replica claimed the whole occurrence, and its scan of a source it did not hold (or no
    // longer held) waited for a quota share it never got: its schedule stalled there.)
    let from = [fleet.log(0).len(), fleet.log(1).len()];
    eventually("both sources scanned", WAIT, async || {
        ["gke-a", "gke-b"]
            .iter()
            .all(|source| (0..2).any(|i| scanned(&fleet, i, from[i], source)))
            .then_some(())
    })
    .await;

    // Pause the exporter of the outbox totals past its lease: the other replica takes
    // `fleet/metrics`, and once the paused one runs again it no longer exports them.
    let old = fleet.daemon_holding("fleet/metrics").await;
    let old_id = fleet.replica_id(old).await;
    let other = 1 - old;
    fleet.signal(old, "STOP");
    eventually("fleet/metrics taken over", WAIT, async || {
        fleet
            .holder("fleet/metrics")
            .await
            .filter(|owner| *owner != old_id)
    })
    .await;
    fleet.signal(old, "CONT");
    eventually(
        "only the new holder to export the totals",
        WAIT,
        async || {
            let holder = fleet.holder("fleet/metrics").await?;
            let (_, old_metrics) = fleet.get(old, "/metrics").await?;
            let (_, new_metrics) = fleet.get(other, "/metrics").await?;
            (holder != old_id
                && !old_metrics.contains(OUTBOX_SERIES)
                && new_metrics.contains(OUTBOX_SERIES))
            .then_some(())
        },
    )
    .await;

    for i in 0..2 {
        assert!(fleet.daemons[i].terminate().success(), "{}", fleet.log(i));
    }
    fleet.assert_each_once(2);
}

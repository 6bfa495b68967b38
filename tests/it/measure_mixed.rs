//! 1,000 clusters of all three providers through the binary (issue 13's mixed measurement),
//! run explicitly, never part of the default suite; the numbers are in docs/performance.md:
//!
//! ```text
//! cargo test --release --test it measure_mixed -- --ignored --nocapture --test-threads 1
//! ```
//!
//! 334 EKS clusters on moto (12 accounts × 3 regions, reached by assuming a role in each
//! account), 333 GKE clusters on the fake Cloud Logging (37 projects) and 333 AKS clusters on the
//! fake Log Analytics (37 workspaces, token from the fake `az`); see `support::mixed_fleet`.
//! EKS and AKS poll every 30 s with `lag = "30s"`, GKE every 10 s with `lag = "5s"`. Once on one
//! daemon (SQLite) and once on three replicas sharing PostgreSQL. For each: resident memory,
//! idle CPU (every source polling and finding nothing) and the most threads of each daemon,
//! moto's own CPU over the same time, visible → alert p50/p99/max per provider against
//! interval + lag + 5 s, and requests per minute of the busiest quota key of each provider,
//! counted at the emulators.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::daemon::Daemon;
use crate::support::fleet_run::{delays, idle_sample, start_replica, summary};
use crate::support::mixed_fleet::{MixedFleet, Provider};
use crate::support::postgres::PgServer;
use crate::support::process::cpu_time;
use crate::support::receiver::Receiver;

const EKS: usize = 334;
const GKE: usize = 333;
const AKS: usize = 333;
/// One NodePort Service in every third cluster: 112 + 111 + 111 alerts.
const EVERY: usize = 3;

/// The idle sample of `daemon`, with moto's own CPU over the same time.
async fn sample(daemon: &Daemon, fleet: &MixedFleet) -> String {
    let (started, moto_before) = (Instant::now(), cpu_time(fleet.moto_pid()));
    let idle = idle_sample(daemon).await;
    let moto =
        (cpu_time(fleet.moto_pid()) - moto_before).as_secs_f64() / started.elapsed().as_secs_f64();
    format!("{idle}; moto meanwhile {:.1}% of a core", moto * 100.0)
}

/// Visible → alert per provider, against its target; every event must alert.
async fn latencies(rx: &Receiver, visible: &HashMap<String, (Provider, Instant)>) -> String {
    let shown = visible
        .iter()
        .map(|(s, (_, at))| (s.clone(), *at))
        .collect();
    let got = delays(rx, &shown, Duration::from_secs(300)).await;
    assert_eq!(got.len(), visible.len(), "an alert for every event");
    let mut lines = Vec::new();
    for provider in Provider::ALL {
        let mine: Vec<Duration> = got
            .iter()
            .filter(|(s, _)| visible[*s].0 == provider)
            .map(|(_, d)| *d)
            .collect();
        lines.push(format!(
            "  {}: {} (target p99 <= {:?})",
            provider.label(),
            summary(mine),
            provider.target()
        ));
    }
    lines.join("\n")
}

/// Warnings and errors the daemon logged (at `warn`), for reading the run.
fn log_excerpt(daemon: &Daemon) -> String {
    let text = daemon.log_text();
    let lines: Vec<&str> = text.lines().collect();
    format!(
        "{} log lines{}",
        lines.len(),
        lines
            .iter()
            .take(5)
            .map(|l| format!("\n    {l}"))
            .collect::<String>()
    )
}

/// Live source leases per replica (by pid, in `replicas` order), e.g. `[70, 20, 20]`.
async fn spread(server: &PgServer, database: &str, replicas: &[Daemon]) -> String {
    let client = server.connect(database).await.unwrap();
    let rows = client
        .query(
            "SELECT owner FROM leases WHERE name LIKE 'source/%' AND expires_at > now()",
            &[],
        )
        .await
        .unwrap();
    let counts: Vec<usize> = replicas
        .iter()
        .map(|d| {
            let pid = d.pid().to_string();
            rows.iter()
                .filter(|r| r.get::<_, String>(0).split('-').rev().nth(1) == Some(pid.as_str()))
                .count()
        })
        .collect();
    format!("source leases per replica {counts:?}")
}

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run explicitly, see the module doc"]
async fn measure_mixed_fleet_of_1000_clusters() {
    let fleet = MixedFleet::start(EKS, GKE, AKS).await;
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    let env = fleet.env();
    let daemon = start_replica(
        dir.path(),
        "path = \"state.db\"",
        &fleet.sources(),
        &rx,
        0,
        &env_refs(&env),
    )
    .await;
    let idle = sample(&daemon, &fleet).await;
    let visible = fleet.insert_every(EVERY).await;
    let latency = latencies(&rx, &visible).await;
    println!(
        "{EKS} EKS + {GKE} GKE + {AKS} AKS clusters on one daemon (SQLite): {idle}\n{latency}\n  {}\n  {}",
        fleet.requests(),
        log_excerpt(&daemon)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run explicitly, see the module doc"]
async fn measure_mixed_fleet_of_1000_clusters_on_three_replicas() {
    let fleet = MixedFleet::start(EKS, GKE, AKS).await;
    let dir = tempfile::tempdir().unwrap();
    let server = PgServer::shared();
    let database = server.database().await;
    let state = format!("url = \"{}\"", server.url(&database));
    let rx = Receiver::start().await;
    let env = fleet.env();
    let sources = fleet.sources();
    let mut replicas = Vec::new();
    for i in 0..3 {
        replicas.push(start_replica(dir.path(), &state, &sources, &rx, i, &env_refs(&env)).await);
    }
    for (i, replica) in replicas.iter().enumerate() {
        let idle = sample(replica, &fleet).await;
        let held = spread(server, &database, &replicas).await;
        println!("  replica {i}: {idle}; after it, {held}");
    }
    let visible = fleet.insert_every(EVERY).await;
    let latency = latencies(&rx, &visible).await;
    println!(
        "{EKS} EKS + {GKE} GKE + {AKS} AKS clusters on 3 replicas (PostgreSQL):\n{latency}\n  {}\n  \
         at the end, {}",
        fleet.requests(),
        spread(server, &database, &replicas).await
    );
    for (i, replica) in replicas.iter().enumerate() {
        println!("  replica {i}: {}", log_excerpt(replica));
    }
}

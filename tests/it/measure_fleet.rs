//! Measurements of one daemon watching 1,000 clusters, run explicitly (never part of the
//! default suite; the numbers are in docs/performance.md):
//!
//! ```text
//! cargo test --release --test it measure_fleet -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - 1,000 `file` sources (one exported audit log per cluster, `interval = "2s"`);
//! - 1,000 GKE clusters: 100 projects of 10 clusters, one `gcp_logging` source per project,
//!   against the fake Cloud Logging API (`interval = "10s"`, `lag = "5s"`), on one daemon
//!   (SQLite) and on three replicas sharing a PostgreSQL store.
//!
//! For each: resident memory, CPU while idle (a share of one core over 30 s, every source
//! polling and finding nothing), the most threads seen, the time from an event becoming
//! visible (appended to a file, or stored in the fake) to its alert reaching the webhook
//! (p50/p99/max), and for GKE the requests per minute per project (the quota key).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::support::daemon::Daemon;
use crate::support::fake_logging::FakeLogging;
use crate::support::fixtures::nodeport_line;
use crate::support::fleet_run::{idle_sample, latencies, start_replica};
use crate::support::gcp::nodeport_create;
use crate::support::postgres::PgServer;
use crate::support::receiver::Receiver;

const CLUSTERS: usize = 1000;
const GKE_PROJECTS: usize = 100;

/// One daemon on `sources` with a SQLite store.
async fn start(dir: &Path, sources: &str, rx: &Receiver) -> Daemon {
    start_replica(dir, "path = \"state.db\"", sources, rx, 0, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run explicitly, see the module doc"]
async fn measure_fleet_of_1000_file_sources() {
    let dir = tempfile::tempdir().unwrap();
    let mut sources = String::new();
    for i in 0..CLUSTERS {
        let logs = dir.path().join(format!("logs-{i}"));
        std::fs::create_dir(&logs).unwrap();
        std::fs::write(logs.join("audit.log"), "").unwrap();
        sources.push_str(&format!(
            "[[sources]]\ntype = \"file\"\nname = \"cluster-{i}\"\npaths = [\"logs-{i}\"]\n\
             interval = \"2s\"\n"
        ));
    }
    let rx = Receiver::start().await;
    let daemon = start(dir.path(), &sources, &rx).await;
    let idle = idle_sample(&daemon).await;

    // One NodePort Service in every fifth cluster, 50 ms apart.
    let mut visible = HashMap::new();
    for i in (0..CLUSTERS).step_by(5) {
        let service = format!("svc-{i}");
        let path = dir.path().join(format!("logs-{i}/audit.log"));
        let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        file.write_all(nodeport_line(&format!("fleet-{i}"), &service, Utc::now()).as_bytes())
            .unwrap();
        visible.insert(service, Instant::now());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let latency = latencies(&rx, &visible).await;
    println!("{CLUSTERS} file sources (interval 2s): {idle}; {latency}");
}

/// One `gcp_logging` source per project of the fake.
fn gke_sources(fake: &FakeLogging) -> String {
    let mut sources = String::new();
    for p in 0..GKE_PROJECTS {
        sources.push_str(&format!(
            "[[sources]]\ntype = \"gcp_logging\"\nname = \"gke-{p}\"\nprojects = [\"project-{p}\"]\n\
             anonymous = true\nendpoint = \"{}\"\ninterval = \"10s\"\nlag = \"5s\"\n",
            fake.endpoint()
        ));
    }
    sources
}

/// One NodePort Service in one cluster of every project, 100 ms apart; when each became visible.
async fn insert_one_per_project(fake: &FakeLogging) -> HashMap<String, Instant> {
    let clusters_per_project = CLUSTERS / GKE_PROJECTS;
    let mut visible = HashMap::new();
    for p in 0..GKE_PROJECTS {
        let cluster = format!("cluster-{}", p % clusters_per_project);
        fake.insert(nodeport_create(
            &format!("project-{p}"),
            &cluster,
            Utc::now(),
            p,
        ));
        visible.insert(format!("svc-{p}"), Instant::now());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    visible
}

fn busiest_project(fake: &FakeLogging) -> usize {
    (0..GKE_PROJECTS)
        .map(|p| fake.max_requests_in_a_minute(&format!("project-{p}")))
        .max()
        .unwrap_or(0)
}

/// The same 1,000 GKE clusters over three replicas on PostgreSQL: per-replica memory, idle CPU
/// and threads, requests per project summed over the replicas (counted at the fake), latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run explicitly, see the module doc"]
async fn measure_fleet_of_1000_gke_clusters_on_three_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeLogging::start().await;
    let server = PgServer::shared();
    let database = server.database().await;
    let state = format!("url = \"{}\"", server.url(&database));
    let sources = gke_sources(&fake);
    let rx = Receiver::start().await;
    let mut replicas = Vec::new();
    for i in 0..3 {
        replicas.push(start_replica(dir.path(), &state, &sources, &rx, i, &[]).await);
    }
    for (i, replica) in replicas.iter().enumerate() {
        println!("  replica {i}: {}", idle_sample(replica).await);
    }
    let visible = insert_one_per_project(&fake).await;
    let latency = latencies(&rx, &visible).await;
    println!(
        "{CLUSTERS} GKE clusters on 3 replicas: {latency}; busiest project over all replicas: {} \
         requests in a minute (quota 60, budget 50)",
        busiest_project(&fake)
    );
    drop(replicas);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run explicitly, see the module doc"]
async fn measure_fleet_of_1000_gke_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeLogging::start().await;
    let rx = Receiver::start().await;
    let daemon = start(dir.path(), &gke_sources(&fake), &rx).await;
    let idle = idle_sample(&daemon).await;
    let visible = insert_one_per_project(&fake).await;
    let latency = latencies(&rx, &visible).await;
    println!(
        "{CLUSTERS} GKE clusters ({GKE_PROJECTS} projects, interval 10s, lag 5s): {idle}; {latency}; \
         busiest project: {} requests in a minute (quota 60, budget 50)",
        busiest_project(&fake)
    );
    drop(daemon);
}

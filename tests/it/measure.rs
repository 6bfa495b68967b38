//! Measurements, run explicitly (never part of the default suite):
//!
//! ```text
//! cargo test --release --test it measure -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - end-to-end detection latency: a line appended to a file followed by the daemon, until the
//!   webhook receiver has the alert; p50/p99 over 300 alerts, for two poll intervals;
//! - memory: resident set size of the daemon watching 100 file sources.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::support::daemon::{Daemon, free_port};
use crate::support::fixtures::nodeport_line;
use crate::support::process::{percentile, status_field};
use crate::support::receiver::Receiver;

const ALERTS: usize = 300;

async fn latency(interval: &str) -> (Duration, Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    let log = dir.path().join("logs/audit.log");
    std::fs::write(&log, "").unwrap();
    let rx = Receiver::start().await;
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[state]\npath = \"state.db\"\n[log]\nlevel = \"warn\"\n\
             [[sources]]\ntype = \"file\"\nname = \"audit\"\npaths = [\"logs\"]\ninterval = \"{interval}\"\n\
             [[sinks]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{}\"\n",
            rx.url("/hook")
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&config, &dir.path().join("daemon.log"));
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let mut appended = HashMap::new();
    for i in 0..ALERTS {
        let audit = format!("lat-{i}");
        let line = nodeport_line(&audit, &format!("svc-{i}"), Utc::now());
        file.write_all(line.as_bytes()).unwrap();
        file.flush().unwrap();
        appended.insert(audit, Instant::now());
        // Spread the appends over several poll intervals, like a live audit log.
        tokio::time::sleep(Duration::from_millis(17)).await;
    }
    let got = rx.wait_for(ALERTS, Duration::from_secs(120)).await;
    drop(daemon);
    let mut latencies: Vec<Duration> = got
        .iter()
        .map(|r| {
            let audit = r.json()["audit_id"].as_str().unwrap().to_owned();
            r.at.into_std().saturating_duration_since(appended[&audit])
        })
        .collect();
    latencies.sort();
    (
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        *latencies.last().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run explicitly, see the module doc"]
async fn measure_detection_latency() {
    for interval in ["250ms", "2s"] {
        let (p50, p99, max) = latency(interval).await;
        println!(
            "latency (file source, interval {interval}, {ALERTS} alerts): p50 {p50:?}, p99 {p99:?}, max {max:?}"
        );
    }
}

fn write_sources(dir: &Path, n: usize) -> String {
    let mut config = String::new();
    for i in 0..n {
        let sub = dir.join(format!("logs-{i}"));
        std::fs::create_dir(&sub).unwrap();
        let mut text = String::new();
        for j in 0..5 {
            text.push_str(&nodeport_line(&format!("rss-{i}-{j}"), "svc", Utc::now()));
        }
        std::fs::write(sub.join("audit.log"), text).unwrap();
        config.push_str(&format!(
            "[[sources]]\ntype = \"file\"\nname = \"s{i}\"\npaths = [\"logs-{i}\"]\ninterval = \"2s\"\n"
        ));
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run explicitly, see the module doc"]
async fn measure_memory_with_100_sources() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    let port = free_port();
    let sources = write_sources(dir.path(), 100);
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[state]\npath = \"state.db\"\n[log]\nlevel = \"warn\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n{sources}\
             [[sinks]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{}\"\n",
            rx.url("/hook")
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&config, &dir.path().join("daemon.log"));
    rx.wait_for(500, Duration::from_secs(120)).await;
    let client = reqwest::Client::new();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    // Let every source poll a few more times, then sample.
    let start = tokio::time::Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let _ = client.get(&ready).send().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let rss = status_field(daemon.pid(), "VmRSS:");
    let hwm = status_field(daemon.pid(), "VmHWM:");
    println!(
        "memory (100 file sources, 500 alerts delivered): RSS {:.1} MiB, peak {:.1} MiB",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}

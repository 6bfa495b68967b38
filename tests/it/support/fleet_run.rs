//! What the fleet measurements (`measure_fleet`, `measure_mixed`) do to one daemon: start it
//! on a set of sources and wait until every source has polled once, sample its memory, idle
//! CPU and threads, and time alerts from the moment their event became visible.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::daemon::{Daemon, free_port};
use super::process::{cpu_share_and_threads, percentile, status_field};
use super::receiver::Receiver;

/// How long the idle CPU sample runs.
pub const IDLE_SPAN: Duration = Duration::from_secs(30);
/// A start that takes longer than this is a failure, not a slow measurement.
const READY_DEADLINE: Duration = Duration::from_secs(180);

/// Starts replica `i` on `sources` with `[state]` holding `state`, a webhook to `rx`, `[server]`
/// on a free port and `env` for the child, at the log level an operator would run (`warn`);
/// returns once `/readyz` says every source it holds has polled.
pub async fn start_replica(
    dir: &Path,
    state: &str,
    sources: &str,
    rx: &Receiver,
    i: usize,
    env: &[(&str, &str)],
) -> Daemon {
    let port = free_port();
    let config = dir.join(format!("config-{i}.toml"));
    std::fs::write(
        &config,
        format!(
            "[state]\n{state}\n[log]\nlevel = \"warn\"\n\
             [server]\nlisten = \"127.0.0.1:{port}\"\n{sources}\
             [[sinks]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{}\"\n",
            rx.url("/hook")
        ),
    )
    .unwrap();
    let log = dir.join(format!("daemon-{i}.log"));
    let mut child_env = vec![("RUST_LOG", "warn")];
    child_env.extend_from_slice(env);
    let daemon = Daemon::start_with_env(&config, &log, &child_env);
    let client = reqwest::Client::new();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let started = Instant::now();
    loop {
        let answer = client.get(&ready).send().await;
        if answer.is_ok_and(|a| a.status().is_success()) {
            break;
        }
        assert!(
            started.elapsed() < READY_DEADLINE,
            "not ready after {READY_DEADLINE:?}: {}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("  every source polled once after {:?}", started.elapsed());
    daemon
}

/// Resident memory, idle CPU and threads of an idle daemon, as one printed line.
pub async fn idle_sample(daemon: &Daemon) -> String {
    // Let start-up work (first polls, migrations) settle first.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (cpu, threads) = cpu_share_and_threads(daemon.pid(), IDLE_SPAN).await;
    let rss = status_field(daemon.pid(), "VmRSS:") as f64 / 1024.0;
    let peak = status_field(daemon.pid(), "VmHWM:") as f64 / 1024.0;
    format!(
        "RSS {rss:.1} MiB (peak {peak:.1} MiB), idle CPU {:.1}% of a core over {IDLE_SPAN:?}, \
         at most {threads} threads",
        cpu * 100.0
    )
}

/// Waits for an alert per entry of `visible` (service → when its event became visible) and
/// returns each service's delay from visible to the webhook having its alert.
pub async fn delays(
    rx: &Receiver,
    visible: &HashMap<String, Instant>,
    deadline: Duration,
) -> HashMap<String, Duration> {
    let got = rx.wait_for(visible.len(), deadline).await;
    got.iter()
        .filter_map(|r| {
            let service = r.json()["service"].as_str()?.to_owned();
            let shown = *visible.get(&service)?;
            Some((service, r.at.into_std().saturating_duration_since(shown)))
        })
        .collect()
}

/// p50, p99 and max of `delays`, as one printed phrase.
pub fn summary(mut delays: Vec<Duration>) -> String {
    delays.sort();
    let Some(max) = delays.last() else {
        return "no alerts".to_owned();
    };
    format!(
        "visible -> alert over {} alerts: p50 {:?}, p99 {:?}, max {max:?}",
        delays.len(),
        percentile(&delays, 50.0),
        percentile(&delays, 99.0),
    )
}

/// p50, p99 and max of the delays from `visible[service]` to the alert naming that service.
pub async fn latencies(rx: &Receiver, visible: &HashMap<String, Instant>) -> String {
    let delays = delays(rx, visible, Duration::from_secs(300)).await;
    assert_eq!(delays.len(), visible.len(), "an alert for every event");
    summary(delays.into_values().collect())
}

/// The most of `times` that fall in any `window` (a sliding window starting at each time).
pub fn most_in_a_window(mut times: Vec<Instant>, window: Duration) -> usize {
    times.sort();
    times
        .iter()
        .enumerate()
        .map(|(i, t)| times[i..].iter().take_while(|u| **u < *t + window).count())
        .max()
        .unwrap_or(0)
}

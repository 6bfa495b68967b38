//! Measurement (not a test): Cloud Logging requests per minute per project while watching
//! 1, 10 and 100 GKE clusters of one project, and the catch-up time of a 24 h backlog at the
//! configured quota. Runs the real poller (official client, real HTTP) against the fake of the
//! integration tests, on a paused tokio clock: every time reported is **simulated** time, the
//! time the same request pattern takes against the real quota.
//!
//! `cargo bench --bench gcp_logging_quota` (add `-- --writes-per-minute 5` for a busier load).

#![allow(dead_code)]

#[path = "../tests/it/support/fake_filter.rs"]
mod fake_filter;
#[path = "../tests/it/support/fake_logging.rs"]
mod fake_logging;
#[path = "../tests/it/support/gcp.rs"]
mod gcp;
#[path = "../tests/it/support/ingest.rs"]
mod ingest;

use std::time::Duration;

use chrono::Duration as Span;
use nodeport_watch::sources::{PollMode, Progress, TimeRange};
use tokio_util::sync::CancellationToken;

use fake_logging::FakeLogging;
use gcp::{SimClock, at, harness, nodeport_create};

const PROJECT: &str = "measured-project";

/// Service writes, spread evenly, `per_minute` per cluster, over `[from, from + span)`.
fn load(
    fake: &FakeLogging,
    clusters: usize,
    per_minute: usize,
    from: chrono::DateTime<chrono::Utc>,
    span: Span,
) {
    let total = (span.num_minutes() as usize) * per_minute * clusters;
    let step_ms = span.num_milliseconds() / total.max(1) as i64;
    for n in 0..total {
        let cluster = format!("cluster-{:03}", n % clusters);
        fake.insert(nodeport_create(
            PROJECT,
            &cluster,
            from + Span::milliseconds(step_ms * n as i64),
            n,
        ));
    }
}

/// Live polling for 30 simulated minutes after a 10-minute warm-up; returns requests/minute.
async fn watch(clusters: usize, per_minute: usize) -> (f64, usize) {
    let fake = FakeLogging::start().await;
    let t0 = at("2024-09-01T00:00:00Z");
    load(
        &fake,
        clusters,
        per_minute,
        t0 - Span::minutes(10),
        Span::minutes(50),
    );
    let dir = tempfile::tempdir().unwrap();
    let h = harness(&dir, &fake, &[PROJECT], "", SimClock::starting_at(t0));
    let (driver, _) = h.driver(PollMode::Live).await;
    let interval = h.settings.sources[0].interval;
    let cancel = CancellationToken::new();
    let task = tokio::spawn(driver.run(interval, cancel.clone()));
    tokio::time::sleep(Duration::from_secs(40 * 60)).await;
    cancel.cancel();
    task.await.unwrap().unwrap();
    let measured = fake
        .requests()
        .iter()
        .filter(|r| r.at >= Duration::from_secs(600))
        .count();
    (
        measured as f64 / 30.0,
        fake.max_requests_in_a_minute(PROJECT),
    )
}

/// A scan of the past 24 h; returns (simulated time, requests, entries).
async fn catch_up(clusters: usize, per_minute: usize) -> (Duration, usize, usize) {
    let fake = FakeLogging::start().await;
    let t0 = at("2024-09-02T00:00:00Z");
    load(
        &fake,
        clusters,
        per_minute,
        t0 - Span::hours(24),
        Span::hours(24),
    );
    let dir = tempfile::tempdir().unwrap();
    let h = harness(&dir, &fake, &[PROJECT], "", SimClock::starting_at(t0));
    let range = TimeRange {
        since: t0 - Span::hours(24),
        until: t0 - Span::minutes(2),
    };
    let (mut driver, stats) = h.driver(PollMode::Scan(range)).await;
    let started = tokio::time::Instant::now();
    while driver.step().await.unwrap().progress != Progress::Finished {}
    let s = stats.snapshot();
    (started.elapsed(), s.requests as usize, s.entries as usize)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let per_minute = args
        .iter()
        .position(|a| a == "--writes-per-minute")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    println!(
        "gcp_logging quota measurement: {per_minute} Service write(s)/min per cluster, defaults \
         (interval 30s, lag 60s, overlap 5m, max_span 1h, page 1000, 50 requests/min); simulated time"
    );
    println!(
        "| clusters | requests/min/project (live) | busiest minute | 24 h catch-up | requests | entries |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for clusters in [1, 10, 100] {
        let (rpm, busiest) = runtime.block_on(watch(clusters, per_minute));
        let (took, requests, entries) = runtime.block_on(catch_up(clusters, per_minute));
        println!(
            "| {clusters} | {rpm:.1} | {busiest} | {:.1} min | {requests} | {entries} |",
            took.as_secs_f64() / 60.0
        );
    }
}

//! Measurement, not a test: one simulated EKS cluster-day read from moto by the real poller, with
//! and without filter pushdown. Ignored by `cargo test`; run it explicitly:
//!
//! ```text
//! cargo test --release --test it aws_measure -- --ignored --nocapture
//! NODEPORT_WATCH_MEASURE_EVENTS=200000 cargo test --release --test it aws_measure -- --ignored --nocapture
//! ```
//!
//! It prints API calls, events and bytes fetched, and the time to catch up the 24 h backlog at
//! the real FilterLogEvents budget (5 requests/s). moto does not evaluate JSON filter patterns,
//! so "with pushdown" goes through the test proxy, which drops what our model of the pattern
//! rejects (as AWS would); the time that simulation takes in this process is printed separately.
//! moto also pages by event count only (AWS stops a page at 1 MB as well), so an AWS lower bound
//! of the page count is printed next to the calls made.

use std::time::{Duration, Instant};

use nodeport_watch::clock::ManualClock;
use nodeport_watch::sources::PollMode;
use serde_json::json;

use crate::support::aws_proxy::Proxy;
use crate::support::cloudwatch::{
    Harness, TIME, at, create_stream, drain, nodeport, now_ms, put, seeding_client, service_write,
};
use crate::support::moto::Moto;

const GROUP: &str = "/aws/eks/measure/cluster";
const STREAMS: [&str; 2] = [
    "kube-apiserver-audit-00000000000000000000000000000001",
    "kube-apiserver-audit-00000000000000000000000000000002",
];
const DAY_MS: i64 = 24 * 3600 * 1000;

/// A small deterministic generator (xorshift), so every run seeds the same day.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A read or a non-Service write, shaped like EKS's `Request`-level audit events.
fn background(id: &str, rng: &mut Rng) -> String {
    let (verb, resource, group, user) = match rng.next() % 100 {
        0..=29 => (
            "update",
            "leases",
            "coordination.k8s.io",
            "system:node:ip-10-0-1-23.ec2.internal",
        ),
        30..=44 => (
            "get",
            "leases",
            "coordination.k8s.io",
            "system:kube-controller-manager",
        ),
        45..=59 => (
            "get",
            "pods",
            "",
            "system:serviceaccount:kube-system:aws-node",
        ),
        60..=69 => (
            "list",
            "configmaps",
            "",
            "system:serviceaccount:kube-system:coredns",
        ),
        70..=84 => (
            "watch",
            "endpointslices",
            "discovery.k8s.io",
            "system:kube-proxy",
        ),
        85..=92 => (
            "create",
            "events",
            "",
            "system:serviceaccount:kube-system:deployment-controller",
        ),
        93..=96 => ("patch", "pods", "", "system:node:ip-10-0-1-23.ec2.internal"),
        _ => (
            "get",
            "secrets",
            "",
            "system:serviceaccount:monitoring:prometheus",
        ),
    };
    json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request", "auditID": id,
        "stage": "ResponseComplete",
        "requestURI": format!("/apis/{group}/v1/namespaces/kube-system/{resource}/obj-{}", rng.next() % 500),
        "verb": verb,
        "user": {"username": user, "uid": "aws-iam-authenticator:123456789012:AROAEXAMPLE", "groups": ["system:nodes", "system:authenticated"]},
        "sourceIPs": ["10.0.1.23"],
        "userAgent": "kubelet/v1.29.3 (linux/amd64) kubernetes/6813625",
        "objectRef": {"resource": resource, "namespace": "kube-system", "name": format!("obj-{}", rng.next() % 500), "apiGroup": group, "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": TIME, "stageTimestamp": TIME,
        "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC: allowed by ClusterRoleBinding \"system:node\""}
    })
    .to_string()
}

#[derive(Debug, Default)]
struct Day {
    events: usize,
    bytes: usize,
    service_writes: usize,
    nodeports: usize,
}

/// Puts `total` events over the 24 hours before `end_ms`: 1 % Service writes (mostly
/// ClusterIP), one NodePort in 10,000; the audit stream rotates at noon. Generated and put in
/// chunks, so the seed data never sits in this process's memory all at once.
async fn seed_day(client: &aws_sdk_cloudwatchlogs::Client, end_ms: i64, total: usize) -> Day {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = end_ms - DAY_MS + 60_000;
    let step = (DAY_MS - 120_000) / total as i64;
    for stream in STREAMS {
        create_stream(client, GROUP, stream).await;
    }
    let mut day = Day::default();
    let mut chunk: Vec<(i64, String)> = Vec::new();
    for i in 0..total {
        let ts = start + i as i64 * step + (rng.next() % step.max(1) as u64) as i64;
        let id = format!("e{i:07}");
        let message = if i % 10_000 == 50 {
            day.nodeports += 1;
            day.service_writes += 1;
            nodeport(&id)
        } else if i % 100 == 50 {
            day.service_writes += 1;
            let verb = ["create", "update", "patch"][(rng.next() % 3) as usize];
            service_write(&id, verb, "ClusterIP", 200)
        } else {
            background(&id, &mut rng)
        };
        day.events += 1;
        day.bytes += message.len();
        chunk.push((ts, message));
        let rotate = i + 1 == total / 2;
        if chunk.len() == 5_000 || rotate || i + 1 == total {
            let stream = STREAMS[usize::from(i >= total / 2)];
            put(client, GROUP, stream, &chunk).await;
            chunk.clear();
        }
    }
    day
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run explicitly with --ignored --nocapture"]
async fn aws_measure_a_cluster_day_with_and_without_pushdown() {
    let total: usize = std::env::var("NODEPORT_WATCH_MEASURE_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120_000);
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.endpoint).await;
    proxy.evaluate_patterns(true);
    let client = seeding_client(&moto.endpoint);
    let end = now_ms();
    let seeding = Instant::now();
    let day = seed_day(&client, end, total).await;
    println!(
        "seeded {} events ({:.1} MB of messages, {} Service writes, {} NodePort) in {:.1?}",
        day.events,
        day.bytes as f64 / 1e6,
        day.service_writes,
        day.nodeports,
        seeding.elapsed()
    );

    println!(
        "\n| | pushdown | API calls (moto) | AWS pages, lower bound | events fetched | message bytes | bytes on the wire | batches | catch-up time | of which simulating the filter | alerts | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut alerts = Vec::new();
    for pushdown in [true, false] {
        let state = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(at(end));
        // Defaults but the endpoint, the window lag (the clock is frozen at `end`) and the start.
        let source = format!(
            "type = \"aws_cloudwatch\"\nname = \"eks\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\n\
             clusters = [\"measure\"]\nlag = \"0s\"\nlookback = \"24h\"\nfilter_pushdown = {pushdown}\n",
            proxy.endpoint
        );
        let h = Harness::new(&source, &state.path().join("state.db"), clock);
        let source = h.source().await;
        let stats = source.stats();
        let mut driver = h.driver_with(source, PollMode::Live).await;
        let calls_before = proxy.filter_calls();
        let bytes_before = proxy.response_bytes();
        let filter_before = proxy.pattern_time();
        let started = Instant::now();
        let totals = drain(&mut driver, 100_000).await;
        let elapsed = started.elapsed();
        let counts = stats.counts();
        let found = h.alerts().await;
        assert_eq!(found.len(), day.nodeports, "every NodePort alerts once");
        alerts.push(found.keys().cloned().collect::<Vec<_>>());
        // AWS ends a page at 10,000 events or 1 MB; one page at least per window (24 of 1 h).
        let aws_pages = (counts.events.div_ceil(10_000)).max(counts.bytes.div_ceil(1_000_000)) + 24;
        println!(
            "| {} | {} | {} | {} | {} | {:.1} MB | {:.1} MB | {} | {:.1?} | {:.1?} | {} | {} MiB |",
            total,
            if pushdown { "on" } else { "off" },
            proxy.filter_calls() - calls_before,
            aws_pages,
            counts.events,
            counts.bytes as f64 / 1e6,
            (proxy.response_bytes() - bytes_before) as f64 / 1e6,
            totals.steps,
            elapsed,
            proxy.pattern_time().saturating_sub(filter_before),
            found.len(),
            peak_rss_kib() / 1024,
        );
        let floor = Duration::from_millis((proxy.filter_calls() - calls_before) * 200);
        println!("rate-limit floor at 5 requests/s: {floor:.1?}");
    }
    assert_eq!(alerts[0], alerts[1], "pushdown changed the alerts");
}

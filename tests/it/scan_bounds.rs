//! `scan --since S --until U` reads `S <= t <= U`, identically for every source type with a time
//! axis: the same four entries (1 ms before `S`, at `S`, exactly at `U`, 1 ms after `U`) are
//! seeded into each provider's emulator or fake, a scan runs as the daemon runs one (the
//! pipeline's event window included), and exactly the two inside must alert. The entry stamped
//! exactly at `U` is the one a half-open `timestamp < U` filter used to miss (Cloud Logging).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration as Span, SecondsFormat, Utc};
use nodeport_watch::config::SourceKind;
use nodeport_watch::ingest::Services;
use nodeport_watch::sources::azure_blob::AzureBlobSource;
use nodeport_watch::sources::{BuildSource, PollMode, Progress, Source, TimeRange};
use serde_json::Value;

use crate::support::azure_blob_kit::{self, ADMIN, blob_name, record_with_log};
use crate::support::azure_harness::{alerts, go_order, service_event, start_time};
use crate::support::azure_monitor_kit::{self, aks_row, sdk_retry};
use crate::support::azurite::{Azurite, append};
use crate::support::cloudwatch::{self, nodeport, put, seeding_client};
use crate::support::fake_log_analytics::FakeLogAnalytics;
use crate::support::fake_logging::FakeLogging;
use crate::support::gcp::{SimClock, nodeport_create};
use crate::support::ingest;
use crate::support::moto::Moto;

/// The table every source type is held to: offset from `since` or `until`, and whether the
/// entry belongs to the scan.
struct Stamp {
    name: &'static str,
    at: fn(&TimeRange) -> DateTime<Utc>,
    inside: bool,
}

const STAMPS: [Stamp; 4] = [
    Stamp {
        name: "before-since",
        at: |r| r.since - Span::milliseconds(1),
        inside: false,
    },
    Stamp {
        name: "at-since",
        at: |r| r.since,
        inside: true,
    },
    Stamp {
        name: "at-until",
        at: |r| r.until,
        inside: true,
    },
    Stamp {
        name: "after-until",
        at: |r| r.until + Span::milliseconds(1),
        inside: false,
    },
];

/// A range of whole milliseconds: 30 minutes ending `end`.
fn range_ending(end: DateTime<Utc>) -> TimeRange {
    let until = DateTime::from_timestamp_millis(end.timestamp_millis()).unwrap();
    TimeRange {
        since: until - Span::minutes(30),
        until,
    }
}

fn expected(range: &TimeRange) -> BTreeSet<DateTime<Utc>> {
    STAMPS
        .iter()
        .filter(|s| s.inside)
        .map(|s| (s.at)(range))
        .collect()
}

/// Runs a scan of `range` to its end as the daemon does and returns the event times alerted.
async fn scan<S: Source>(
    services: &Services,
    name: &str,
    source: S,
    range: TimeRange,
) -> BTreeSet<DateTime<Utc>> {
    let mut driver = ingest::open(services, name, source, PollMode::Scan(range), None).await;
    let mut finished = false;
    for _ in 0..50 {
        if driver.step().await.unwrap().progress == Progress::Finished {
            finished = true;
            break;
        }
    }
    assert!(finished, "the scan reaches its end");
    alerts(services)
        .await
        .into_iter()
        .map(|a| a.event_time.expect("alerts carry the event time"))
        .collect()
}

/// An audit Event creating a NodePort Service `name`, stamped `t`.
fn event_at(name: &str, t: DateTime<Utc>) -> Value {
    let mut e = service_event(name, "ResponseComplete", "create", name, "NodePort");
    let text = t.to_rfc3339_opts(SecondsFormat::Micros, true);
    e["requestReceivedTimestamp"] = Value::String(text.clone());
    e["stageTimestamp"] = Value::String(text);
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cloudwatch_scan_bounds_are_inclusive() {
    let moto = Moto::start();
    let client = seeding_client(&moto.endpoint);
    let group = "/aws/eks/prod/cluster";
    let stream = "kube-apiserver-audit-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    cloudwatch::create_stream(&client, group, stream).await;
    let range = range_ending(Utc::now() - Span::hours(1));
    let events: Vec<(i64, String)> = STAMPS
        .iter()
        .map(|s| ((s.at)(&range).timestamp_millis(), nodeport(s.name)))
        .collect();
    put(&client, group, stream, &events).await;

    let state = tempfile::tempdir().unwrap();
    let clock = nodeport_watch::clock::ManualClock::new(Utc::now());
    let toml = cloudwatch::source_toml(&moto.endpoint, "clusters = [\"prod\"]");
    let h = cloudwatch::Harness::new(&toml, &state.path().join("state.db"), clock);
    let source = h.source().await;
    assert_eq!(
        scan(&h.services, "eks", source, range).await,
        expected(&range)
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn gcp_logging_scan_bounds_are_inclusive() {
    let fake = FakeLogging::start().await;
    let range = range_ending(crate::support::gcp::at("2024-06-01T06:00:00Z"));
    for (n, s) in STAMPS.iter().enumerate() {
        fake.insert(nodeport_create("bounds-1", "web", (s.at)(&range), n));
    }
    let dir = tempfile::tempdir().unwrap();
    let clock = SimClock::starting_at(range.until + Span::hours(2));
    let h = crate::support::gcp::harness(&dir, &fake, &["bounds-1"], "", clock);
    let source = h.source().await;
    assert_eq!(
        scan(&h.services, "gke", source, range).await,
        expected(&range)
    );
}

#[tokio::test]
async fn azure_monitor_scan_bounds_are_inclusive() {
    let fake = FakeLogAnalytics::start().await;
    let h = azure_monitor_kit::harness(&fake, "");
    let range = range_ending(start_time() - Span::hours(1));
    for s in &STAMPS {
        let t = (s.at)(&range);
        let event = event_at(s.name, t);
        fake.add(aks_row(
            "AKSAuditAdmin",
            &event,
            "prod",
            t,
            t + Span::minutes(1),
        ));
    }
    let services = h.services();
    let source = azure_monitor_kit::source(&h, true, sdk_retry());
    assert_eq!(
        scan(&services, "aks", source, range).await,
        expected(&range)
    );
}

#[tokio::test]
async fn azure_blob_scan_bounds_are_inclusive() {
    let azurite = Azurite::start().await;
    let admin = azurite.create_container(ADMIN).await;
    let h = azure_blob_kit::harness(&azurite, "");
    // Ends on an hour boundary, so the entries fall into three hourly blobs.
    let range = range_ending(start_time() - Span::hours(2) + Span::minutes(30));
    let mut blobs: std::collections::BTreeMap<String, String> = Default::default();
    for s in &STAMPS {
        let t = (s.at)(&range);
        let line = record_with_log("prod", &go_order(&event_at(s.name, t)));
        let hour = DateTime::from_timestamp(t.timestamp() - t.timestamp() % 3600, 0).unwrap();
        blobs
            .entry(blob_name("prod", hour))
            .or_default()
            .push_str(&format!("{line}\n"));
    }
    for (name, text) in &blobs {
        append(&admin, name, text.as_bytes(), true).await;
    }
    let services = h.services();
    let SourceKind::AzureBlob(settings) = h.kind() else {
        panic!("not an azure_blob source");
    };
    let source = AzureBlobSource::build(ingest::context(&services, "archive"), settings)
        .await
        .unwrap();
    assert_eq!(
        scan(&services, "archive", source, range).await,
        expected(&range)
    );
}

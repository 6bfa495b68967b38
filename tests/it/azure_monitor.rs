//! `type = "azure_monitor"` against the local Log Analytics fake: ingestion-time windows, late
//! rows, restarts, full results split, both table styles, failures that must not advance.

use std::sync::Arc;
use std::time::Duration;

use azure_core::http::{ExponentialRetryOptions, RetryOptions};
use chrono::{DateTime, Duration as Span, Utc};
use nodeport_watch::config::SourceKind;
use nodeport_watch::config::sources::AzureMonitorSettings;
use nodeport_watch::model::{Cursor, Degradation};
use nodeport_watch::normalize::SkipReason;
use nodeport_watch::runtime::launch::check_source;
use nodeport_watch::sources::azure_monitor::AzureMonitorSource;
use nodeport_watch::sources::rate_limit::{Budget, Limiter};
use nodeport_watch::sources::{DriverError, PollMode, Progress, SourceErrorKind, TimeRange};
use serde_json::{Map, Value, json};

use crate::support::azure_harness::{
    Harness, StaticToken, alerts, cluster_id, lease_event, service_event, start_time,
};
use crate::support::fake_log_analytics::{Failure, FakeLogAnalytics, FakeRow, TOKEN};

const WS: &str = "6b2f1d3e-0000-4c1a-9a3b-1f2e3d4c5b6a";
const WS2: &str = "7c3a2e4f-1111-4d2b-8b4c-2a3b4c5d6e7f";

fn harness(fake: &FakeLogAnalytics, extra: &str) -> Harness {
    harness_with(fake, &format!("workspace_id = \"{WS}\""), extra)
}

fn harness_with(fake: &FakeLogAnalytics, workspaces: &str, extra: &str) -> Harness {
    Harness::new(&format!(
        "[[sources]]\ntype = \"azure_monitor\"\nname = \"aks\"\n{workspaces}\n\
         endpoint = \"{}\"\ncredential = \"none\"\nlag = \"2m\"\noverlap = \"5m\"\n\
         max_span = \"1h\"\nlookback = \"1h\"\n{extra}",
        fake.url
    ))
}

fn settings(h: &Harness) -> AzureMonitorSettings {
    match h.kind() {
        SourceKind::AzureMonitor(s) => s.clone(),
        other => panic!("{other:?}"),
    }
}

fn fast_retry() -> RetryOptions {
    RetryOptions::exponential(ExponentialRetryOptions {
        max_retries: 2,
        initial_delay: azure_core::time::Duration::milliseconds(1),
        max_delay: azure_core::time::Duration::seconds(1),
        max_total_elapsed: azure_core::time::Duration::seconds(10),
    })
}

fn source(h: &Harness, token: bool, retry: RetryOptions) -> AzureMonitorSource {
    let limiter = Arc::new(Limiter::new(Budget::per_second(
        std::num::NonZeroU32::new(1000).unwrap(),
    )));
    AzureMonitorSource::new(
        "aks",
        settings(h),
        token.then(|| Arc::new(StaticToken(TOKEN)) as _),
        Arc::new(h.clock.clone()),
        limiter,
        retry,
    )
}

/// An `AKSAudit`/`AKSAuditAdmin` row made from an audit Event, as Azure Monitor stores it.
fn aks_row(
    table: &str,
    event: &Value,
    cluster: &str,
    generated: DateTime<Utc>,
    ingested: DateTime<Utc>,
) -> FakeRow {
    let mut c = Map::new();
    for (column, field) in [
        ("AuditId", "auditID"),
        ("Stage", "stage"),
        ("Verb", "verb"),
        ("RequestUri", "requestURI"),
        ("User", "user"),
        ("SourceIps", "sourceIPs"),
        ("UserAgent", "userAgent"),
        ("ObjectRef", "objectRef"),
        ("ResponseStatus", "responseStatus"),
        ("RequestObject", "requestObject"),
        ("ResponseObject", "responseObject"),
        ("Annotations", "annotations"),
        ("Level", "level"),
        ("StageReceivedTime", "stageTimestamp"),
        ("RequestReceivedTime", "requestReceivedTimestamp"),
    ] {
        if let Some(v) = event.get(field) {
            c.insert(column.into(), v.clone());
        }
    }
    c.insert("_ResourceId".into(), json!(cluster_id(cluster)));
    c.insert("Type".into(), json!(table));
    c.insert("SourceSystem".into(), json!("Azure"));
    FakeRow {
        workspace: WS.into(),
        table: table.into(),
        ingested,
        time_generated: generated,
        columns: c,
    }
}

/// An `AzureDiagnostics` row: the Event as text in `log_s` (possibly trimmed).
fn diagnostics_row(
    log: String,
    cluster: &str,
    generated: DateTime<Utc>,
    ingested: DateTime<Utc>,
) -> FakeRow {
    let mut c = Map::new();
    c.insert("Category".into(), json!("kube-audit-admin"));
    c.insert(
        "_ResourceId".into(),
        json!(cluster_id(cluster).to_uppercase()),
    );
    c.insert("log_s".into(), json!(log));
    FakeRow {
        workspace: WS.into(),
        table: "AzureDiagnostics".into(),
        ingested,
        time_generated: generated,
        columns: c,
    }
}

/// The Event's JSON in the API server's field order (`verb` and `objectRef` before the bodies),
/// which is what survives when Azure trims `log_s`.
fn go_order(event: &Value) -> String {
    const ORDER: [&str; 17] = [
        "kind",
        "apiVersion",
        "level",
        "auditID",
        "stage",
        "requestURI",
        "verb",
        "user",
        "sourceIPs",
        "userAgent",
        "objectRef",
        "responseStatus",
        "requestObject",
        "responseObject",
        "requestReceivedTimestamp",
        "stageTimestamp",
        "annotations",
    ];
    let fields: Vec<String> = ORDER
        .iter()
        .filter_map(|k| {
            event
                .get(*k)
                .map(|v| format!("{}:{v}", Value::String((*k).into())))
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

fn minutes(n: i64) -> Span {
    Span::minutes(n)
}

#[tokio::test]
async fn azure_monitor_reads_service_writes_once_across_overlaps() {
    let fake = FakeLogAnalytics::start().await;
    let h = harness(&fake, "");
    let t0 = start_time();
    let nodeport = service_event("np-1", "ResponseComplete", "create", "web", "NodePort");
    let received = service_event("np-1", "RequestReceived", "create", "web", "NodePort");
    let clusterip = service_event("cip-1", "ResponseComplete", "create", "db", "ClusterIP");
    for (event, ingested) in [
        (&received, t0 - minutes(6)),
        (&nodeport, t0 - minutes(5)),
        (&clusterip, t0 - minutes(4)),
        (&lease_event("lease-1"), t0 - minutes(4)),
    ] {
        fake.add(aks_row(
            "AKSAuditAdmin",
            event,
            "prod",
            ingested - minutes(1),
            ingested,
        ));
    }
    let services = h.services();
    let mut driver = h
        .driver(&services, source(&h, true, fast_retry()), PollMode::Live)
        .await;
    let report = driver.step().await.unwrap();
    assert_eq!(
        report.stats.records, 3,
        "the lease update is filtered by the query"
    );
    assert_eq!(report.inserted, 1);
    let got = alerts(&services).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].service.as_deref(), Some("web"));
    assert_eq!(got[0].cluster.as_deref(), Some("prod"));
    assert_eq!(got[0].audit_id.as_deref(), Some("np-1"));
    let watermark = driver.cursor().watermark(WS).unwrap();
    assert_eq!(watermark, (t0 - minutes(2)).timestamp_millis());

    // Three minutes later the next window re-reads the overlap: nothing is processed twice.
    h.clock.advance(minutes(3));
    let report = driver.step().await.unwrap();
    assert_eq!(report.already_seen, 3);
    assert_eq!((report.inserted, report.duplicates), (0, 0));
    let seen = fake.seen();
    let (start, _) = seen.last().unwrap().ingestion.unwrap();
    assert_eq!(
        start.timestamp_millis(),
        watermark - 5 * 60_000,
        "window starts one overlap back"
    );
    assert_eq!(alerts(&services).await.len(), 1);
}

#[tokio::test]
async fn azure_monitor_finds_rows_ingested_after_their_time_window_passed() {
    let fake = FakeLogAnalytics::start().await;
    let h = harness(&fake, "");
    let t0 = start_time();
    fake.create_table(WS, "AKSAuditAdmin");
    let services = h.services();
    let mut driver = h
        .driver(&services, source(&h, true, fast_retry()), PollMode::Live)
        .await;
    assert_eq!(driver.step().await.unwrap().stats.records, 0);

    // Emitted at t0 - 1m, but only ingested 20 minutes later: a window over TimeGenerated
    // ending at t0 - 2m + ... has long passed by then.
    let late = service_event("late-1", "ResponseComplete", "create", "late", "NodePort");
    fake.add(aks_row(
        "AKSAuditAdmin",
        &late,
        "prod",
        t0 - minutes(1),
        t0 + minutes(19),
    ));
    h.clock.advance(minutes(10));
    assert_eq!(
        driver.step().await.unwrap().stats.records,
        0,
        "not ingested yet"
    );
    h.clock.advance(minutes(15));
    let report = driver.step().await.unwrap();
    assert_eq!(report.inserted, 1);
    let got = alerts(&services).await;
    assert_eq!(got[0].service.as_deref(), Some("late"));
    assert!(
        got[0].event_time.unwrap() < t0,
        "the event is older than the windows already read"
    );
}

#[tokio::test]
async fn azure_monitor_restart_misses_nothing_and_repeats_nothing() {
    let fake = FakeLogAnalytics::start().await;
    fake.send_dynamic_as_objects();
    let h = harness(&fake, "");
    let t0 = start_time();
    for i in 0..3 {
        let e = service_event(
            &format!("a-{i}"),
            "ResponseComplete",
            "create",
            &format!("s{i}"),
            "NodePort",
        );
        fake.add(aks_row(
            "AKSAuditAdmin",
            &e,
            "prod",
            t0 - minutes(20 - i),
            t0 - minutes(19 - i),
        ));
    }
    {
        let services = h.services();
        let mut driver = h
            .driver(&services, source(&h, true, fast_retry()), PollMode::Live)
            .await;
        assert_eq!(driver.step().await.unwrap().inserted, 3);
    }
    // Rows arrive while the daemon is down, one of them inside the overlap.
    for i in 3..5 {
        let e = service_event(
            &format!("a-{i}"),
            "ResponseComplete",
            "patch",
            &format!("s{i}"),
            "NodePort",
        );
        fake.add(aks_row(
            "AKSAuditAdmin",
            &e,
            "prod",
            t0 - minutes(5),
            t0 - minutes(4) + minutes(3 * (i - 3)),
        ));
    }
    h.clock.advance(minutes(30));
    let services = h.services();
    let mut driver = h
        .driver(&services, source(&h, true, fast_retry()), PollMode::Live)
        .await;
    let report = driver.step().await.unwrap();
    assert_eq!(report.inserted, 2);
    assert_eq!(report.duplicates, 0);
    let mut names: Vec<_> = alerts(&services)
        .await
        .into_iter()
        .filter_map(|a| a.service)
        .collect();
    names.sort();
    assert_eq!(names, ["s0", "s1", "s2", "s3", "s4"]);
}

#[tokio::test]
async fn azure_monitor_splits_a_window_whose_result_is_cut() {
    let fake = FakeLogAnalytics::start().await;
    fake.set_row_cap(3);
    let h = harness(&fake, "");
    let t0 = start_time();
    for i in 0..8 {
        let e = service_event(
            &format!("r-{i}"),
            "ResponseComplete",
            "create",
            &format!("svc{i}"),
            "NodePort",
        );
        let ingested = t0 - minutes(60) + minutes(7 * i);
        fake.add(aks_row("AKSAuditAdmin", &e, "prod", ingested, ingested));
    }
    let services = h.services();
    let mut driver = h
        .driver(&services, source(&h, true, fast_retry()), PollMode::Live)
        .await;
    let mut inserted = 0;
    for _ in 0..20 {
        let report = driver.step().await.unwrap();
        inserted += report.inserted;
        if report.progress == Progress::CaughtUp {
            break;
        }
    }
    assert_eq!(inserted, 8, "every row of the cut windows was read");
    assert_eq!(alerts(&services).await.len(), 8);
    let seen = fake.seen();
    assert!(
        seen.iter().any(|q| q.rows == 3 && q.status == 200),
        "the service cut a result"
    );
    assert!(seen.iter().all(|q| q.rows <= 3));
    assert_eq!(
        driver.cursor().watermark(WS),
        Some((t0 - minutes(2)).timestamp_millis())
    );
}

#[tokio::test]
async fn azure_monitor_splits_on_its_own_row_limit() {
    let fake = FakeLogAnalytics::start().await;
    let h = harness(&fake, "max_rows = 2\n");
    let t0 = start_time();
    for i in 0..5 {
        let e = service_event(
            &format!("m-{i}"),
            "ResponseComplete",
            "update",
            &format!("m{i}"),
            "NodePort",
        );
        fake.add(aks_row(
            "AKSAuditAdmin",
            &e,
            "prod",
            t0 - minutes(30),
            t0 - minutes(30) + minutes(i),
        ));
    }
    let services = h.services();
    let mut driver = h
        .driver(&services, source(&h, true, fast_retry()), PollMode::Live)
        .await;
    for _ in 0..20 {
        if driver.step().await.unwrap().progress == Progress::CaughtUp {
            break;
        }
    }
    assert_eq!(alerts(&services).await.len(), 5);
    assert!(fake.seen().iter().all(|q| q.text.ends_with("| take 2")));
}

#[tokio::test]
async fn azure_monitor_reads_azure_diagnostics_rows_including_trimmed_ones() {
    let fake = FakeLogAnalytics::start().await;
    let h = harness(
        &fake,
        "table = \"AzureDiagnostics\"\nclusters = [\"prod\"]\n",
    );
    let t0 = start_time();
    let whole = go_order(&service_event(
        "d-1",
        "ResponseComplete",
        "create",
        "whole",
        "NodePort",
    ));
    // A large Service whose log_s Azure trimmed at 32,766 bytes: not JSON any more.
    let mut big = service_event("d-2", "ResponseComplete", "create", "big", "NodePort");
    big["responseObject"]["metadata"]["annotations"] = json!({"blob": "x".repeat(40_000)});
    let big = go_order(&big);
    assert!(big.len() > 32_766);
    let trimmed = big[..32_766].to_owned();
    let klog = "I0501 12:00:00.000000 1 services.go:42] \"resource\":\"services\" \"verb\":\"create\" sync".to_owned();
    let other_cluster = go_order(&service_event(
        "d-3",
        "ResponseComplete",
        "create",
        "elsewhere",
        "NodePort",
    ));
    fake.add(diagnostics_row(
        whole,
        "prod",
        t0 - minutes(10),
        t0 - minutes(9),
    ));
    fake.add(diagnostics_row(
        trimmed,
        "prod",
        t0 - minutes(10),
        t0 - minutes(9),
    ));
    fake.add(diagnostics_row(
        klog,
        "prod",
        t0 - minutes(10),
        t0 - minutes(9),
    ));
    fake.add(diagnostics_row(
        other_cluster,
        "staging",
        t0 - minutes(10),
        t0 - minutes(9),
    ));

    let services = h.services();
    let mut driver = h
        .driver(&services, source(&h, true, fast_retry()), PollMode::Live)
        .await;
    let report = driver.step().await.unwrap();
    assert_eq!(
        report.stats.records, 3,
        "the other cluster is filtered by the query"
    );
    assert_eq!(report.stats.degraded, 1);
    assert_eq!(
        report.stats.skipped_total(),
        1,
        "{:?}",
        report.stats.skipped
    );
    assert!(
        report.stats.skipped.contains_key(&SkipReason::InvalidJson)
            || report.stats.skipped.contains_key(&SkipReason::NotAudit)
    );
    let mut got = alerts(&services).await;
    got.sort_by(|a, b| a.service.cmp(&b.service));
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].service.as_deref(), Some("big"));
    assert!(
        got[0].degraded.contains(&Degradation::Truncated),
        "{:?}",
        got[0].degraded
    );
    assert_eq!(got[1].service.as_deref(), Some("whole"));
    assert!(
        fake.seen()[0]
            .text
            .contains("endswith \"/managedClusters/prod\"")
    );
}

#[tokio::test]
async fn azure_monitor_alerts_on_what_it_can_know_of_skipped_bodies() {
    let fake = FakeLogAnalytics::start().await;
    let h = harness(&fake, "table = \"AKSAudit\"\n");
    let t0 = start_time();
    let mut e = service_event("big-1", "ResponseComplete", "create", "huge", "NodePort");
    e["requestObject"] = json!("skipped-too-big-size-object");
    fake.add(aks_row(
        "AKSAudit",
        &e,
        "prod",
        t0 - minutes(10),
        t0 - minutes(9),
    ));
    let services = h.services();
    let mut driver = h
        .driver(&services, source(&h, true, fast_retry()), PollMode::Live)
        .await;
    let report = driver.step().await.unwrap();
    assert_eq!(report.stats.degraded, 1);
    let got = alerts(&services).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].service_type.as_deref(), Some("NodePort"));
    assert!(got[0].degraded.contains(&Degradation::RequestOmitted));
}

fn source_error(e: DriverError) -> nodeport_watch::sources::SourceError {
    match e {
        DriverError::Source(e) => e,
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn azure_monitor_failures_never_advance_the_checkpoint() {
    let fake = FakeLogAnalytics::start().await;
    let h = harness(&fake, "");
    let t0 = start_time();
    let e = service_event("f-1", "ResponseComplete", "create", "f", "NodePort");
    fake.add(aks_row(
        "AKSAuditAdmin",
        &e,
        "prod",
        t0 - minutes(10),
        t0 - minutes(9),
    ));
    let services = h.services();
    let mut driver = h
        .driver(
            &services,
            source(&h, true, RetryOptions::none()),
            PollMode::Live,
        )
        .await;
    let before = driver.cursor().clone();

    fake.fail_next(Failure::Throttle {
        retry_after_secs: 7,
    });
    let err = source_error(driver.step().await.unwrap_err());
    assert_eq!(err.kind, SourceErrorKind::Throttled);
    assert_eq!(err.retry_after, Some(Duration::from_secs(7)));

    fake.fail_next(Failure::Status(500));
    assert_eq!(
        source_error(driver.step().await.unwrap_err()).kind,
        SourceErrorKind::Transient
    );

    fake.fail_next(Failure::Partial);
    let err = source_error(driver.step().await.unwrap_err());
    assert!(err.message.contains("partial result"), "{err}");

    assert_eq!(driver.cursor(), &before);
    let stored = services
        .store
        .load_cursor(driver.cursor_key())
        .await
        .unwrap();
    assert!(stored.is_none(), "nothing was committed");
    assert!(alerts(&services).await.is_empty());

    let report = driver.step().await.unwrap();
    assert_eq!(report.inserted, 1);
    assert_ne!(driver.cursor(), &before);
}

#[tokio::test]
async fn azure_monitor_pipeline_retries_server_errors_within_a_poll() {
    let fake = FakeLogAnalytics::start().await;
    let h = harness(&fake, "");
    fake.create_table(WS, "AKSAuditAdmin");
    fake.fail_next(Failure::Status(503));
    fake.fail_next(Failure::Status(502));
    let services = h.services();
    let mut driver = h
        .driver(&services, source(&h, true, fast_retry()), PollMode::Live)
        .await;
    driver.step().await.unwrap();
    let statuses: Vec<u16> = fake.seen().iter().map(|q| q.status).collect();
    assert_eq!(statuses, [503, 502, 200]);
}

#[tokio::test]
async fn azure_monitor_requires_a_token() {
    let fake = FakeLogAnalytics::start().await;
    let h = harness(&fake, "");
    fake.create_table(WS, "AKSAuditAdmin");
    let services = h.services();
    let mut driver = h
        .driver(&services, source(&h, false, fast_retry()), PollMode::Live)
        .await;
    let err = source_error(driver.step().await.unwrap_err());
    assert_eq!(err.kind, SourceErrorKind::Fatal);
    assert!(
        err.message.contains("401") && err.message.contains("Log Analytics Reader"),
        "{err}"
    );
    // The daemon's own wiring (`validate --connect`) with credential = "none" gets the same.
    let err = check_source(&h.settings.sources[0], &services)
        .await
        .unwrap_err();
    assert!(err.message.contains("AuthenticationFailed"), "{err}");
}

#[tokio::test]
async fn azure_monitor_healthcheck_names_a_missing_table() {
    let fake = FakeLogAnalytics::start().await;
    let h = harness(&fake, "table = \"AKSAudit\"\n");
    fake.create_table(WS, "AzureDiagnostics");
    let mut s = source(&h, true, fast_retry());
    use nodeport_watch::sources::Source as _;
    let err = s.healthcheck().await.unwrap_err();
    assert!(
        err.message.contains("AKSAudit") && err.message.contains("diagnostic setting"),
        "{err}"
    );
    fake.create_table(WS, "AKSAudit");
    s.healthcheck().await.unwrap();
}

#[tokio::test]
async fn azure_monitor_scan_leaves_the_live_checkpoint_alone() {
    let fake = FakeLogAnalytics::start().await;
    let h = harness_with(&fake, &format!("workspace_id = [\"{WS}\", \"{WS2}\"]"), "");
    let t0 = start_time();
    let e = service_event("s-1", "ResponseComplete", "create", "scanned", "NodePort");
    fake.add(aks_row(
        "AKSAuditAdmin",
        &e,
        "prod",
        t0 - minutes(200),
        t0 - minutes(190),
    ));
    let mut other = aks_row(
        "AKSAuditAdmin",
        &e,
        "prod",
        t0 - minutes(200),
        t0 - minutes(190),
    );
    other.workspace = WS2.into();
    fake.add(other);
    let services = h.services();
    let mut live = h
        .driver(&services, source(&h, true, fast_retry()), PollMode::Live)
        .await;
    live.step().await.unwrap();
    let live_cursor = services
        .store
        .load_cursor(live.cursor_key())
        .await
        .unwrap()
        .unwrap();

    let range = TimeRange {
        since: t0 - minutes(240),
        until: t0 - minutes(100),
    };
    let mut scan = h
        .driver(
            &services,
            source(&h, true, fast_retry()),
            PollMode::Scan(range),
        )
        .await;
    let mut inserted = 0;
    let mut finished = false;
    for _ in 0..10 {
        let report = scan.step().await.unwrap();
        inserted += report.inserted;
        if report.progress == Progress::Finished {
            finished = true;
            break;
        }
    }
    assert!(finished);
    assert_eq!(inserted, 1, "the same event in two workspaces alerts once");
    assert!(
        fake.seen().iter().filter(|q| q.ingestion.is_none()).count() >= 2,
        "scans select by TimeGenerated"
    );
    assert_eq!(
        services
            .store
            .load_cursor(live.cursor_key())
            .await
            .unwrap()
            .unwrap(),
        live_cursor
    );
    assert_ne!(scan.cursor_key(), live.cursor_key());
}

#[tokio::test]
async fn azure_monitor_max_catchup_moves_an_old_checkpoint_forward() {
    let fake = FakeLogAnalytics::start().await;
    let h = harness(&fake, "max_catchup = \"1h\"\n");
    fake.create_table(WS, "AKSAuditAdmin");
    {
        let services = h.services();
        let mut driver = h
            .driver(&services, source(&h, true, fast_retry()), PollMode::Live)
            .await;
        driver.step().await.unwrap();
    }
    h.clock.advance(Span::hours(5));
    let services = h.services();
    let driver = h
        .driver(&services, source(&h, true, fast_retry()), PollMode::Live)
        .await;
    let keep_from = (start_time() + Span::hours(4)).timestamp_millis();
    assert_eq!(driver.cursor().watermark(WS), Some(keep_from));
    assert_eq!(
        <nodeport_watch::sources::azure_monitor::AzureMonitorCursor as Cursor>::KIND,
        "azure_monitor"
    );
}

#[test]
fn azure_example_config_sources_are_valid() {
    let example =
        std::fs::read_to_string(crate::support::root().join("config/example.toml")).unwrap();
    let start = example
        .find("# AKS, from a Log Analytics workspace")
        .unwrap();
    let end = start + example[start..].find("# <!-- section").unwrap();
    let uncommented: String = example[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| {
            l.starts_with("[[")
                || l.split_once(" = ")
                    .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let h = Harness::new(&uncommented);
    let kinds: Vec<&str> = h
        .settings
        .sources
        .iter()
        .map(|s| s.kind.type_name())
        .collect();
    assert_eq!(kinds, ["azure_monitor", "azure_blob"]);
    match h.kind() {
        SourceKind::AzureMonitor(s) => {
            assert_eq!(s.clusters.len(), 2);
            assert_eq!(s.max_rows, 50_000);
            assert_eq!(s.window.overlap, Duration::from_secs(300));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn azure_monitor_config_problems_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[[sources]]\ntype = \"azure_monitor\"\nname = \"a\"\nworkspace_id = \"../x\"\n\
         table = \"AKSAudits\"\nendpoint = \"http://api.example.com\"\nmax_rows = 600000\n\
         clusters = [\"bad name!\"]\n\n[[sinks]]\ntype = \"stdout\"\nname = \"out\"\n",
    )
    .unwrap();
    let text = nodeport_watch::config::load(&path).unwrap_err().to_string();
    for key in [
        "sources[0].workspace_id",
        "sources[0].table",
        "sources[0].endpoint",
        "sources[0].max_rows",
        "sources[0].clusters",
    ] {
        assert!(text.contains(key), "{key} missing in {text}");
    }
    std::fs::write(
        &path,
        "[[sources]]\ntype = \"azure_monitor\"\nname = \"a\"\nworkspace_id = \"w\"\n\
         credential = \"none\"\n\n[[sinks]]\ntype = \"stdout\"\nname = \"out\"\n",
    )
    .unwrap();
    let text = nodeport_watch::config::load(&path).unwrap_err().to_string();
    assert!(text.contains("sources[0].credential: `none`"), "{text}");
}

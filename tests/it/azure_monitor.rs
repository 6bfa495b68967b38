//! `type = "azure_monitor"` against the local Log Analytics fake: ingestion-time windows, late
//! rows, restarts, full results split, both table styles, records AKS cut short.

use nodeport_watch::model::Degradation;
use nodeport_watch::normalize::SkipReason;
use nodeport_watch::sources::{PollMode, Progress};
use serde_json::json;

use crate::support::azure_harness::{alerts, go_order, lease_event, service_event, start_time};
use crate::support::azure_monitor_kit::{
    WS, aks_row, diagnostics_row, harness, minutes, sdk_retry, source,
};
use crate::support::fake_log_analytics::FakeLogAnalytics;

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
        .driver(&services, source(&h, true, sdk_retry()), PollMode::Live)
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
        .driver(&services, source(&h, true, sdk_retry()), PollMode::Live)
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
            .driver(&services, source(&h, true, sdk_retry()), PollMode::Live)
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
        .driver(&services, source(&h, true, sdk_retry()), PollMode::Live)
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
        .driver(&services, source(&h, true, sdk_retry()), PollMode::Live)
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
        .driver(&services, source(&h, true, sdk_retry()), PollMode::Live)
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
        .driver(&services, source(&h, true, sdk_retry()), PollMode::Live)
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
        .driver(&services, source(&h, true, sdk_retry()), PollMode::Live)
        .await;
    let report = driver.step().await.unwrap();
    assert_eq!(report.stats.degraded, 1);
    let got = alerts(&services).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].service_type.as_deref(), Some("NodePort"));
    assert!(got[0].degraded.contains(&Degradation::RequestOmitted));
}

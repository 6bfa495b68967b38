//! `type = "azure_monitor"`: failures that must not advance the checkpoint, retries, the token,
//! healthchecks, scans, `max_catchup`, and configuration.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Span;
use nodeport_watch::ingest::DriverError;
use nodeport_watch::ingest::launch::check_source;
use nodeport_watch::model::Cursor;
use nodeport_watch::sources::{PollMode, Progress, SourceErrorKind, TimeRange};

use crate::support::azure_harness::{alerts, service_event, start_time};
use crate::support::azure_monitor_kit::{
    WS, WS2, aks_row, harness, harness_with, limiter, minutes, sdk_retry, source, source_with,
};
use crate::support::fake_log_analytics::{Failure, FakeLogAnalytics};

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
        .driver(&services, source(&h, true, sdk_retry()), PollMode::Live)
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
async fn azure_monitor_sdk_never_retries_behind_the_limiter() {
    let fake = FakeLogAnalytics::start().await;
    let h = harness(&fake, "");
    fake.create_table(WS, "AKSAuditAdmin");
    fake.fail_next(Failure::Status(503));
    fake.fail_next(Failure::Status(502));
    let services = h.services();
    let limiter = limiter();
    let s = source_with(&h, true, sdk_retry(), Arc::clone(&limiter));
    let mut driver = h.driver(&services, s, PollMode::Live).await;
    let statuses = || fake.seen().iter().map(|q| q.status).collect::<Vec<u16>>();

    // Each server error is one request, one limiter acquire, and goes back to the driver
    // classified as transient (the driver's backoff retries it).
    let e = source_error(driver.step().await.unwrap_err());
    assert_eq!(e.kind, SourceErrorKind::Transient);
    assert_eq!((statuses(), limiter.acquired()), (vec![503], 1));
    let e = source_error(driver.step().await.unwrap_err());
    assert_eq!(e.kind, SourceErrorKind::Transient);
    assert_eq!((statuses(), limiter.acquired()), (vec![503, 502], 2));
    driver.step().await.unwrap();
    assert_eq!((statuses(), limiter.acquired()), (vec![503, 502, 200], 3));
}

#[tokio::test]
async fn azure_monitor_requires_a_token() {
    let fake = FakeLogAnalytics::start().await;
    let h = harness(&fake, "");
    fake.create_table(WS, "AKSAuditAdmin");
    let services = h.services();
    let mut driver = h
        .driver(&services, source(&h, false, sdk_retry()), PollMode::Live)
        .await;
    let err = source_error(driver.step().await.unwrap_err());
    assert_eq!(err.kind, SourceErrorKind::Fatal);
    assert!(
        err.message.contains("HTTP 401 AuthenticationFailed")
            && err.message.contains("check `credential`"),
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
    let mut s = source(&h, true, sdk_retry());
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
    let mut e = service_event("s-1", "ResponseComplete", "create", "scanned", "NodePort");
    // Inside the scanned range, as a scan's pipeline only inspects events of its range.
    let at = (t0 - minutes(200)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    e["requestReceivedTimestamp"] = at.clone().into();
    e["stageTimestamp"] = at.into();
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
        .driver(&services, source(&h, true, sdk_retry()), PollMode::Live)
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
            source(&h, true, sdk_retry()),
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
            .driver(&services, source(&h, true, sdk_retry()), PollMode::Live)
            .await;
        driver.step().await.unwrap();
    }
    h.clock.advance(Span::hours(5));
    let services = h.services();
    let driver = h
        .driver(&services, source(&h, true, sdk_retry()), PollMode::Live)
        .await;
    let keep_from = (start_time() + Span::hours(4)).timestamp_millis();
    assert_eq!(driver.cursor().watermark(WS), Some(keep_from));
    assert_eq!(
        <nodeport_watch::sources::azure_monitor::AzureMonitorCursor as Cursor>::KIND,
        "azure_monitor"
    );
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

//! `type = "azure_blob"` against Azurite: hourly blobs in the AKS archive layout, lines
//! appended while the source polls, a line split across two appends, several clusters,
//! restart, settled hours, scans, and records AKS cut short.

use chrono::{DateTime, Duration as Span, Utc};
use nodeport_watch::config::SourceKind;
use nodeport_watch::model::Degradation;
use nodeport_watch::normalize::SkipReason;
use nodeport_watch::runtime::Services;
use nodeport_watch::runtime::launch::check_source;
use nodeport_watch::sources::azure_blob::AzureBlobSource;
use nodeport_watch::sources::{PollMode, Progress, Source as _, SourceDriver, TimeRange};
use serde_json::json;

use crate::support::azure_harness::{
    Harness, SUBSCRIPTION, alerts, cluster_id, go_order, service_event, start_time,
};
use crate::support::azurite::{Azurite, append, skipped};

const ADMIN: &str = "insights-logs-kube-audit-admin";

fn harness(azurite: &Azurite, extra: &str) -> Harness {
    Harness::new(&format!(
        "[[sources]]\ntype = \"azure_blob\"\nname = \"archive\"\nconnection_string = \"{}\"\n\
         lookback = \"3h\"\nsettle = \"30m\"\n{extra}",
        azurite.connection_string()
    ))
}

fn source(h: &Harness, services: &Services) -> AzureBlobSource {
    match h.kind() {
        SourceKind::AzureBlob(s) => AzureBlobSource::from_services("archive", s, services).unwrap(),
        other => panic!("{other:?}"),
    }
}

async fn driver(h: &Harness, services: &Services, mode: PollMode) -> SourceDriver<AzureBlobSource> {
    h.driver(services, source(h, services), mode).await
}

/// The blob of one cluster and hour, as a diagnostic setting names it.
fn blob_name(cluster: &str, hour: DateTime<Utc>) -> String {
    format!(
        "resourceId={}/{}",
        cluster_id(cluster).to_uppercase(),
        hour.format("y=%Y/m=%m/d=%d/h=%H/m=00/PT1H.json")
    )
}

/// One archived record (a `PT1H.json` line) holding `log` as `properties.log`.
fn record_with_log(cluster: &str, log: &str) -> String {
    json!({
        "category": "kube-audit-admin",
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "properties": {"log": log, "stream": "stdout", "pod": "kube-apiserver-7d9f8"},
        "resourceId": cluster_id(cluster).to_uppercase(),
        "time": "2024-05-01T11:00:00.1234567Z"
    })
    .to_string()
}

fn nodeport_line(cluster: &str, id: &str, name: &str) -> String {
    let event = service_event(id, "ResponseComplete", "create", name, "NodePort");
    format!("{}\n", record_with_log(cluster, &go_order(&event)))
}

fn clusterip_line(cluster: &str, id: &str, name: &str) -> String {
    let event = service_event(id, "ResponseComplete", "create", name, "ClusterIP");
    format!("{}\n", record_with_log(cluster, &go_order(&event)))
}

async fn service_names(services: &Services) -> Vec<String> {
    let mut names: Vec<String> = alerts(services)
        .await
        .into_iter()
        .filter_map(|a| a.service)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn azure_blob_follows_appends_split_lines_and_several_clusters() {
    if skipped() {
        return;
    }
    let azurite = Azurite::start().await;
    let admin = azurite.create_container(ADMIN).await;
    let h = harness(&azurite, "");
    let t0 = start_time();
    let hour11 = t0 - Span::hours(1);
    let prod11 = blob_name("prod", hour11);
    let staging11 = blob_name("staging", hour11);
    let prod12 = blob_name("prod", t0);
    append(
        &admin,
        &prod11,
        (nodeport_line("prod", "p-1", "p1") + &clusterip_line("prod", "p-2", "p2")).as_bytes(),
        true,
    )
    .await;
    append(
        &admin,
        &staging11,
        nodeport_line("staging", "s-1", "s1").as_bytes(),
        true,
    )
    .await;

    let services = h.services();
    let mut driver = driver(&h, &services, PollMode::Live).await;
    let report = driver.step().await.unwrap();
    assert_eq!(report.stats.records, 3);
    assert_eq!(service_names(&services).await, ["p1", "s1"]);
    let alert = alerts(&services)
        .await
        .into_iter()
        .find(|a| a.service.as_deref() == Some("s1"))
        .unwrap();
    assert_eq!(alert.cluster.as_deref(), Some("staging"));
    assert_eq!(alert.account.as_deref(), Some(SUBSCRIPTION));

    // Lines appended while the source runs, including a new hour's blob.
    append(
        &admin,
        &prod11,
        nodeport_line("prod", "p-3", "p3").as_bytes(),
        false,
    )
    .await;
    append(
        &admin,
        &prod12,
        nodeport_line("prod", "p-4", "p4").as_bytes(),
        true,
    )
    .await;
    let report = driver.step().await.unwrap();
    assert_eq!(report.stats.records, 2);
    assert_eq!(service_names(&services).await, ["p1", "p3", "p4", "s1"]);

    // One line written in two appends is read once, whole, after the second.
    let line = nodeport_line("prod", "p-5", "p5");
    let (first, second) = line.split_at(line.len() / 2);
    append(&admin, &prod12, first.as_bytes(), false).await;
    let report = driver.step().await.unwrap();
    assert_eq!(report.stats.records, 0, "half a line is not read");
    append(&admin, &prod12, second.as_bytes(), false).await;
    let report = driver.step().await.unwrap();
    assert_eq!(report.stats.records, 1);
    assert_eq!(report.stats.skipped_total(), 0);
    assert_eq!(report.inserted, 1);
    let report = driver.step().await.unwrap();
    assert_eq!(
        (report.stats.records, report.progress),
        (0, Progress::CaughtUp)
    );
    assert_eq!(
        service_names(&services).await,
        ["p1", "p3", "p4", "p5", "s1"]
    );
    let position = &driver.cursor().blobs[&format!("{ADMIN}/{prod12}")];
    assert!(position.etag.is_some());
}

#[tokio::test]
async fn azure_blob_restart_misses_nothing_and_repeats_nothing() {
    if skipped() {
        return;
    }
    let azurite = Azurite::start().await;
    let admin = azurite.create_container(ADMIN).await;
    let audit = azurite.create_container("insights-logs-kube-audit").await;
    let prod_id = cluster_id("prod");
    let h = harness(
        &azurite,
        &format!(
            "categories = [\"kube-audit-admin\", \"kube-audit\"]\nclusters = [\"{prod_id}\"]\n"
        ),
    );
    let hour = start_time() - Span::hours(1);
    let prod = blob_name("prod", hour);
    append(
        &admin,
        &prod,
        nodeport_line("prod", "r-1", "r1").as_bytes(),
        true,
    )
    .await;
    append(
        &admin,
        &blob_name("staging", hour),
        nodeport_line("staging", "x-1", "ignored").as_bytes(),
        true,
    )
    .await;
    append(
        &audit,
        &prod,
        nodeport_line("prod", "r-2", "r2").as_bytes(),
        true,
    )
    .await;
    {
        let services = h.services();
        let mut driver = driver(&h, &services, PollMode::Live).await;
        assert_eq!(driver.step().await.unwrap().inserted, 2);
    }
    // Written while the daemon is down, a partial line among them.
    append(
        &admin,
        &prod,
        (nodeport_line("prod", "r-3", "r3") + "{\"category\":").as_bytes(),
        false,
    )
    .await;
    let services = h.services();
    let mut driver = driver(&h, &services, PollMode::Live).await;
    let report = driver.step().await.unwrap();
    assert_eq!(
        (report.stats.records, report.inserted, report.duplicates),
        (1, 1, 0)
    );
    assert_eq!(
        service_names(&services).await,
        ["r1", "r2", "r3"],
        "the other cluster is not read"
    );
}

#[tokio::test]
async fn azure_blob_counts_what_aks_cut_short_and_alerts_on_what_is_left() {
    if skipped() {
        return;
    }
    let azurite = Azurite::start().await;
    let admin = azurite.create_container(ADMIN).await;
    let h = harness(&azurite, "");
    let blob = blob_name("prod", start_time() - Span::hours(1));
    // properties.log cut at 16 KiB by the storage export (Azure/AKS#4635).
    let mut big = service_event("t-1", "ResponseComplete", "create", "cut", "NodePort");
    big["responseObject"]["metadata"]["annotations"] = json!({"blob": "x".repeat(20_000)});
    let cut = go_order(&big)[..16 * 1024].to_owned();
    let mut omitted = service_event("t-2", "ResponseComplete", "create", "omitted", "NodePort");
    omitted["requestObject"] = json!("skipped-too-big-size-object");
    let klog = "I0501 11:00:00.000000       1 services.go:42] resync services";
    let lines = [
        record_with_log("prod", &cut),
        record_with_log("prod", &go_order(&omitted)),
        record_with_log("prod", klog),
        "{\"category\":\"kube-audit-admin\",\"properties\":{\"log\":\"services".to_owned(),
    ];
    append(
        &admin,
        &blob,
        format!("{}\n", lines.join("\n")).as_bytes(),
        true,
    )
    .await;
    let services = h.services();
    let mut driver = driver(&h, &services, PollMode::Live).await;
    let report = driver.step().await.unwrap();
    assert_eq!(report.stats.records, 4);
    assert_eq!(report.stats.degraded, 2);
    assert_eq!(
        report.stats.skipped_total(),
        2,
        "{:?}",
        report.stats.skipped
    );
    assert!(
        report.stats.skipped.contains_key(&SkipReason::Truncated),
        "{:?}",
        report.stats.skipped
    );
    let got = alerts(&services).await;
    assert_eq!(got.len(), 2);
    let cut = got
        .iter()
        .find(|a| a.service.as_deref() == Some("cut"))
        .unwrap();
    assert!(cut.degraded.contains(&Degradation::Truncated));
    assert_eq!(cut.service_type.as_deref(), Some("NodePort"));
    let omitted = got
        .iter()
        .find(|a| a.service.as_deref() == Some("omitted"))
        .unwrap();
    assert!(omitted.degraded.contains(&Degradation::RequestOmitted));
}

#[tokio::test]
async fn azure_blob_closes_settled_hours_and_reads_their_unterminated_last_line() {
    if skipped() {
        return;
    }
    let azurite = Azurite::start().await;
    let admin = azurite.create_container(ADMIN).await;
    let h = harness(&azurite, "");
    let t0 = start_time();
    let hour10 = blob_name("prod", t0 - Span::hours(2));
    let hour11 = blob_name("prod", t0 - Span::hours(1));
    let last = nodeport_line("prod", "u-2", "u2");
    append(
        &admin,
        &hour10,
        (nodeport_line("prod", "u-1", "u1") + last.trim_end()).as_bytes(),
        true,
    )
    .await;
    let open_last = nodeport_line("prod", "u-3", "u3");
    append(&admin, &hour11, open_last.trim_end().as_bytes(), true).await;

    let services = h.services();
    let mut driver = driver(&h, &services, PollMode::Live).await;
    let report = driver.step().await.unwrap();
    assert_eq!(
        report.stats.records, 2,
        "hour 10 settled at 11:30; hour 11 has not"
    );
    assert_eq!(service_names(&services).await, ["u1", "u2"]);
    let cursor = driver.cursor();
    assert_eq!(
        cursor.from_hour_ms,
        (t0 - Span::hours(1)).timestamp_millis()
    );
    assert!(
        !cursor.blobs.contains_key(&format!("{ADMIN}/{hour10}")),
        "a closed hour is forgotten"
    );

    // Once hour 11 settles (12:30), its unterminated last line is read.
    h.clock.advance(Span::minutes(31));
    let report = driver.step().await.unwrap();
    assert_eq!(report.stats.records, 1);
    assert_eq!(service_names(&services).await, ["u1", "u2", "u3"]);
    assert_eq!(driver.cursor().from_hour_ms, t0.timestamp_millis());
}

#[tokio::test]
async fn azure_blob_scan_leaves_the_live_checkpoint_alone() {
    if skipped() {
        return;
    }
    let azurite = Azurite::start().await;
    let admin = azurite.create_container(ADMIN).await;
    let h = harness(&azurite, "");
    let t0 = start_time();
    append(
        &admin,
        &blob_name("prod", t0 - Span::hours(1)),
        nodeport_line("prod", "c-1", "c1").as_bytes(),
        true,
    )
    .await;
    append(
        &admin,
        &blob_name("prod", t0 - Span::hours(6)),
        nodeport_line("prod", "c-0", "old").as_bytes(),
        true,
    )
    .await;
    let services = h.services();
    let mut live = driver(&h, &services, PollMode::Live).await;
    live.step().await.unwrap();
    assert_eq!(
        service_names(&services).await,
        ["c1"],
        "lookback is 3 hours"
    );
    let live_cursor = services
        .store
        .load_cursor(live.cursor_key())
        .await
        .unwrap()
        .unwrap();

    // The event times of the records are 2024-05-01T11:00; scan the morning.
    let range = TimeRange {
        since: t0 - Span::hours(7),
        until: t0 - Span::minutes(30),
    };
    let mut scan = driver(&h, &services, PollMode::Scan(range)).await;
    let mut finished = false;
    for _ in 0..10 {
        if scan.step().await.unwrap().progress == Progress::Finished {
            finished = true;
            break;
        }
    }
    assert!(finished);
    assert_eq!(service_names(&services).await, ["c1", "old"]);
    assert_eq!(
        services
            .store
            .load_cursor(live.cursor_key())
            .await
            .unwrap()
            .unwrap(),
        live_cursor
    );
}

#[tokio::test]
async fn azure_blob_healthcheck_names_a_missing_container() {
    if skipped() {
        return;
    }
    let azurite = Azurite::start().await;
    let h = harness(&azurite, "");
    let services = h.services();
    let err = check_source(&h.settings.sources[0], &services)
        .await
        .unwrap_err();
    assert!(err.message.contains("does not exist"), "{err}");
    azurite.create_container(ADMIN).await;
    check_source(&h.settings.sources[0], &services)
        .await
        .unwrap();
    let mut s = source(&h, &services);
    s.healthcheck().await.unwrap();
}

#[tokio::test]
async fn azure_blob_reads_lines_appended_while_the_driver_runs() {
    if skipped() {
        return;
    }
    let azurite = Azurite::start().await;
    let admin = azurite.create_container(ADMIN).await;
    let h = harness(&azurite, "");
    let blob = blob_name("prod", start_time());
    append(
        &admin,
        &blob,
        nodeport_line("prod", "w-0", "w0").as_bytes(),
        true,
    )
    .await;
    let services = h.services();
    let driver = driver(&h, &services, PollMode::Live).await;
    let cancel = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(driver.run(std::time::Duration::from_millis(100), cancel.clone()));
    for i in 1..=5 {
        let line = nodeport_line("prod", &format!("w-{i}"), &format!("w{i}"));
        let (a, b) = line.split_at(40);
        append(&admin, &blob, a.as_bytes(), false).await;
        append(&admin, &blob, b.as_bytes(), false).await;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while alerts(&services).await.len() < 6 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    cancel.cancel();
    running.await.unwrap().unwrap();
    assert_eq!(
        service_names(&services).await,
        ["w0", "w1", "w2", "w3", "w4", "w5"]
    );
}

#[tokio::test]
async fn azure_blob_a_wrong_account_key_is_refused_and_reported() {
    if skipped() {
        return;
    }
    let azurite = Azurite::start().await;
    azurite.create_container(ADMIN).await;
    let h = Harness::new(&format!(
        "[[sources]]\ntype = \"azure_blob\"\nname = \"archive\"\naccount_url = \"{}\"\naccount_key = \"{}\"\n",
        azurite.account_url(),
        "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="
    ));
    let services = h.services();
    let err = check_source(&h.settings.sources[0], &services)
        .await
        .unwrap_err();
    assert!(
        err.message.contains("403") && err.message.contains("Storage Blob Data Reader"),
        "{err}"
    );
    assert!(!err.message.contains("d3Jvbmc"), "the key is never shown");
}

#[tokio::test]
async fn azure_blob_max_catchup_skips_old_hours_and_says_which() {
    use nodeport_watch::sources::azure_blob::{BlobCursor, BlobPosition};
    let h = Harness::new(
        "[[sources]]\ntype = \"azure_blob\"\nname = \"archive\"\n\
         account_url = \"http://127.0.0.1:9/devstoreaccount1\"\ncredential = \"none\"\nmax_catchup = \"2h\"\n",
    );
    let services = h.services();
    let s = source(&h, &services);
    let t0 = start_time();
    let old = format!("{ADMIN}/{}", blob_name("prod", t0 - Span::hours(5)));
    let kept = format!("{ADMIN}/{}", blob_name("prod", t0 - Span::hours(1)));
    let mut cursor = BlobCursor {
        from_hour_ms: (t0 - Span::hours(10)).timestamp_millis(),
        blobs: [
            (old.clone(), BlobPosition::default()),
            (kept.clone(), BlobPosition::default()),
        ]
        .into_iter()
        .collect(),
    };
    let skipped = s
        .skip_backlog(&mut cursor, std::time::Duration::from_secs(7200), t0)
        .unwrap();
    assert_eq!(skipped.since, t0 - Span::hours(10));
    assert_eq!(skipped.until, t0 - Span::hours(2));
    assert_eq!(
        cursor.from_hour_ms,
        (t0 - Span::hours(2)).timestamp_millis()
    );
    assert!(!cursor.blobs.contains_key(&old) && cursor.blobs.contains_key(&kept));
    assert!(
        s.skip_backlog(&mut cursor, std::time::Duration::from_secs(7200), t0)
            .is_none()
    );
}

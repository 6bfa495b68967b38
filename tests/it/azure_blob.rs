//! `type = "azure_blob"` against Azurite: hourly blobs in the AKS archive layout, lines
//! appended while the source polls or runs, a line split across two appends, several clusters,
//! restart, and records AKS cut short.

use chrono::Duration as Span;
use nodeport_watch::model::Degradation;
use nodeport_watch::normalize::SkipReason;
use nodeport_watch::sources::{PollMode, Progress};
use serde_json::json;

use crate::support::azure_blob_kit::{
    ADMIN, blob_name, clusterip_line, driver, harness, nodeport_line, record_with_log,
    service_names,
};
use crate::support::azure_harness::{
    SUBSCRIPTION, alerts, cluster_id, go_order, service_event, start_time,
};
use crate::support::azurite::{Azurite, append};
use crate::support::wait::eventually;

#[tokio::test]
async fn azure_blob_follows_appends_split_lines_and_several_clusters() {
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
async fn azure_blob_reads_lines_appended_while_the_driver_runs() {
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
    eventually(
        "six alerts",
        std::time::Duration::from_secs(30),
        async || (alerts(&services).await.len() >= 6).then_some(()),
    )
    .await;
    cancel.cancel();
    running.await.unwrap().unwrap();
    assert_eq!(
        service_names(&services).await,
        ["w0", "w1", "w2", "w3", "w4", "w5"]
    );
}

#[tokio::test]
async fn azure_blob_restart_misses_nothing_and_repeats_nothing() {
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
    let klog = "I0501 11:00:00.000000       1 services.go:42] update services";
    let lines = [
        record_with_log("prod", &cut),
        record_with_log("prod", &go_order(&omitted)),
        record_with_log("prod", klog),
        "{\"category\":\"kube-audit-admin\",\"properties\":{\"log\":\"create services".to_owned(),
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

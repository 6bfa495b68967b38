//! Helpers of the `azure_blob` tests: a configured source pointed at Azurite, and archive blob
//! names and lines as a diagnostic setting writes them.

use chrono::{DateTime, Utc};
use nodeport_watch::config::SourceKind;
use nodeport_watch::ingest::Services;
use nodeport_watch::ingest::SourceDriver;
use nodeport_watch::sources::azure_blob::AzureBlobSource;
use nodeport_watch::sources::{BuildSource, PollMode};
use serde_json::json;

use super::azure_harness::{Harness, alerts, cluster_id, go_order, service_event};
use super::azurite::Azurite;

pub const ADMIN: &str = "insights-logs-kube-audit-admin";

pub fn harness(azurite: &Azurite, extra: &str) -> Harness {
    Harness::new(&format!(
        "[[sources]]\ntype = \"azure_blob\"\nname = \"archive\"\nconnection_string = \"{}\"\n\
         lookback = \"3h\"\nsettle = \"30m\"\n{extra}",
        azurite.connection_string()
    ))
}

pub async fn source(h: &Harness, services: &Services) -> AzureBlobSource {
    match h.kind() {
        SourceKind::AzureBlob(s) => AzureBlobSource::build(services.source_context("archive"), s)
            .await
            .unwrap(),
        other => panic!("{other:?}"),
    }
}

pub async fn driver(
    h: &Harness,
    services: &Services,
    mode: PollMode,
) -> SourceDriver<AzureBlobSource> {
    h.driver(services, source(h, services).await, mode).await
}

/// The blob of one cluster and hour, as a diagnostic setting names it.
pub fn blob_name(cluster: &str, hour: DateTime<Utc>) -> String {
    format!(
        "resourceId={}/{}",
        cluster_id(cluster).to_uppercase(),
        hour.format("y=%Y/m=%m/d=%d/h=%H/m=00/PT1H.json")
    )
}

/// One archived record (a `PT1H.json` line) holding `log` as `properties.log`.
pub fn record_with_log(cluster: &str, log: &str) -> String {
    json!({
        "category": "kube-audit-admin",
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "properties": {"log": log, "stream": "stdout", "pod": "kube-apiserver-7d9f8"},
        "resourceId": cluster_id(cluster).to_uppercase(),
        "time": "2024-05-01T11:00:00.1234567Z"
    })
    .to_string()
}

pub fn nodeport_line(cluster: &str, id: &str, name: &str) -> String {
    let event = service_event(id, "ResponseComplete", "create", name, "NodePort");
    format!("{}\n", record_with_log(cluster, &go_order(&event)))
}

pub fn clusterip_line(cluster: &str, id: &str, name: &str) -> String {
    let event = service_event(id, "ResponseComplete", "create", name, "ClusterIP");
    format!("{}\n", record_with_log(cluster, &go_order(&event)))
}

pub async fn service_names(services: &Services) -> Vec<String> {
    let mut names: Vec<String> = alerts(services)
        .await
        .into_iter()
        .filter_map(|a| a.service)
        .collect();
    names.sort();
    names
}

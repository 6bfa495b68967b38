//! The fake Log Analytics honours the documented query contract (checked with plain HTTP,
//! independently of the poller): the queries the source sends are understood exactly, and KQL
//! the fake cannot parse is refused with the service's 400 instead of matching every row, so a
//! poller bug in its query text cannot pass unnoticed.

use chrono::Duration as Span;
use nodeport_watch::config::sources::azure_monitor::{ClusterFilter, LogTable};
use nodeport_watch::sources::azure_monitor::kql::{self, Axis, WindowQuery};
use serde_json::{Value, json};

use crate::support::azure_harness::{at, lease_event, service_event};
use crate::support::azure_monitor_kit::{WS, aks_row};
use crate::support::fake_log_analytics::{FakeLogAnalytics, TOKEN};

async fn post(
    fake: &FakeLogAnalytics,
    token: Option<&str>,
    query: &str,
    timespan: &str,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/workspaces/{WS}/query", fake.url))
        .header("content-type", "application/json")
        .body(json!({"query": query, "timespan": timespan}).to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn audit_ids(body: &Value) -> Vec<String> {
    let table = &body["tables"][0];
    let columns = table["columns"].as_array().unwrap();
    let i = columns.iter().position(|c| c["name"] == "AuditId").unwrap();
    table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[i].as_str().unwrap().to_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[tokio::test]
async fn fake_log_analytics_honours_the_query_contract() {
    let fake = FakeLogAnalytics::start().await;
    let t0 = at("2024-01-01T00:00:00Z");
    let table = "AKSAuditAdmin";
    for (n, id) in ["a", "b", "c"].iter().enumerate() {
        let e = service_event(id, "ResponseComplete", "create", id, "NodePort");
        let t = t0 + Span::minutes(n as i64);
        fake.add(aks_row(table, &e, "prod", t, t));
    }
    let t = t0 + Span::seconds(30);
    fake.add(aks_row(table, &lease_event("lease"), "prod", t, t));
    fake.add(aks_row(
        table,
        &service_event("other", "ResponseComplete", "create", "x", "NodePort"),
        "dev",
        t,
        t,
    ));
    let start_ms = t0.timestamp_millis();
    let window = |end_ms: i64, axis, max_rows| WindowQuery {
        table: LogTable::AksAuditAdmin,
        clusters: &[],
        axis,
        start_ms,
        end_ms,
        max_ingestion_delay: std::time::Duration::from_secs(3600),
        max_rows,
    };

    // The source's own query: upper bound exclusive, Service writes only, `take` honoured.
    let q = window(start_ms + 120_000, Axis::Ingestion, 100);
    let (status, body) = post(&fake, Some(TOKEN), &q.text(), &q.timespan()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(audit_ids(&body), ["a", "b", "other"]);
    let q = window(start_ms + 180_000, Axis::TimeGenerated, 2);
    let (_, body) = post(&fake, Some(TOKEN), &q.text(), &q.timespan()).await;
    assert_eq!(audit_ids(&body).len(), 2);
    // `_ResourceId` filters, by resource ID and by name.
    let clusters = [ClusterFilter::Name("prod".into())];
    let q = WindowQuery {
        clusters: &clusters,
        ..window(start_ms + 180_000, Axis::Ingestion, 100)
    };
    let (_, body) = post(&fake, Some(TOKEN), &q.text(), &q.timespan()).await;
    assert_eq!(audit_ids(&body), ["a", "b", "c"]);
    // The healthcheck query.
    let (status, body) = post(
        &fake,
        Some(TOKEN),
        &kql::healthcheck(LogTable::AksAuditAdmin),
        "P1D",
    )
    .await;
    assert_eq!((status, &body["tables"][0]["rows"]), (200, &json!([[1]])));

    // KQL the fake cannot read is refused as the service refuses bad syntax, never matched loosely.
    for bad in [
        "AKSAuditAdmin | where TimeGenerated > ago(1h)",
        "AKSAuditAdmin | where ingestion_time() between (datetime(2024-01-01) .. datetime(2024-01-02))",
        "AKSAuditAdmin | where TimeGenerated >= datetime(yesterday) and TimeGenerated < datetime(2024-01-02T00:00:00Z)",
        "AKSAuditAdmin | summarize count() by Verb",
        "AKSAuditAdmin | where _ResourceId contains \"prod\"",
        "AKSAuditAdmin | where Verb == \"create",
        "AKSAuditAdmin | take many",
        "AKSAudit Admin",
    ] {
        let (status, body) = post(&fake, Some(TOKEN), bad, "P1D").await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "BadArgumentError", "{bad}");
        assert_eq!(body["error"]["details"][0]["code"], "SyntaxError", "{bad}");
    }
    // An unknown table, a missing token, a body that is not JSON: as the service answers.
    let (status, body) = post(&fake, Some(TOKEN), "AKSAudit | take 1", "P1D").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("BadArgumentError"))
    );
    let (status, body) = post(&fake, None, "AKSAuditAdmin | take 1", "P1D").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("AuthenticationFailed"))
    );
    let response = reqwest::Client::new()
        .post(format!("{}/v1/workspaces/{WS}/query", fake.url))
        .bearer_auth(TOKEN)
        .body("AKSAuditAdmin | take 1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.unwrap(), "");
}

//! The `azure_logs_ingestion` sink against a strict Logs Ingestion API receiver: path,
//! api-version, content type, token audience, the row, the 1 MB limit, classification,
//! configuration problems, and the receiver's own contract.

use std::sync::Arc;
use std::time::Duration;

use nodeport_watch::config::{Settings, SinkKind};
use nodeport_watch::sinks::azure_logs_ingestion::AzureLogsIngestionSink;
use nodeport_watch::sinks::{DeliveryError, Sink};
use serde_json::json;

use crate::sinks::{assert_problems, settings};
use crate::support::fixtures;
use crate::support::logs_ingestion_api::{AudienceToken, LIMIT, LogsIngestion, MONITOR_SCOPE};
use crate::support::receiver::Reply;

const WAIT: Duration = Duration::from_secs(20);
const DCR: &str = "dcr-0123456789abcdef0123456789abcdef";
const STREAM: &str = "Custom-NodePortWatch_CL";

fn load(dir: &std::path::Path, endpoint: &str) -> Settings {
    settings(
        dir,
        &format!(
            "[[sinks]]\ntype = \"azure_logs_ingestion\"\nname = \"sentinel\"\nendpoint = \"{endpoint}\"\n\
             dcr_immutable_id = \"{DCR}\"\nstream = \"{STREAM}\"\n"
        ),
    )
}

fn sink(s: &Settings, credential: Arc<AudienceToken>) -> AzureLogsIngestionSink {
    let SinkKind::AzureLogsIngestion(settings) = &s.sinks[0].kind else {
        panic!("not an azure_logs_ingestion sink")
    };
    AzureLogsIngestionSink::with_credential(settings, Some(credential)).unwrap()
}

#[tokio::test]
async fn sends_one_row_to_the_dcr_stream_with_a_monitor_token() {
    let api = LogsIngestion::start(DCR, STREAM).await;
    let dir = tempfile::tempdir().unwrap();
    let s = load(dir.path(), &api.receiver.url(""));
    let credential = Arc::new(AudienceToken::default());
    let sentinel = sink(&s, credential.clone());
    let alert = fixtures::alert("az-1");
    sentinel.deliver(&alert).await.unwrap();
    sentinel.deliver(&fixtures::alert("az-2")).await.unwrap();
    let got = api.receiver.wait_for(2, WAIT).await;
    assert_eq!(api.problems(), Vec::<String>::new());
    // One token for both calls: it is cached until shortly before it expires.
    assert_eq!(*credential.requests.lock().unwrap(), 1);
    assert_eq!(got[0].query.as_deref(), Some("api-version=2023-01-01"));
    assert_eq!(
        got[0].json(),
        json!([{
            "TimeGenerated": "2026-03-01T12:00:00.000Z",
            "AlertId": "az-1", "Rule": "nodeport", "Severity": "high", "Title": alert.title,
            "Provider": "eks", "Cluster": "prod-eu", "Account": "123456789012",
            "Region": "eu-west-1", "Namespace": "shop", "Service": "web",
            "ServiceType": "NodePort", "Verb": "create", "User": "alice@example.com",
            "ImpersonatedUser": "bob<&>", "SourceIp": "203.0.113.7",
            "SourceIps": ["203.0.113.7", "10.0.0.1"], "UserAgent": "kubectl/v1.31.0",
            "NodePorts": [30080], "ExternalIps": [], "AuditId": "5f1c-audit",
            "DetectedAt": "2026-03-01T12:00:05.250Z", "ExposureId": null, "Closed": false,
            "Alert": serde_json::to_value(&alert).unwrap(),
        }])
    );
}

#[tokio::test]
async fn large_raw_events_are_dropped_to_fit_and_failures_are_classified() {
    let api = LogsIngestion::start(DCR, STREAM).await;
    let dir = tempfile::tempdir().unwrap();
    let s = load(dir.path(), &api.receiver.url("/"));
    let sentinel = sink(&s, Arc::new(AudienceToken::default()));
    let mut big = fixtures::alert("az-big");
    big.raw = Some(json!({"blob": "x".repeat(2 * LIMIT)}));
    sentinel.deliver(&big).await.unwrap();
    let got = &api.receiver.wait_for(1, WAIT).await[0];
    assert!(got.body.len() < LIMIT);
    assert_eq!(got.json()[0]["Alert"].get("raw"), None);
    assert_eq!(got.json()[0]["AlertId"], "az-big");

    let alert = fixtures::alert("az-3");
    api.receiver
        .script(|_| Reply::With(429, vec![("retry-after", "12".into())]));
    match sentinel.deliver(&alert).await {
        Err(DeliveryError::Retriable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(12)))
        }
        other => panic!("a 429 must be retried, got {other:?}"),
    }
    // A missing role assignment (Monitoring Metrics Publisher) is not fixed by retrying.
    api.receiver.script(|_| Reply::Status(403));
    match sentinel.deliver(&alert).await {
        Err(DeliveryError::Rejected { message }) => {
            assert!(!message.contains("token-for"), "{message}")
        }
        other => panic!("a 403 must be dead-lettered, got {other:?}"),
    }
}

#[test]
fn configuration_problems_name_their_keys() {
    assert_problems(
        r#"
[[sinks]]
type = "azure_logs_ingestion"
name = "sentinel"
endpoint = "http://my-dce.westeurope-1.ingest.monitor.azure.com"
dcr_immutable_id = "my-rule"
stream = "NodePortWatch_CL"
credential = "password"
"#,
        &[
            "sinks[0].endpoint",
            "sinks[0].dcr_immutable_id",
            "sinks[0].stream",
            "sinks[0].credential",
        ],
        "never-written-secret",
    );
}

/// The strict receiver refuses what the service refuses.
#[tokio::test]
async fn the_strict_receiver_holds_to_the_documented_call() {
    let api = LogsIngestion::start(DCR, STREAM).await;
    let client = reqwest::Client::new();
    let token = format!("Bearer token-for {MONITOR_SCOPE}");
    let post = |path: String, auth: String, content_type: &'static str, body: Vec<u8>| {
        let (client, url) = (client.clone(), api.receiver.url(&path));
        async move {
            let r = client
                .post(url)
                .header("authorization", auth)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    };
    let path = format!("/dataCollectionRules/{DCR}/streams/{STREAM}?api-version=2023-01-01");
    let row = br#"[{"TimeGenerated":"2026-03-01T12:00:00Z","A":1}]"#.to_vec();
    let json = "application/json";
    assert_eq!(
        post(path.clone(), token.clone(), json, row.clone()).await,
        204
    );
    assert!(api.problems().is_empty(), "{:?}", api.problems());
    let cases = [
        (
            path.replace("2023-01-01", "2021-11-01-preview"),
            token.clone(),
            json,
            row.clone(),
            400,
        ),
        (
            path.replace(STREAM, "Custom-Other_CL"),
            token.clone(),
            json,
            row.clone(),
            404,
        ),
        (
            path.clone(),
            "Bearer token-for https://api.loganalytics.io/.default".to_owned(),
            json,
            row.clone(),
            401,
        ),
        (path.clone(), token.clone(), "text/plain", row.clone(), 400),
        (
            path.clone(),
            token.clone(),
            json,
            br#"{"TimeGenerated":"2026-03-01T12:00:00Z"}"#.to_vec(),
            400,
        ),
        (
            path.clone(),
            token.clone(),
            json,
            br#"[{"A":1}]"#.to_vec(),
            400,
        ),
        (
            path.clone(),
            token.clone(),
            json,
            vec![b' '; LIMIT + 1],
            413,
        ),
    ];
    for (i, (path, auth, content_type, body, status)) in cases.into_iter().enumerate() {
        assert_eq!(
            post(path, auth, content_type, body).await,
            status,
            "case {i}"
        );
    }
}

/// Built from configuration as the daemon builds it, `credential = "none"` (accepted only for
/// a loopback endpoint) sends no token, and the service's 401 is dead-lettered.
#[tokio::test]
async fn credential_none_sends_no_token_and_is_refused_by_the_service() {
    let api = LogsIngestion::start(DCR, STREAM).await;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(
        dir.path(),
        &format!(
            "[[sinks]]\ntype = \"azure_logs_ingestion\"\nname = \"sentinel\"\nendpoint = \"{}\"\n\
             dcr_immutable_id = \"{DCR}\"\nstream = \"{STREAM}\"\ncredential = \"none\"\n",
            api.receiver.url("")
        ),
    );
    let built = crate::sinks::sink(&s, "sentinel");
    assert!(matches!(
        built.deliver(&fixtures::alert("az-4")).await,
        Err(DeliveryError::Rejected { .. })
    ));
    assert_eq!(api.receiver.requests()[0].header("authorization"), None);
}

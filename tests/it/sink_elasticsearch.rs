//! The `elasticsearch` sink against a strict `_bulk` receiver: the NDJSON request, the ECS
//! document and its field types, idempotency by alert id (409 = already there), per-item and
//! whole-request classification, credentials, and the receiver's own contract.

use std::time::Duration;

use nodeport_watch::sinks::DeliveryError;
use serde_json::{Value, json};

use crate::sinks::{assert_problems, settings, sink};
use crate::support::elasticsearch_api::{Elasticsearch, ecs_problems};
use crate::support::fixtures;
use crate::support::receiver::Reply;

const WAIT: Duration = Duration::from_secs(20);

fn es_config(url: &str) -> String {
    format!(
        "[[sinks]]\ntype = \"elasticsearch\"\nname = \"es\"\nurl = \"{url}\"\napi_key = {{ file = \"key\" }}\n"
    )
}

fn lines(body: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(body).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn indexes_an_ecs_document_once_by_alert_id_with_an_api_key() {
    let es = Elasticsearch::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("key"),
        "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==\n",
    )
    .unwrap();
    let s = settings(dir.path(), &es_config(&es.receiver.url("/es")));
    let es_sink = sink(&s, "es");
    let alert = fixtures::alert("es-1");
    es_sink.deliver(&alert).await.unwrap();
    // A re-delivery (after a crash or a lost answer) meets the stored document: a success.
    es_sink.deliver(&alert).await.unwrap();
    let got = es.receiver.wait_for(2, WAIT).await;
    assert_eq!(es.problems(), Vec::<String>::new());
    assert_eq!(got[0].path, "/es/_bulk");
    assert_eq!(
        got[0].header("authorization"),
        Some("ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==")
    );
    let pair = lines(&got[0].body);
    assert_eq!(
        pair[0],
        json!({"create": {"_index": "logs-nodeport_watch.alert-default", "_id": "es-1"}})
    );
    assert_eq!(es.docs().len(), 1);
    let doc = &es.docs()["es-1"];
    let mut ecs = doc.clone();
    let own = ecs
        .as_object_mut()
        .unwrap()
        .remove("nodeport_watch")
        .unwrap();
    assert_eq!(
        ecs,
        json!({
            "@timestamp": "2026-03-01T12:00:00.000Z",
            "ecs": {"version": "8.11.0"},
            "message": alert.title,
            "tags": ["nodeport-watch", "nodeport"],
            "event": {
                "kind": "alert", "category": ["configuration", "network"], "type": ["change"],
                "action": "create", "id": "es-1", "created": "2026-03-01T12:00:05.250Z",
                "severity": 4, "risk_score": 73.0,
                "dataset": "nodeport_watch.alert", "module": "nodeport_watch",
            },
            "rule": {
                "id": "nodeport", "name": "Kubernetes Service Exposed Through NodePort",
                "description": alert.title, "ruleset": "nodeport-watch",
            },
            "orchestrator": {
                "type": "kubernetes", "cluster": {"name": "prod-eu"}, "namespace": "shop",
                "resource": {"type": "service", "name": "web"},
            },
            "cloud": {"provider": "aws", "account": {"id": "123456789012"}, "region": "eu-west-1"},
            "user": {"name": "alice@example.com", "effective": {"name": "bob<&>"}},
            "source": {"ip": "203.0.113.7"},
            "related": {"ip": ["203.0.113.7", "10.0.0.1"], "user": ["alice@example.com", "bob<&>"]},
            "user_agent": {"original": "kubectl/v1.31.0"},
            "threat": {
                "framework": "MITRE ATT&CK",
                "tactic": {"id": ["TA0001"], "name": ["Initial Access"]},
                "technique": {"id": ["T1190"], "name": ["Exploit Public-Facing Application"]},
            },
        })
    );
    // The whole alert, with `target_port` always a string (one mapping for 8080 and "http").
    let mut expected_own = serde_json::to_value(&alert).unwrap();
    expected_own["ports"][0]["target_port"] = json!("8080");
    assert_eq!(own, expected_own);
}

#[tokio::test]
async fn item_errors_are_classified_and_odd_addresses_never_break_the_mapping() {
    let es = Elasticsearch::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key"), "c2VjcmV0LWFwaS1rZXk=").unwrap();
    let s = settings(dir.path(), &es_config(&es.receiver.url("")));
    let es_sink = sink(&s, "es");
    let alert = fixtures::alert("es-2");

    es.force_item(429, "es_rejected_execution_exception");
    assert!(matches!(
        es_sink.deliver(&alert).await,
        Err(DeliveryError::Retriable { .. })
    ));
    es.force_item(400, "mapper_parsing_exception");
    match es_sink.deliver(&alert).await {
        Err(DeliveryError::Rejected { message }) => {
            assert!(message.contains("mapper_parsing_exception"), "{message}");
            assert!(!message.contains("c2VjcmV0LWFwaS1rZXk="), "{message}");
        }
        other => panic!("a refused document must be dead-lettered, got {other:?}"),
    }
    // A source address that is not an IP (a hostile or broken log) stays out of `ip` fields.
    let mut odd = fixtures::alert("es-3");
    odd.source_ips = vec!["not-an-ip".to_owned(), "2001:db8::1".to_owned()];
    es_sink.deliver(&odd).await.unwrap();
    assert_eq!(es.problems(), Vec::<String>::new());
    let doc = &es.docs()["es-3"];
    assert_eq!(doc["source"]["ip"], "2001:db8::1");
    assert_eq!(doc["related"]["ip"], json!(["2001:db8::1"]));
    assert_eq!(doc["nodeport_watch"]["source_ips"][0], "not-an-ip");

    // The whole request refused or failing.
    es.receiver
        .script(|_| Reply::With(429, vec![("retry-after", "3".into())]));
    match es_sink.deliver(&alert).await {
        Err(DeliveryError::Retriable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(3)))
        }
        other => panic!("a 429 must be retried, got {other:?}"),
    }
    es.receiver.script(|_| Reply::Status(401));
    assert!(matches!(
        es_sink.deliver(&alert).await,
        Err(DeliveryError::Rejected { .. })
    ));
    // A 200 whose items cannot be read: unknown outcome, retried (`create` makes it safe).
    es.receiver.script(|_| Reply::Json(200, "{}".to_owned()));
    assert!(matches!(
        es_sink.deliver(&alert).await,
        Err(DeliveryError::Retriable { .. })
    ));
}

#[tokio::test]
async fn basic_auth_custom_stream_and_the_healthcheck() {
    let es = Elasticsearch::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "es-pa55").unwrap();
    let s = settings(
        dir.path(),
        &format!(
            "[[sinks]]\ntype = \"elasticsearch\"\nname = \"es\"\nurl = \"{}\"\n\
             username = \"npw\"\npassword = {{ file = \"pw\" }}\ndata_stream = \"logs-k8s.exposure-prod\"\n",
            es.receiver.url("")
        ),
    );
    let es_sink = sink(&s, "es");
    es_sink.healthcheck().await.unwrap();
    es_sink.deliver(&fixtures::alert("es-4")).await.unwrap();
    let got = es.receiver.wait_for(2, WAIT).await;
    assert_eq!((got[0].method.as_str(), got[0].path.as_str()), ("GET", "/"));
    for req in &got {
        // base64("npw:es-pa55")
        assert_eq!(req.header("authorization"), Some("Basic bnB3OmVzLXBhNTU="));
    }
    assert_eq!(
        lines(&got[1].body)[0]["create"]["_index"],
        "logs-k8s.exposure-prod"
    );
}

#[test]
fn configuration_problems_name_their_keys() {
    assert_problems(
        r#"
[[sinks]]
type = "elasticsearch"
name = "es"
url = "http://es.example.com:9200"
api_key = "inline-api-key"
data_stream = "Logs With Spaces"
"#,
        &["sinks[0].url", "sinks[0].api_key", "sinks[0].data_stream"],
        "inline-api-key",
    );
}

/// The strict receiver refuses malformed bulk requests as Elasticsearch does, and maps wrong
/// ECS types to the item's `mapper_parsing_exception`.
#[tokio::test]
async fn the_strict_bulk_receiver_holds_to_the_format_and_ecs_types() {
    let es = Elasticsearch::start().await;
    let client = reqwest::Client::new();
    let url = es.receiver.url("/_bulk");
    let post = |content_type: &'static str, body: String| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let r = client
                .post(url)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let nd = "application/x-ndjson";
    let action = r#"{"create":{"_index":"logs-a-b","_id":"x1"}}"#;
    let good = r#"{"@timestamp":"2026-03-01T12:00:00Z","ecs":{"version":"8.11.0"},"event":{"kind":"alert","category":["network"]},"rule":{"name":"r","id":"r"},"source":{"ip":"10.0.0.1"}}"#;
    let (status, body) = post(nd, format!("{action}\n{good}\n")).await;
    assert_eq!(
        (status, &body["items"][0]["create"]["status"]),
        (200, &json!(201))
    );
    for (content_type, bad) in [
        ("application/json", format!("{action}\n{good}\n")),
        (nd, format!("{action}\n{good}")),
        (nd, format!("{action}\n")),
        (
            nd,
            format!(
                "{}\n{good}\n",
                r#"{"index":{"_index":"logs-a-b","_id":"x2"}}"#
            ),
        ),
        (
            nd,
            format!("{}\n{good}\n", r#"{"create":{"_index":"logs-a-b"}}"#),
        ),
    ] {
        assert_eq!(post(content_type, bad.clone()).await.0, 400, "{bad}");
    }
    let wrong_types = good
        .replace(r#""ip":"10.0.0.1""#, r#""ip":"somewhere""#)
        .replace(r#""kind":"alert""#, r#""kind":"finding""#);
    let (status, body) = post(
        nd,
        format!("{}\n{wrong_types}\n", action.replace("x1", "x3")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"], true);
    assert_eq!(
        body["items"][0]["create"]["error"]["type"],
        "mapper_parsing_exception"
    );
    assert_eq!(
        ecs_problems(&serde_json::from_str(&wrong_types).unwrap()).len(),
        2
    );
}

//! The `alertmanager` sink against a strict API v2 receiver: the exact `postableAlert` (identity
//! labels, annotations, times), credentials, re-posts that keep an alert firing, a close that
//! resolves it, the classifier, and the receiver's own contract.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use nodeport_watch::config::SinkKind;
use nodeport_watch::sinks::DeliveryError;
use nodeport_watch::sinks::alertmanager::postable_alert;
use nodeport_watch::sinks::exposure::ExposureState;
use serde_json::{Value, json};

use crate::sinks::{assert_problems, settings, sink};
use crate::support::alertmanager_api::{Alertmanager, alert_problems};
use crate::support::fixtures;

const WAIT: Duration = Duration::from_secs(20);

fn config(url: &str, auth: &str) -> String {
    format!(
        r#"
[[sinks]]
type = "alertmanager"
name = "am"
url = "{url}"
{auth}
runbook_url = "https://wiki.example.com/nodeport-watch/{{rule}}"
generator_url = "https://grafana.example.com/d/nodeport-watch"
labels = {{ team = "secops" }}
"#
    )
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn posts_a_v2_alert_with_identity_labels_annotations_and_basic_auth() {
    let am = Alertmanager::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "pa55-w0rd-am\n").unwrap();
    let s = settings(
        dir.path(),
        &config(
            &am.receiver.url("/alertmanager/"),
            "username = \"npw\"\npassword = { file = \"pw\" }",
        ),
    );
    let alert = fixtures::alert("am-1");
    let before = Utc::now();
    sink(&s, "am").deliver(&alert).await.unwrap();
    let got = &am.receiver.wait_for(1, WAIT).await[0];
    assert_eq!(am.problems(), Vec::<String>::new());
    assert_eq!(got.path, "/alertmanager/api/v2/alerts");
    // base64("npw:pa55-w0rd-am")
    assert_eq!(
        got.header("authorization"),
        Some("Basic bnB3OnBhNTUtdzByZC1hbQ==")
    );
    let body = got.json();
    let posted = &body.as_array().unwrap()[0];
    assert_eq!(
        posted["labels"],
        json!({
            "alertname": "KubernetesServiceNodePort", "severity": "high", "rule": "nodeport",
            "provider": "eks", "cluster": "prod-eu", "namespace": "shop", "service": "web",
            "team": "secops",
        })
    );
    let notes = &posted["annotations"];
    assert_eq!(notes["summary"], json!(alert.title));
    assert_eq!(
        notes["runbook_url"],
        "https://wiki.example.com/nodeport-watch/nodeport"
    );
    assert_eq!(notes["user"], "alice@example.com");
    assert_eq!(notes["audit_id"], "5f1c-audit");
    assert_eq!(notes["alert_id"], "am-1");
    let description = notes["description"].as_str().unwrap();
    for part in [
        "Service shop/web (NodePort) in cluster prod-eu (eks, account 123456789012, eu-west-1).",
        "Node ports: 30080/TCP.",
        "create by alice@example.com from 203.0.113.7, 10.0.0.1 with kubectl/v1.31.0",
        "1. Check <the> owner & port.",
    ] {
        assert!(description.contains(part), "{part:?} not in {description}");
    }
    assert_eq!(posted["startsAt"], "2026-03-01T12:00:00.000Z");
    // Open: active for `firing_for` (a week by default) from the delivery.
    let ends = time(&posted["endsAt"]);
    let week = chrono::Duration::days(7);
    assert!(ends >= before + week && ends <= Utc::now() + week, "{ends}");
    assert_eq!(
        posted["generatorURL"],
        "https://grafana.example.com/d/nodeport-watch"
    );
    // The password stays out of Debug output.
    assert!(!format!("{s:?}").contains("pa55-w0rd-am"));
}

#[tokio::test]
async fn re_posting_keeps_the_same_alert_firing_and_a_close_resolves_it() {
    let am = Alertmanager::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "am-bearer-t0ken").unwrap();
    let s = settings(
        dir.path(),
        &config(&am.receiver.url(""), "bearer_token = { file = \"token\" }"),
    );
    let am_sink = sink(&s, "am");
    let alert = fixtures::alert("am-2");
    am_sink.deliver(&alert).await.unwrap();
    am_sink.deliver(&alert).await.unwrap();
    let got = am.receiver.wait_for(2, WAIT).await;
    assert_eq!(am.problems(), Vec::<String>::new());
    assert_eq!(
        got[0].header("authorization"),
        Some("Bearer am-bearer-t0ken")
    );
    let (first, second) = (&got[0].json()[0], &got[1].json()[0]);
    // Same labels = the same Alertmanager alert; its end moves forward, never back.
    assert_eq!(first["labels"], second["labels"]);
    assert!(time(&second["endsAt"]) >= time(&first["endsAt"]));

    // The close of the same exposure: same labels, `endsAt` = the close, no `startsAt` (the
    // alert keeps its original start), and Alertmanager's schema accepts it.
    let SinkKind::Alertmanager(settings) = &s.sinks[0].kind else {
        panic!("not an alertmanager sink")
    };
    let closed_at = Utc.with_ymd_and_hms(2026, 3, 2, 8, 30, 0).unwrap();
    let exposure = |closed_at| ExposureState {
        closed_at,
        exposure_id: Some("exp-7".to_owned()),
    };
    let open = postable_alert(&alert, &exposure(None), settings, Utc::now());
    let closed = postable_alert(&alert, &exposure(Some(closed_at)), settings, Utc::now());
    assert_eq!(open["labels"], closed["labels"]);
    assert_eq!(open["labels"]["exposure_id"], "exp-7");
    assert_eq!(closed["endsAt"], "2026-03-02T08:30:00.000Z");
    assert_eq!(closed.get("startsAt"), None);
    assert_eq!(alert_problems(&closed), Vec::<String>::new());
}

#[tokio::test]
async fn refusals_are_dead_lettered_outages_retried_and_the_healthcheck_authenticates() {
    let am = Alertmanager::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "am-bearer-t0ken").unwrap();
    let s = settings(
        dir.path(),
        &config(&am.receiver.url(""), "bearer_token = { file = \"token\" }"),
    );
    let am_sink = sink(&s, "am");
    am_sink.healthcheck().await.unwrap();
    let check = &am.receiver.requests()[0];
    assert_eq!(check.path, "/api/v2/status");
    assert_eq!(
        check.header("authorization"),
        Some("Bearer am-bearer-t0ken")
    );

    let alert = fixtures::alert("am-3");
    am.receiver
        .script(|_| crate::support::receiver::Reply::Status(400));
    match am_sink.deliver(&alert).await {
        Err(DeliveryError::Rejected { message }) => {
            assert!(
                message.contains("Alertmanager answered HTTP 400"),
                "{message}"
            );
            assert!(!message.contains("am-bearer-t0ken"), "{message}");
        }
        other => panic!("a 400 must be dead-lettered, got {other:?}"),
    }
    am.receiver
        .script(|_| crate::support::receiver::Reply::Status(503));
    assert!(matches!(
        am_sink.deliver(&alert).await,
        Err(DeliveryError::Retriable { .. })
    ));
}

#[test]
fn configuration_problems_name_their_keys() {
    assert_problems(
        r#"
[[sinks]]
type = "alertmanager"
name = "plain-http"
url = "http://alertmanager.example.com:9093"
password = "inline-secret"
username = "npw"

[[sinks]]
type = "alertmanager"
name = "two-methods"
url = "https://alertmanager.example.com"
username = "npw"
password = { env = "NODEPORT_WATCH_TEST_UNSET_AM_PASSWORD" }
bearer_token = { env = "NODEPORT_WATCH_TEST_UNSET_AM_TOKEN" }
labels = { severity = "x", "bad-name" = "y" }
firing_for = "5s"
"#,
        &[
            "sinks[0].url",
            "sinks[0].password",
            "sinks[1]: give one way to authenticate",
            "sinks[1].labels.severity",
            "sinks[1].labels.bad-name",
            "sinks[1].firing_for",
        ],
        "inline-secret",
    );
}

/// The strict receiver accepts Alertmanager's own documented example and refuses each way of
/// breaking the schema: a test of the test double, so the sink tests above mean something.
#[tokio::test]
async fn the_strict_receiver_holds_to_the_v2_schema() {
    let am = Alertmanager::start().await;
    let client = reqwest::Client::new();
    let post = |body: Value| {
        let client = client.clone();
        let url = am.receiver.url("/api/v2/alerts");
        async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let valid = json!([{
        "labels": {"alertname": "InstanceDown", "instance": "host:9100"},
        "annotations": {"summary": "down"},
        "startsAt": "2026-03-01T12:00:00Z",
        "endsAt": "2026-03-01T13:00:00.123+01:00",
        "generatorURL": "http://prometheus:9090/graph",
    }]);
    assert_eq!(post(valid).await, 200);
    assert_eq!(post(json!([{"labels": {"a": "b"}}])).await, 200);
    assert!(am.problems().is_empty(), "{:?}", am.problems());
    let invalid = [
        json!({"labels": {"a": "b"}}),                       // not an array
        json!([{"annotations": {"a": "b"}}]),                // no labels
        json!([{"labels": {}}]),                             // empty label set
        json!([{"labels": {"a": 1}}]),                       // not a string
        json!([{"labels": {"a-b": "c"}}]),                   // bad name
        json!([{"labels": {"a": "b"}, "status": "firing"}]), // unknown property
        json!([{"labels": {"a": "b"}, "startsAt": "yesterday"}]), // not RFC 3339
        json!([{"labels": {"a": "b"}, "startsAt": "2026-03-02T00:00:00Z",
                "endsAt": "2026-03-01T00:00:00Z"}]), // ends before start
        json!([{"labels": {"a": "b"}, "generatorURL": "not a url"}]), // not a URI
    ];
    for (i, body) in invalid.into_iter().enumerate() {
        assert_eq!(post(body).await, 400, "invalid body {i} was accepted");
    }
    assert_eq!(am.problems().len(), 9, "{:?}", am.problems());
}

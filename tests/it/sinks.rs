//! Every HTTP sink against a real receiver on loopback: the exact request each one sends
//! (payload, headers, signature, idempotency key), configured from TOML as a user would, and
//! secrets kept out of `Debug` output and error messages.

use std::path::Path;
use std::time::Duration;

use hmac::{Hmac, Mac};
use nodeport_watch::config::{self, Settings};
use nodeport_watch::runtime::launch::build_sink;
use nodeport_watch::sinks::{DeliveryError, Sink};
use serde_json::json;
use sha2::Sha256;

use crate::support::fixtures;
use crate::support::receiver::{Receiver, Reply};

const WAIT: Duration = Duration::from_secs(20);

/// Loads a configuration whose `[[sinks]]` are `sinks`; secrets are files in `dir`.
pub(crate) fn settings(dir: &Path, sinks: &str) -> Settings {
    let path = dir.join("config.toml");
    std::fs::write(&path, format!("[state]\npath = \":memory:\"\n{sinks}")).unwrap();
    config::load(&path).unwrap()
}

/// Loading `toml` fails with a problem under each of `keys`, and never shows `secret`.
pub(crate) fn assert_problems(toml: &str, keys: &[&str], secret: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, toml).unwrap();
    let err = config::load(&path).unwrap_err().to_string();
    for key in keys {
        assert!(err.contains(key), "no problem reported for {key}:\n{err}");
    }
    assert!(!err.contains(secret), "{err}");
}

pub(crate) fn sink(settings: &Settings, name: &str) -> std::sync::Arc<dyn Sink> {
    let s = settings.sinks.iter().find(|s| s.name == name).unwrap();
    build_sink(s).unwrap()
}

#[tokio::test]
async fn webhook_posts_the_alert_signed_with_its_id_as_idempotency_key() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hmac"), "k3y-for-hmac\n").unwrap();
    std::fs::write(dir.path().join("auth"), "Bearer t0ken-in-header").unwrap();
    let s = settings(
        dir.path(),
        &format!(
            r#"
[[sinks]]
type = "webhook"
name = "soc"
url = "{url}"
hmac_secret = {{ file = "hmac" }}
headers = {{ "X-Team" = "platform", Authorization = {{ file = "auth" }} }}
"#,
            url = rx.url("/hooks/nodeport")
        ),
    );
    let alert = fixtures::alert("alert-id-1");
    sink(&s, "soc").deliver(&alert).await.unwrap();

    let got = &rx.wait_for(1, WAIT).await[0];
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/hooks/nodeport");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("idempotency-key"), Some("alert-id-1"));
    assert_eq!(got.header("x-team"), Some("platform"));
    assert_eq!(got.header("authorization"), Some("Bearer t0ken-in-header"));
    // The native format is the alert document itself.
    assert_eq!(got.json(), serde_json::to_value(&alert).unwrap());
    // The signature covers the timestamp sent beside it and the exact bytes received; the
    // timestamp is the time of sending, so a receiver can refuse an old request replayed.
    let timestamp = got.header("x-nodeport-watch-timestamp").unwrap();
    let sent_at: i64 = timestamp.parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - sent_at).abs() < 60,
        "{timestamp}"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(b"k3y-for-hmac").unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&got.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        got.header("x-nodeport-watch-signature"),
        Some(expected.as_str())
    );

    // Secrets stay out of Debug output.
    let debug = format!("{s:?}");
    assert!(!debug.contains("k3y-for-hmac") && !debug.contains("t0ken-in-header"));
}

#[tokio::test]
async fn webhook_without_secret_sends_no_signature_and_honours_header_names() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(
        dir.path(),
        &format!(
            r#"
[[sinks]]
type = "webhook"
name = "plain"
url = "{url}"
idempotency_header = "X-Alert-Id"
signature_header = "X-Sig"
"#,
            url = rx.url("/in")
        ),
    );
    sink(&s, "plain")
        .deliver(&fixtures::alert("a-2"))
        .await
        .unwrap();
    let got = &rx.wait_for(1, WAIT).await[0];
    assert_eq!(got.header("x-alert-id"), Some("a-2"));
    assert_eq!(got.header("idempotency-key"), None);
    assert_eq!(got.header("x-sig"), None);
    assert_eq!(got.header("x-nodeport-watch-timestamp"), None);
}

#[tokio::test]
async fn webhook_ocsf_format_is_a_detection_finding() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(
        dir.path(),
        &format!(
            "[[sinks]]\ntype = \"webhook\"\nname = \"lake\"\nurl = \"{}\"\nformat = \"ocsf\"\n",
            rx.url("/ocsf")
        ),
    );
    let alert = fixtures::alert("ocsf-1");
    sink(&s, "lake").deliver(&alert).await.unwrap();
    let got = &rx.wait_for(1, WAIT).await[0];
    let title = &alert.title;
    let expected = json!({
        "activity_id": 1, "activity_name": "Create",
        "category_uid": 2, "category_name": "Findings",
        "class_uid": 2004, "class_name": "Detection Finding",
        "type_uid": 200401, "type_name": "Detection Finding: Create",
        "severity_id": 4, "severity": "High",
        "status_id": 1, "status": "New", "is_alert": true,
        "time": 1772366405250_i64,
        "message": title,
        "metadata": {
            "version": "1.4.0", "uid": "ocsf-1", "event_code": "nodeport",
            "product": {"name": "nodeport-watch", "vendor_name": "nodeport-watch",
                        "version": env!("CARGO_PKG_VERSION")},
        },
        "finding_info": {
            "uid": "ocsf-1", "title": title, "types": ["nodeport"],
            "created_time": 1772366405250_i64, "first_seen_time": 1772366400000_i64,
            "analytic": {"name": "nodeport", "uid": "nodeport", "type_id": 1, "type": "Rule"},
            "attacks": [{"tactic": {"name": "Initial Access", "uid": "TA0001"},
                         "technique": {"uid": "T1190", "name": "Exploit Public-Facing Application"}}],
        },
        "resources": [{
            "type": "Kubernetes Service", "name": "web", "uid": "shop/web", "region": "eu-west-1",
            "data": {"cluster": "prod-eu", "namespace": "shop", "service_type": "NodePort",
                     "ports": [{"name": "http", "port": 80, "target_port": 8080,
                                "node_port": 30080, "protocol": "TCP"}],
                     "external_ips": []},
        }],
        "evidences": [{
            "actor": {"user": {"name": "alice@example.com",
                               "groups": [{"name": "system:authenticated"}, {"name": "devs<&>"}]}},
            "api": {"operation": "create", "service": {"name": "kube-apiserver"},
                    "request": {"uid": "5f1c-audit"}, "response": {"code": 201}},
            "src_endpoint": {"ip": "203.0.113.7"},
            "http_request": {"user_agent": "kubectl/v1.31.0"},
        }],
        "cloud": {"provider": "eks", "account": {"uid": "123456789012"}, "region": "eu-west-1"},
        "remediation": {"desc": "1. Check <the> owner & port."},
        "unmapped": {
            "schema": "nodeport-watch.alert.v1", "source": "eks-prod",
            "risk_factors": ["fixed_node_port"], "source_ips": ["203.0.113.7", "10.0.0.1"],
            "impersonated_user": {"username": "bob<&>", "groups": []},
            "record_id": "cw-42", "degraded": [],
        },
    });
    assert_eq!(got.json(), expected);
}

#[tokio::test]
async fn slack_posts_block_kit_with_escaped_text_and_the_runbook() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slack-url"),
        rx.url("/services/T000/B000/XXXX"),
    )
    .unwrap();
    let s = settings(
        dir.path(),
        "[[sinks]]\ntype = \"slack\"\nname = \"chat\"\nwebhook_url = { file = \"slack-url\" }\n",
    );
    let alert = fixtures::alert("slack-1");
    sink(&s, "chat").deliver(&alert).await.unwrap();
    let got = &rx.wait_for(1, WAIT).await[0];
    assert_eq!(got.path, "/services/T000/B000/XXXX");
    let f = |text: &str| json!({"type": "mrkdwn", "text": text, "verbatim": true});
    let expected = json!({
        "text": format!("[HIGH] {}", alert.title),
        "unfurl_links": false,
        "unfurl_media": false,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": alert.title}},
            {"type": "section", "fields": [
                f("*Severity*\nHIGH"),
                f("*Rule*\n`nodeport`"),
                f("*Cluster*\nprod-eu"),
                f("*Service*\n`shop/web`"),
                f("*User*\nalice@example.com (as bob&lt;&amp;&gt;)"),
                f("*Source IPs*\n203.0.113.7, 10.0.0.1"),
                f("*Ports*\n80 → node 30080/TCP"),
                f("*Where*\neks · 123456789012 · eu-west-1"),
                f("*Event time*\n2026-03-01T12:00:00+00:00"),
                f("*Risk factors*\nfixed_node_port"),
            ]},
            {"type": "section", "text": f("*Runbook*\n1. Check &lt;the&gt; owner &amp; port.")},
            {"type": "context", "elements": [
                f("alert `slack-1` · audit `5f1c-audit` · source `eks-prod` · MITRE T1190 Exploit Public-Facing Application"),
            ]},
        ],
    });
    assert_eq!(got.json(), expected);
}

#[tokio::test]
async fn splunk_hec_sends_an_event_envelope_with_the_token() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hec"),
        "11111111-2222-3333-4444-555555555555",
    )
    .unwrap();
    let s = settings(
        dir.path(),
        &format!(
            r#"
[[sinks]]
type = "splunk_hec"
name = "splunk"
url = "{base}"
token = {{ file = "hec" }}
index = "security"
sourcetype = "kube:nodeport"
host = "np-watch-1"
"#,
            base = rx.url("")
        ),
    );
    let alert = fixtures::alert("hec-1");
    sink(&s, "splunk").deliver(&alert).await.unwrap();
    let got = &rx.wait_for(1, WAIT).await[0];
    assert_eq!(got.path, "/services/collector/event");
    assert_eq!(
        got.header("authorization"),
        Some("Splunk 11111111-2222-3333-4444-555555555555")
    );
    let expected = json!({
        "time": 1772366400.0,
        "host": "np-watch-1",
        "source": "nodeport-watch",
        "sourcetype": "kube:nodeport",
        "index": "security",
        "event": serde_json::to_value(&alert).unwrap(),
    });
    assert_eq!(got.json(), expected);
}

#[tokio::test]
async fn pagerduty_triggers_with_the_alert_id_as_dedup_key() {
    let rx = Receiver::start().await;
    rx.script(|_| Reply::Status(202));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rk"), "R0UT1NGKEY0000000000000000000000\n").unwrap();
    let s = settings(
        dir.path(),
        &format!(
            "[[sinks]]\ntype = \"pagerduty\"\nname = \"pd\"\nrouting_key = {{ file = \"rk\" }}\nurl = \"{}\"\n",
            rx.url("/v2/enqueue")
        ),
    );
    let alert = fixtures::alert("pd-1");
    sink(&s, "pd").deliver(&alert).await.unwrap();
    let got = &rx.wait_for(1, WAIT).await[0];
    assert_eq!(got.path, "/v2/enqueue");
    let expected = json!({
        "routing_key": "R0UT1NGKEY0000000000000000000000",
        "event_action": "trigger",
        "dedup_key": "pd-1",
        "client": "nodeport-watch",
        "payload": {
            "summary": alert.title,
            "source": "prod-eu",
            "severity": "error",
            "timestamp": "2026-03-01T12:00:00+00:00",
            "class": "nodeport",
            "component": "shop/web",
            "group": "prod-eu",
            "custom_details": serde_json::to_value(&alert).unwrap(),
        },
    });
    assert_eq!(got.json(), expected);
}

#[tokio::test]
async fn http_statuses_are_classified_and_errors_never_show_secrets() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let secret_path = "/services/T9/B9/SuperSecretToken";
    std::fs::write(dir.path().join("url"), rx.url(secret_path)).unwrap();
    let s = settings(
        dir.path(),
        "[[sinks]]\ntype = \"slack\"\nname = \"chat\"\nwebhook_url = { file = \"url\" }\n",
    );
    let chat = sink(&s, "chat");
    let alert = fixtures::alert("c-1");

    rx.script(|_| Reply::With(429, vec![("retry-after", "17".into())]));
    match chat.deliver(&alert).await {
        Err(DeliveryError::Retriable {
            retry_after,
            message,
        }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(17)));
            assert!(message.contains("429"), "{message}");
        }
        other => panic!("429 must be retriable, got {other:?}"),
    }
    rx.script(|_| Reply::Status(503));
    assert!(matches!(
        chat.deliver(&alert).await,
        Err(DeliveryError::Retriable { .. })
    ));
    rx.script(|_| Reply::Status(400));
    match chat.deliver(&alert).await {
        Err(DeliveryError::Rejected { message }) => {
            assert!(!message.contains("SuperSecretToken"), "{message}")
        }
        other => panic!("400 must be rejected, got {other:?}"),
    }

    // Connection refused: reqwest's own message would carry the URL.
    let port = crate::support::daemon::free_port();
    std::fs::write(
        dir.path().join("url"),
        format!("http://127.0.0.1:{port}{secret_path}"),
    )
    .unwrap();
    let s = settings(
        dir.path(),
        "[[sinks]]\ntype = \"slack\"\nname = \"chat\"\nwebhook_url = { file = \"url\" }\n",
    );
    match sink(&s, "chat").deliver(&alert).await {
        Err(e @ DeliveryError::Retriable { .. }) => {
            let text = format!("{e} {e:?}");
            assert!(!text.contains("SuperSecretToken"), "{text}");
            assert!(text.contains("connection failed"), "{text}");
        }
        other => panic!("a refused connection must be retriable, got {other:?}"),
    }
}

#[test]
fn sink_configuration_problems_name_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        r#"
[[sinks]]
type = "slack"
name = "chat"
webhook_url = "https://hooks.slack.com/services/T/B/inline-secret"

[[sinks]]
type = "pagerduty"
name = "pd"
routing_key = { env = "NODEPORT_WATCH_TEST_UNSET_ROUTING_KEY" }

[[sinks]]
type = "webhook"
name = "hook"
url = "ftp://example.com/x"
format = "xml"
headers = { "Content-Type" = "text/plain" }
min_severity = "urgent"
rules = ["nodeport", "bogus"]

[[sinks]]
type = "splunk_hec"
name = "splunk"
url = "https://splunk:8088"
token = { file = "missing-token-file" }
"#,
    )
    .unwrap();
    let err = config::load(&path).unwrap_err().to_string();
    for key in [
        "sinks[0].webhook_url",
        "sinks[1].routing_key",
        "sinks[2].url",
        "sinks[2].format",
        "sinks[2].headers.Content-Type",
        "sinks[2].min_severity",
        "sinks[2].rules",
        "sinks[3].token",
    ] {
        assert!(err.contains(key), "no problem reported for {key}:\n{err}");
    }
    assert!(!err.contains("inline-secret"), "{err}");
}

#[tokio::test]
async fn sinks_filter_by_rule_and_severity_and_the_file_sink_writes_ocsf() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(
        dir.path(),
        r#"
[[sinks]]
type = "file"
name = "lake"
path = "alerts.ocsf.jsonl"
format = "ocsf"

[[sinks]]
type = "stdout"
name = "pager-worthy"
min_severity = "critical"

[[sinks]]
type = "stdout"
name = "external-ips-only"
rules = ["external-ips"]
"#,
    );
    let services = nodeport_watch::ingest::Services::open(&s, nodeport_watch::state::Access::Write)
        .await
        .unwrap();
    let alert = fixtures::alert("route-1"); // nodeport, high
    assert_eq!(services.router.route(&alert), ["lake"]);
    let mut critical = fixtures::alert("route-2");
    critical.severity = nodeport_watch::model::Severity::Critical;
    assert_eq!(services.router.route(&critical), ["lake", "pager-worthy"]);

    sink(&s, "lake").deliver(&alert).await.unwrap();
    sink(&s, "lake").deliver(&critical).await.unwrap();
    let text = std::fs::read_to_string(dir.path().join("alerts.ocsf.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["class_uid"], 2004);
    assert_eq!(lines[0]["finding_info"]["uid"], "route-1");
    assert_eq!(lines[1]["severity_id"], 5);
}

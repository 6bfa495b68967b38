//! Evasions an attacker with `create services` rights could try (issue 10): a reused Audit-ID,
//! GKE dry-run and truncation labels, EKS events padded past CloudWatch's size limit, degraded
//! alerts below a sink's threshold, exceptions the attacker can satisfy (and how suppressions are
//! logged). Each case runs in every provider shape it applies to, through the library, `detect`
//! and the daemon's outbox.

use std::collections::BTreeSet;
use std::time::Duration;

use nodeport_watch::alert::{Router, SinkRoute};
use nodeport_watch::model::{Alert, Degradation, Severity};
use serde_json::{Value, json};

use crate::support::azure_harness::{alerts, service_event, start_time};
use crate::support::azure_monitor_kit::{aks_row, harness, minutes, sdk_retry, source};
use crate::support::daemon::Daemon;
use crate::support::detect::{all_rules, run_cli, run_library, with_rules};
use crate::support::fake_log_analytics::FakeLogAnalytics;
use crate::support::shapes::{Shape, wrap};
use crate::support::wait::eventually;
use nodeport_watch::sources::PollMode;

/// A NodePort (or other `kind`) create of `name`, sent with the Audit-ID header `audit_id`,
/// received by the API server `second` seconds after 10:00:00.
fn create(audit_id: &str, name: &str, kind: &str, second: u32) -> Value {
    let mut e = service_event(audit_id, "ResponseComplete", "create", name, kind);
    e["user"]["username"] = json!("mallory@example.com");
    e["requestReceivedTimestamp"] = json!(format!("2026-03-02T10:00:{second:02}.123456Z"));
    e["stageTimestamp"] = json!(format!("2026-03-02T10:00:{second:02}.223456Z"));
    e
}

fn three_creates_sharing_an_id() -> Vec<Value> {
    vec![
        create("fixed", "shop", "NodePort", 1),
        create("fixed", "db", "NodePort", 2),
        create("fixed", "cache", "NodePort", 3),
    ]
}

/// Records of `events` in `shape`; GKE writes one entry per request.
fn records(shape: Shape, events: &[Value]) -> Vec<String> {
    if shape == Shape::GkeLogEntry {
        events
            .iter()
            .flat_map(|e| {
                let mut entry: Value =
                    serde_json::from_str(&wrap(shape, std::slice::from_ref(e))[0]).unwrap();
                // Cloud Logging's insertId is its own, not the Audit-ID.
                entry["insertId"] = json!(format!("ins-{}", e["objectRef"]["name"]));
                vec![entry.to_string()]
            })
            .collect()
    } else {
        wrap(shape, events)
    }
}

fn ids(alerts: &[Alert]) -> BTreeSet<String> {
    alerts.iter().map(|a| a.id.clone()).collect()
}

fn services(alerts: &[Alert]) -> BTreeSet<String> {
    alerts.iter().filter_map(|a| a.service.clone()).collect()
}

#[test]
fn three_requests_sharing_an_audit_id_give_three_alerts_in_every_shape() {
    let events = three_creates_sharing_an_id();
    for shape in Shape::ALL {
        let got = run_library(&records(shape, &events), with_rules(all_rules()));
        assert_eq!(got.alerts.len(), 3, "{shape:?}: {:?}", got.alerts);
        assert_eq!(ids(&got.alerts).len(), 3, "{shape:?}");
        assert_eq!(
            services(&got.alerts),
            BTreeSet::from(["cache".into(), "db".into(), "shop".into()]),
            "{shape:?}"
        );
        if shape != Shape::GkeLogEntry {
            assert!(
                got.alerts
                    .iter()
                    .all(|a| a.audit_id.as_deref() == Some("fixed"))
            );
        }
    }
}

#[test]
fn three_requests_sharing_an_audit_id_give_three_alerts_from_detect_and_a_warning() {
    let mut events = three_creates_sharing_an_id();
    // Attacker-chosen text must not forge a log line.
    events[2]["objectRef"]["name"] = json!("cache\nERROR forged line");
    for shape in [
        Shape::K8sLine,
        Shape::EksFilterOutput,
        Shape::AksAuditRow,
        Shape::GkeLogEntry,
    ] {
        let input = records(shape, &events).join("\n");
        let run = run_cli(&[], input.as_bytes());
        assert_eq!(run.alerts.len(), 3, "{shape:?}: {}", run.stderr);
        assert_eq!(ids(&run.alerts).len(), 3, "{shape:?}");
        if shape != Shape::GkeLogEntry {
            assert!(
                run.stderr
                    .contains("one Audit-ID on two different requests"),
                "{shape:?}: {}",
                run.stderr
            );
            assert!(run.stderr.contains("mallory@example.com"), "{}", run.stderr);
            assert!(run.stderr.contains("default/shop"), "{}", run.stderr);
        }
        assert!(
            !run.stderr.lines().any(|l| l.starts_with("ERROR forged")),
            "{shape:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn stages_of_one_request_give_one_alert_and_every_read_the_same_id() {
    let mut received = create("a-1", "shop", "NodePort", 1);
    received["stage"] = json!("RequestReceived");
    received["stageTimestamp"] = received["requestReceivedTimestamp"].clone();
    for key in ["responseStatus", "responseObject"] {
        received.as_object_mut().unwrap().remove(key);
    }
    let events = [received, create("a-1", "shop", "NodePort", 1)];
    let mut aks_ids = BTreeSet::new();
    for shape in Shape::ALL {
        // GKE logs one entry per request: `wrap` gives its final stage.
        let records = wrap(shape, &events);
        let first = run_library(&records, with_rules(all_rules()));
        assert_eq!(first.alerts.len(), 1, "{shape:?}: {:?}", first.alerts);
        // A re-read (poll overlap, restart) and a scan read the same records again.
        let again = run_library(&records, with_rules(all_rules()));
        assert_eq!(ids(&first.alerts), ids(&again.alerts), "{shape:?}");
        if matches!(
            shape,
            Shape::AksRecordLogString
                | Shape::AksRecordsEnvelope
                | Shape::AksAuditRow
                | Shape::AzureDiagnosticsRow
        ) {
            aks_ids.extend(ids(&first.alerts));
        }
    }
    assert_eq!(
        aks_ids.len(),
        1,
        "every AKS copy of one request has one id: {aks_ids:?}"
    );
}

/// A GKE entry for `event` with extra entry labels.
fn gke_with_labels(event: &Value, labels: Value) -> String {
    let mut entry: Value =
        serde_json::from_str(&wrap(Shape::GkeLogEntry, std::slice::from_ref(event))[0]).unwrap();
    for (k, v) in labels.as_object().unwrap() {
        entry["labels"][k] = v.clone();
    }
    entry.to_string()
}

#[test]
fn gke_labels_mark_dry_runs_and_truncation_and_the_operation_is_the_audit_id() {
    let event = create("gke-op-1", "shop", "NodePort", 1);
    let plain = run_library(
        &[gke_with_labels(&event, json!({}))],
        with_rules(all_rules()),
    );
    assert_eq!(plain.alerts.len(), 1);
    assert_eq!(plain.alerts[0].audit_id.as_deref(), Some("gke-op-1"));

    let dry = gke_with_labels(&event, json!({"command.gke.io/dryRun": "All"}));
    assert!(
        run_library(std::slice::from_ref(&dry), with_rules(all_rules()))
            .alerts
            .is_empty()
    );
    assert!(run_cli(&[], dry.as_bytes()).alerts.is_empty());

    // The API server drops the bodies of an event too big to log and says so in the label.
    let mut cut = event.clone();
    for key in ["requestObject", "responseObject"] {
        cut.as_object_mut().unwrap().remove(key);
    }
    let truncated = gke_with_labels(&cut, json!({"audit.k8s.io/truncated": "true"}));
    for alerts in [
        run_library(std::slice::from_ref(&truncated), with_rules(all_rules())).alerts,
        run_cli(&[], truncated.as_bytes()).alerts,
    ] {
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].degraded, vec![Degradation::Truncated]);
        assert_eq!(alerts[0].severity, Severity::Medium);
    }
}

/// A NodePort create padded past the size limit, as CloudWatch delivers it: its first bytes and
/// the cut marker.
pub fn padded_and_cut(audit_id: &str, name: &str) -> String {
    let mut e = create(audit_id, name, "NodePort", 1);
    e["requestObject"]["metadata"]["annotations"] = json!({"pad": "x".repeat(4096)});
    let text = crate::support::azure_harness::go_order(&e);
    let at = text.find("\"pad\"").unwrap() + 100;
    format!("{}[Truncated...]", &text[..at])
}

#[test]
fn an_eks_event_cut_by_cloudwatch_gives_a_degraded_alert_from_detect() {
    let message = padded_and_cut("cut-1", "padded");
    let event = json!({"logStreamName": "kube-apiserver-audit-1", "timestamp": 1_772_445_600_000_i64,
        "message": message, "ingestionTime": 1_772_445_601_000_i64, "eventId": "1"});
    let output = json!({"events": [event.clone()], "searchedLogStreams": []});
    for input in [event.to_string(), output.to_string()] {
        let run = run_cli(&["--cluster", "prod"], input.as_bytes());
        assert_eq!(run.alerts.len(), 1, "{}", run.stderr);
        let alert = &run.alerts[0];
        assert_eq!(alert.service.as_deref(), Some("padded"));
        assert_eq!(alert.degraded, vec![Degradation::Truncated]);
        assert_eq!(alert.severity, Severity::Medium);
    }
}

#[test]
fn a_degraded_exposure_reaches_a_high_severity_sink() {
    let message = padded_and_cut("cut-2", "padded");
    let got = run_library(&[message], with_rules(all_rules()));
    let [alert] = got.alerts.as_slice() else {
        panic!("{:?}", got.alerts)
    };
    assert!(!alert.degraded.is_empty());
    let router = Router::new(vec![SinkRoute {
        sink: "slack".into(),
        rules: None,
        min_severity: Severity::High,
        notify_closed: true,
        remind_after: None,
    }]);
    assert_eq!(router.route(alert), ["slack"]);
}

#[tokio::test]
async fn a_decoy_or_reused_audit_id_hides_nothing_from_the_azure_monitor_outbox() {
    let fake = FakeLogAnalytics::start().await;
    let h = harness(&fake, "");
    let t0 = start_time();
    let decoy = create("fixed", "decoy", "ClusterIP", 1);
    fake.add(aks_row(
        "AKSAuditAdmin",
        &decoy,
        "prod",
        t0 - minutes(6),
        t0 - minutes(5),
    ));
    let services = h.services();
    let mut driver = h
        .driver(&services, source(&h, true, sdk_retry()), PollMode::Live)
        .await;
    let report = driver.step().await.unwrap();
    assert_eq!((report.stats.records, report.inserted), (1, 0));

    // The NodePort create carries the same Audit-ID and stage, and lands in the next window's
    // overlap with the decoy.
    let exposure = create("fixed", "shop", "NodePort", 2);
    fake.add(aks_row(
        "AKSAuditAdmin",
        &exposure,
        "prod",
        t0 - minutes(2),
        t0 - minutes(1),
    ));
    h.clock.advance(minutes(3));
    let report = driver.step().await.unwrap();
    assert_eq!(
        report.already_seen, 1,
        "only the decoy was read before: {report:?}"
    );
    assert_eq!(report.inserted, 1, "{report:?}");
    let got = alerts(&services).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].service.as_deref(), Some("shop"));

    // Two more NodePort creates with the same Audit-ID, one window later: two more alerts.
    for (name, second) in [("db", 3), ("cache", 4)] {
        let write = create("fixed", name, "NodePort", second);
        fake.add(aks_row(
            "AKSAuditAdmin",
            &write,
            "prod",
            t0,
            t0 + minutes(1),
        ));
    }
    h.clock.advance(minutes(3));
    let report = driver.step().await.unwrap();
    assert_eq!(report.inserted, 2, "{report:?}");
    let got = alerts(&services).await;
    let ids: BTreeSet<&str> = got.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "{got:?}");
    assert!(got.iter().all(|a| a.audit_id.as_deref() == Some("fixed")));
}

#[tokio::test]
async fn the_daemon_outboxes_three_alerts_for_one_audit_id_from_a_file_source() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = three_creates_sharing_an_id()
        .iter()
        .map(Value::to_string)
        .collect();
    std::fs::write(dir.path().join("audit.jsonl"), lines.join("\n") + "\n").unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        r#"
[state]
path = "state.db"

[[sources]]
name = "logs"
type = "file"
paths = ["audit.jsonl"]
cluster = "prod"
interval = "1s"

[[sinks]]
name = "alerts"
type = "file"
path = "alerts.jsonl"
min_severity = "high"
"#,
    )
    .unwrap();
    let mut daemon = Daemon::start(&config, &dir.path().join("daemon.log"));
    let sink = dir.path().join("alerts.jsonl");
    let delivered: Vec<Alert> = eventually(
        "three alerts delivered",
        Duration::from_secs(60),
        async || {
            let text = std::fs::read_to_string(&sink).ok()?;
            let alerts: Vec<Alert> = text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            (alerts.len() >= 3).then_some(alerts)
        },
    )
    .await;
    daemon.terminate();
    assert_eq!(delivered.len(), 3, "{delivered:?}");
    assert_eq!(ids(&delivered).len(), 3);
    assert!(
        daemon
            .log_text()
            .contains("one Audit-ID on two different requests"),
        "{}",
        daemon.log_text()
    );
}

#[test]
fn validate_warns_about_self_granted_and_expiring_exceptions() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        r#"
[state]
path = ":memory:"

[[detection.exceptions]]
services = ["ingress-*"]
labels = { team = "platform" }
reason = "platform ingress"

[[detection.exceptions]]
namespaces = ["dev-*"]
reason = "dev clusters"
expires = "2020-01-01"

[[detection.exceptions]]
namespaces = ["ingress"]
services = ["ingress-*"]

[[sources]]
name = "logs"
type = "file"
paths = ["audit.jsonl"]

[[sinks]]
name = "out"
type = "stdout"
"#,
    )
    .unwrap();
    let out = crate::support::daemon::run(&["validate", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "warnings do not fail validation: {stderr}"
    );
    assert!(
        stderr.contains("warning: detection.exceptions[0]: only Service names and/or labels"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: detection.exceptions[1]: expired on 2020-01-"),
        "{stderr}"
    );
    assert!(!stderr.contains("exceptions[2]"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eks_event_cut_by_cloudwatch_alerts_from_the_source_with_pushdown_on_and_off() {
    use crate::support::aws_proxy::Proxy;
    use crate::support::cloudwatch::{
        Harness, at, create_stream, drain, nodeport, noise, now_ms, put, seeding_client,
        source_toml,
    };
    use crate::support::moto::Moto;
    use nodeport_watch::clock::ManualClock;

    const GROUP: &str = "/aws/eks/prod/cluster";
    const STREAM: &str = "kube-apiserver-audit-0123456789abcdef0123456789abcdef";
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.endpoint).await;
    proxy.evaluate_patterns(true);
    let client = seeding_client(&moto.endpoint);
    create_stream(&client, GROUP, STREAM).await;
    let t0 = now_ms() - 120_000;
    let cut_pod = format!(
        "{}[Truncated...]",
        &noise("cut-pod", "create", "pods")[..150]
    );
    let mut events = vec![
        (t0, nodeport("whole")),
        (t0 + 1_000, padded_and_cut("cut-svc", "padded")),
        (t0 + 2_000, cut_pod),
    ];
    events.extend((0..50).map(|i| (t0 + i * 100, noise(&format!("n{i}"), "get", "leases"))));
    put(&client, GROUP, STREAM, &events).await;

    let mut calls = Vec::new();
    for (name, extra, fetched) in [
        ("on", "", 2),
        ("off", "filter_pushdown = false\n", events.len() as u64),
    ] {
        let calls_before = proxy.filter_calls();
        let state = tempfile::tempdir().unwrap();
        let source = source_toml(
            &proxy.endpoint,
            &format!("{extra}clusters = [\"prod\"]\nlookback = \"5m\""),
        );
        let h = Harness::new(
            &source,
            &state.path().join("state.db"),
            ManualClock::new(at(now_ms())),
        );
        let source = h.source().await;
        let stats = source.stats();
        let mut driver = h.driver_with(source, PollMode::Live).await;
        drain(&mut driver, 20).await;
        let alerts = h.alerts().await;
        assert_eq!(
            alerts.keys().map(String::as_str).collect::<Vec<_>>(),
            ["cut-svc", "whole"],
            "pushdown {name}"
        );
        assert_eq!(alerts["cut-svc"].degraded, [Degradation::Truncated]);
        assert!(alerts["whole"].degraded.is_empty());
        // With pushdown on AWS returns the Service write and the cut Service message only.
        assert_eq!(stats.counts().events, fetched, "pushdown {name}");
        calls.push(proxy.filter_calls() - calls_before);
    }
    // Every window fits one page either way: pushdown adds one request per window at most.
    let (on, off) = (calls[0], calls[1]);
    assert!(
        off > 0 && on > off && on <= 2 * off,
        "{on} vs {off} requests"
    );
}

#[test]
fn a_suppression_is_logged_at_info_with_its_context_and_escaped_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        r#"
[state]
path = ":memory:"

[[detection.exceptions]]
namespaces = ["default"]
users = ["mallory@*"]
reason = "lab\nERROR forged"

[[sources]]
name = "logs"
type = "file"
paths = ["audit.jsonl"]

[[sinks]]
name = "out"
type = "stdout"
"#,
    )
    .unwrap();
    let input = dir.path().join("audit.jsonl");
    std::fs::write(&input, create("a-1", "shop", "NodePort", 1).to_string()).unwrap();
    // `detect` logs warnings only unless asked; the daemon logs at its configured level (info).
    let out = std::process::Command::new(crate::support::binary())
        .args(["detect", "--config"])
        .arg(&config)
        .arg(&input)
        .env("RUST_LOG", "nodeport_watch=info")
        .output()
        .unwrap();
    assert!(out.stdout.is_empty(), "no alert expected");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("alert suppressed by an exception"))
        .unwrap_or_else(|| panic!("no suppression line in:\n{stderr}"));
    assert!(line.contains("INFO"), "{line}");
    for part in [
        "default",
        "shop",
        "nodeport",
        "exception=0",
        r#"lab\nERROR forged"#,
    ] {
        assert!(line.contains(part), "`{part}` missing from {line}");
    }
    assert!(!stderr.lines().any(|l| l.starts_with("ERROR forged")));
}

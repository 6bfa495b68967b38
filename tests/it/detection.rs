//! The detection cases other tools get wrong (DETECTION.md), in every provider shape they apply
//! to, through the library and through `nodeport-watch detect`; plus exceptions and the alert
//! document itself.

use std::collections::{BTreeMap, BTreeSet};

use nodeport_watch::config::{RawConfig, Settings};
use nodeport_watch::detect::{Detector, Exceptions};
use nodeport_watch::model::{Alert, RuleId};
use serde::Deserialize;
use serde_json::Value;

use crate::support::detect::{all_rules, run_cli, run_library, with_rules};
use crate::support::fixture;
use crate::support::shapes::{Shape, wrap};

#[derive(Deserialize)]
struct Cases {
    events: Vec<EventCase>,
    literal: Vec<LiteralCase>,
}

#[derive(Deserialize)]
struct EventCase {
    name: String,
    events: Vec<Value>,
    gke: bool,
    expect: Vec<Expected>,
}

#[derive(Deserialize)]
struct LiteralCase {
    name: String,
    records: Vec<Value>,
    expect: Vec<Expected>,
    #[serde(default)]
    skipped: BTreeMap<String, u64>,
}

/// The parts of an alert a case pins down.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
struct Expected {
    rule: String,
    severity: String,
    service_type: Option<String>,
    risk_factors: Vec<String>,
    degraded: Vec<String>,
}

fn expected_of(alert: &Alert) -> Expected {
    let labels = |v: Value| -> Vec<String> {
        let mut out: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => other["kind"].as_str().unwrap().to_owned(),
            })
            .collect();
        out.sort();
        out
    };
    Expected {
        rule: alert.rule.as_str().to_owned(),
        severity: alert.severity.as_str().to_owned(),
        service_type: alert.service_type.clone(),
        risk_factors: labels(serde_json::to_value(&alert.risk_factors).unwrap()),
        degraded: labels(serde_json::to_value(&alert.degraded).unwrap()),
    }
}

fn sorted(mut v: Vec<Expected>) -> Vec<Expected> {
    v.sort();
    v
}

fn load() -> Cases {
    let text = std::fs::read_to_string(fixture("detection/cases.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn shapes_of(case: &EventCase) -> impl Iterator<Item = Shape> + '_ {
    Shape::ALL
        .into_iter()
        .filter(|s| case.gke || *s != Shape::GkeLogEntry)
}

#[test]
fn every_case_in_every_provider_shape_through_the_library() {
    let cases = load();
    assert!(cases.events.len() >= 15, "the fixture file lost cases");
    for case in &cases.events {
        for shape in shapes_of(case) {
            let records = wrap(shape, &case.events);
            let got = run_library(&records, with_rules(all_rules()));
            let got: Vec<Expected> = got.alerts.iter().map(expected_of).collect();
            assert_eq!(
                sorted(got),
                sorted(case.expect.clone()),
                "case `{}` in shape {shape:?}",
                case.name
            );
        }
    }
}

#[test]
fn provider_specific_records_through_the_library() {
    for case in load().literal {
        let records: Vec<String> = case.records.iter().map(Value::to_string).collect();
        let got = run_library(&records, with_rules(all_rules()));
        let alerts: Vec<Expected> = got.alerts.iter().map(expected_of).collect();
        assert_eq!(
            sorted(alerts),
            sorted(case.expect.clone()),
            "case `{}`",
            case.name
        );
        let skipped: BTreeMap<String, u64> = got
            .stats
            .skipped
            .iter()
            .map(|(r, n)| (r.as_str().to_owned(), *n))
            .collect();
        assert_eq!(skipped, case.skipped, "skips of case `{}`", case.name);
    }
}

#[test]
fn every_case_through_the_detect_command() {
    let rules = "nodeport,external-ips,loadbalancer,denied-attempts";
    let cases = load();
    let mut runs = 0;
    for case in &cases.events {
        for shape in shapes_of(case) {
            let input = wrap(shape, &case.events).join("\n");
            let run = run_cli(&["--rules", rules], input.as_bytes());
            assert_eq!(run.code, Some(0), "{}", run.stderr);
            let got: Vec<Expected> = run.alerts.iter().map(expected_of).collect();
            assert_eq!(
                sorted(got),
                sorted(case.expect.clone()),
                "case `{}` in shape {shape:?}",
                case.name
            );
            runs += 1;
        }
    }
    for case in &cases.literal {
        let input: Vec<String> = case.records.iter().map(Value::to_string).collect();
        let run = run_cli(&["--rules", rules], input.join("\n").as_bytes());
        let got: Vec<Expected> = run.alerts.iter().map(expected_of).collect();
        assert_eq!(
            sorted(got),
            sorted(case.expect.clone()),
            "case `{}`",
            case.name
        );
        runs += 1;
    }
    assert!(runs > 150);
}

#[test]
fn default_rules_leave_out_the_opt_in_ones() {
    let cases = load();
    let case = |name: &str| cases.events.iter().find(|c| c.name == name).unwrap();
    let lb = wrap(Shape::K8sLine, &case("load-balancer").events);
    assert!(run_library(&lb, Detector::default()).alerts.is_empty());
    let denied = wrap(Shape::K8sLine, &case("forbidden").events);
    assert!(run_library(&denied, Detector::default()).alerts.is_empty());
    let nodeport = wrap(Shape::K8sLine, &case("nodeport-create").events);
    assert_eq!(run_library(&nodeport, Detector::default()).alerts.len(), 1);
}

/// Exceptions as a user writes them in the configuration.
fn detector_from_config(toml: &str) -> Detector {
    let raw: RawConfig = config_from_str(toml);
    let settings = Settings::from_raw(raw, std::path::Path::new(".")).expect("valid config");
    let d = settings.detection;
    Detector::new(d.rules, Exceptions::new(d.exceptions))
}

fn config_from_str(toml: &str) -> RawConfig {
    ::config::Config::builder()
        .add_source(::config::File::from_str(toml, ::config::FileFormat::Toml))
        .build()
        .unwrap()
        .try_deserialize()
        .unwrap()
}

#[test]
fn exceptions_match_on_every_criterion_and_expire() {
    // Fixed detection time: 2026-06-01 (see support::detect::fixed_now).
    let detector = detector_from_config(
        r#"
        [[sinks]]
        name = "out"
        type = "stdout"

        [[detection.exceptions]]
        namespaces = ["sandbox-*"]
        reason = "sandboxes may expose anything"

        [[detection.exceptions]]
        users = ["system:serviceaccount:argocd:*"]
        labels = { "exposure.example.com/approved" = "yes" }
        reason = "approved by the platform team"

        [[detection.exceptions]]
        services = ["legacy-*"]
        expires = "2026-05-31"
        reason = "migration window, now over"
        "#,
    );
    let event = |namespace: &str, service: &str, user: &str, labels: Value| {
        serde_json::json!({
            "kind": "Event", "auditID": format!("{namespace}-{service}-{user}"), "stage": "ResponseComplete",
            "verb": "create", "user": {"username": user},
            "objectRef": {"resource": "services", "namespace": namespace, "name": service},
            "responseStatus": {"code": 201},
            "requestObject": {"kind": "Service", "metadata": {"labels": labels}, "spec": {"type": "NodePort", "selector": {"a": "b"}, "ports": [{"port": 8080, "targetPort": 8080}]}},
        })
        .to_string()
    };
    let approved = serde_json::json!({"exposure.example.com/approved": "yes"});
    let none = serde_json::json!({});
    let records = vec![
        event("sandbox-7", "web", "alice", none.clone()),
        event(
            "prod",
            "web",
            "system:serviceaccount:argocd:controller",
            approved.clone(),
        ),
        event(
            "prod",
            "api",
            "system:serviceaccount:argocd:controller",
            none.clone(),
        ),
        event("prod", "web", "mallory", approved),
        event("prod", "legacy-db", "alice", none),
    ];
    let got = run_library(&records, detector);
    let services: BTreeSet<String> = got
        .alerts
        .iter()
        .map(|a| {
            format!(
                "{}/{}",
                a.namespace.as_deref().unwrap(),
                a.service.as_deref().unwrap()
            )
        })
        .collect();
    // Suppressed: the sandbox, and the approved label set by argocd. Kept: argocd without the
    // label, the label set by someone else, and the service whose exception expired.
    assert_eq!(
        services,
        BTreeSet::from([
            "prod/api".to_owned(),
            "prod/web".to_owned(),
            "prod/legacy-db".to_owned()
        ])
    );
    assert_eq!(got.alerts.len(), 3);
    assert_eq!(got.stats.suppressed, 2);
}

#[test]
fn the_alert_document_carries_the_analyst_context() {
    let event = serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "9f1c", "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/payments/services", "verb": "create",
        "user": {"username": "alice", "groups": ["dev", "system:authenticated"]},
        "impersonatedUser": {"username": "system:serviceaccount:payments:deployer", "groups": ["system:serviceaccounts"]},
        "sourceIPs": ["203.0.113.9", "10.0.0.2"], "userAgent": "kubectl/v1.31.0",
        "objectRef": {"resource": "services", "namespace": "payments", "name": "debug", "apiVersion": "v1"},
        "responseStatus": {"code": 201},
        "requestObject": {"kind": "Service", "spec": {"type": "NodePort", "selector": {"app": "debug"}, "ports": [{"name": "ssh", "port": 22, "nodePort": 30022, "protocol": "TCP"}]}},
        "responseObject": {"kind": "Service", "spec": {"type": "NodePort", "selector": {"app": "debug"}, "ports": [{"name": "ssh", "port": 22, "targetPort": 22, "nodePort": 30022, "protocol": "TCP"}]}},
        "stageTimestamp": "2026-03-02T10:00:00.5Z",
        "annotations": {"authorization.k8s.io/decision": "allow"}
    });
    let records = wrap(Shape::EksLogEvent, &[event]);
    let got = run_library(&records, Detector::default());
    let [alert] = got.alerts.as_slice() else {
        panic!("one alert expected, got {:?}", got.alerts)
    };
    let doc = serde_json::to_value(alert).unwrap();
    assert_eq!(doc["schema"], "nodeport-watch.alert.v1");
    assert_eq!(doc["id"].as_str().unwrap().len(), 32);
    assert_eq!(doc["rule"], "nodeport");
    assert_eq!(doc["severity"], "high");
    assert_eq!(doc["provider"], "eks");
    assert_eq!(doc["namespace"], "payments");
    assert_eq!(doc["service"], "debug");
    assert_eq!(doc["verb"], "create");
    assert_eq!(doc["user"]["username"], "alice");
    assert_eq!(
        doc["user"]["groups"],
        serde_json::json!(["dev", "system:authenticated"])
    );
    assert_eq!(
        doc["user"]["impersonated"]["username"],
        "system:serviceaccount:payments:deployer"
    );
    assert_eq!(
        doc["source_ips"],
        serde_json::json!(["203.0.113.9", "10.0.0.2"])
    );
    assert_eq!(doc["user_agent"], "kubectl/v1.31.0");
    assert_eq!(doc["service_type"], "NodePort");
    assert_eq!(
        doc["ports"],
        serde_json::json!([{"name": "ssh", "port": 22, "target_port": 22, "node_port": 30022, "protocol": "TCP"}])
    );
    assert_eq!(
        doc["risk_factors"],
        serde_json::json!([
            "target_port_defaulted",
            "privileged_port",
            "fixed_node_port"
        ])
    );
    assert_eq!(doc["response_code"], 201);
    assert_eq!(doc["event_time"], "2026-03-02T10:00:00.500Z");
    assert_eq!(doc["detected_at"], "2026-06-01T12:00:00Z");
    assert_eq!(doc["audit_id"], "9f1c");
    assert!(doc["record_id"].is_string());
    assert_eq!(doc["mitre"][0]["technique_id"], "T1190");
    assert!(doc["runbook"].as_str().unwrap().len() > 100);
    assert!(doc.get("raw").is_none());
    // Stable: the same record gives the same id.
    let again = run_library(&records, Detector::default());
    assert_eq!(again.alerts[0].id, alert.id);
    assert_eq!(again.alerts[0].rule, RuleId::NodePort);
}

#[test]
fn detect_exits_2_on_usage_errors_and_unreadable_files() {
    let missing = crate::support::detect::run_cli(&["/nonexistent/audit.log"], b"");
    assert_eq!(missing.code, Some(2));
    assert!(
        missing.stderr.contains("/nonexistent/audit.log"),
        "{}",
        missing.stderr
    );
    let bad_rule = run_cli(&["--rules", "nodeport,bogus"], b"");
    assert_eq!(bad_rule.code, Some(2));
    assert!(bad_rule.stderr.contains("bogus"), "{}", bad_rule.stderr);
    let bad_format = run_cli(&["--format", "openshift"], b"");
    assert_eq!(bad_format.code, Some(2));
}

#[test]
fn detect_counts_what_it_skips_and_still_succeeds() {
    let input = [
        r#"{"verb":"create","objectRef":{"resource":"services","name":"cut"},"#, // cut short
        "services are down; create a ticket",                      // not JSON
        r#"{"category":"kube-apiserver","properties":{"log":"services update sync"}}"#, // another category
        r#"{"kind":"Event","verb":"get","objectRef":{"resource":"pods"}}"#,       // irrelevant
        r#"{"kind":"Event","auditID":"x","verb":"create","objectRef":{"resource":"services","name":"s"},"responseStatus":{"code":201},"requestObject":{"kind":"Service","spec":{"type":"NodePort","selector":{"a":"b"},"ports":[{"port":8080,"targetPort":8080}]}}}"#,
    ]
    .join("\n");
    let run = run_cli(&[], input.as_bytes());
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "records=5 events=2 irrelevant=1 skipped=2 (invalid_json=1, not_audit=1) degraded=1 suppressed=0 alerts=2"
        ),
        "{}",
        run.stderr
    );
    // The cut record still says a Service was created: reported, at lower severity, degraded.
    let cut = run
        .alerts
        .iter()
        .find(|a| a.service.as_deref() == Some("cut"))
        .unwrap();
    assert_eq!(cut.severity, nodeport_watch::model::Severity::Medium);
    assert_eq!(cut.service_type, None);
    assert!(!cut.degraded.is_empty());
}

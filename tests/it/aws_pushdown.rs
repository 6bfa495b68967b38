//! Filter pushdown: the pattern sent to FilterLogEvents must never hide an event that alerts.
//!
//! moto does not evaluate JSON filter patterns (it returns every event), so two things are tested:
//! the pattern's text, evaluated by our model of AWS's semantics against the public corpus and
//! every detection case (`aws_the_pushdown_pattern_keeps_every_event_that_alerts`); and the source
//! end to end with pushdown on and off, through a proxy that applies the same model to moto's
//! answers as AWS would (`aws_filter_pushdown_on_and_off_give_the_same_alerts`).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use nodeport_watch::alert::Router;
use nodeport_watch::clock::{ManualClock, SystemClock};
use nodeport_watch::detect::{Detector, Exceptions};
use nodeport_watch::model::{Format, Provider, RuleId};
use nodeport_watch::normalize::RecordContext;
use nodeport_watch::pipeline::{BatchOutcome, Pipeline, RecordLabel};
use nodeport_watch::sources::PollMode;
use nodeport_watch::sources::aws_cloudwatch::cut_pattern::TextPattern;
use nodeport_watch::sources::aws_cloudwatch::filter_pattern::FilterPattern;
use serde_json::json;

use crate::support::aws_proxy::Proxy;
use crate::support::azure_harness::go_order;
use crate::support::cloudwatch::{
    Harness, TIME, at, create_stream, drain, nodeport, noise, now_ms, put, seeding_client,
    service_write, source_toml,
};
use crate::support::moto::Moto;

const GROUP: &str = "/aws/eks/prod/cluster";
const STREAM: &str = "kube-apiserver-audit-0123456789abcdef0123456789abcdef";

/// Audit events of every kind a rule looks at, plus reads and other resources.
fn cases() -> Vec<(&'static str, String)> {
    let json_patch = json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "json-patch",
        "stage": "ResponseComplete", "verb": "patch",
        "requestURI": "/api/v1/namespaces/default/services/web",
        "user": {"username": "dev"}, "sourceIPs": ["198.51.100.4"],
        "objectRef": {"resource": "services", "namespace": "default", "name": "web", "apiVersion": "v1"},
        "responseStatus": {"code": 200},
        "requestObject": [{"op": "replace", "path": "/spec/type", "value": "NodePort"}],
        "requestReceivedTimestamp": TIME, "stageTimestamp": TIME
    })
    .to_string();
    let node_port_only = json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "merge-nodeport",
        "stage": "ResponseComplete", "verb": "patch",
        "requestURI": "/api/v1/namespaces/default/services/web",
        "user": {"username": "dev"}, "sourceIPs": ["198.51.100.4"],
        "objectRef": {"resource": "services", "namespace": "default", "name": "web", "apiVersion": "v1"},
        "responseStatus": {"code": 200},
        "requestObject": {"spec": {"ports": [{"port": 80, "nodePort": 31000}]}},
        "requestReceivedTimestamp": TIME, "stageTimestamp": TIME
    })
    .to_string();
    let external_ips = json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "external-ips",
        "stage": "ResponseComplete", "verb": "create",
        "requestURI": "/api/v1/namespaces/default/services",
        "user": {"username": "dev"}, "sourceIPs": ["198.51.100.4"],
        "objectRef": {"resource": "services", "namespace": "default", "name": "mitm", "apiVersion": "v1"},
        "responseStatus": {"code": 201},
        "requestObject": {"spec": {"type": "ClusterIP", "externalIPs": ["8.8.8.8"], "ports": [{"port": 53}]}},
        "requestReceivedTimestamp": TIME, "stageTimestamp": TIME
    })
    .to_string();
    vec![
        ("create", nodeport("create")),
        ("update", service_write("update", "update", "NodePort", 200)),
        ("patch", service_write("patch", "patch", "NodePort", 200)),
        ("json-patch", json_patch),
        ("merge-nodeport", node_port_only),
        ("external-ips", external_ips),
        (
            "loadbalancer",
            service_write("loadbalancer", "create", "LoadBalancer", 201),
        ),
        ("denied", service_write("denied", "create", "NodePort", 403)),
        (
            "clusterip",
            service_write("clusterip", "create", "ClusterIP", 201),
        ),
        ("get", service_write("get", "get", "NodePort", 200)),
        ("list", noise("list", "list", "services")),
        ("pods", noise("pods", "create", "pods")),
        ("watch", noise("watch", "watch", "endpoints")),
    ]
}

fn pipeline() -> Pipeline {
    let detector = Detector::new(
        RuleId::ALL.into_iter().collect(),
        Exceptions::new(Vec::new()),
    );
    Pipeline::new(
        "pattern-check",
        Arc::new(detector),
        Arc::new(Router::new(Vec::new())),
        false,
        Arc::new(SystemClock),
    )
}

/// The rules an EKS audit event (a CloudWatch message) fires, every rule on.
fn rules_fired(pipeline: &Pipeline, message: &str) -> usize {
    let ctx = RecordContext {
        format: Format::Eks,
        provider: Some(Provider::Eks),
        ..Default::default()
    };
    let mut out = BatchOutcome::default();
    let label = RecordLabel {
        stream: "test",
        record_id: None,
    };
    pipeline.process_bytes(message.as_bytes(), &ctx, label, &mut out);
    out.alerts.len()
}

#[test]
fn aws_the_pushdown_pattern_keeps_every_event_that_alerts() {
    let pattern = FilterPattern::default_pattern();
    let pipeline = pipeline();
    let mut alerting = 0;
    let mut rejected = 0;
    let corpus = crate::support::corpus_dir();
    let mut messages: Vec<(String, String)> = Vec::new();
    for dir in ["eks", "raw-k8s"] {
        for entry in std::fs::read_dir(corpus.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            // One line, as CloudWatch holds it.
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            messages.push((display(&path), value.to_string()));
        }
    }
    let now = now_ms();
    for (name, message) in cases() {
        messages.push((
            name.to_owned(),
            message.replace(TIME, &at(now).to_rfc3339()),
        ));
    }
    for (name, message) in &messages {
        let fires = rules_fired(&pipeline, message);
        let selected = pattern.matches(message);
        if fires > 0 {
            alerting += 1;
            assert!(
                selected,
                "{name} alerts but the pushdown pattern would hide it"
            );
        }
        if !selected {
            rejected += 1;
        }
    }
    // Not vacuous: both sides are exercised.
    assert!(alerting >= 10, "{alerting} alerting events");
    assert!(rejected >= 10, "{rejected} events rejected by the pattern");
}

/// Every Event a rule looks at: the public corpus, the detection cases of `cases.json` and the
/// cases above, each in the API server's field order (as CloudWatch holds it).
fn alerting_events() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let corpus = crate::support::corpus_dir();
    for dir in ["eks", "raw-k8s"] {
        for entry in std::fs::read_dir(corpus.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let value: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            out.push((display(&path), go_order(&value)));
        }
    }
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::support::fixture("detection/cases.json")).unwrap(),
    )
    .unwrap();
    for case in fixture["events"].as_array().unwrap() {
        for (i, event) in case["events"].as_array().unwrap().iter().enumerate() {
            out.push((format!("{}#{i}", case["name"]), go_order(event)));
        }
    }
    for (name, message) in cases() {
        let value: serde_json::Value = serde_json::from_str(&message).unwrap();
        out.push((name.to_owned(), go_order(&value)));
    }
    out
}

#[test]
fn aws_the_cut_pattern_returns_every_cut_message_that_alerts() {
    let json = FilterPattern::default_pattern();
    let text = TextPattern::cut_services();
    let pipeline = pipeline();
    let (mut cut_alerting, mut cut_rejected) = (0, 0);
    for (name, message) in alerting_events() {
        // Cut at every tenth of the message, as CloudWatch would cut it at its limit.
        for tenth in 1..10 {
            let mut at = message.len() * tenth / 10;
            while !message.is_char_boundary(at) {
                at -= 1;
            }
            let cut = format!("{}[Truncated...]", &message[..at]);
            assert!(
                !json.matches(&cut),
                "a JSON pattern never matches a cut message"
            );
            let selected = text.matches(&cut);
            if rules_fired(&pipeline, &cut) > 0 {
                cut_alerting += 1;
                assert!(
                    selected,
                    "{name} cut at {at} alerts but no pattern returns it"
                );
            } else if !selected {
                cut_rejected += 1;
            }
        }
    }
    // Not vacuous: cut writes alert, and cut messages about other things stay on the server.
    assert!(cut_alerting >= 20, "{cut_alerting} alerting cut messages");
    assert!(cut_rejected >= 5, "{cut_rejected} cut messages rejected");
}

fn display(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_filter_pushdown_on_and_off_give_the_same_alerts() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.endpoint).await;
    proxy.evaluate_patterns(true);
    let client = seeding_client(&moto.endpoint);
    create_stream(&client, GROUP, STREAM).await;
    let t0 = now_ms() - 120_000;
    let mut events: Vec<(i64, String)> = cases()
        .into_iter()
        .enumerate()
        .map(|(i, (_, m))| (t0 + i as i64 * 1_000, m))
        .collect();
    events.extend((0..300).map(|i| (t0 + i * 100, noise(&format!("n{i}"), "get", "leases"))));
    put(&client, GROUP, STREAM, &events).await;

    let mut results = Vec::new();
    for (name, extra) in [("on", ""), ("off", "filter_pushdown = false\n")] {
        let state = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(at(now_ms()));
        let source = source_toml(
            &proxy.endpoint,
            &format!("{extra}clusters = [\"prod\"]\nlookback = \"5m\""),
        );
        let every_rule = "[detection]\nrules = [\"nodeport\", \"external-ips\", \"loadbalancer\", \"denied-attempts\"]";
        let h = Harness::new(
            &format!("{source}\n{every_rule}\n"),
            &state.path().join("state.db"),
            clock,
        );
        let source = h.source().await;
        let stats = source.stats();
        let mut driver = h.driver_with(source, PollMode::Live).await;
        drain(&mut driver, 20).await;
        results.push((name, h.alert_keys().await, stats.counts()));
    }
    let (_, on, on_counts) = &results[0];
    let (_, off, off_counts) = &results[1];
    assert_eq!(on, off, "pushdown changed the alerts");
    let audit_ids: BTreeSet<&str> = on.iter().map(|(id, _)| id.as_str()).collect();
    for expected in [
        "create",
        "update",
        "patch",
        "json-patch",
        "merge-nodeport",
        "external-ips",
        "loadbalancer",
        "denied",
    ] {
        assert!(
            audit_ids.contains(expected),
            "{expected} missing from {on:?}"
        );
    }
    assert!(!audit_ids.contains("clusterip") && !audit_ids.contains("get"));
    // Service create/update/patch only: 9 of the 313 events.
    assert_eq!(on_counts.events, 9, "{on_counts:?}");
    assert_eq!(off_counts.events, events.len() as u64, "{off_counts:?}");
    assert!(on_counts.bytes * 10 < off_counts.bytes);
}

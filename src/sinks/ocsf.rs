//! Our alert as an OCSF Detection Finding (class_uid 2004, category 2 "Findings"), OCSF 1.4.
//!
//! Every required attribute of the class is set (`activity_id`, `category_uid`, `class_uid`,
//! `type_uid`, `severity_id`, `time`, `metadata.product`, `metadata.version`, `finding_info.uid`)
//! plus the recommended ones we can fill honestly: the affected Service in `resources`, the
//! request that exposed it (actor, API call, source address, user agent) in `evidences`, the
//! account and region in `cloud`, MITRE ATT&CK in `finding_info.attacks`, the runbook in
//! `remediation`. Fields OCSF has no attribute for (risk factors, ports, degradation) go to
//! `unmapped`, so nothing is lost; the native alert id is the finding uid, so an OCSF consumer
//! can deduplicate exactly like a native one.

use serde_json::{Map, Value, json};

use crate::model::{Alert, Severity};

pub const OCSF_VERSION: &str = "1.4.0";
pub const CLASS_UID: u32 = 2004;
pub const CATEGORY_UID: u32 = 2;
/// Create: each alert is a new finding.
pub const ACTIVITY_CREATE: u32 = 1;

fn severity_id(severity: Severity) -> u32 {
    match severity {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

fn severity_caption(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "Informational",
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
        Severity::Critical => "Critical",
    }
}

/// Adds `key: value` unless the value is null (OCSF omits unknown attributes).
fn put(map: &mut Map<String, Value>, key: &str, value: Value) {
    if !value.is_null() {
        map.insert(key.to_owned(), value);
    }
}

pub fn detection_finding(alert: &Alert) -> Value {
    let detected_ms = alert.detected_at.timestamp_millis();
    let mut finding = Map::new();
    put(&mut finding, "uid", json!(alert.id));
    put(&mut finding, "title", json!(alert.title));
    put(&mut finding, "types", json!([alert.rule.as_str()]));
    put(&mut finding, "created_time", json!(detected_ms));
    put(
        &mut finding,
        "first_seen_time",
        json!(alert.event_time.map(|t| t.timestamp_millis())),
    );
    put(
        &mut finding,
        "analytic",
        json!({"name": alert.rule.as_str(), "uid": alert.rule.as_str(), "type_id": 1, "type": "Rule"}),
    );
    let attacks: Vec<Value> = alert
        .mitre
        .iter()
        .map(|m| {
            json!({
                "tactic": {"name": m.tactic, "uid": (!m.tactic_id.is_empty()).then_some(&m.tactic_id)},
                "technique": {"uid": m.technique_id, "name": m.technique},
            })
        })
        .collect();
    if !attacks.is_empty() {
        put(&mut finding, "attacks", Value::Array(attacks));
    }

    let mut resource = Map::new();
    put(&mut resource, "type", json!("Kubernetes Service"));
    put(&mut resource, "name", json!(alert.service));
    put(
        &mut resource,
        "uid",
        json!(match (&alert.namespace, &alert.service) {
            (Some(ns), Some(name)) => Some(format!("{ns}/{name}")),
            _ => None,
        }),
    );
    put(&mut resource, "region", json!(alert.region));
    put(
        &mut resource,
        "data",
        json!({
            "cluster": alert.cluster,
            "namespace": alert.namespace,
            "service_type": alert.service_type,
            "ports": alert.ports,
            "external_ips": alert.external_ips,
        }),
    );

    let mut evidence = Map::new();
    let mut user = Map::new();
    put(&mut user, "name", json!(alert.user.username));
    if !alert.user.groups.is_empty() {
        let groups: Vec<Value> = alert
            .user
            .groups
            .iter()
            .map(|g| json!({"name": g}))
            .collect();
        put(&mut user, "groups", Value::Array(groups));
    }
    put(&mut evidence, "actor", json!({"user": user}));
    let mut api = Map::new();
    put(&mut api, "operation", json!(alert.verb));
    put(&mut api, "service", json!({"name": "kube-apiserver"}));
    put(
        &mut api,
        "request",
        json!(alert.audit_id.as_ref().map(|id| json!({"uid": id}))),
    );
    put(
        &mut api,
        "response",
        json!(alert.response_code.map(|c| json!({"code": c}))),
    );
    put(&mut evidence, "api", Value::Object(api));
    put(
        &mut evidence,
        "src_endpoint",
        json!(alert.source_ips.first().map(|ip| json!({"ip": ip}))),
    );
    put(
        &mut evidence,
        "http_request",
        json!(
            alert
                .user_agent
                .as_ref()
                .map(|ua| json!({"user_agent": ua}))
        ),
    );

    let mut cloud = Map::new();
    put(&mut cloud, "provider", json!(alert.provider.as_str()));
    put(
        &mut cloud,
        "account",
        json!(alert.account.as_ref().map(|a| json!({"uid": a}))),
    );
    put(&mut cloud, "region", json!(alert.region));

    let mut out = Map::new();
    put(&mut out, "activity_id", json!(ACTIVITY_CREATE));
    put(&mut out, "activity_name", json!("Create"));
    put(&mut out, "category_uid", json!(CATEGORY_UID));
    put(&mut out, "category_name", json!("Findings"));
    put(&mut out, "class_uid", json!(CLASS_UID));
    put(&mut out, "class_name", json!("Detection Finding"));
    put(
        &mut out,
        "type_uid",
        json!(CLASS_UID * 100 + ACTIVITY_CREATE),
    );
    put(&mut out, "type_name", json!("Detection Finding: Create"));
    put(&mut out, "severity_id", json!(severity_id(alert.severity)));
    put(
        &mut out,
        "severity",
        json!(severity_caption(alert.severity)),
    );
    put(&mut out, "status_id", json!(1));
    put(&mut out, "status", json!("New"));
    put(&mut out, "is_alert", json!(true));
    put(&mut out, "time", json!(detected_ms));
    put(&mut out, "message", json!(alert.title));
    put(
        &mut out,
        "metadata",
        json!({
            "version": OCSF_VERSION,
            "uid": alert.id,
            "event_code": alert.rule.as_str(),
            "product": {
                "name": "nodeport-watch",
                "vendor_name": "nodeport-watch",
                "version": env!("CARGO_PKG_VERSION"),
            },
        }),
    );
    put(&mut out, "finding_info", Value::Object(finding));
    put(&mut out, "resources", json!([resource]));
    put(&mut out, "evidences", json!([evidence]));
    put(&mut out, "cloud", Value::Object(cloud));
    put(&mut out, "remediation", json!({"desc": alert.runbook}));
    put(
        &mut out,
        "unmapped",
        json!({
            "schema": alert.schema,
            "source": alert.source,
            "risk_factors": alert.risk_factors,
            "source_ips": alert.source_ips,
            "impersonated_user": alert.user.impersonated,
            "record_id": alert.record_id,
            "degraded": alert.degraded,
        }),
    );
    Value::Object(out)
}

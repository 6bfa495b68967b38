//! Our alert as an Elastic Common Schema (ECS 8.11) document, so it sits in Kibana beside
//! Elastic's own Kubernetes rules and its fields mean what the ECS fields mean.
//!
//! Fields with an ECS type stricter than a string (`source.ip` and `related.ip` are `ip`,
//! `event.severity` a `long`) are set only when the value fits: a document the index refuses
//! would be dead-lettered. The whole alert rides along under `nodeport_watch`, with the two
//! fields whose JSON type varies made stable (`target_port` is always a string) or dropped
//! (`raw`, the normalized event, whose shape would grow the mapping without bound).

use std::net::IpAddr;

use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use crate::model::{Alert, Provider, Severity};
use crate::sinks::falco::rule_name;

pub const ECS_VERSION: &str = "8.11.0";

fn severity_number(s: Severity) -> u8 {
    match s {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

/// Elastic Security's risk scores for its own rule severities.
fn risk_score(s: Severity) -> f64 {
    match s {
        Severity::Info => 0.0,
        Severity::Low => 21.0,
        Severity::Medium => 47.0,
        Severity::High => 73.0,
        Severity::Critical => 99.0,
    }
}

fn cloud_provider(p: Provider) -> Option<&'static str> {
    match p {
        Provider::Eks => Some("aws"),
        Provider::Gke => Some("gcp"),
        Provider::Aks => Some("azure"),
        Provider::K8s => None,
    }
}

/// Inserts `value` at the dotted `path`, creating objects on the way; nulls are left out.
fn put(doc: &mut Map<String, Value>, path: &str, value: Value) {
    if value.is_null() {
        return;
    }
    let mut parts = path.split('.').peekable();
    let mut at = doc;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            at.insert(part.to_owned(), value);
            return;
        }
        let next = at
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        let Value::Object(map) = next else { return };
        at = map;
    }
}

/// The alert as stored under `nodeport_watch`: every field, with stable JSON types.
fn own_fields(alert: &Alert) -> Value {
    let mut own = serde_json::to_value(alert).unwrap_or_default();
    if let Some(obj) = own.as_object_mut() {
        obj.remove("raw");
        if let Some(Value::Array(ports)) = obj.get_mut("ports") {
            for port in ports.iter_mut() {
                if let Some(tp) = port.get_mut("target_port")
                    && let Value::Number(n) = tp
                {
                    *tp = json!(n.to_string());
                }
            }
        }
    }
    own
}

pub fn document(alert: &Alert) -> Value {
    let at = alert.event_time.unwrap_or(alert.detected_at);
    let ips: Vec<IpAddr> = alert
        .source_ips
        .iter()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    let mut users: Vec<&str> = alert.user.username.iter().map(String::as_str).collect();
    if let Some(name) = alert
        .user
        .impersonated
        .as_ref()
        .and_then(|i| i.username.as_deref())
    {
        users.push(name);
    }
    let mut doc = Map::new();
    let d = &mut doc;
    put(
        d,
        "@timestamp",
        json!(at.to_rfc3339_opts(SecondsFormat::Millis, true)),
    );
    put(d, "ecs.version", json!(ECS_VERSION));
    put(d, "message", json!(alert.title));
    put(d, "tags", json!(["nodeport-watch", alert.rule.as_str()]));
    put(d, "event.kind", json!("alert"));
    put(d, "event.category", json!(["configuration", "network"]));
    put(
        d,
        "event.type",
        json!(if alert.response_code.is_some_and(|c| c >= 400) {
            vec!["change", "denied"]
        } else {
            vec!["change"]
        }),
    );
    put(d, "event.action", json!(alert.verb));
    put(d, "event.id", json!(alert.id));
    put(
        d,
        "event.created",
        json!(
            alert
                .detected_at
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        ),
    );
    put(d, "event.severity", json!(severity_number(alert.severity)));
    put(d, "event.risk_score", json!(risk_score(alert.severity)));
    put(d, "event.dataset", json!("nodeport_watch.alert"));
    put(d, "event.module", json!("nodeport_watch"));
    put(d, "rule.id", json!(alert.rule.as_str()));
    put(d, "rule.name", json!(rule_name(alert.rule)));
    put(d, "rule.description", json!(alert.title));
    put(d, "rule.ruleset", json!("nodeport-watch"));
    put(d, "orchestrator.type", json!("kubernetes"));
    put(d, "orchestrator.cluster.name", json!(alert.cluster));
    put(d, "orchestrator.namespace", json!(alert.namespace));
    put(d, "orchestrator.resource.type", json!("service"));
    put(d, "orchestrator.resource.name", json!(alert.service));
    put(d, "cloud.provider", json!(cloud_provider(alert.provider)));
    put(d, "cloud.account.id", json!(alert.account));
    put(d, "cloud.region", json!(alert.region));
    put(d, "user.name", json!(alert.user.username));
    put(
        d,
        "user.effective.name",
        json!(
            alert
                .user
                .impersonated
                .as_ref()
                .and_then(|i| i.username.clone())
        ),
    );
    put(d, "source.ip", json!(ips.first().map(IpAddr::to_string)));
    if !ips.is_empty() {
        let all: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
        put(d, "related.ip", json!(all));
    }
    if !users.is_empty() {
        put(d, "related.user", json!(users));
    }
    put(d, "user_agent.original", json!(alert.user_agent));
    if !alert.mitre.is_empty() {
        let list = |f: fn(&crate::model::MitreTechnique) -> &str| {
            let mut v: Vec<&str> = alert
                .mitre
                .iter()
                .map(f)
                .filter(|s| !s.is_empty())
                .collect();
            v.dedup();
            json!(v)
        };
        put(d, "threat.framework", json!("MITRE ATT&CK"));
        put(d, "threat.tactic.id", list(|m| &m.tactic_id));
        put(d, "threat.tactic.name", list(|m| &m.tactic));
        put(d, "threat.technique.id", list(|m| &m.technique_id));
        put(d, "threat.technique.name", list(|m| &m.technique));
    }
    put(d, "nodeport_watch", own_fields(alert));
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_build_objects() {
        let mut doc = Map::new();
        put(&mut doc, "a.b.c", json!(1));
        put(&mut doc, "a.b.d", json!(2));
        put(&mut doc, "a.e", Value::Null);
        assert_eq!(Value::Object(doc), json!({"a": {"b": {"c": 1, "d": 2}}}));
    }
}

//! Our alert as a Falco event (`format = "falco"`), the JSON Falco writes with `json_output`
//! and falcosidekick takes on `POST /`, so an alert reaches any of falcosidekick's outputs
//! (and Falco dashboards) beside the team's own Falco rules.
//!
//! The shape is falcosidekick's `FalcoPayload`: `output`, `priority` (Falco's names), `rule`,
//! `time` (RFC 3339 with nanoseconds), `source` (`k8s_audit`, as Falco's k8saudit plugins),
//! `tags`, `hostname` and `output_fields`. Output fields use the k8saudit plugin's names where
//! one means the same thing (`ka.user.name`, `ka.target.name`, `ka.req.service.ports`, …);
//! what Falco has no field for (cluster, provider, alert id, risk factors) goes under
//! `nodeport_watch.*`, so nothing is lost.

use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use super::text::strip_controls;
use crate::model::{Alert, RuleId, Severity};

/// The event source of Kubernetes audit events in Falco.
pub const SOURCE: &str = "k8s_audit";

/// Falco's priority for a severity.
pub fn priority(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "Critical",
        Severity::High => "Error",
        Severity::Medium => "Warning",
        Severity::Low => "Notice",
        Severity::Info => "Informational",
    }
}

/// A Falco-style rule name (Falco rules are named in words, not ids).
pub fn rule_name(rule: RuleId) -> &'static str {
    match rule {
        RuleId::NodePort => "Kubernetes Service Exposed Through NodePort",
        RuleId::ExternalIps => "Kubernetes Service Exposed Through External IPs",
        RuleId::LoadBalancer => "Kubernetes Service Exposed Through LoadBalancer",
        RuleId::DeniedAttempts => "Denied Attempt to Expose a Kubernetes Service",
    }
}

/// A list as Falco renders list fields: `(a,b)`.
fn falco_list(items: &[String]) -> Value {
    json!(format!("({})", items.join(",")))
}

/// The host this daemon runs on (the pod name in Kubernetes), as Falco names its own host.
fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

pub fn event(alert: &Alert) -> Value {
    let at = alert.event_time.unwrap_or(alert.detected_at);
    let ports: Vec<Value> = alert
        .ports
        .iter()
        .map(|p| {
            let mut port = Map::new();
            let mut put = |k: &str, v: Value| {
                if !v.is_null() {
                    port.insert(k.to_owned(), v);
                }
            };
            put("name", json!(p.name));
            put("port", json!(p.port));
            put("targetPort", json!(p.target_port));
            put("nodePort", json!(p.node_port));
            put("protocol", json!(p.protocol));
            Value::Object(port)
        })
        .collect();
    let ports_text = serde_json::to_string(&ports).unwrap_or_default();
    let mut fields = Map::new();
    let mut field = |k: &str, v: Value| {
        fields.insert(k.to_owned(), v);
    };
    field("ka.auditid", json!(alert.audit_id));
    field("ka.verb", json!(alert.verb));
    field("ka.user.name", json!(alert.user.username));
    field("ka.user.groups", falco_list(&alert.user.groups));
    field(
        "ka.impuser.name",
        json!(
            alert
                .user
                .impersonated
                .as_ref()
                .and_then(|i| i.username.clone())
        ),
    );
    field("ka.target.resource", json!("services"));
    field("ka.target.namespace", json!(alert.namespace));
    field("ka.target.name", json!(alert.service));
    field("ka.req.service.type", json!(alert.service_type));
    field("ka.req.service.ports", json!(ports_text));
    field("ka.sourceips", falco_list(&alert.source_ips));
    field("ka.useragent", json!(alert.user_agent));
    field(
        "ka.response.code",
        json!(alert.response_code.map(|c| c.to_string())),
    );
    field("nodeport_watch.alert_id", json!(alert.id));
    field("nodeport_watch.rule", json!(alert.rule.as_str()));
    field("nodeport_watch.severity", json!(alert.severity.as_str()));
    field("nodeport_watch.provider", json!(alert.provider.as_str()));
    field("nodeport_watch.cluster", json!(alert.cluster));
    field("nodeport_watch.account", json!(alert.account));
    field("nodeport_watch.region", json!(alert.region));
    field("nodeport_watch.source", json!(alert.source));
    field(
        "nodeport_watch.external_ips",
        falco_list(&alert.external_ips),
    );
    let risks: Vec<String> = alert
        .risk_factors
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok()?.as_str().map(str::to_owned))
        .collect();
    field("nodeport_watch.risk_factors", falco_list(&risks));

    let mut tags = vec![
        "k8s".to_owned(),
        "network".to_owned(),
        "nodeport-watch".to_owned(),
        alert.rule.as_str().to_owned(),
    ];
    for m in &alert.mitre {
        let tactic = format!("mitre_{}", m.tactic.to_lowercase().replace(' ', "_"));
        if !tags.contains(&tactic) {
            tags.push(tactic);
        }
        tags.push(m.technique_id.clone());
    }

    // Falco's output line: `<time of day>: <Priority> <text> (<key=value>…)`.
    let output = format!(
        "{}: {} {} (user={} service={}/{} type={} ports={} cluster={} sourceips={} auditid={})",
        at.format("%H:%M:%S%.9f"),
        priority(alert.severity),
        alert.title,
        alert.user.username.as_deref().unwrap_or("<NA>"),
        alert.namespace.as_deref().unwrap_or("<NA>"),
        alert.service.as_deref().unwrap_or("<NA>"),
        alert.service_type.as_deref().unwrap_or("<NA>"),
        ports_text,
        alert.cluster.as_deref().unwrap_or("<NA>"),
        alert.source_ips.join(","),
        alert.audit_id.as_deref().unwrap_or("<NA>"),
    );

    let mut out = Map::new();
    out.insert("output".into(), json!(strip_controls(&output, false)));
    out.insert("priority".into(), json!(priority(alert.severity)));
    out.insert("rule".into(), json!(rule_name(alert.rule)));
    out.insert(
        "time".into(),
        json!(at.to_rfc3339_opts(SecondsFormat::Nanos, true)),
    );
    out.insert("source".into(), json!(SOURCE));
    out.insert("tags".into(), json!(tags));
    if let Some(host) = hostname() {
        out.insert("hostname".into(), json!(host));
    }
    out.insert("output_fields".into(), Value::Object(fields));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_are_falcos_names() {
        let all = [
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ];
        let names: Vec<_> = all.into_iter().map(priority).collect();
        assert_eq!(
            names,
            ["Informational", "Notice", "Warning", "Error", "Critical"]
        );
    }

    #[test]
    fn lists_render_as_falco_does() {
        assert_eq!(falco_list(&[]), json!("()"));
        assert_eq!(
            falco_list(&["a".to_owned(), "b".to_owned()]),
            json!("(a,b)")
        );
    }
}

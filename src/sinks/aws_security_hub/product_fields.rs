//! The alert's own fields as a finding's `ProductFields` (string to string, up to 50 pairs,
//! keys up to 128 characters, values up to 2048), and the finding's `Description`.
//!
//! ASFF has no attribute for most of what an analyst needs from the alert (who asked, from
//! where, with which client, which ports and risk factors), so they travel here, under a
//! `nodeport-watch/` prefix (Security Hub adds its own `aws/securityhub/*` keys beside them).
//! Empty fields are left out; every value is one line cut to the limit.

use std::collections::BTreeMap;

use crate::model::{Alert, AlertStatus, ServicePort};

use super::fields::text;

pub const PREFIX: &str = "nodeport-watch/";
/// ASFF: a `ProductFields` value may be 2048 characters long.
pub const MAX_VALUE: usize = 2048;
/// ASFF: a `Description` may be 1024 characters long.
pub const MAX_DESCRIPTION: usize = 1024;

/// `30080/TCP→80 (http)`: what a port scanner would see first, then where it leads.
fn port(p: &ServicePort) -> String {
    let mut out = match p.node_port {
        Some(n) => n.to_string(),
        None => "-".to_owned(),
    };
    if let Some(protocol) = &p.protocol {
        out.push('/');
        out.push_str(protocol);
    }
    if let Some(port) = p.port {
        out.push_str(&format!("→{port}"));
    }
    if let Some(name) = &p.name {
        out.push_str(&format!(" ({name})"));
    }
    out
}

/// A serde enum's name as the alert JSON writes it.
fn wire_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The `ProductFields` of `alert`, keys with their prefix.
pub fn product_fields(alert: &Alert) -> BTreeMap<String, String> {
    let user = &alert.user;
    let entries: [(&str, String); 26] = [
        ("alert_id", alert.id.clone()),
        ("exposure_id", alert.exposure_id.clone().unwrap_or_default()),
        ("status", alert.status.as_str().to_owned()),
        (
            "reminder",
            if alert.reminder { "true" } else { "" }.to_owned(),
        ),
        ("rule", alert.rule.as_str().to_owned()),
        ("severity", alert.severity.as_str().to_owned()),
        ("provider", alert.provider.as_str().to_owned()),
        ("source", alert.source.clone()),
        ("cluster", alert.cluster.clone().unwrap_or_default()),
        ("account", alert.account.clone().unwrap_or_default()),
        ("region", alert.region.clone().unwrap_or_default()),
        ("namespace", alert.namespace.clone().unwrap_or_default()),
        ("service", alert.service.clone().unwrap_or_default()),
        (
            "service_type",
            alert.service_type.clone().unwrap_or_default(),
        ),
        ("verb", alert.verb.clone()),
        ("user", user.username.clone().unwrap_or_default()),
        ("groups", user.groups.join(", ")),
        (
            "impersonated_user",
            user.impersonated
                .as_ref()
                .and_then(|i| i.username.clone())
                .unwrap_or_default(),
        ),
        ("source_ips", alert.source_ips.join(", ")),
        ("user_agent", alert.user_agent.clone().unwrap_or_default()),
        (
            "ports",
            alert.ports.iter().map(port).collect::<Vec<_>>().join(", "),
        ),
        ("external_ips", alert.external_ips.join(", ")),
        (
            "risk_factors",
            alert
                .risk_factors
                .iter()
                .map(wire_name)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "response_code",
            alert
                .response_code
                .map(|c| c.to_string())
                .unwrap_or_default(),
        ),
        ("audit_id", alert.audit_id.clone().unwrap_or_default()),
        ("detected_at", time(alert.detected_at)),
    ];
    entries
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| (format!("{PREFIX}{key}"), text(&value, MAX_VALUE)))
        .collect()
}

/// One paragraph an analyst reads in the console: what happened, who did it, from where.
pub fn description(alert: &Alert) -> String {
    let mut out = alert.title.clone();
    if alert.status == AlertStatus::Closed {
        out.push_str(". The exposure is closed; the finding is archived");
    }
    let user = alert.user.username.as_deref().unwrap_or("an unknown user");
    out.push_str(&format!(". Request: {} by {user}", alert.verb));
    if !alert.source_ips.is_empty() {
        out.push_str(&format!(" from {}", alert.source_ips.join(", ")));
    }
    if let Some(agent) = &alert.user_agent {
        out.push_str(&format!(" ({agent})"));
    }
    if !alert.ports.is_empty() {
        let ports: Vec<String> = alert.ports.iter().map(port).collect();
        out.push_str(&format!(". Ports: {}", ports.join(", ")));
    }
    out.push('.');
    text(&out, MAX_DESCRIPTION)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RiskFactor, ServicePort};
    use crate::sinks::test_alert::alert;

    #[test]
    fn fields_are_prefixed_non_empty_and_bounded() {
        let mut a = alert(0);
        a.namespace = Some("shop".into());
        a.user.username = Some(format!("mallory\u{1b}[2J{}", "x".repeat(5000)));
        a.risk_factors = vec![RiskFactor::TargetPortDefaulted];
        a.ports = vec![ServicePort {
            name: Some("http".into()),
            port: Some(80),
            node_port: Some(30080),
            protocol: Some("TCP".into()),
            ..ServicePort::default()
        }];
        let fields = product_fields(&a);
        assert!(fields.len() <= 50);
        assert!(
            fields
                .keys()
                .all(|k| k.starts_with(PREFIX) && k.len() <= 128)
        );
        assert!(fields.values().all(|v| v.chars().count() <= MAX_VALUE));
        assert_eq!(fields["nodeport-watch/namespace"], "shop");
        assert_eq!(fields["nodeport-watch/ports"], "30080/TCP→80 (http)");
        assert_eq!(
            fields["nodeport-watch/risk_factors"],
            "target_port_defaulted"
        );
        assert_eq!(fields["nodeport-watch/status"], "open");
        let user = &fields["nodeport-watch/user"];
        assert!(
            user.starts_with("mallory[2Jx") && user.ends_with('…'),
            "{user}"
        );
        assert!(!fields.contains_key("nodeport-watch/cluster"));
        assert!(!fields.contains_key("nodeport-watch/reminder"));
    }

    #[test]
    fn the_description_fits_and_says_when_it_is_closed() {
        let mut a = alert(0);
        a.title = "Service shop/web exposed".into();
        a.user.username = Some("alice".into());
        a.source_ips = vec!["203.0.113.7".into()];
        assert_eq!(
            description(&a),
            "Service shop/web exposed. Request: create by alice from 203.0.113.7."
        );
        a.status = AlertStatus::Closed;
        assert!(description(&a).contains("The exposure is closed"));
        a.title = "é\n".repeat(3000);
        let long = description(&a);
        assert_eq!(long.chars().count(), MAX_DESCRIPTION);
        assert!(!long.contains('\n'));
    }
}

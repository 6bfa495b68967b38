//! Turns a detection into the alert document sinks receive.

mod catalog;
mod fingerprint;
mod router;

use chrono::{DateTime, Utc};

pub use fingerprint::{fingerprint, request_key};
pub use router::{Router, SinkRoute};

use crate::detect::{Detection, ServiceChange};
use crate::model::{
    ALERT_SCHEMA_V1, Alert, AlertStatus, AlertUser, AuditEvent, ImpersonatedUser, RuleId, Severity,
    UserInfo,
};

/// What the alert needs besides the event and the detection.
#[derive(Clone, Copy, Debug)]
pub struct AlertContext<'a> {
    /// The configured source name (or the input file for `detect`).
    pub source: &'a str,
    pub detected_at: DateTime<Utc>,
    /// Attach the normalized event to the alert.
    pub include_raw: bool,
}

pub fn build(
    event: &AuditEvent,
    change: &ServiceChange,
    detection: &Detection,
    ctx: &AlertContext<'_>,
) -> Alert {
    Alert {
        id: fingerprint(detection.rule, event),
        rule: detection.rule,
        severity: detection.severity,
        title: title(detection.rule, event, change),
        service_type: change.effective_type().map(str::to_owned),
        ports: change.ports.clone(),
        external_ips: change.external_ips.clone(),
        risk_factors: detection.risk_factors.clone(),
        mitre: catalog::mitre(detection.rule),
        runbook: catalog::runbook(detection.rule).to_owned(),
        raw: ctx
            .include_raw
            .then(|| serde_json::to_value(event).ok())
            .flatten(),
        ..from_event(event, ctx)
    }
}

/// The part of an exposure's resolution that the closing write tells: who, when, which
/// request, from where. The store completes it with the exposure it closes
/// ([`crate::exposure::resolve`]).
pub fn resolution_template(event: &AuditEvent, ctx: &AlertContext<'_>) -> Alert {
    Alert {
        status: AlertStatus::Closed,
        ..from_event(event, ctx)
    }
}

/// What any document about a write says of the write itself; the rest is left empty.
fn from_event(event: &AuditEvent, ctx: &AlertContext<'_>) -> Alert {
    Alert {
        schema: ALERT_SCHEMA_V1.to_owned(),
        id: String::new(),
        rule: RuleId::NodePort,
        severity: Severity::default(),
        title: String::new(),
        provider: event.provider,
        source: ctx.source.to_owned(),
        cluster: event.origin.cluster.clone(),
        account: event.origin.account.clone(),
        region: event.origin.region.clone(),
        namespace: event.object.namespace.clone(),
        service: event.object.name.clone(),
        verb: event.verb.clone().unwrap_or_default(),
        user: alert_user(&event.user),
        source_ips: event.source_ips.clone(),
        user_agent: event.user_agent.clone(),
        service_type: None,
        ports: Vec::new(),
        external_ips: Vec::new(),
        risk_factors: Vec::new(),
        response_code: event.outcome.http_code,
        event_time: event.event_time,
        detected_at: ctx.detected_at,
        audit_id: event.audit_id.clone(),
        record_id: event.record_id.clone(),
        degraded: event.degraded.clone(),
        mitre: Vec::new(),
        runbook: String::new(),
        status: AlertStatus::Open,
        exposure_id: None,
        reminder: false,
        raw: None,
    }
}

/// The ATT&CK techniques of a rule's alerts.
pub fn mitre(rule: RuleId) -> Vec<crate::model::MitreTechnique> {
    catalog::mitre(rule)
}

/// The triage runbook of a rule's alerts.
pub fn runbook(rule: RuleId) -> &'static str {
    catalog::runbook(rule)
}

fn alert_user(user: &UserInfo) -> AlertUser {
    AlertUser {
        username: user.username.clone(),
        groups: user.groups.clone(),
        impersonated: user.impersonated.as_ref().map(|i| ImpersonatedUser {
            username: i.username.clone(),
            groups: i.groups.clone(),
        }),
    }
}

fn title(rule: RuleId, event: &AuditEvent, change: &ServiceChange) -> String {
    let service = match (&event.object.namespace, &event.object.name) {
        (Some(ns), Some(name)) => format!("{ns}/{name}"),
        (None, Some(name)) => name.clone(),
        _ => "(unnamed)".to_owned(),
    };
    let what = match rule {
        RuleId::NodePort if change.effective_type().is_none() && !change.sets_node_port => {
            format!("Service {service} written with an unreadable body (possible NodePort)")
        }
        RuleId::NodePort => {
            let ports: Vec<String> = change
                .ports
                .iter()
                .filter_map(|p| p.node_port.map(|n| n.to_string()))
                .collect();
            if ports.is_empty() {
                format!("Service {service} exposed through NodePort")
            } else {
                format!(
                    "Service {service} exposed through NodePort {}",
                    ports.join(", ")
                )
            }
        }
        RuleId::ExternalIps => format!(
            "Service {service} given external IPs {}",
            change.external_ips.join(", ")
        ),
        RuleId::LoadBalancer => format!("Service {service} exposed through a LoadBalancer"),
        RuleId::DeniedAttempts => format!("Refused attempt to expose Service {service}"),
    };
    let mut title = what;
    if let Some(cluster) = &event.origin.cluster {
        title.push_str(&format!(" in {cluster}"));
    }
    if let Some(user) = &event.user.username {
        title.push_str(&format!(" by {user}"));
    }
    title
}

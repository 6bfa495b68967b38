//! The short Slack message for an exposure's resolution: which Service stopped being exposed,
//! who ended it and when, and the exposure id that ties it to the alert above it in the
//! channel. Same escaping as the alert message.

use serde_json::{Value, json};

use super::{SECTION_MAX, escape, or_unknown};
use crate::model::Alert;
use crate::sinks::text::truncate;

pub fn closed_message(alert: &Alert) -> Value {
    let service = match (&alert.namespace, &alert.service) {
        (Some(ns), Some(name)) => format!("`{}/{}`", escape(ns), escape(name)),
        _ => "_unknown_".to_owned(),
    };
    let cluster = or_unknown(alert.cluster.as_deref());
    let when = alert
        .event_time
        .map_or("_unknown_".to_owned(), |t| t.to_rfc3339());
    let text = format!(
        "Exposure closed: Service {service} in {cluster} is no longer exposed (`{}`): {} by {} at {when} · exposure `{}` · audit `{}`",
        alert.rule,
        escape(&alert.verb),
        or_unknown(alert.user.username.as_deref()),
        or_unknown(alert.exposure_id.as_deref()),
        or_unknown(alert.audit_id.as_deref()),
    );
    let text = truncate(&text, SECTION_MAX);
    json!({
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlertStatus, Provider, RuleId, Severity};

    #[test]
    fn says_who_closed_what_escaped() {
        let alert: Alert = serde_json::from_value(json!({
            "schema": "nodeport-watch.alert.v1", "id": "r", "rule": "nodeport",
            "severity": "high", "title": "t", "provider": "eks", "source": "s",
            "cluster": "prod", "account": null, "region": null, "namespace": "shop",
            "service": "<!channel>", "verb": "delete",
            "user": {"username": "eve&co", "groups": [], "impersonated": null},
            "source_ips": [], "user_agent": null, "service_type": null, "ports": [],
            "external_ips": [], "risk_factors": [], "response_code": 200, "event_time": null,
            "detected_at": "2026-03-01T12:00:00Z", "audit_id": "a1", "record_id": null,
            "degraded": [], "mitre": [], "runbook": "", "status": "closed", "exposure_id": "e1"
        }))
        .unwrap();
        assert_eq!(alert.status, AlertStatus::Closed);
        assert_eq!(
            (alert.rule, alert.severity, alert.provider),
            (RuleId::NodePort, Severity::High, Provider::Eks)
        );
        let m = closed_message(&alert);
        let text = m["text"].as_str().unwrap();
        assert!(text.contains("`shop/&lt;!channel&gt;`"), "{text}");
        assert!(text.contains("delete by eve&amp;co"), "{text}");
        assert!(text.contains("exposure `e1`"), "{text}");
        assert!(!text.contains("<!channel>"));
    }
}

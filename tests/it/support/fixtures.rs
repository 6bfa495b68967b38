//! Test inputs: a fully populated alert, and NodePort audit events with chosen ids and times.

use chrono::{DateTime, TimeZone, Utc};
use nodeport_watch::model::{
    ALERT_SCHEMA_V1, Alert, AlertStatus, AlertUser, ImpersonatedUser, MitreTechnique, Provider,
    RiskFactor, RuleId, ServicePort, Severity,
};

/// An alert with every field set, some of them to strings Slack must escape.
pub fn alert(id: &str) -> Alert {
    Alert {
        schema: ALERT_SCHEMA_V1.to_owned(),
        id: id.to_owned(),
        rule: RuleId::NodePort,
        severity: Severity::High,
        title: "Service shop/web exposed through NodePort 30080 in prod-eu by alice@example.com"
            .to_owned(),
        provider: Provider::Eks,
        source: "eks-prod".to_owned(),
        cluster: Some("prod-eu".to_owned()),
        account: Some("123456789012".to_owned()),
        region: Some("eu-west-1".to_owned()),
        namespace: Some("shop".to_owned()),
        service: Some("web".to_owned()),
        verb: "create".to_owned(),
        user: AlertUser {
            username: Some("alice@example.com".to_owned()),
            groups: vec!["system:authenticated".to_owned(), "devs<&>".to_owned()],
            impersonated: Some(ImpersonatedUser {
                username: Some("bob<&>".to_owned()),
                groups: vec![],
            }),
        },
        source_ips: vec!["203.0.113.7".to_owned(), "10.0.0.1".to_owned()],
        user_agent: Some("kubectl/v1.31.0".to_owned()),
        service_type: Some("NodePort".to_owned()),
        ports: vec![ServicePort {
            name: Some("http".to_owned()),
            port: Some(80),
            target_port: Some(serde_json::json!(8080)),
            node_port: Some(30080),
            protocol: Some("TCP".to_owned()),
        }],
        external_ips: vec![],
        risk_factors: vec![RiskFactor::FixedNodePort],
        response_code: Some(201),
        event_time: Some(Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()),
        detected_at: Utc
            .with_ymd_and_hms(2026, 3, 1, 12, 0, 5)
            .unwrap()
            .checked_add_signed(chrono::Duration::milliseconds(250))
            .unwrap(),
        audit_id: Some("5f1c-audit".to_owned()),
        record_id: Some("cw-42".to_owned()),
        degraded: vec![],
        mitre: vec![MitreTechnique {
            tactic: "Initial Access".to_owned(),
            tactic_id: "TA0001".to_owned(),
            technique_id: "T1190".to_owned(),
            technique: "Exploit Public-Facing Application".to_owned(),
        }],
        runbook: "1. Check <the> owner & port.".to_owned(),
        status: AlertStatus::Open,
        exposure_id: None,
        reminder: false,
        raw: None,
    }
}

/// The corpus's raw Kubernetes audit Event that creates a NodePort Service.
fn nodeport_template() -> serde_json::Value {
    let text = std::fs::read_to_string(super::fixture(
        "corpus/raw-k8s/falco-create-service-nodeport.json",
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// One JSON line: a NodePort Service `name` created at `at`, with audit id `audit_id`.
pub fn nodeport_line(audit_id: &str, name: &str, at: DateTime<Utc>) -> String {
    let mut event = nodeport_template();
    let t = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    event["auditID"] = audit_id.into();
    event["objectRef"]["name"] = name.into();
    event["requestObject"]["metadata"]["name"] = name.into();
    for key in ["stageTimestamp", "requestReceivedTimestamp", "timestamp"] {
        event[key] = t.clone().into();
    }
    let mut line = serde_json::to_string(&event).unwrap();
    line.push('\n');
    line
}

/// A line that is an audit event but not an alert (a `get` of a pod).
pub fn quiet_line(i: usize) -> String {
    format!(
        "{{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"auditID\":\"quiet-{i}\",\"stage\":\"ResponseComplete\",\"verb\":\"get\",\"objectRef\":{{\"resource\":\"pods\",\"namespace\":\"default\",\"name\":\"p{i}\"}},\"responseStatus\":{{\"code\":200}},\"stageTimestamp\":\"2026-01-01T00:00:00Z\"}}\n"
    )
}

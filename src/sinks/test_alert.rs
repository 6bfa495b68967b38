//! A small alert for the sinks' unit tests, with a `raw` event of a chosen size (the size
//! limits of the cloud sinks drop `raw` first).

use chrono::TimeZone;
use serde_json::json;

use crate::model::{ALERT_SCHEMA_V1, Alert, AlertUser, Provider, RuleId, Severity};

/// An alert whose `raw` event is a string of `raw_bytes` characters (none for 0).
pub fn alert(raw_bytes: usize) -> Alert {
    let at = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    Alert {
        schema: ALERT_SCHEMA_V1.to_owned(),
        id: "a".to_owned(),
        rule: RuleId::NodePort,
        severity: Severity::High,
        title: "t".to_owned(),
        provider: Provider::Aks,
        source: "s".to_owned(),
        cluster: None,
        account: None,
        region: None,
        namespace: None,
        service: None,
        verb: "create".to_owned(),
        user: AlertUser::default(),
        source_ips: vec![],
        user_agent: None,
        service_type: None,
        ports: vec![],
        external_ips: vec![],
        risk_factors: vec![],
        response_code: None,
        event_time: None,
        detected_at: at,
        audit_id: None,
        record_id: None,
        degraded: vec![],
        mitre: vec![],
        runbook: String::new(),
        raw: (raw_bytes > 0).then(|| json!("x".repeat(raw_bytes))),
        status: Default::default(),
        exposure_id: None,
        reminder: false,
    }
}

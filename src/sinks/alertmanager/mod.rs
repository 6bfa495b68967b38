//! `alertmanager`: each alert POSTed to Alertmanager's API v2 (`/api/v2/alerts`) as a one-item
//! array of `postableAlert`, so it is grouped, silenced, inhibited and routed like the
//! Prometheus alerts a team already pages on.
//!
//! Alertmanager identifies an alert by its label set, so labels carry only the identity of the
//! exposure (rule, cluster, namespace, Service, provider, exposure id, severity): a re-sent
//! alert (a retry, a re-delivery after a crash) updates the same Alertmanager alert, and the
//! close of an exposure, which has the same labels, resolves it. Everything else (title, who,
//! from where, the audit id, triage steps) goes to annotations.
//!
//! Unlike Prometheus, nothing here re-posts every minute: an open alert is posted with
//! `endsAt` = now + `firing_for` so it stays active, and a closed one with `endsAt` = the close.

pub mod config;

pub use config::{AlertmanagerSettings, RawAlertmanagerSink};

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

use super::exposure::ExposureState;
use super::http::{JsonPoster, Redactor};
use super::text::strip_controls as clean;
use super::{DeliveryError, Sink};
use crate::model::{Alert, RuleId};

#[derive(Debug)]
pub struct AlertmanagerSink {
    poster: JsonPoster,
    settings: AlertmanagerSettings,
    auth_headers: HeaderMap,
}

impl AlertmanagerSink {
    pub fn new(settings: &AlertmanagerSettings) -> Result<Self, String> {
        let mut redactor = Redactor::default();
        settings.auth.redact_with(&mut redactor);
        Ok(AlertmanagerSink {
            poster: JsonPoster::new(
                "Alertmanager",
                settings.endpoint.clone(),
                settings.http.timeout,
                redactor,
            )?,
            auth_headers: settings.auth.headers()?,
            settings: settings.clone(),
        })
    }
}

/// The `alertname` label: one per rule, in Prometheus' CamelCase habit.
pub fn alert_name(rule: RuleId) -> &'static str {
    match rule {
        RuleId::NodePort => "KubernetesServiceNodePort",
        RuleId::ExternalIps => "KubernetesServiceExternalIPs",
        RuleId::LoadBalancer => "KubernetesServiceLoadBalancer",
        RuleId::DeniedAttempts => "KubernetesServiceExposureDenied",
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The one `postableAlert` for `alert`, as of `now`.
pub fn postable_alert(
    alert: &Alert,
    state: &ExposureState,
    settings: &AlertmanagerSettings,
    now: DateTime<Utc>,
) -> Value {
    let mut labels: BTreeMap<String, String> = settings.labels.clone();
    let mut label = |name: &str, value: Option<&str>| {
        if let Some(v) = value.map(|v| clean(v, false)).filter(|v| !v.is_empty()) {
            labels.insert(name.to_owned(), v);
        }
    };
    label("alertname", Some(alert_name(alert.rule)));
    label("severity", Some(alert.severity.as_str()));
    label("rule", Some(alert.rule.as_str()));
    label("provider", Some(alert.provider.as_str()));
    label("cluster", alert.cluster.as_deref());
    label("namespace", alert.namespace.as_deref());
    label("service", alert.service.as_deref());
    label("exposure_id", state.exposure_id.as_deref());

    let mut annotations = Map::new();
    let mut note = |name: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            annotations.insert(name.to_owned(), json!(v));
        }
    };
    note("summary", Some(clean(&alert.title, false)));
    note("description", Some(description(alert)));
    note(
        "runbook_url",
        settings
            .runbook_url
            .as_ref()
            .map(|u| u.replace("{rule}", alert.rule.as_str())),
    );
    note(
        "user",
        alert.user.username.as_deref().map(|u| clean(u, false)),
    );
    note(
        "audit_id",
        alert.audit_id.as_deref().map(|a| clean(a, false)),
    );
    note("alert_id", Some(alert.id.clone()));

    let mut out = Map::new();
    out.insert("labels".into(), json!(labels));
    out.insert("annotations".into(), Value::Object(annotations));
    match state.closed_at {
        // Alertmanager starts a resolved alert it never saw at its end; one it knows keeps
        // its original start.
        Some(closed) => {
            out.insert("endsAt".into(), json!(rfc3339(closed)));
        }
        None => {
            let starts = alert.event_time.unwrap_or(alert.detected_at);
            let ends = chrono::Duration::from_std(settings.firing_for)
                .ok()
                .and_then(|d| starts.max(now).checked_add_signed(d))
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            out.insert("startsAt".into(), json!(rfc3339(starts)));
            out.insert("endsAt".into(), json!(rfc3339(ends)));
        }
    }
    if let Some(url) = &settings.generator_url {
        out.insert("generatorURL".into(), json!(url.as_str()));
    }
    Value::Object(out)
}

/// What happened, where and by whom, then the triage steps: the text a receiver shows.
fn description(alert: &Alert) -> String {
    let mut lines = Vec::new();
    let service = match (&alert.namespace, &alert.service) {
        (Some(ns), Some(name)) => format!("{ns}/{name}"),
        (None, Some(name)) => name.clone(),
        _ => "(name not logged)".to_owned(),
    };
    lines.push(format!(
        "Service {service} ({}) in cluster {} ({}{}{}).",
        alert.service_type.as_deref().unwrap_or("type unknown"),
        alert.cluster.as_deref().unwrap_or("(not logged)"),
        alert.provider,
        alert
            .account
            .as_deref()
            .map(|a| format!(", account {a}"))
            .unwrap_or_default(),
        alert
            .region
            .as_deref()
            .map(|r| format!(", {r}"))
            .unwrap_or_default(),
    ));
    let ports: Vec<String> = alert
        .ports
        .iter()
        .filter_map(|p| {
            p.node_port
                .map(|n| format!("{n}/{}", p.protocol.as_deref().unwrap_or("TCP")))
        })
        .collect();
    if !ports.is_empty() {
        lines.push(format!("Node ports: {}.", ports.join(", ")));
    }
    if !alert.external_ips.is_empty() {
        lines.push(format!("External IPs: {}.", alert.external_ips.join(", ")));
    }
    lines.push(format!(
        "Request: {} by {} from {}{}.",
        alert.verb,
        alert
            .user
            .username
            .as_deref()
            .unwrap_or("(user not logged)"),
        if alert.source_ips.is_empty() {
            "(address not logged)".to_owned()
        } else {
            alert.source_ips.join(", ")
        },
        alert
            .user_agent
            .as_deref()
            .map(|ua| format!(" with {ua}"))
            .unwrap_or_default(),
    ));
    lines.push(String::new());
    lines.push(alert.runbook.clone());
    clean(&lines.join("\n"), true)
}

#[async_trait]
impl Sink for AlertmanagerSink {
    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let state = ExposureState::of(alert);
        let body = json!([postable_alert(alert, &state, &self.settings, Utc::now())]);
        let body = serde_json::to_vec(&body)
            .map_err(|e| DeliveryError::rejected(format!("alert not serializable: {e}")))?;
        self.poster.post(self.auth_headers.clone(), body).await
    }

    /// `GET /api/v2/status` with the credentials: reachable, and they are accepted.
    async fn healthcheck(&self) -> Result<(), DeliveryError> {
        super::http::get_ok_with(
            &self.poster,
            self.settings.status.clone(),
            self.auth_headers.clone(),
        )
        .await
    }
}

//! `pagerduty`: an Events API v2 `trigger` per alert, `dedup_key` = the alert's `exposure_id`
//! (its id when it has none), so a re-sent alert, or a later write to the same exposure, updates
//! the same PagerDuty alert instead of paging twice; the exposure's resolution sends `resolve`
//! with that same `dedup_key`, which closes it.
//!
//! Severity maps critical → `critical`, high → `error`, medium → `warning`, low and info →
//! `info`; `summary` is the alert title (cut to the API's 1024 characters) and the whole alert
//! travels in `custom_details`.

pub mod config;

pub use config::{PagerDutySettings, RawPagerDutySink};

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::http::{JsonPoster, Redactor};
use super::{DeliveryError, Sink};
use crate::model::{Alert, AlertStatus, Severity};
use crate::validation::Secret;

const SUMMARY_MAX: usize = 1024;

#[derive(Debug)]
pub struct PagerDutySink {
    poster: JsonPoster,
    routing_key: Secret,
}

pub fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "info",
    }
}

impl PagerDutySink {
    pub fn new(settings: &PagerDutySettings) -> Result<Self, String> {
        let mut redactor = Redactor::default();
        redactor.add(&settings.routing_key);
        Ok(PagerDutySink {
            poster: JsonPoster::new(
                "PagerDuty",
                settings.endpoint.clone(),
                settings.http.timeout,
                redactor,
            )?,
            routing_key: settings.routing_key.clone(),
        })
    }
}

/// The key PagerDuty groups events under: one incident per exposure.
fn dedup_key(alert: &Alert) -> &str {
    alert.exposure_id.as_deref().unwrap_or(&alert.id)
}

/// The event for an alert: `resolve` for an exposure's resolution, else `trigger`.
pub fn event(alert: &Alert, routing_key: &str) -> Value {
    match alert.status {
        AlertStatus::Closed => json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key(alert),
        }),
        AlertStatus::Open => trigger(alert, routing_key),
    }
}

/// The trigger event; `routing_key` is the only secret in it.
pub fn trigger(alert: &Alert, routing_key: &str) -> Value {
    let summary: String = alert.title.chars().take(SUMMARY_MAX).collect();
    let source = alert
        .cluster
        .clone()
        .unwrap_or_else(|| format!("{} cluster (name not logged)", alert.provider));
    let component = match (&alert.namespace, &alert.service) {
        (Some(ns), Some(name)) => Some(format!("{ns}/{name}")),
        (None, Some(name)) => Some(name.clone()),
        _ => None,
    };
    let mut payload = json!({
        "summary": summary,
        "source": source,
        "severity": severity(alert.severity),
        "timestamp": alert.event_time.unwrap_or(alert.detected_at).to_rfc3339(),
        "class": alert.rule.as_str(),
        "custom_details": alert,
    });
    if let Some(component) = component {
        payload["component"] = json!(component);
    }
    if let Some(cluster) = &alert.cluster {
        payload["group"] = json!(cluster);
    }
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(alert),
        "client": "nodeport-watch",
        "payload": payload,
    })
}

#[async_trait]
impl Sink for PagerDutySink {
    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&event(alert, self.routing_key.expose()))
            .map_err(|e| DeliveryError::rejected(format!("event not serializable: {e}")))?;
        self.poster.post(HeaderMap::new(), body).await
    }

    async fn healthcheck(&self) -> Result<(), DeliveryError> {
        super::http::reachable(&self.poster).await
    }
}

//! `splunk_hec`: the alert as one event to Splunk's HTTP Event Collector.
//!
//! Request: `POST <url>/services/collector/event`, `Authorization: Splunk <token>`, body
//! `{"time", "host"?, "source", "sourcetype", "index"?, "event": <alert>}` with `time` in epoch
//! seconds (event time when known, else detection time) so the event lands where it happened.
//! A 200 means the collector accepted the event; indexer acknowledgement is not used.

pub mod config;

pub use config::{RawSplunkHecSink, SplunkHecSettings};

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};

use super::http::{JsonPoster, Redactor};
use super::{DeliveryError, Sink};
use crate::model::Alert;
use crate::validation::Secret;

#[derive(Debug)]
pub struct SplunkHecSink {
    poster: JsonPoster,
    token: Secret,
    index: Option<String>,
    sourcetype: String,
    source: String,
    host: Option<String>,
}

impl SplunkHecSink {
    pub fn new(settings: &SplunkHecSettings) -> Result<Self, String> {
        let mut redactor = Redactor::default();
        redactor.add(&settings.token);
        Ok(SplunkHecSink {
            poster: JsonPoster::new(
                "Splunk HEC",
                settings.endpoint.clone(),
                settings.http.timeout,
                redactor,
            )?,
            token: settings.token.clone(),
            index: settings.index.clone(),
            sourcetype: settings.sourcetype.clone(),
            source: settings.source.clone(),
            host: settings.host.clone(),
        })
    }

    /// The HEC envelope around the alert.
    pub fn event(&self, alert: &Alert) -> Result<Value, DeliveryError> {
        let at = alert.event_time.unwrap_or(alert.detected_at);
        let mut out = Map::new();
        out.insert("time".into(), json!(at.timestamp_millis() as f64 / 1000.0));
        if let Some(host) = &self.host {
            out.insert("host".into(), json!(host));
        }
        out.insert("source".into(), json!(self.source));
        out.insert("sourcetype".into(), json!(self.sourcetype));
        if let Some(index) = &self.index {
            out.insert("index".into(), json!(index));
        }
        let event = serde_json::to_value(alert)
            .map_err(|e| DeliveryError::rejected(format!("alert not serializable: {e}")))?;
        out.insert("event".into(), event);
        Ok(Value::Object(out))
    }
}

#[async_trait]
impl Sink for SplunkHecSink {
    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&self.event(alert)?)
            .map_err(|e| DeliveryError::rejected(format!("event not serializable: {e}")))?;
        let mut auth = HeaderValue::from_str(&format!("Splunk {}", self.token.expose()))
            .map_err(|_| DeliveryError::rejected("the HEC token is not a valid header value"))?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        self.poster.post(headers, body).await
    }

    /// The collector's own health endpoint (no token needed, no event sent).
    async fn healthcheck(&self) -> Result<(), DeliveryError> {
        let mut url = self.poster.url().clone();
        url.set_path("/services/collector/health");
        super::http::get_ok(&self.poster, url).await
    }
}

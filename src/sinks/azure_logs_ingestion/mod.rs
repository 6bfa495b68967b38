//! `azure_logs_ingestion`: each alert sent to Azure Monitor's Logs Ingestion API (the way into
//! a Log Analytics workspace, and so into Microsoft Sentinel) as one row of a custom table.
//!
//! Request: `POST {endpoint}/dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01`,
//! a JSON array of rows, `Authorization: Bearer` with a token for Azure Monitor
//! (`https://monitor.azure.com//.default`) from the same credential chain as the Azure
//! sources. The service answers 204; a call may carry at most 1 MB, so an alert whose row is
//! larger is sent without its `raw` event, and one still too large is dead-lettered.
//! The API has no idempotency key: the row's `AlertId` lets a query drop a repeat.

pub mod config;

pub use config::{AzureLogsIngestionSettings, RawAzureLogsIngestionSink};

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use chrono::SecondsFormat;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::exposure::ExposureState;
use super::http::{JsonPoster, Redactor};
use super::{DeliveryError, Sink};
use crate::model::Alert;
use crate::sources::azure::bearer::BearerPolicy;
use crate::sources::azure::credential::token_credential;

/// The API's limit for one call.
pub const MAX_BODY: usize = 1_000_000;

pub struct AzureLogsIngestionSink {
    poster: JsonPoster,
    /// `None` only for `credential = "none"` (a loopback endpoint).
    tokens: Option<BearerPolicy>,
}

impl std::fmt::Debug for AzureLogsIngestionSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureLogsIngestionSink")
            .field("poster", &self.poster)
            .finish_non_exhaustive()
    }
}

impl AzureLogsIngestionSink {
    pub fn new(settings: &AzureLogsIngestionSettings) -> Result<Self, String> {
        let credential = token_credential(&settings.credential).map_err(|e| e.to_string())?;
        Self::with_credential(settings, credential)
    }

    /// With a given credential (tests; or a caller that already holds one).
    pub fn with_credential(
        settings: &AzureLogsIngestionSettings,
        credential: Option<Arc<dyn TokenCredential>>,
    ) -> Result<Self, String> {
        Ok(AzureLogsIngestionSink {
            poster: JsonPoster::new(
                "Azure Logs Ingestion",
                settings.url.clone(),
                settings.http.timeout,
                Redactor::default(),
            )?,
            tokens: credential.map(|c| BearerPolicy::new(c, &settings.scope)),
        })
    }

    async fn headers(&self) -> Result<HeaderMap, DeliveryError> {
        let mut headers = HeaderMap::new();
        let Some(tokens) = &self.tokens else {
            return Ok(headers);
        };
        let token = tokens.token().await.map_err(|e| {
            DeliveryError::retriable(format!("cannot get an Azure Monitor token: {e}"))
        })?;
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.token.secret()))
            .map_err(|_| DeliveryError::retriable("the access token is not a header value"))?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
        Ok(headers)
    }
}

/// The row for `alert`: one column per field a query filters on, and the whole alert (with or
/// without its `raw` event) in `Alert`.
pub fn row(alert: &Alert, with_raw: bool) -> Value {
    let at = alert.event_time.unwrap_or(alert.detected_at);
    let state = ExposureState::of(alert);
    let mut doc = serde_json::to_value(alert).unwrap_or_default();
    if !with_raw && let Some(obj) = doc.as_object_mut() {
        obj.remove("raw");
    }
    let node_ports: Vec<i64> = alert.ports.iter().filter_map(|p| p.node_port).collect();
    json!({
        "TimeGenerated": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "AlertId": alert.id,
        "Rule": alert.rule.as_str(),
        "Severity": alert.severity.as_str(),
        "Title": alert.title,
        "Provider": alert.provider.as_str(),
        "Cluster": alert.cluster,
        "Account": alert.account,
        "Region": alert.region,
        "Namespace": alert.namespace,
        "Service": alert.service,
        "ServiceType": alert.service_type,
        "Verb": alert.verb,
        "User": alert.user.username,
        "ImpersonatedUser": alert.user.impersonated.as_ref().and_then(|i| i.username.clone()),
        "SourceIp": alert.source_ips.first(),
        "SourceIps": alert.source_ips,
        "UserAgent": alert.user_agent,
        "NodePorts": node_ports,
        "ExternalIps": alert.external_ips,
        "AuditId": alert.audit_id,
        "DetectedAt": alert.detected_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "ExposureId": state.exposure_id,
        "Closed": state.closed_at.is_some(),
        "Alert": doc,
    })
}

/// The request body, within the API's size limit.
pub fn body(alert: &Alert) -> Result<Vec<u8>, DeliveryError> {
    let encode = |with_raw| {
        serde_json::to_vec(&json!([row(alert, with_raw)]))
            .map_err(|e| DeliveryError::rejected(format!("row not serializable: {e}")))
    };
    let full = encode(true)?;
    if full.len() <= MAX_BODY {
        return Ok(full);
    }
    let slim = encode(false)?;
    if slim.len() <= MAX_BODY {
        return Ok(slim);
    }
    Err(DeliveryError::rejected(format!(
        "the alert's row is {} bytes even without its raw event; the Logs Ingestion API \
         takes at most {MAX_BODY}",
        slim.len()
    )))
}

#[async_trait]
impl Sink for AzureLogsIngestionSink {
    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let body = body(alert)?;
        self.poster.post(self.headers().await?, body).await
    }

    /// Gets a token (proves the credential) and reaches the endpoint, without sending a row.
    async fn healthcheck(&self) -> Result<(), DeliveryError> {
        self.headers().await?;
        super::http::reachable(&self.poster).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::test_alert::alert;

    #[test]
    fn large_rows_drop_the_raw_event_then_are_refused() {
        let small = body(&alert(10)).unwrap();
        assert!(String::from_utf8(small).unwrap().contains("xxxxxxxxxx"));
        let slimmed = body(&alert(2 * MAX_BODY)).unwrap();
        assert!(slimmed.len() < 10_000);
        let mut huge = alert(0);
        huge.title = "t".repeat(2 * MAX_BODY);
        assert!(matches!(body(&huge), Err(DeliveryError::Rejected { .. })));
    }
}

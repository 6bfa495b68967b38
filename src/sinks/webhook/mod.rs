//! `webhook`: the alert POSTed as JSON, signed and keyed for idempotency.
//!
//! Receivers authenticate us by an HMAC-SHA256 with the configured secret over
//! `"{timestamp}.{body}"` (header value `sha256=<hex>`), where the timestamp (Unix seconds, in
//! [`TIMESTAMP_HEADER`]) is taken at each attempt: a receiver that refuses timestamps older
//! than a few minutes cannot be fed a captured request again later (the scheme of Stripe and
//! Slack signatures). Repeats are dropped by the idempotency header, which carries the alert
//! id: an alert re-sent after a crash or a lost response has the same id.

pub mod config;

pub use config::{RawWebhookSink, WebhookSettings};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;
use url::Url;

use super::format::render;
use super::http::{JsonPoster, Redactor};
use super::{DeliveryError, Sink};
use crate::model::Alert;
use crate::sinks::OutputFormat;
use crate::validation::Secret;

#[derive(Debug)]
pub struct WebhookSink {
    poster: JsonPoster,
    format: OutputFormat,
    headers: HeaderMap,
    hmac_secret: Option<Secret>,
    signature_header: HeaderName,
    idempotency_header: HeaderName,
}

/// The Unix time (seconds) the signature was made at; covered by the signature.
pub const TIMESTAMP_HEADER: &str = "x-nodeport-watch-timestamp";

/// `sha256=<lower-case hex>` of HMAC-SHA256(`secret`, `"{timestamp}.{body}"`).
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("invalid header name `{name}`"))
}

impl WebhookSink {
    pub fn new(settings: &WebhookSettings) -> Result<Self, String> {
        let mut redactor = Redactor::default();
        redactor.add(&settings.url);
        let mut headers = HeaderMap::new();
        for (name, value) in &settings.headers {
            redactor.add(value);
            let mut value = HeaderValue::from_str(value.expose())
                .map_err(|_| format!("header `{name}`: invalid value"))?;
            // Keeps header values out of HTTP-level debug logs.
            value.set_sensitive(true);
            headers.insert(header_name(name)?, value);
        }
        if let Some(secret) = &settings.hmac_secret {
            redactor.add(secret);
        }
        let url = Url::parse(settings.url.expose()).map_err(|_| "invalid URL".to_owned())?;
        Ok(WebhookSink {
            poster: JsonPoster::new("webhook", url, settings.http.timeout, redactor)?,
            format: settings.format,
            headers,
            hmac_secret: settings.hmac_secret.clone(),
            signature_header: header_name(&settings.signature_header)?,
            idempotency_header: header_name(&settings.idempotency_header)?,
        })
    }
}

#[async_trait]
impl Sink for WebhookSink {
    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let body = render(alert, self.format)?;
        let mut headers = self.headers.clone();
        let id = HeaderValue::from_str(&alert.id)
            .map_err(|_| DeliveryError::rejected("the alert id is not a valid header value"))?;
        headers.insert(self.idempotency_header.clone(), id);
        if let Some(secret) = &self.hmac_secret {
            let timestamp = chrono::Utc::now().timestamp();
            let sig = signature(secret.expose().as_bytes(), timestamp, &body);
            let sig = HeaderValue::from_str(&sig)
                .map_err(|_| DeliveryError::rejected("signature is not a header value"))?;
            headers.insert(self.signature_header.clone(), sig);
            headers.insert(HeaderName::from_static(TIMESTAMP_HEADER), timestamp.into());
        }
        self.poster.post(headers, body).await
    }

    /// Connects to the endpoint's host without sending an alert.
    async fn healthcheck(&self) -> Result<(), DeliveryError> {
        super::http::reachable(&self.poster).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_timestamp_and_the_body() {
        // RFC 4231 test case 2, with its message split as `{timestamp}.{body}`.
        let (timestamp, body) = (1_700_000_000, b"what do ya want for nothing?");
        let expected = {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
            mac.update(b"1700000000.what do ya want for nothing?");
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        };
        assert_eq!(signature(b"Jefe", timestamp, body), expected);
        assert_ne!(signature(b"Jefe", timestamp + 1, body), expected);
    }
}

//! What the HTTP sinks share: one client setup, the retry classifier, and secret-free errors.
//!
//! The classifier (vector's `RetryLogic`): network errors, timeouts, 408, 429 and 5xx are worth
//! retrying (429 and 503 may say when, with `Retry-After`); any other 3xx or 4xx means this
//! request will never be accepted as it is, so the alert is dead-lettered. Redirects are not
//! followed: a secret-bearing URL must not be replayed to another host.
//!
//! Errors never carry the URL (reqwest puts it in its messages; webhook URLs often hold a token)
//! nor any configured secret: [`Redactor`] scrubs them from every message we keep or log.

pub mod auth;
pub mod config;

pub use config::HttpSettings;

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Client, StatusCode};
use url::Url;

use super::DeliveryError;
use crate::retry::ErrorKind;
use crate::validation::Secret;

/// How much of an error response body is kept in the message (receivers explain 4xx there).
const BODY_EXCERPT: usize = 300;
/// How much of an error response body is read at most: a receiver (or whatever answers in its
/// place) that streams an endless body must not hold the deliverer or fill memory.
pub const ERROR_BODY_CAP: usize = 64 * 1024;

const USER_AGENT: &str = concat!("nodeport-watch/", env!("CARGO_PKG_VERSION"));

/// Builds the client of one sink: TLS verified against the system roots, no redirects.
pub fn client(timeout: Duration) -> Result<Client, String> {
    Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", e.without_url()))
}

/// Replaces every configured secret in a message with `[redacted]`.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    pub fn add(&mut self, secret: &Secret) {
        self.add_str(secret.expose());
        // A URL may be echoed in its normalized form or by its path alone (where tokens live).
        if let Ok(url) = Url::parse(secret.expose()) {
            self.add_str(url.as_str());
            let tail = &url[url::Position::BeforePath..];
            if tail.len() > 1 {
                self.add_str(tail);
            }
        }
    }

    fn add_str(&mut self, s: &str) {
        // Very short strings would redact ordinary words; no real token is that short.
        if s.len() >= 4 && !self.secrets.iter().any(|k| k == s) {
            self.secrets.push(s.to_owned());
            // Longest first, so a URL is replaced whole before its path is.
            self.secrets.sort_by_key(|k| std::cmp::Reverse(k.len()));
        }
    }

    pub fn scrub(&self, message: &str) -> String {
        let mut out = message.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
        out
    }
}

/// A POST of a JSON body to one endpoint, classified for the deliverer.
#[derive(Clone, Debug)]
pub struct JsonPoster {
    client: Client,
    url: Url,
    redactor: Redactor,
    /// Named in messages instead of the URL.
    what: &'static str,
}

impl JsonPoster {
    pub fn new(
        what: &'static str,
        url: Url,
        timeout: Duration,
        redactor: Redactor,
    ) -> Result<Self, String> {
        Ok(JsonPoster {
            client: client(timeout)?,
            url,
            redactor,
            what,
        })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Sends `body` with `headers` (plus `Content-Type: application/json`).
    pub async fn post(&self, headers: HeaderMap, body: Vec<u8>) -> Result<(), DeliveryError> {
        self.send("application/json", headers, body).await.map(drop)
    }

    /// Sends `body` as `content_type`; a 2xx answer's body is returned (a bulk API reports
    /// per-item results in it), anything else is classified.
    pub async fn send(
        &self,
        content_type: &'static str,
        mut headers: HeaderMap,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, DeliveryError> {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        let response = self
            .client
            .post(self.url.clone())
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| DeliveryError::retriable(self.describe_error(e)))?;
        let status = response.status();
        if status.is_success() {
            return response
                .bytes()
                .await
                .map(|b| b.to_vec())
                .map_err(|e| DeliveryError::retriable(self.describe_error(e)));
        }
        let retry_after = retry_after(response.headers(), Utc::now());
        // The body explains a refusal; reading it may fail, which must not hide the status.
        let excerpt = excerpt(&read_capped(response, ERROR_BODY_CAP).await);
        let message = self.redactor.scrub(&format!(
            "{} answered HTTP {}{}",
            self.what,
            status.as_u16(),
            if excerpt.is_empty() {
                String::new()
            } else {
                format!(": {excerpt}")
            }
        ));
        Err(classify(status, retry_after, message))
    }

    fn describe_error(&self, e: reqwest::Error) -> String {
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        // `without_url` drops the URL from the top error; the chain below never carries it, and
        // the redactor catches anything that slips through.
        let e = e.without_url();
        let mut text = format!("{} {kind}: {e}", self.what);
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        self.redactor.scrub(&text)
    }
}

/// A `HEAD` request to the endpoint: any HTTP answer proves DNS, TCP and TLS work (the endpoint
/// may well refuse `HEAD`; sending a fake alert to check would be worse).
pub async fn reachable(poster: &JsonPoster) -> Result<(), DeliveryError> {
    poster
        .client
        .head(poster.url.clone())
        .send()
        .await
        .map(drop)
        .map_err(|e| DeliveryError::retriable(poster.describe_error(e)))
}

/// A `GET` that must answer 2xx (a health endpoint).
pub async fn get_ok(poster: &JsonPoster, url: Url) -> Result<(), DeliveryError> {
    get_ok_with(poster, url, HeaderMap::new()).await
}

/// [`get_ok`] with headers (credentials, for an endpoint that checks them).
pub async fn get_ok_with(
    poster: &JsonPoster,
    url: Url,
    headers: HeaderMap,
) -> Result<(), DeliveryError> {
    let response = poster
        .client
        .get(url)
        .headers(headers)
        .send()
        .await
        .map_err(|e| DeliveryError::retriable(poster.describe_error(e)))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(classify(
            status,
            None,
            format!(
                "{} health check answered HTTP {}",
                poster.what,
                status.as_u16()
            ),
        ))
    }
}

/// The classifier: what a non-2xx status means for the alert.
pub fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    message: String,
) -> DeliveryError {
    if ErrorKind::from_http_status(status.as_u16()).is_retriable() {
        DeliveryError::Retriable {
            message,
            retry_after,
        }
    } else {
        DeliveryError::Rejected { message }
    }
}

/// `Retry-After` as seconds or an HTTP date; a date in the past means "now".
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&Utc) - now).to_std().unwrap_or_default())
}

/// The first `cap` bytes of the body (fewer if it ends or fails first); the connection is
/// dropped with the rest unread.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < cap {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = cap - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body
}

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let mut out: String = text.chars().take(BODY_EXCERPT).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn classifies_statuses() {
        let retriable = |code: u16| {
            matches!(
                classify(StatusCode::from_u16(code).unwrap(), None, String::new()),
                DeliveryError::Retriable { .. }
            )
        };
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(retriable(code), "{code} should be retried");
        }
        for code in [301, 400, 401, 403, 404, 410, 413, 422] {
            assert!(!retriable(code), "{code} should be dead-lettered");
        }
    }

    #[test]
    fn parses_retry_after() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:30 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:00:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn redacts_urls_and_their_paths() {
        let mut r = Redactor::default();
        r.add(&Secret::new(
            "https://hooks.example.com/services/T0/B0/XYZsecret",
        ));
        r.add(&Secret::new("abc"));
        let scrubbed = r.scrub(
            "error for url (https://hooks.example.com/services/T0/B0/XYZsecret) \
             and /services/T0/B0/XYZsecret; abc stays",
        );
        assert!(!scrubbed.contains("XYZsecret"), "{scrubbed}");
        assert!(scrubbed.contains("abc stays"));
    }
}

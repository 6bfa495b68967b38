//! The `webhook` sink's table as written and validated, beside the code that uses it.

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;

use crate::sinks::OutputFormat;
use crate::sinks::http::config::{
    HttpSettings, check_credential_url, check_url, http, output_format,
};
use crate::validation::Problems;
use crate::validation::{Inline, RawSecret, Secret, resolve};

pub const DEFAULT_SIGNATURE_HEADER: &str = "x-nodeport-watch-signature";
pub const DEFAULT_IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Headers the sink sets itself; a custom header must not replace them.
const RESERVED: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
];

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWebhookSink {
    pub name: String,
    /// The endpoint; inline, or `{ env = … }` / `{ file = … }` when it carries a token.
    pub url: RawSecret,
    /// `native` (the alert document, default), `ocsf` (an OCSF Detection Finding) or `falco`.
    pub format: Option<String>,
    /// Extra headers; values may be references (`Authorization = { env = "TOKEN" }`).
    pub headers: Option<BTreeMap<String, RawSecret>>,
    /// When set, `signature_header` carries `sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">`.
    pub hmac_secret: Option<RawSecret>,
    pub signature_header: Option<String>,
    /// Carries the alert id: the same alert re-sent after a crash has the same key.
    pub idempotency_header: Option<String>,
    pub timeout: Option<String>,
    pub rules: Option<Vec<String>>,
    pub min_severity: Option<String>,
    /// Send a resolution when an exposure this sink was alerted about closes (default on).
    pub notify_closed: Option<bool>,
    /// Send a still-open exposure again, once, after this long (`7d`); off when absent.
    pub remind_after: Option<String>,
}

#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub url: Secret,
    pub format: OutputFormat,
    /// Header names are lower-case and valid; values are kept secret.
    pub headers: Vec<(String, Secret)>,
    pub hmac_secret: Option<Secret>,
    pub signature_header: String,
    pub idempotency_header: String,
    pub http: HttpSettings,
}

pub fn build(
    raw: &RawWebhookSink,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<WebhookSettings> {
    let before = p.len();
    let url_key = format!("{key}.url");
    let url = resolve(p, &url_key, &raw.url, Inline::Allowed, base);
    if let Some(url) = &url {
        // A signature, a header (often `Authorization`) or a URL kept as a secret reference
        // is a credential: it must not cross the network in clear text.
        let credential = if raw.hmac_secret.is_some() {
            Some("the HMAC signature")
        } else if raw.headers.as_ref().is_some_and(|h| !h.is_empty()) {
            Some("its headers")
        } else if matches!(raw.url, RawSecret::Reference(_)) {
            Some("the secret URL")
        } else {
            None
        };
        match credential {
            Some(what) => check_credential_url(p, &url_key, url, what),
            None => check_url(p, &url_key, url),
        };
    }
    let signature_header = header_name(
        p,
        &format!("{key}.signature_header"),
        raw.signature_header.as_deref(),
        DEFAULT_SIGNATURE_HEADER,
    );
    let idempotency_header = header_name(
        p,
        &format!("{key}.idempotency_header"),
        raw.idempotency_header.as_deref(),
        DEFAULT_IDEMPOTENCY_HEADER,
    );
    let mut headers = Vec::new();
    for (name, value) in raw.headers.iter().flatten() {
        let hkey = format!("{key}.headers.{name}");
        let Ok(parsed) = HeaderName::from_bytes(name.as_bytes()) else {
            p.push(&hkey, "not a valid HTTP header name");
            continue;
        };
        let lower = parsed.as_str().to_owned();
        if RESERVED.contains(&lower.as_str())
            || lower == signature_header
            || lower == idempotency_header
            || lower == super::TIMESTAMP_HEADER
        {
            p.push(&hkey, "this header is set by the sink itself");
            continue;
        }
        let Some(value) = resolve(p, &hkey, value, Inline::Allowed, base) else {
            continue;
        };
        if HeaderValue::from_str(value.expose()).is_err() {
            p.push(&hkey, "the value is not a valid HTTP header value");
            continue;
        }
        headers.push((lower, value));
    }
    let hmac_secret = raw
        .hmac_secret
        .as_ref()
        .and_then(|s| resolve(p, &format!("{key}.hmac_secret"), s, Inline::Refused, base));
    let format = output_format(p, key, raw.format.as_deref());
    let http = http(p, key, raw.timeout.as_deref());
    (p.len() == before).then_some(WebhookSettings {
        url: url?,
        format,
        headers,
        hmac_secret,
        signature_header,
        idempotency_header,
        http,
    })
}

fn header_name(p: &mut Problems, key: &str, value: Option<&str>, default: &str) -> String {
    let Some(value) = value else {
        return default.to_owned();
    };
    match HeaderName::from_bytes(value.as_bytes()) {
        Ok(name) => name.as_str().to_owned(),
        Err(_) => {
            p.push(key, format!("`{value}` is not a valid HTTP header name"));
            default.to_owned()
        }
    }
}

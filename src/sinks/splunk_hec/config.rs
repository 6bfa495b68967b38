//! The `splunk_hec` sink's table as written and validated, beside the code that uses it.

use std::path::Path;

use serde::Deserialize;
use url::Url;

use crate::sinks::http::config::{HttpSettings, check_credential_url, http};
use crate::validation::Problems;
use crate::validation::{Inline, RawSecret, Secret, resolve};

/// The collector endpoint for JSON events, appended to a URL given without a path.
pub const EVENT_PATH: &str = "/services/collector/event";
pub const DEFAULT_SOURCETYPE: &str = "nodeport-watch:alert";
pub const DEFAULT_SOURCE: &str = "nodeport-watch";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSplunkHecSink {
    pub name: String,
    /// `https://splunk.example.com:8088` (the event endpoint is added) or a full endpoint URL.
    pub url: String,
    /// The HEC token: `{ env = … }` or `{ file = … }` only.
    pub token: RawSecret,
    pub index: Option<String>,
    pub sourcetype: Option<String>,
    pub source: Option<String>,
    /// The event's `host` field; the collector's default when unset.
    pub host: Option<String>,
    pub timeout: Option<String>,
    pub rules: Option<Vec<String>>,
    pub min_severity: Option<String>,
    /// Send a resolution when an exposure this sink was alerted about closes (default on).
    pub notify_closed: Option<bool>,
    /// Send a still-open exposure again, once, after this long (`7d`); off when absent.
    pub remind_after: Option<String>,
}

#[derive(Clone, Debug)]
pub struct SplunkHecSettings {
    pub endpoint: Url,
    pub token: Secret,
    pub index: Option<String>,
    pub sourcetype: String,
    pub source: String,
    pub host: Option<String>,
    pub http: HttpSettings,
}

pub fn build(
    raw: &RawSplunkHecSink,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<SplunkHecSettings> {
    let url_key = format!("{key}.url");
    let mut endpoint =
        check_credential_url(p, &url_key, &Secret::new(raw.url.as_str()), "the HEC token");
    if let Some(url) = endpoint.as_mut()
        && matches!(url.path(), "" | "/")
    {
        url.set_path(EVENT_PATH);
    }
    let token = resolve(
        p,
        &format!("{key}.token"),
        &raw.token,
        Inline::Refused,
        base,
    );
    let non_empty = |p: &mut Problems, field: &str, v: &Option<String>| {
        if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
            p.push(
                format!("{key}.{field}"),
                "must not be empty; remove the key instead",
            );
        }
    };
    non_empty(p, "index", &raw.index);
    non_empty(p, "sourcetype", &raw.sourcetype);
    non_empty(p, "source", &raw.source);
    non_empty(p, "host", &raw.host);
    let http = http(p, key, raw.timeout.as_deref());
    Some(SplunkHecSettings {
        endpoint: endpoint?,
        token: token?,
        index: raw.index.clone(),
        sourcetype: raw
            .sourcetype
            .clone()
            .unwrap_or_else(|| DEFAULT_SOURCETYPE.to_owned()),
        source: raw
            .source
            .clone()
            .unwrap_or_else(|| DEFAULT_SOURCE.to_owned()),
        host: raw.host.clone(),
        http,
    })
}

//! The `elasticsearch` sink's table as written and validated, beside the code that uses it.

use std::path::Path;

use serde::Deserialize;
use url::Url;

use crate::sinks::http::auth::{self, HttpAuth, RawAuth, tls_url};
use crate::sinks::http::config::{HttpSettings, http};
use crate::validation::{Problems, RawSecret};

/// The data stream naming scheme `logs-<dataset>-<namespace>`: matches the built-in `logs-*-*`
/// index template, so the stream is created with ECS mappings on the first write.
pub const DEFAULT_DATA_STREAM: &str = "logs-nodeport_watch.alert-default";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawElasticsearchSink {
    pub name: String,
    /// The cluster's URL (`https://es.example.com:9200`, or with a proxy's path prefix).
    pub url: String,
    pub data_stream: Option<String>,
    /// An encoded API key (`Authorization: ApiKey …`), as Kibana shows it.
    pub api_key: Option<RawSecret>,
    pub username: Option<String>,
    pub password: Option<RawSecret>,
    pub timeout: Option<String>,
    pub rules: Option<Vec<String>>,
    pub min_severity: Option<String>,
    /// Send a resolution when an exposure this sink was alerted about closes (default on).
    pub notify_closed: Option<bool>,
    /// Send a still-open exposure again, once, after this long (`7d`); off when absent.
    pub remind_after: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ElasticsearchSettings {
    /// `…/_bulk`.
    pub bulk: Url,
    /// The cluster's root (`GET /` answers with its name and version).
    pub root: Url,
    pub data_stream: String,
    pub auth: HttpAuth,
    pub http: HttpSettings,
}

pub fn build(
    raw: &RawElasticsearchSink,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<ElasticsearchSettings> {
    let before = p.len();
    let root = tls_url(p, &format!("{key}.url"), &raw.url);
    let auth = auth::build(
        p,
        key,
        RawAuth {
            username: raw.username.as_deref(),
            password: raw.password.as_ref(),
            bearer_token: None,
            api_key: raw.api_key.as_ref(),
        },
        base,
    );
    let data_stream = raw
        .data_stream
        .clone()
        .unwrap_or_else(|| DEFAULT_DATA_STREAM.to_owned());
    if let Err(why) = check_data_stream(&data_stream) {
        p.push(format!("{key}.data_stream"), why);
    }
    let http = http(p, key, raw.timeout.as_deref());
    let mut root = root?;
    if !root.path().ends_with('/') {
        let path = format!("{}/", root.path());
        root.set_path(&path);
    }
    let bulk = root.join("_bulk").ok()?;
    (p.len() == before).then_some(ElasticsearchSettings {
        bulk,
        root,
        data_stream,
        auth: auth?,
        http,
    })
}

/// Elasticsearch's index name rules, which data streams follow: lower case, no `\ / * ? " < >
/// | , # :` or space, not starting with `-`, `_` or `+`, not `.` or `..`, at most 255 bytes.
fn check_data_stream(name: &str) -> Result<(), String> {
    const FORBIDDEN: &[char] = &['\\', '/', '*', '?', '"', '<', '>', '|', ',', '#', ':', ' '];
    if name.is_empty() || name.len() > 255 || name == "." || name == ".." {
        return Err("must be 1 to 255 bytes (and not `.` or `..`)".to_owned());
    }
    if name.starts_with(['-', '_', '+']) {
        return Err("must not start with `-`, `_` or `+`".to_owned());
    }
    if name
        .chars()
        .any(|c| c.is_uppercase() || FORBIDDEN.contains(&c))
    {
        return Err(
            "must be lower case without spaces or any of \\ / * ? \" < > | , # :".to_owned(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_stream_names() {
        assert!(check_data_stream(DEFAULT_DATA_STREAM).is_ok());
        for bad in ["", "Logs-x", "_x", "a b", "a:b", ".."] {
            assert!(check_data_stream(bad).is_err(), "{bad}");
        }
    }
}

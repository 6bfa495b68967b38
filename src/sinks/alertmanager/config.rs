//! The `alertmanager` sink's table as written and validated, beside the code that uses it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::sinks::http::auth::{self, HttpAuth, RawAuth, tls_url};
use crate::sinks::http::config::{HttpSettings, check_url, http};
use crate::validation::{Problems, RawSecret, Secret, duration};

/// The API v2 endpoint, appended to the configured base URL.
pub const ALERTS_PATH: &str = "api/v2/alerts";
/// Answers with the cluster's status: proves reachability and credentials without an alert.
pub const STATUS_PATH: &str = "api/v2/status";
/// How long an alert stays active without a close: a week, so nobody misses it over a weekend.
pub const DEFAULT_FIRING_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// A year: longer would only hide that an exposure was never closed.
pub const MAX_FIRING_FOR: Duration = Duration::from_secs(365 * 24 * 3600);

/// Labels the sink sets itself.
pub const OWN_LABELS: &[&str] = &[
    "alertname",
    "severity",
    "rule",
    "cluster",
    "namespace",
    "service",
    "provider",
    "exposure_id",
];

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAlertmanagerSink {
    pub name: String,
    /// Alertmanager's base URL (`https://alertmanager.example.com`, or with its route prefix).
    pub url: String,
    /// Basic auth (a proxy in front of Alertmanager, or its `web.config` users).
    pub username: Option<String>,
    pub password: Option<RawSecret>,
    pub bearer_token: Option<RawSecret>,
    /// How long an open alert stays active when no close arrives (Alertmanager's `endsAt`).
    pub firing_for: Option<String>,
    /// Sent as `generatorURL` (a dashboard or this daemon's documentation).
    pub generator_url: Option<String>,
    /// The `runbook_url` annotation; `{rule}` is replaced by the rule id.
    pub runbook_url: Option<String>,
    /// Extra static labels for routing (`team = "secops"`).
    pub labels: Option<BTreeMap<String, String>>,
    pub timeout: Option<String>,
    pub rules: Option<Vec<String>>,
    pub min_severity: Option<String>,
    /// Send a resolution when an exposure this sink was alerted about closes (default on).
    pub notify_closed: Option<bool>,
    /// Send a still-open exposure again, once, after this long (`7d`); off when absent.
    pub remind_after: Option<String>,
}

#[derive(Clone, Debug)]
pub struct AlertmanagerSettings {
    /// `…/api/v2/alerts`.
    pub endpoint: Url,
    /// `…/api/v2/status`.
    pub status: Url,
    pub auth: HttpAuth,
    pub firing_for: Duration,
    pub generator_url: Option<Url>,
    pub runbook_url: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub http: HttpSettings,
}

pub fn build(
    raw: &RawAlertmanagerSink,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<AlertmanagerSettings> {
    let before = p.len();
    let base_url = tls_url(p, &format!("{key}.url"), &raw.url);
    let auth = auth::build(
        p,
        key,
        RawAuth {
            username: raw.username.as_deref(),
            password: raw.password.as_ref(),
            bearer_token: raw.bearer_token.as_ref(),
            api_key: None,
        },
        base,
    );
    let firing_key = format!("{key}.firing_for");
    let firing_for =
        duration(p, &firing_key, raw.firing_for.as_deref()).unwrap_or(DEFAULT_FIRING_FOR);
    if firing_for < Duration::from_secs(60) || firing_for > MAX_FIRING_FOR {
        p.push(
            firing_key,
            "must be between 1m (shorter, Alertmanager would resolve the alert almost at once) \
             and 365d",
        );
    }
    let generator_url = raw
        .generator_url
        .as_deref()
        .and_then(|u| check_url(p, &format!("{key}.generator_url"), &Secret::new(u)));
    if let Some(runbook) = &raw.runbook_url {
        check_url(
            p,
            &format!("{key}.runbook_url"),
            &Secret::new(runbook.replace("{rule}", "nodeport")),
        );
    }
    let labels = raw.labels.clone().unwrap_or_default();
    for name in labels.keys() {
        let lkey = format!("{key}.labels.{name}");
        if !is_label_name(name) {
            p.push(
                lkey,
                "a label name is letters, digits and `_`, not starting with a digit",
            );
        } else if OWN_LABELS.contains(&name.as_str()) {
            p.push(lkey, "this label is set by the sink itself");
        }
    }
    let http = http(p, key, raw.timeout.as_deref());
    let base_url = base_url?;
    let (endpoint, status) = (
        api_url(&base_url, ALERTS_PATH),
        api_url(&base_url, STATUS_PATH),
    );
    (p.len() == before).then_some(AlertmanagerSettings {
        endpoint,
        status,
        auth: auth?,
        firing_for,
        generator_url,
        runbook_url: raw.runbook_url.clone(),
        labels,
        http,
    })
}

/// `base` + `path`, keeping a route prefix (`/alertmanager`); a URL already ending in the
/// alerts endpoint is its base.
fn api_url(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = url
        .path()
        .trim_end_matches('/')
        .trim_end_matches(ALERTS_PATH)
        .trim_end_matches('/')
        .to_owned();
    url.set_path(&format!("{prefix}/{path}"));
    url
}

/// Prometheus' label name grammar `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_route_prefix() {
        let u = |s: &str| api_url(&Url::parse(s).unwrap(), ALERTS_PATH).to_string();
        assert_eq!(
            u("https://am.example.com"),
            "https://am.example.com/api/v2/alerts"
        );
        assert_eq!(
            u("https://proxy.example.com/alertmanager/"),
            "https://proxy.example.com/alertmanager/api/v2/alerts"
        );
        assert_eq!(
            u("http://127.0.0.1:9093/api/v2/alerts"),
            "http://127.0.0.1:9093/api/v2/alerts"
        );
    }

    #[test]
    fn label_names() {
        assert!(is_label_name("team") && is_label_name("_x9"));
        assert!(!is_label_name("9x") && !is_label_name("a-b") && !is_label_name(""));
    }
}

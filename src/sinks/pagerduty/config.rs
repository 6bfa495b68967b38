//! The `pagerduty` sink's table as written and validated, beside the code that uses it.

use std::path::Path;

use serde::Deserialize;
use url::Url;

use crate::sinks::http::config::{HttpSettings, check_credential_url, http};
use crate::validation::Problems;
use crate::validation::{Inline, RawSecret, Secret, resolve};

pub const DEFAULT_ENDPOINT: &str = "https://events.pagerduty.com/v2/enqueue";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPagerDutySink {
    pub name: String,
    /// The integration's routing key: `{ env = … }` or `{ file = … }` only.
    pub routing_key: RawSecret,
    /// Events API endpoint; `https://events.eu.pagerduty.com/v2/enqueue` for EU accounts.
    pub url: Option<String>,
    pub timeout: Option<String>,
    pub rules: Option<Vec<String>>,
    pub min_severity: Option<String>,
    /// Send a resolution when an exposure this sink was alerted about closes (default on).
    pub notify_closed: Option<bool>,
    /// Send a still-open exposure again, once, after this long (`7d`); off when absent.
    pub remind_after: Option<String>,
}

#[derive(Clone, Debug)]
pub struct PagerDutySettings {
    pub routing_key: Secret,
    pub endpoint: Url,
    pub http: HttpSettings,
}

pub fn build(
    raw: &RawPagerDutySink,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<PagerDutySettings> {
    let endpoint = check_credential_url(
        p,
        &format!("{key}.url"),
        &Secret::new(raw.url.as_deref().unwrap_or(DEFAULT_ENDPOINT)),
        "the routing key",
    );
    let routing_key = resolve(
        p,
        &format!("{key}.routing_key"),
        &raw.routing_key,
        Inline::Refused,
        base,
    );
    let http = http(p, key, raw.timeout.as_deref());
    Some(PagerDutySettings {
        routing_key: routing_key?,
        endpoint: endpoint?,
        http,
    })
}

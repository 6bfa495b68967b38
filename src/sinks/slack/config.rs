//! The `slack` sink's table as written and validated, beside the code that uses it.

use std::path::Path;

use serde::Deserialize;

use crate::sinks::http::config::{HttpSettings, check_credential_url, http};
use crate::validation::Problems;
use crate::validation::{Inline, RawSecret, Secret, resolve};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSlackSink {
    pub name: String,
    /// The incoming-webhook URL is itself the credential: `{ env = … }` or `{ file = … }` only.
    pub webhook_url: RawSecret,
    pub timeout: Option<String>,
    pub rules: Option<Vec<String>>,
    pub min_severity: Option<String>,
    /// Send a resolution when an exposure this sink was alerted about closes (default on).
    pub notify_closed: Option<bool>,
    /// Send a still-open exposure again, once, after this long (`7d`); off when absent.
    pub remind_after: Option<String>,
}

#[derive(Clone, Debug)]
pub struct SlackSettings {
    pub webhook_url: Secret,
    pub http: HttpSettings,
}

pub fn build(
    raw: &RawSlackSink,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<SlackSettings> {
    let url_key = format!("{key}.webhook_url");
    let webhook_url = resolve(p, &url_key, &raw.webhook_url, Inline::Refused, base)?;
    check_credential_url(p, &url_key, &webhook_url, "the webhook URL's token")?;
    Some(SlackSettings {
        webhook_url,
        http: http(p, key, raw.timeout.as_deref()),
    })
}

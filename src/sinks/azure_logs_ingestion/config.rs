//! The `azure_logs_ingestion` sink's table as written and validated, beside the code that
//! uses it. Credentials take the same keys, and mean the same, as the Azure sources'.

use std::path::Path;

use serde::Deserialize;
use url::Url;

use crate::sinks::http::auth::tls_url;
use crate::sinks::http::config::{HttpSettings, http};
use crate::sources::azure::config::{
    self as azure_credential, AzureCredentialSettings, CredentialKeys,
};
use crate::sources::azure::is_loopback;
use crate::validation::Problems;

pub const API_VERSION: &str = "2023-01-01";
/// The Azure Monitor audience (the double slash is part of it).
pub const DEFAULT_SCOPE: &str = "https://monitor.azure.com//.default";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAzureLogsIngestionSink {
    pub name: String,
    /// The data collection endpoint's logs ingestion URL (or the DCR's own endpoint).
    pub endpoint: String,
    /// The data collection rule's immutable id, `dcr-<32 hex digits>`.
    pub dcr_immutable_id: String,
    /// The stream declared in the DCR, `Custom-<name>`.
    pub stream: String,
    /// The token scope; only sovereign clouds need another one.
    pub scope: Option<String>,
    pub credential: Option<String>,
    pub managed_identity_client_id: Option<String>,
    pub managed_identity_resource_id: Option<String>,
    pub timeout: Option<String>,
    pub rules: Option<Vec<String>>,
    pub min_severity: Option<String>,
    /// Send a resolution when an exposure this sink was alerted about closes (default on).
    pub notify_closed: Option<bool>,
    /// Send a still-open exposure again, once, after this long (`7d`); off when absent.
    pub remind_after: Option<String>,
}

#[derive(Clone, Debug)]
pub struct AzureLogsIngestionSettings {
    /// `{endpoint}/dataCollectionRules/{dcr}/streams/{stream}?api-version=…`.
    pub url: Url,
    pub scope: String,
    pub credential: AzureCredentialSettings,
    pub http: HttpSettings,
}

pub fn build(
    raw: &RawAzureLogsIngestionSink,
    key: &str,
    _base: &Path,
    p: &mut Problems,
) -> Option<AzureLogsIngestionSettings> {
    let before = p.len();
    let endpoint = tls_url(p, &format!("{key}.endpoint"), &raw.endpoint);
    let dcr = raw.dcr_immutable_id.as_str();
    let hex = dcr.strip_prefix("dcr-").unwrap_or_default();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        p.push(
            format!("{key}.dcr_immutable_id"),
            "must be the rule's immutable id, `dcr-` and 32 hex digits (the DCR's JSON view, \
             `immutableId`)",
        );
    }
    let stream = raw.stream.as_str();
    let name = stream.strip_prefix("Custom-").unwrap_or_default();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        p.push(
            format!("{key}.stream"),
            "must be a stream the DCR declares, `Custom-` then letters, digits or `_`",
        );
    }
    let credential = azure_credential::build(
        p,
        key,
        CredentialKeys {
            credential: raw.credential.as_deref(),
            managed_identity_client_id: raw.managed_identity_client_id.as_deref(),
            managed_identity_resource_id: raw.managed_identity_resource_id.as_deref(),
        },
        endpoint.as_ref().is_some_and(is_loopback),
    );
    let http = http(p, key, raw.timeout.as_deref());
    let mut url = endpoint?;
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!(
        "{prefix}/dataCollectionRules/{dcr}/streams/{stream}"
    ));
    url.set_query(Some(&format!("api-version={API_VERSION}")));
    (p.len() == before).then_some(AzureLogsIngestionSettings {
        url,
        scope: raw
            .scope
            .clone()
            .unwrap_or_else(|| DEFAULT_SCOPE.to_owned()),
        credential,
        http,
    })
}

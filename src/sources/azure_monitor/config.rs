//! `type = "azure_monitor"`: AKS audit rows queried from Log Analytics workspaces.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::sources::Validated;
use crate::sources::azure::config::{
    self as azure_credential, AzureCredentialSettings, CredentialKeys,
};
use crate::sources::azure::{LOG_ANALYTICS_SCOPE, is_loopback, may_carry_credentials};
use crate::sources::time_axis::{RawWindowSettings, WindowDefaults, WindowSettings};
use crate::validation::{Problems, duration};

pub const DEFAULT_ENDPOINT: &str = "https://api.loganalytics.azure.com";
/// The service's own cap on rows per result.
pub const MAX_ROWS_LIMIT: u32 = 500_000;
const DEFAULT_MAX_ROWS: u32 = 50_000;
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Rows become queryable shortly after their ingestion time; stay this far behind.
/// The window keys' defaults for Log Analytics (`docs/time-axis.md`), over ingestion time.
pub const WINDOW_DEFAULTS: WindowDefaults = WindowDefaults {
    lag: Duration::from_secs(120),
    overlap: Duration::from_secs(300),
    max_span: Duration::from_secs(3600),
    lookback: Duration::from_secs(3600),
};
/// Azure Monitor replaces a `TimeGenerated` more than two days old by the receive time, so no
/// row is ingested later than this after its `TimeGenerated`.
const DEFAULT_MAX_INGESTION_DELAY: Duration = Duration::from_secs(2 * 24 * 3600);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAzureMonitorSource {
    pub name: String,
    /// One workspace ID (a GUID) or a list of them.
    pub workspace_id: OneOrMany,
    /// `AKSAuditAdmin` (default), `AKSAudit` or `AzureDiagnostics`.
    pub table: Option<String>,
    /// AKS resource IDs or cluster names; all clusters of the workspace when unset.
    pub clusters: Option<Vec<String>>,
    pub endpoint: Option<String>,
    /// The token scope; only sovereign clouds need another one.
    pub scope: Option<String>,
    pub credential: Option<String>,
    pub managed_identity_client_id: Option<String>,
    pub managed_identity_resource_id: Option<String>,
    pub interval: Option<String>,
    /// `lag`, `overlap`, `max_span`, `lookback`, `max_catchup`.
    #[serde(flatten)]
    pub window: RawWindowSettings,
    pub max_ingestion_delay: Option<String>,
    pub max_rows: Option<u32>,
}

/// Which table the diagnostic setting writes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogTable {
    /// Resource-specific mode, category `kube-audit-admin` (no get/list).
    AksAuditAdmin,
    /// Resource-specific mode, category `kube-audit`.
    AksAudit,
    /// Azure diagnostics (legacy) mode: the Event as a JSON string in `log_s`.
    AzureDiagnostics,
}

impl LogTable {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "AKSAuditAdmin" => Some(LogTable::AksAuditAdmin),
            "AKSAudit" => Some(LogTable::AksAudit),
            "AzureDiagnostics" => Some(LogTable::AzureDiagnostics),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogTable::AksAuditAdmin => "AKSAuditAdmin",
            LogTable::AksAudit => "AKSAudit",
            LogTable::AzureDiagnostics => "AzureDiagnostics",
        }
    }
}

/// Narrows a query to some clusters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterFilter {
    /// `/subscriptions/…/managedClusters/<name>`, compared case-insensitively.
    ResourceId(String),
    /// The cluster name: the resource ID's last segment.
    Name(String),
}

impl ClusterFilter {
    /// Reads a `clusters` entry: a managed-cluster resource ID or a bare cluster name.
    pub fn parse(value: &str) -> Result<Self, String> {
        let lower = value.to_ascii_lowercase();
        if value
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\')
        {
            return Err(format!(
                "`{value}` has characters no cluster name or ID has"
            ));
        }
        if lower.starts_with("/subscriptions/") {
            if !lower.contains("/providers/microsoft.containerservice/managedclusters/") {
                return Err(format!(
                    "`{value}` is not an AKS resource ID (/subscriptions/…/providers/Microsoft.ContainerService/managedClusters/NAME)"
                ));
            }
            return Ok(ClusterFilter::ResourceId(
                value.trim_end_matches('/').to_owned(),
            ));
        }
        let valid_name = !value.is_empty()
            && value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if valid_name {
            Ok(ClusterFilter::Name(value.to_owned()))
        } else {
            Err(format!(
                "`{value}` is neither an AKS resource ID nor a cluster name"
            ))
        }
    }
}

#[derive(Clone, Debug)]
pub struct AzureMonitorSettings {
    pub workspaces: Vec<String>,
    pub table: LogTable,
    pub clusters: Vec<ClusterFilter>,
    pub endpoint: Url,
    pub scope: String,
    pub credential: AzureCredentialSettings,
    /// Windows over ingestion time; on first start, `lookback` before `now - lag`.
    pub window: WindowSettings,
    /// How much older than its ingestion time a row's `TimeGenerated` can be.
    pub max_ingestion_delay: Duration,
    /// Rows asked for per query; a window that fills it is split.
    pub max_rows: u32,
}

fn is_workspace_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

pub(crate) fn build(
    raw: &RawAzureMonitorSource,
    key: &str,
    p: &mut Problems,
) -> Option<Validated<AzureMonitorSettings>> {
    let mut workspaces = raw.workspace_id.to_vec();
    workspaces.dedup();
    if workspaces.is_empty() {
        p.push(format!("{key}.workspace_id"), "name at least one workspace");
    }
    for id in &workspaces {
        if !is_workspace_id(id) {
            p.push(
                format!("{key}.workspace_id"),
                format!("`{id}` is not a workspace ID (the workspace's GUID, shown as Workspace ID in the portal)"),
            );
        }
    }
    let table = match raw.table.as_deref() {
        None => LogTable::AksAuditAdmin,
        Some(value) => LogTable::parse(value).unwrap_or_else(|| {
            p.push(
                format!("{key}.table"),
                format!("`{value}` is not AKSAuditAdmin, AKSAudit or AzureDiagnostics"),
            );
            LogTable::AksAuditAdmin
        }),
    };
    let clusters = raw
        .clusters
        .iter()
        .flatten()
        .filter_map(|c| p.check(format!("{key}.clusters"), ClusterFilter::parse(c)))
        .collect();
    let endpoint_text = raw.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT);
    let endpoint = match Url::parse(endpoint_text) {
        Ok(url) if may_carry_credentials(&url) => Some(url),
        Ok(_) => {
            p.push(
                format!("{key}.endpoint"),
                "use https (plain http is accepted only for a loopback endpoint)",
            );
            None
        }
        Err(e) => {
            p.push(
                format!("{key}.endpoint"),
                format!("`{endpoint_text}` is not a URL: {e}"),
            );
            None
        }
    };
    // Keep checking the other keys with the default endpoint; the problem is already reported.
    let endpoint = endpoint.or_else(|| Url::parse(DEFAULT_ENDPOINT).ok())?;
    let credential = azure_credential::build(
        p,
        key,
        CredentialKeys {
            credential: raw.credential.as_deref(),
            managed_identity_client_id: raw.managed_identity_client_id.as_deref(),
            managed_identity_resource_id: raw.managed_identity_resource_id.as_deref(),
        },
        is_loopback(&endpoint),
    );
    let max_rows = raw.max_rows.unwrap_or(DEFAULT_MAX_ROWS);
    if !(1..=MAX_ROWS_LIMIT).contains(&max_rows) {
        p.push(
            format!("{key}.max_rows"),
            format!("must be between 1 and {MAX_ROWS_LIMIT} (the service's limit)"),
        );
    }
    let d = |p: &mut Problems, name: &str, value: &Option<String>, default: Duration| {
        duration(p, &format!("{key}.{name}"), value.as_deref()).unwrap_or(default)
    };
    let window = raw.window.build(key, WINDOW_DEFAULTS, p);
    let settings = AzureMonitorSettings {
        workspaces,
        table,
        clusters,
        endpoint,
        scope: raw
            .scope
            .clone()
            .unwrap_or_else(|| LOG_ANALYTICS_SCOPE.to_owned()),
        credential,
        window,
        max_ingestion_delay: d(
            p,
            "max_ingestion_delay",
            &raw.max_ingestion_delay,
            DEFAULT_MAX_INGESTION_DELAY,
        ),
        max_rows: max_rows.clamp(1, MAX_ROWS_LIMIT),
    };
    Some(Validated {
        interval: d(p, "interval", &raw.interval, DEFAULT_INTERVAL),
        max_catchup: window.max_catchup,
        settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_filters() {
        assert_eq!(
            ClusterFilter::parse("prod-aks_1"),
            Ok(ClusterFilter::Name("prod-aks_1".into()))
        );
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/prod/";
        assert_eq!(
            ClusterFilter::parse(id),
            Ok(ClusterFilter::ResourceId(id.trim_end_matches('/').into()))
        );
        assert!(ClusterFilter::parse("/subscriptions/s/resourceGroups/rg").is_err());
        assert!(ClusterFilter::parse("a\" or 1==1").is_err());
        assert!(ClusterFilter::parse("").is_err());
    }

    #[test]
    fn workspace_ids_are_guids() {
        assert!(is_workspace_id("6b2f1d3e-0000-4c1a-9a3b-1f2e3d4c5b6a"));
        assert!(!is_workspace_id("../other"));
        assert!(!is_workspace_id(""));
    }
}

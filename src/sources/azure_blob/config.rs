//! `type = "azure_blob"`: AKS audit logs archived by a diagnostic setting to a storage account.

use std::path::Path;
use std::time::Duration;

use azure_core::credentials::Secret;
use serde::Deserialize;
use url::Url;

use crate::sources::Validated;
use crate::sources::azure::config::{
    self as azure_credential, AzureCredentialSettings, CredentialKeys,
};
use crate::sources::azure::{is_loopback, may_carry_credentials};
use crate::sources::time_axis::{RawWindowSettings, WindowDefaults};
use crate::validation::{Inline, Problems, RawSecret, duration, resolve, size};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// The window keys' defaults for storage archives: only `lookback` and `max_catchup` apply
/// (`docs/time-axis.md`).
pub const WINDOW_DEFAULTS: WindowDefaults = WindowDefaults {
    lag: Duration::ZERO,
    overlap: Duration::ZERO,
    max_span: Duration::from_secs(3600),
    lookback: Duration::from_secs(3600),
};
/// Azure appends a record to its hour's blob by receive time; a blob whose hour ended this long
/// ago gets no more lines.
const DEFAULT_SETTLE: Duration = Duration::from_secs(30 * 60);
const DEFAULT_DISCOVERY_INTERVAL: Duration = Duration::from_secs(10 * 60);
const DEFAULT_MAX_RECORD: usize = 4 * 1024 * 1024;

pub const CATEGORIES: [&str; 2] = ["kube-audit-admin", "kube-audit"];
pub const ENV_CONNECTION_STRING: &str = "AZURE_STORAGE_CONNECTION_STRING";
pub const ENV_ACCOUNT_KEY: &str = "AZURE_STORAGE_KEY";
pub const ENV_SAS_TOKEN: &str = "AZURE_STORAGE_SAS_TOKEN";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAzureBlobSource {
    pub name: String,
    /// `https://<account>.blob.core.windows.net`; not needed with a connection string.
    pub account_url: Option<String>,
    /// `kube-audit-admin` (default) and/or `kube-audit`: the containers
    /// `insights-logs-<category>` read.
    pub categories: Option<Vec<String>>,
    /// AKS resource IDs; every cluster found in the containers when unset.
    pub clusters: Option<Vec<String>>,
    /// `auto`, an Entra ID credential, or `account_key`, `sas`, `connection_string`.
    pub credential: Option<String>,
    pub managed_identity_client_id: Option<String>,
    pub managed_identity_resource_id: Option<String>,
    /// Secrets, inline or `{ env = … }` / `{ file = … }`: never shown by `Debug`.
    pub account_key: Option<RawSecret>,
    pub sas_token: Option<RawSecret>,
    pub connection_string: Option<RawSecret>,
    pub interval: Option<String>,
    /// `lookback` and `max_catchup` (the shared window keys; the others do not apply).
    #[serde(flatten)]
    pub window: RawWindowSettings,
    pub settle: Option<String>,
    pub discovery_interval: Option<String>,
    pub max_record_size: Option<String>,
}

/// A secret written in the file, or the environment variable holding it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretValue {
    Inline(Secret),
    Env(&'static str),
}

impl SecretValue {
    /// The secret written in the table (inline or a reference, read now), else the variable
    /// the Azure tools read it from.
    fn from(
        p: &mut Problems,
        key: &str,
        written: Option<&RawSecret>,
        env: &'static str,
        base: &Path,
    ) -> Self {
        match written.and_then(|raw| resolve(p, key, raw, Inline::Allowed, base)) {
            Some(v) => SecretValue::Inline(Secret::new(v.expose().to_owned())),
            None => SecretValue::Env(env),
        }
    }

    /// The secret, read from the environment when it is not inline.
    pub fn resolve(&self) -> Result<Secret, String> {
        match self {
            SecretValue::Inline(s) => Ok(s.clone()),
            SecretValue::Env(name) => std::env::var(name)
                .map(Secret::new)
                .map_err(|_| format!("the environment variable {name} is not set")),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobAuth {
    Entra(AzureCredentialSettings),
    AccountKey(SecretValue),
    Sas(SecretValue),
    ConnectionString(SecretValue),
}

#[derive(Clone, Debug)]
pub struct AzureBlobSettings {
    /// The blob endpoint; `None` only when a connection string supplies it.
    pub account_url: Option<Url>,
    /// Containers read, `insights-logs-kube-audit-admin` and/or `insights-logs-kube-audit`.
    pub containers: Vec<String>,
    /// Managed-cluster resource IDs, as written (blob paths upper-case them).
    pub clusters: Vec<String>,
    pub auth: BlobAuth,
    /// On first start, how many past hours' blobs to read.
    pub lookback: Duration,
    pub settle: Duration,
    /// Without `clusters`, how often the containers are listed whole to find new clusters.
    pub discovery_interval: Duration,
    pub max_record_bytes: usize,
}

pub(crate) fn build(
    raw: &RawAzureBlobSource,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<Validated<AzureBlobSettings>> {
    let account_url = raw
        .account_url
        .as_deref()
        .and_then(|text| match Url::parse(text) {
            Ok(url) if may_carry_credentials(&url) => Some(url),
            Ok(_) => {
                p.push(
                    format!("{key}.account_url"),
                    "use https (plain http is accepted only for a loopback endpoint)",
                );
                None
            }
            Err(e) => {
                p.push(
                    format!("{key}.account_url"),
                    format!("`{text}` is not a URL: {e}"),
                );
                None
            }
        });
    let auth = auth(raw, key, account_url.as_ref(), base, p);
    if account_url.is_none()
        && raw.account_url.is_none()
        && !matches!(auth, BlobAuth::ConnectionString(_))
    {
        p.push(
            format!("{key}.account_url"),
            "set account_url (https://<account>.blob.core.windows.net) or a connection string",
        );
    }
    let mut containers = Vec::new();
    for category in raw.categories.as_deref().unwrap_or(&[]) {
        if CATEGORIES.contains(&category.as_str()) {
            containers.push(format!("insights-logs-{category}"));
        } else {
            p.push(
                format!("{key}.categories"),
                format!("`{category}` is not kube-audit-admin or kube-audit"),
            );
        }
    }
    if raw.categories.is_none() {
        containers.push("insights-logs-kube-audit-admin".to_owned());
    }
    containers.dedup();
    let mut clusters = Vec::new();
    for cluster in raw.clusters.iter().flatten() {
        let lower = cluster.to_ascii_lowercase();
        if lower.starts_with("/subscriptions/")
            && lower.contains("/providers/microsoft.containerservice/managedclusters/")
        {
            clusters.push(cluster.trim_end_matches('/').to_owned());
        } else {
            p.push(
                format!("{key}.clusters"),
                format!(
                    "`{cluster}` is not an AKS resource ID: archive paths are per resource ID \
                     (/subscriptions/…/providers/Microsoft.ContainerService/managedClusters/NAME)"
                ),
            );
        }
    }
    let d = |p: &mut Problems, name: &str, value: &Option<String>, default: Duration| {
        duration(p, &format!("{key}.{name}"), value.as_deref()).unwrap_or(default)
    };
    let window = raw.window.build_without_windows(
        key,
        WINDOW_DEFAULTS,
        "it reads whole hourly blobs once they settle; see `settle`",
        p,
    );
    let settings = AzureBlobSettings {
        account_url,
        containers,
        clusters,
        auth,
        lookback: window.lookback,
        settle: d(p, "settle", &raw.settle, DEFAULT_SETTLE),
        discovery_interval: d(
            p,
            "discovery_interval",
            &raw.discovery_interval,
            DEFAULT_DISCOVERY_INTERVAL,
        ),
        max_record_bytes: size(
            p,
            &format!("{key}.max_record_size"),
            raw.max_record_size.as_deref(),
        )
        .unwrap_or(DEFAULT_MAX_RECORD),
    };
    Some(Validated {
        interval: d(p, "interval", &raw.interval, DEFAULT_INTERVAL),
        max_catchup: window.max_catchup,
        settings,
    })
}

/// The storage keys, or else an Entra ID credential. An inline key, SAS or connection string
/// chooses its kind by itself; `credential = "account_key"` (…) without one reads it from the
/// environment.
fn auth(
    raw: &RawAzureBlobSource,
    key: &str,
    url: Option<&Url>,
    base: &Path,
    p: &mut Problems,
) -> BlobAuth {
    let k = |field: &str| format!("{key}.{field}");
    let inline: Vec<&str> = [
        raw.account_key.as_ref().map(|_| "account_key"),
        raw.sas_token.as_ref().map(|_| "sas"),
        raw.connection_string.as_ref().map(|_| "connection_string"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if inline.len() > 1 {
        p.push(
            format!("{key}.credential"),
            format!(
                "set only one of account_key, sas_token, connection_string (found {})",
                inline.join(", ")
            ),
        );
    }
    let kind = raw.credential.as_deref().or(inline.first().copied());
    if let (Some(kind), Some(first)) = (raw.credential.as_deref(), inline.first())
        && kind != *first
    {
        p.push(
            format!("{key}.credential"),
            format!("credential = `{kind}` but the table sets a {first}"),
        );
    }
    match kind {
        Some("account_key") => BlobAuth::AccountKey(SecretValue::from(
            p,
            &k("account_key"),
            raw.account_key.as_ref(),
            ENV_ACCOUNT_KEY,
            base,
        )),
        Some("sas") => BlobAuth::Sas(SecretValue::from(
            p,
            &k("sas_token"),
            raw.sas_token.as_ref(),
            ENV_SAS_TOKEN,
            base,
        )),
        Some("connection_string") => BlobAuth::ConnectionString(SecretValue::from(
            p,
            &k("connection_string"),
            raw.connection_string.as_ref(),
            ENV_CONNECTION_STRING,
            base,
        )),
        other => BlobAuth::Entra(azure_credential::build(
            p,
            key,
            CredentialKeys {
                credential: other,
                managed_identity_client_id: raw.managed_identity_client_id.as_deref(),
                managed_identity_resource_id: raw.managed_identity_resource_id.as_deref(),
            },
            url.is_some_and(is_loopback),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_the_table_are_never_printed() {
        let raw: RawAzureBlobSource = serde_json::from_str(
            r#"{"name": "a", "account_url": "https://a.blob.core.windows.net",
                "connection_string": "AccountName=a;AccountKey=c2VjcmV0"}"#,
        )
        .unwrap();
        assert!(!format!("{raw:?}").contains("c2VjcmV0"));
        let mut p = Problems::default();
        let settings = build(&raw, "sources[0]", Path::new("."), &mut p).unwrap();
        assert!(p.is_empty(), "{p:?}");
        assert!(!format!("{settings:?}").contains("c2VjcmV0"));
        assert!(matches!(
            settings.settings.auth,
            BlobAuth::ConnectionString(SecretValue::Inline(_))
        ));
    }

    #[test]
    fn keys_may_be_read_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key"), "a2V5LWZyb20tZmlsZQ==\n").unwrap();
        let raw: RawAzureBlobSource = serde_json::from_str(
            r#"{"name": "a", "account_url": "https://a.blob.core.windows.net",
                "account_key": {"file": "key"}}"#,
        )
        .unwrap();
        let mut p = Problems::default();
        let settings = build(&raw, "s", dir.path(), &mut p).unwrap();
        assert!(p.is_empty(), "{p:?}");
        let BlobAuth::AccountKey(SecretValue::Inline(key)) = &settings.settings.auth else {
            panic!("{:?}", settings.settings.auth);
        };
        assert_eq!(key.secret(), "a2V5LWZyb20tZmlsZQ==");
        let missing: RawAzureBlobSource = serde_json::from_str(
            r#"{"name": "a", "account_url": "https://a.blob.core.windows.net",
                "sas_token": {"file": "absent"}}"#,
        )
        .unwrap();
        let mut p = Problems::default();
        build(&missing, "s", dir.path(), &mut p);
        let keys: Vec<String> = p.into_vec().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["s.sas_token"]);
    }

    #[test]
    fn clusters_must_be_resource_ids_and_one_secret_at_most() {
        let raw: RawAzureBlobSource = serde_json::from_str(
            r#"{"name": "a", "account_url": "http://blob.example.com", "clusters": ["prod"],
                "account_key": "a2V5", "sas_token": "sv=1", "categories": ["kube-apiserver"]}"#,
        )
        .unwrap();
        let mut p = Problems::default();
        build(&raw, "s", Path::new("."), &mut p);
        let text: Vec<String> = p.into_vec().iter().map(|p| p.to_string()).collect();
        for key in [
            "s.account_url",
            "s.clusters",
            "s.credential",
            "s.categories",
        ] {
            assert!(text.iter().any(|t| t.starts_with(key)), "{key}: {text:?}");
        }
    }
}

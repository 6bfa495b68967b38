//! Turns a blob source's settings into an endpoint and an authorization: an Entra ID token
//! (the same credentials as `azure_monitor`), an account key, a SAS, or a connection string
//! holding one of those. Secrets are read from the environment here, at start, when the
//! settings name a variable instead of a value.

use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::policies::Policy;
use url::{Host, Url};

use super::config::{AzureBlobSettings, BlobAuth};
use crate::sources::SourceError;
use crate::sources::azure::bearer::BearerPolicy;
use crate::sources::azure::connection_string::{self, StorageKey};
use crate::sources::azure::credential::token_credential;
use crate::sources::azure::shared_key::SharedKeyPolicy;
use crate::sources::azure::{STORAGE_SCOPE, may_carry_credentials};

/// How requests to the storage account are authorized.
pub enum BlobAccess {
    Token(Arc<dyn TokenCredential>),
    SharedKey {
        account: String,
        key: Secret,
    },
    Sas(Secret),
    /// No authorization: loopback emulators with public containers only.
    Anonymous,
}

impl std::fmt::Debug for BlobAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BlobAccess::Token(_) => "Token",
            BlobAccess::SharedKey { .. } => "SharedKey",
            BlobAccess::Sas(_) => "Sas",
            BlobAccess::Anonymous => "Anonymous",
        })
    }
}

impl BlobAccess {
    /// The per-try policy that authorizes each request, if any (a SAS goes in the URL).
    pub fn policy(&self) -> Result<Option<Arc<dyn Policy>>, SourceError> {
        Ok(match self {
            BlobAccess::Token(credential) => Some(Arc::new(BearerPolicy::new(
                Arc::clone(credential),
                STORAGE_SCOPE,
            ))),
            BlobAccess::SharedKey { account, key } => Some(Arc::new(
                SharedKeyPolicy::new(account, key).map_err(SourceError::fatal)?,
            )),
            BlobAccess::Sas(_) | BlobAccess::Anonymous => None,
        })
    }

    /// The URL of a container, with the SAS as its query when there is one.
    pub fn container_url(&self, account_url: &Url, container: &str) -> Result<Url, SourceError> {
        let mut url = account_url.clone();
        url.set_query(None);
        url.path_segments_mut()
            .map_err(|()| SourceError::fatal("the storage account URL cannot hold a path"))?
            .pop_if_empty()
            .push(container);
        if let BlobAccess::Sas(sas) = self {
            url.set_query(Some(sas.secret().trim_start_matches('?')));
        }
        Ok(url)
    }
}

/// The account name Shared Key signs with: the host's first label, or the first path segment
/// for emulator-style URLs (`http://127.0.0.1:10000/devstoreaccount1`).
pub fn account_name(url: &Url) -> Option<String> {
    match url.host()? {
        Host::Domain(name) if name != "localhost" => name.split('.').next().map(str::to_owned),
        _ => url
            .path_segments()?
            .next()
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    }
}

/// The endpoint and authorization the settings describe.
pub fn resolve(settings: &AzureBlobSettings) -> Result<(Url, BlobAccess), SourceError> {
    let configured = |what: &str| {
        settings
            .account_url
            .clone()
            .ok_or_else(|| SourceError::fatal(format!("{what} needs account_url")))
    };
    let secret = |value: &super::config::SecretValue| value.resolve().map_err(SourceError::fatal);
    let (url, access) = match &settings.auth {
        BlobAuth::Entra(credential) => {
            let url = configured("an Entra ID credential")?;
            let access = match token_credential(credential)
                .map_err(|e| SourceError::fatal(e.to_string()))?
            {
                Some(credential) => BlobAccess::Token(credential),
                None => BlobAccess::Anonymous,
            };
            (url, access)
        }
        BlobAuth::AccountKey(key) => {
            let url = configured("an account key")?;
            let account = account_name(&url).ok_or_else(|| {
                SourceError::fatal("cannot tell the storage account name from account_url")
            })?;
            let key = secret(key)?;
            (url, BlobAccess::SharedKey { account, key })
        }
        BlobAuth::Sas(sas) => (configured("a SAS")?, BlobAccess::Sas(secret(sas)?)),
        BlobAuth::ConnectionString(text) => {
            let parsed = connection_string::parse(secret(text)?.secret())
                .map_err(|e| SourceError::fatal(format!("connection string: {e}")))?;
            let url = settings.account_url.clone().unwrap_or(parsed.blob_endpoint);
            let access = match parsed.key {
                Some(StorageKey::AccountKey { account, key }) => {
                    BlobAccess::SharedKey { account, key }
                }
                Some(StorageKey::Sas(sas)) => BlobAccess::Sas(sas),
                None => BlobAccess::Anonymous,
            };
            (url, access)
        }
    };
    if !may_carry_credentials(&url) {
        return Err(SourceError::fatal(
            "the storage endpoint must use https (plain http only on loopback)",
        ));
    }
    Ok((url, access))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            account_name(&u("https://logs.blob.core.windows.net")).as_deref(),
            Some("logs")
        );
        assert_eq!(
            account_name(&u("http://127.0.0.1:10000/devstoreaccount1")).as_deref(),
            Some("devstoreaccount1")
        );
        assert_eq!(account_name(&u("http://localhost:10000/")), None);
    }

    #[test]
    fn container_urls_carry_the_sas() {
        let base = Url::parse("https://logs.blob.core.windows.net/").unwrap();
        let sas = BlobAccess::Sas(Secret::new("?sv=1&sig=x"));
        assert_eq!(
            sas.container_url(&base, "insights-logs-kube-audit")
                .unwrap()
                .as_str(),
            "https://logs.blob.core.windows.net/insights-logs-kube-audit?sv=1&sig=x"
        );
        let emulator = Url::parse("http://127.0.0.1:10000/devstoreaccount1").unwrap();
        assert_eq!(
            BlobAccess::Anonymous
                .container_url(&emulator, "c")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:10000/devstoreaccount1/c"
        );
    }
}

//! Builds the Entra ID credential a source's settings ask for.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::{Secret, TokenCredential};
use azure_identity::{
    AzureCliCredential, ClientSecretCredential, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
};
use thiserror::Error;

use super::chain::{CredentialChain, Link};
use super::config::{AzureCredentialSettings, CredentialKind, UserAssignedIdentity};

#[derive(Debug, Error)]
pub enum CredentialError {
    #[error("cannot set up the `{kind}` Azure credential: {message}")]
    Setup { kind: &'static str, message: String },
}

const ENV_TENANT: &str = "AZURE_TENANT_ID";
const ENV_CLIENT: &str = "AZURE_CLIENT_ID";
const ENV_SECRET: &str = "AZURE_CLIENT_SECRET";
const ENV_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";

/// Off Azure the managed identity endpoint never answers; do not let it hold the chain up.
const MANAGED_IDENTITY_PROBE: Duration = Duration::from_secs(5);
/// Token endpoints and `az` normally answer in a second or two.
const PROBE: Duration = Duration::from_secs(60);

/// The token credential to use, or `None` for `credential = "none"`.
pub fn token_credential(
    settings: &AzureCredentialSettings,
) -> Result<Option<Arc<dyn TokenCredential>>, CredentialError> {
    let setup = |kind: CredentialKind| {
        move |e: azure_core::Error| CredentialError::Setup {
            kind: kind.as_str(),
            message: e.to_string(),
        }
    };
    let kind = settings.kind;
    Ok(Some(match kind {
        CredentialKind::None => return Ok(None),
        CredentialKind::WorkloadIdentity => {
            WorkloadIdentityCredential::new(None).map_err(setup(kind))?
        }
        CredentialKind::ManagedIdentity => {
            managed_identity(settings.managed_identity.as_ref()).map_err(setup(kind))?
        }
        CredentialKind::ClientSecret => client_secret_from_env()
            .unwrap_or_else(|| Err(missing_env(&[ENV_TENANT, ENV_CLIENT, ENV_SECRET])))
            .map_err(setup(kind))?,
        CredentialKind::AzureCli => AzureCliCredential::new(None).map_err(setup(kind))?,
        CredentialKind::Auto => Arc::new(automatic_chain(settings)?),
    }))
}

/// The automatic order: what the environment configures explicitly first (a service principal,
/// then workload identity), then the machine's managed identity, then a developer's `az login`.
fn automatic_chain(settings: &AzureCredentialSettings) -> Result<CredentialChain, CredentialError> {
    let mut links = Vec::new();
    if let Some(Ok(credential)) = client_secret_from_env() {
        links.push(Link {
            name: "client_secret",
            credential,
            probe_timeout: PROBE,
        });
    }
    if std::env::var_os(ENV_TOKEN_FILE).is_some()
        && let Ok(credential) = WorkloadIdentityCredential::new(None)
    {
        links.push(Link {
            name: "workload_identity",
            credential,
            probe_timeout: PROBE,
        });
    }
    if let Ok(credential) = managed_identity(settings.managed_identity.as_ref()) {
        links.push(Link {
            name: "managed_identity",
            credential,
            probe_timeout: MANAGED_IDENTITY_PROBE,
        });
    }
    let cli = AzureCliCredential::new(None).map_err(|e| CredentialError::Setup {
        kind: "azure_cli",
        message: e.to_string(),
    })?;
    links.push(Link {
        name: "azure_cli",
        credential: cli,
        probe_timeout: PROBE,
    });
    Ok(CredentialChain::new(links))
}

fn managed_identity(
    user_assigned: Option<&UserAssignedIdentity>,
) -> azure_core::Result<Arc<dyn TokenCredential>> {
    let user_assigned_id = user_assigned.map(|id| match id {
        UserAssignedIdentity::ClientId(id) => UserAssignedId::ClientId(id.clone()),
        UserAssignedIdentity::ResourceId(id) => UserAssignedId::ResourceId(id.clone()),
    });
    let options = ManagedIdentityCredentialOptions {
        user_assigned_id,
        ..Default::default()
    };
    Ok(ManagedIdentityCredential::new(Some(options))?)
}

/// A service principal from `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`;
/// `None` when any of them is unset.
fn client_secret_from_env() -> Option<azure_core::Result<Arc<dyn TokenCredential>>> {
    let tenant = std::env::var(ENV_TENANT).ok()?;
    let client = std::env::var(ENV_CLIENT).ok()?;
    let secret = std::env::var(ENV_SECRET).ok()?;
    Some(
        ClientSecretCredential::new(&tenant, client, Secret::new(secret), None)
            .map(|c| c as Arc<dyn TokenCredential>),
    )
}

fn missing_env(names: &[&str]) -> azure_core::Error {
    azure_core::Error::with_message(
        azure_core::error::ErrorKind::Credential,
        format!("set the environment variables {}", names.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(kind: CredentialKind) -> AzureCredentialSettings {
        AzureCredentialSettings {
            kind,
            managed_identity: None,
        }
    }

    #[test]
    fn none_means_no_credential() {
        assert!(
            token_credential(&settings(CredentialKind::None))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_client_secret_without_its_variables_says_which_to_set() {
        if std::env::var_os(ENV_SECRET).is_some() {
            return; // A developer's real service principal: nothing to check here.
        }
        let e = token_credential(&settings(CredentialKind::ClientSecret)).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("client_secret") && text.contains(ENV_SECRET),
            "{text}"
        );
    }

    #[test]
    fn the_automatic_chain_ends_with_the_azure_cli() {
        let chain = automatic_chain(&settings(CredentialKind::Auto)).unwrap();
        let names = chain.names();
        assert_eq!(names.last(), Some(&"azure_cli"));
        assert!(names.contains(&"managed_identity"), "{names:?}");
    }
}

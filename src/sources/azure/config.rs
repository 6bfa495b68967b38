//! The credential keys both Azure source tables repeat (serde cannot flatten a shared struct into
//! a table that rejects unknown keys): `credential`, `managed_identity_client_id`,
//! `managed_identity_resource_id`.

use crate::validation::Problems;

/// How an Azure source gets its Entra ID token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    /// Environment client secret, then workload identity, then managed identity, then Azure CLI.
    Auto,
    /// AKS workload identity: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE`.
    WorkloadIdentity,
    /// The VM's, App Service's or AKS node's managed identity (system or user-assigned).
    ManagedIdentity,
    /// A service principal: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`.
    ClientSecret,
    /// The developer's `az login`.
    AzureCli,
    /// No credential at all: loopback endpoints only (tests, emulators).
    None,
}

impl CredentialKind {
    pub const NAMES: &'static str =
        "auto, workload_identity, managed_identity, client_secret, azure_cli or none";

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "auto" => CredentialKind::Auto,
            "workload_identity" => CredentialKind::WorkloadIdentity,
            "managed_identity" => CredentialKind::ManagedIdentity,
            "client_secret" => CredentialKind::ClientSecret,
            "azure_cli" => CredentialKind::AzureCli,
            "none" => CredentialKind::None,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Auto => "auto",
            CredentialKind::WorkloadIdentity => "workload_identity",
            CredentialKind::ManagedIdentity => "managed_identity",
            CredentialKind::ClientSecret => "client_secret",
            CredentialKind::AzureCli => "azure_cli",
            CredentialKind::None => "none",
        }
    }
}

/// A user-assigned managed identity; without one, the system-assigned identity is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserAssignedIdentity {
    ClientId(String),
    ResourceId(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureCredentialSettings {
    pub kind: CredentialKind,
    pub managed_identity: Option<UserAssignedIdentity>,
}

/// The credential keys of one source table, as written.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CredentialKeys<'a> {
    pub credential: Option<&'a str>,
    pub managed_identity_client_id: Option<&'a str>,
    pub managed_identity_resource_id: Option<&'a str>,
}

/// Validates the credential keys; `loopback` says whether the endpoint is on this machine
/// (the only place `credential = "none"` is accepted).
pub(crate) fn build(
    p: &mut Problems,
    key: &str,
    keys: CredentialKeys<'_>,
    loopback: bool,
) -> AzureCredentialSettings {
    let kind = match keys.credential {
        None => CredentialKind::Auto,
        Some(value) => CredentialKind::parse(value).unwrap_or_else(|| {
            p.push(
                format!("{key}.credential"),
                format!("`{value}` is not one of {}", CredentialKind::NAMES),
            );
            CredentialKind::Auto
        }),
    };
    if kind == CredentialKind::None && !loopback {
        p.push(
            format!("{key}.credential"),
            "`none` sends requests without credentials and is accepted only for a loopback \
             endpoint (127.0.0.1, ::1, localhost); choose a real credential for this endpoint",
        );
    }
    let managed_identity = match (
        keys.managed_identity_client_id,
        keys.managed_identity_resource_id,
    ) {
        (Some(_), Some(_)) => {
            p.push(
                format!("{key}.managed_identity_client_id"),
                "set either managed_identity_client_id or managed_identity_resource_id, not both",
            );
            None
        }
        (Some(id), None) => Some(UserAssignedIdentity::ClientId(id.to_owned())),
        (None, Some(id)) => Some(UserAssignedIdentity::ResourceId(id.to_owned())),
        (None, None) => None,
    };
    if managed_identity.is_some()
        && !matches!(kind, CredentialKind::Auto | CredentialKind::ManagedIdentity)
    {
        p.push(
            format!("{key}.credential"),
            format!(
                "a user-assigned managed identity is configured but credential = `{}` does not use it",
                kind.as_str()
            ),
        );
    }
    AzureCredentialSettings {
        kind,
        managed_identity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(keys: CredentialKeys<'_>, loopback: bool) -> (AzureCredentialSettings, Vec<String>) {
        let mut p = Problems::default();
        let s = build(&mut p, "sources[0]", keys, loopback);
        (s, p.into_vec().into_iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn defaults_to_the_automatic_chain() {
        let (s, problems) = built(CredentialKeys::default(), false);
        assert_eq!(s.kind, CredentialKind::Auto);
        assert!(problems.is_empty());
    }

    #[test]
    fn none_only_for_loopback() {
        let keys = CredentialKeys {
            credential: Some("none"),
            ..Default::default()
        };
        assert!(built(keys, true).1.is_empty());
        let problems = built(keys, false).1;
        assert!(
            problems[0].starts_with("sources[0].credential: `none`"),
            "{problems:?}"
        );
    }

    #[test]
    fn unknown_kind_and_conflicting_identities_are_reported() {
        let (_, problems) = built(
            CredentialKeys {
                credential: Some("password"),
                managed_identity_client_id: Some("a"),
                managed_identity_resource_id: Some("b"),
            },
            false,
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        let (s, problems) = built(
            CredentialKeys {
                credential: Some("managed_identity"),
                managed_identity_client_id: Some("c"),
                ..Default::default()
            },
            false,
        );
        assert!(problems.is_empty());
        assert_eq!(
            s.managed_identity,
            Some(UserAssignedIdentity::ClientId("c".into()))
        );
    }
}

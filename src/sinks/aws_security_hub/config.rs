//! The `aws_security_hub` sink's table as written and validated, beside the code that uses it.
//! The access keys (`region`, `profile`, `endpoint`, `role_arn`, `external_id`,
//! `session_name`) mean the same as the CloudWatch source's ([`crate::aws::access`]).
//!
//! `aws_account_id` exists because Security Hub only takes a finding from the account it
//! names (`AwsAccountId`, and the account in the default product ARN): when it is absent the
//! account is the role's (from `role_arn`) or, failing that, the caller's, asked once of STS.

use std::path::Path;

use serde::Deserialize;

use crate::aws::access::{self, AccessKeys, AwsAccess};
use crate::validation::{Problems, RawSecret};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAwsSecurityHubSink {
    pub name: String,
    pub region: String,
    /// The account the findings are imported in (12 digits); default: the role's account, else
    /// the caller's (`sts:GetCallerIdentity`).
    pub aws_account_id: Option<String>,
    /// An AWS profile of the shared config files (SSO, credential_process, source_profile…).
    pub profile: Option<String>,
    /// A role assumed to import the findings (cross-account).
    pub role_arn: Option<String>,
    /// Inline, `{ env = … }` or `{ file = … }`.
    pub external_id: Option<RawSecret>,
    pub session_name: Option<String>,
    /// Another Security Hub endpoint (VPC endpoint, FIPS, an emulator); STS uses it too.
    pub endpoint: Option<String>,
    pub rules: Option<Vec<String>>,
    pub min_severity: Option<String>,
    /// Archive the finding when an exposure this sink was alerted about closes (default on).
    pub notify_closed: Option<bool>,
    /// Send a still-open exposure again, once, after this long (`7d`); off when absent.
    pub remind_after: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsSecurityHubSettings {
    pub access: AwsAccess,
    /// Known without a call: `aws_account_id`, else the role's account; `None` asks STS.
    pub account: Option<String>,
}

fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

pub fn build(
    raw: &RawAwsSecurityHubSink,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<AwsSecurityHubSettings> {
    let before = p.len();
    let access = access::build(
        AccessKeys {
            region: &raw.region,
            profile: raw.profile.as_deref(),
            role_arn: raw.role_arn.as_deref(),
            external_id: raw.external_id.as_ref(),
            session_name: raw.session_name.as_deref(),
            endpoint: raw.endpoint.as_deref(),
        },
        key,
        base,
        p,
    );
    let configured = raw.aws_account_id.as_deref().map(str::trim);
    if let Some(id) = configured {
        if !is_account_id(id) {
            p.push(
                format!("{key}.aws_account_id"),
                format!("`{id}` is not an AWS account id (12 digits)"),
            );
        } else if let Some(role) = access.role.as_ref().filter(|r| r.account != id) {
            p.push(
                format!("{key}.aws_account_id"),
                format!(
                    "Security Hub only takes findings from the account they name, and the role \
                     `{}` acts in account {}: remove `aws_account_id` or make them agree",
                    role.arn, role.account
                ),
            );
        }
    }
    let account = configured
        .map(str::to_owned)
        .or_else(|| access.role.as_ref().map(|r| r.account.clone()));
    (p.len() == before).then_some(AwsSecurityHubSettings { access, account })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(account: Option<&str>, role: Option<&str>) -> RawAwsSecurityHubSink {
        RawAwsSecurityHubSink {
            name: "hub".into(),
            region: "eu-west-1".into(),
            aws_account_id: account.map(str::to_owned),
            profile: None,
            role_arn: role.map(str::to_owned),
            external_id: None,
            session_name: None,
            endpoint: None,
            rules: None,
            min_severity: None,
            notify_closed: None,
            remind_after: None,
        }
    }

    fn built(account: Option<&str>, role: Option<&str>) -> Result<AwsSecurityHubSettings, String> {
        let mut p = Problems::default();
        build(&raw(account, role), "sinks[0]", Path::new("."), &mut p)
            .ok_or_else(|| format!("{:?}", p.into_vec()))
    }

    #[test]
    fn the_account_is_configured_or_the_roles_or_asked_for() {
        let role = "arn:aws:iam::210987654321:role/import";
        assert_eq!(
            built(Some("123456789012"), None)
                .unwrap()
                .account
                .as_deref(),
            Some("123456789012")
        );
        assert_eq!(
            built(None, Some(role)).unwrap().account.as_deref(),
            Some("210987654321")
        );
        assert_eq!(
            built(Some("210987654321"), Some(role))
                .unwrap()
                .account
                .as_deref(),
            Some("210987654321")
        );
        assert_eq!(built(None, None).unwrap().account, None);
    }

    #[test]
    fn a_bad_or_contradicting_account_names_its_key() {
        for bad in ["12345", "12345678901x", ""] {
            let error = built(Some(bad), None).unwrap_err();
            assert!(error.contains("sinks[0].aws_account_id"), "{error}");
        }
        let error = built(
            Some("123456789012"),
            Some("arn:aws:iam::210987654321:role/import"),
        )
        .unwrap_err();
        assert!(error.contains("acts in account 210987654321"), "{error}");
    }
}

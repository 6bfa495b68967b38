//! The keys every AWS source and sink table takes to reach AWS (`region`, `profile`,
//! `endpoint`, `role_arn`, `external_id`, `session_name`), validated once for all of them.

use std::path::Path;

use crate::validation::{Inline, Problems, RawSecret, require_tls, resolve};

const DEFAULT_SESSION_NAME: &str = "nodeport-watch";

/// Where and as whom an AWS client acts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsAccess {
    pub region: String,
    pub profile: Option<String>,
    pub role: Option<AssumeRole>,
    /// Another endpoint (VPC endpoint, FIPS, an emulator); also used for STS.
    pub endpoint: Option<String>,
}

/// A role to assume (cross-account).
#[derive(Clone, PartialEq, Eq)]
pub struct AssumeRole {
    pub arn: String,
    /// The role's account, from its ARN: keys shared rate limits without an STS call.
    pub account: String,
    /// Written by the role's trust policy owner; never logged.
    pub external_id: Option<String>,
    pub session_name: String,
}

// The external ID is a shared secret: debug output must not show it.
impl std::fmt::Debug for AssumeRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssumeRole")
            .field("arn", &self.arn)
            .field("account", &self.account)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "<redacted>"),
            )
            .field("session_name", &self.session_name)
            .finish()
    }
}

/// The access keys of one table, as written.
#[derive(Clone, Copy, Debug)]
pub struct AccessKeys<'a> {
    pub region: &'a str,
    pub profile: Option<&'a str>,
    pub role_arn: Option<&'a str>,
    pub external_id: Option<&'a RawSecret>,
    pub session_name: Option<&'a str>,
    pub endpoint: Option<&'a str>,
}

/// The account of an IAM role ARN (`arn:aws:iam::123456789012:role/name`).
pub fn role_account(arn: &str) -> Result<String, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource]
            if !partition.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.starts_with("role/")
                && resource.len() > "role/".len() =>
        {
            Ok((*account).to_owned())
        }
        _ => Err(format!(
            "`{arn}` is not an IAM role ARN like `arn:aws:iam::123456789012:role/name`"
        )),
    }
}

/// Validates the access keys of the table at `key`; problems are pushed to `p` (the caller
/// drops its settings when there are any).
pub fn build(keys: AccessKeys<'_>, key: &str, base: &Path, p: &mut Problems) -> AwsAccess {
    if keys.region.trim().is_empty() {
        p.push(
            format!("{key}.region"),
            "name the AWS region, e.g. `eu-west-1`",
        );
    }
    let role = keys.role_arn.and_then(|arn| {
        let account = p.check(format!("{key}.role_arn"), role_account(arn))?;
        let external_id = keys.external_id.map(|raw| {
            resolve(p, &format!("{key}.external_id"), raw, Inline::Allowed, base)
                .map(|s| s.expose().to_owned())
        });
        Some(AssumeRole {
            arn: arn.to_owned(),
            account,
            // A reference that could not be read is reported above; the settings are dropped.
            external_id: external_id.flatten(),
            session_name: keys.session_name.unwrap_or(DEFAULT_SESSION_NAME).to_owned(),
        })
    });
    if keys.role_arn.is_none() && (keys.external_id.is_some() || keys.session_name.is_some()) {
        p.push(
            format!("{key}.role_arn"),
            "`external_id` and `session_name` only apply with `role_arn`",
        );
    }
    if let Some(endpoint) = keys.endpoint {
        match url::Url::parse(endpoint) {
            // Signed requests carry the session token of assumed and SSO credentials.
            Ok(u) if matches!(u.scheme(), "http" | "https") => {
                require_tls(p, &format!("{key}.endpoint"), &u, "the AWS session token");
            }
            _ => p.push(
                format!("{key}.endpoint"),
                format!("`{endpoint}` is not an http(s) URL"),
            ),
        }
    }
    AwsAccess {
        region: keys.region.trim().to_owned(),
        profile: keys.profile.map(str::to_owned),
        role,
        endpoint: keys.endpoint.map(str::to_owned),
    }
}

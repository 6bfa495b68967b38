//! The `aws_eventbridge` sink's table as written and validated, beside the code that uses it.
//! The access keys (`region`, `profile`, `endpoint`, `role_arn`, `external_id`,
//! `session_name`) mean the same as the CloudWatch source's ([`crate::aws::access`]).

use std::path::Path;

use serde::Deserialize;

use crate::aws::access::{self, AccessKeys, AwsAccess};
use crate::validation::{Problems, RawSecret};

pub const DEFAULT_EVENT_BUS: &str = "default";
pub const DEFAULT_DETAIL_TYPE: &str = "Service exposure";
/// PutEvents: an event bus name, or its ARN, is at most 1600 characters.
const MAX_EVENT_BUS: usize = 1600;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAwsEventBridgeSink {
    pub name: String,
    pub region: String,
    /// The event bus's name or ARN (default `default`).
    pub event_bus: Option<String>,
    /// The events' `detail-type` (default `Service exposure`).
    pub detail_type: Option<String>,
    /// An AWS profile of the shared config files (SSO, credential_process, source_profile…).
    pub profile: Option<String>,
    /// A role assumed to put the events (cross-account).
    pub role_arn: Option<String>,
    /// Inline, `{ env = … }` or `{ file = … }`.
    pub external_id: Option<RawSecret>,
    pub session_name: Option<String>,
    /// Another EventBridge endpoint (VPC endpoint, FIPS, an emulator).
    pub endpoint: Option<String>,
    pub rules: Option<Vec<String>>,
    pub min_severity: Option<String>,
    /// Send a resolution when an exposure this sink was alerted about closes (default on).
    pub notify_closed: Option<bool>,
    /// Send a still-open exposure again, once, after this long (`7d`); off when absent.
    pub remind_after: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsEventBridgeSettings {
    pub access: AwsAccess,
    pub event_bus: String,
    pub detail_type: String,
}

fn is_event_bus(name: &str) -> bool {
    let name_part = match name.strip_prefix("arn:") {
        // `arn:<partition>:events:<region>:<account>:event-bus/<name>`
        Some(_) => match name.split_once(":event-bus/") {
            Some((prefix, bus)) if prefix.split(':').nth(2) == Some("events") => bus,
            _ => return false,
        },
        None => name,
    };
    (1..=MAX_EVENT_BUS).contains(&name.len())
        && !name_part.is_empty()
        && name_part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_'))
}

pub fn build(
    raw: &RawAwsEventBridgeSink,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<AwsEventBridgeSettings> {
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
    let event_bus = raw.event_bus.as_deref().unwrap_or(DEFAULT_EVENT_BUS);
    if !is_event_bus(event_bus) {
        p.push(
            format!("{key}.event_bus"),
            "must be an event bus name (letters, digits, `/._-`) or its ARN \
             (`arn:aws:events:<region>:<account>:event-bus/<name>`)",
        );
    }
    let detail_type = raw.detail_type.as_deref().unwrap_or(DEFAULT_DETAIL_TYPE);
    if detail_type.trim().is_empty() || detail_type.chars().any(char::is_control) {
        p.push(
            format!("{key}.detail_type"),
            "must be a non-empty text without control characters (rules match on it)",
        );
    }
    (p.len() == before).then(|| AwsEventBridgeSettings {
        access,
        event_bus: event_bus.to_owned(),
        detail_type: detail_type.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_bus_names_and_arns() {
        for ok in [
            "default",
            "security/alerts",
            "a.b-c_d",
            "arn:aws:events:eu-west-1:123456789012:event-bus/security",
            "arn:aws-us-gov:events:us-gov-west-1:123456789012:event-bus/x",
        ] {
            assert!(is_event_bus(ok), "{ok}");
        }
        for bad in [
            "",
            "bus name",
            "bus\nname",
            "arn:aws:sqs:eu-west-1:123456789012:event-bus/x",
            "arn:aws:events:eu-west-1:123456789012:event-bus/",
            &"b".repeat(MAX_EVENT_BUS + 1),
        ] {
            assert!(!is_event_bus(bad), "{bad:?}");
        }
    }
}

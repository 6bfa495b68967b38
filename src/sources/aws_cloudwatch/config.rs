//! `type = "aws_cloudwatch"`: EKS audit logs read from CloudWatch Logs with FilterLogEvents.

use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::filter_pattern::{DEFAULT_PATTERN, FilterPattern};
use crate::aws::{AccessKeys, AwsAccess};
pub use crate::aws::{AssumeRole, role_account};
use crate::sources::Validated;
use crate::sources::time_axis::{RawWindowSettings, WindowDefaults, WindowSettings};
use crate::validation::{Problems, RawSecret, duration};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// The window keys' defaults for CloudWatch (`docs/time-axis.md`).
pub const WINDOW_DEFAULTS: WindowDefaults = WindowDefaults {
    lag: Duration::from_secs(30),
    overlap: Duration::from_secs(120),
    max_span: Duration::from_secs(3600),
    lookback: Duration::ZERO,
};
const DEFAULT_DISCOVERY_INTERVAL: Duration = Duration::from_secs(300);
const DEFAULT_STREAM_PREFIX: &str = "kube-apiserver-audit-";
const DEFAULT_MAX_BATCH_ENTRIES: usize = 5_000;
const DEFAULT_MAX_PAGES: u32 = 10;
/// FilterLogEvents: 5 requests per second per account and region, not raisable.
const DEFAULT_REQUESTS_PER_SECOND: u32 = 5;
/// FilterLogEvents returns at most 10,000 events per page.
const MAX_PAGE_EVENTS: usize = 10_000;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAwsCloudWatchSource {
    pub name: String,
    pub region: String,
    /// Log group names read as they are.
    #[serde(default)]
    pub log_groups: Vec<String>,
    /// EKS cluster names, read from `/aws/eks/<name>/cluster`.
    #[serde(default)]
    pub clusters: Vec<String>,
    /// Every log group whose name starts with this (DescribeLogGroups), e.g. `/aws/eks/`.
    pub log_group_prefix: Option<String>,
    /// How often `log_group_prefix` is listed again.
    pub discovery_interval: Option<String>,
    /// Only streams whose name starts with this are read.
    pub stream_prefix: Option<String>,
    /// An AWS profile of the shared config files (SSO, credential_process, source_profile…).
    pub profile: Option<String>,
    /// A role assumed for this source (cross-account).
    pub role_arn: Option<String>,
    /// Inline, `{ env = … }` or `{ file = … }`.
    pub external_id: Option<RawSecret>,
    pub session_name: Option<String>,
    /// Another CloudWatch Logs endpoint (VPC endpoint, FIPS, an emulator).
    pub endpoint: Option<String>,
    /// Let CloudWatch return Service writes only (default `true`).
    pub filter_pushdown: Option<bool>,
    /// The JSON filter pattern pushed down; the default selects Service create/update/patch.
    pub filter_pattern: Option<String>,
    pub interval: Option<String>,
    /// `lag`, `overlap`, `max_span`, `lookback`, `max_catchup`.
    #[serde(flatten)]
    pub window: RawWindowSettings,
    /// Most events handed over per batch.
    pub max_batch_entries: Option<usize>,
    /// Most FilterLogEvents pages per batch.
    pub max_pages: Option<u32>,
    /// Client-side budget shared by every source on the same account and region.
    pub requests_per_second: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct AwsCloudWatchSettings {
    pub region: String,
    /// Configured log groups (`log_groups` and the groups of `clusters`), deduplicated.
    pub log_groups: Vec<String>,
    pub log_group_prefix: Option<String>,
    pub discovery_interval: Duration,
    pub stream_prefix: String,
    pub profile: Option<String>,
    pub role: Option<AssumeRole>,
    pub endpoint: Option<String>,
    /// `None`: pushdown off, every event of the audit streams is fetched.
    pub filter_pattern: Option<String>,
    pub window: WindowSettings,
    pub max_batch_entries: usize,
    pub max_pages: u32,
    pub requests_per_second: NonZeroU32,
}

/// The log group EKS writes a cluster's control-plane logs to.
pub fn cluster_log_group(cluster: &str) -> String {
    format!("/aws/eks/{cluster}/cluster")
}

fn is_log_group_name(name: &str) -> bool {
    (1..=512).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b'#'))
}

pub(crate) fn build(
    raw: &RawAwsCloudWatchSource,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<Validated<AwsCloudWatchSettings>> {
    let access = crate::aws::access::build(
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
    let mut log_groups = Vec::new();
    for (i, group) in raw.log_groups.iter().enumerate() {
        if is_log_group_name(group) {
            log_groups.push(group.clone());
        } else {
            p.push(
                format!("{key}.log_groups[{i}]"),
                format!("`{group}` is not a log group name (1-512 of `A-Za-z0-9._-/#`)"),
            );
        }
    }
    for (i, cluster) in raw.clusters.iter().enumerate() {
        let group = cluster_log_group(cluster);
        if cluster.is_empty() || cluster.contains('/') || !is_log_group_name(&group) {
            p.push(
                format!("{key}.clusters[{i}]"),
                format!("`{cluster}` is not an EKS cluster name"),
            );
        } else {
            log_groups.push(group);
        }
    }
    let mut seen = std::collections::HashSet::new();
    log_groups.retain(|g| seen.insert(g.clone()));
    let log_group_prefix = raw.log_group_prefix.clone().filter(|prefix| {
        let ok = is_log_group_name(prefix);
        if !ok {
            p.push(
                format!("{key}.log_group_prefix"),
                format!("`{prefix}` is not the start of a log group name"),
            );
        }
        ok
    });
    if raw.log_groups.is_empty() && raw.clusters.is_empty() && raw.log_group_prefix.is_none() {
        p.push(
            key,
            "name what to read: `clusters`, `log_groups` and/or `log_group_prefix`",
        );
    }

    let filter_pattern = match (raw.filter_pushdown.unwrap_or(true), &raw.filter_pattern) {
        (false, Some(_)) => {
            p.push(
                format!("{key}.filter_pattern"),
                "a `filter_pattern` with `filter_pushdown = false` would be ignored; remove one",
            );
            None
        }
        (false, None) => None,
        (true, None) => Some(DEFAULT_PATTERN.to_owned()),
        (true, Some(text)) => p
            .check(
                format!("{key}.filter_pattern"),
                FilterPattern::parse(text).map_err(|e| e.to_string()),
            )
            .map(|pattern| pattern.text().to_owned()),
    };

    let max_batch_entries = raw.max_batch_entries.unwrap_or(DEFAULT_MAX_BATCH_ENTRIES);
    if max_batch_entries == 0 {
        p.push(format!("{key}.max_batch_entries"), "must be at least 1");
    }
    let max_pages = raw.max_pages.unwrap_or(DEFAULT_MAX_PAGES);
    if max_pages == 0 {
        p.push(format!("{key}.max_pages"), "must be at least 1");
    }
    let requests_per_second = p.check(
        format!("{key}.requests_per_second"),
        NonZeroU32::new(
            raw.requests_per_second
                .unwrap_or(DEFAULT_REQUESTS_PER_SECOND),
        )
        .ok_or_else(|| "must be at least 1".to_owned()),
    );
    let d = |p: &mut Problems, field: &str, value: &Option<String>, default: Duration| {
        duration(p, &format!("{key}.{field}"), value.as_deref()).unwrap_or(default)
    };
    let window = raw.window.build(key, WINDOW_DEFAULTS, p);

    let settings = AwsCloudWatchSettings {
        region: access.region,
        log_groups,
        log_group_prefix,
        discovery_interval: d(
            p,
            "discovery_interval",
            &raw.discovery_interval,
            DEFAULT_DISCOVERY_INTERVAL,
        ),
        stream_prefix: raw
            .stream_prefix
            .clone()
            .unwrap_or_else(|| DEFAULT_STREAM_PREFIX.to_owned()),
        profile: access.profile,
        role: access.role,
        endpoint: access.endpoint,
        filter_pattern,
        window,
        max_batch_entries: max_batch_entries.max(1),
        max_pages: max_pages.max(1),
        requests_per_second: requests_per_second.unwrap_or(NonZeroU32::MIN),
    };
    Some(Validated {
        interval: d(p, "interval", &raw.interval, DEFAULT_INTERVAL),
        max_catchup: window.max_catchup,
        settings,
    })
}

impl AwsCloudWatchSettings {
    /// How the source reaches AWS, for [`crate::aws::sdk_config`].
    pub fn access(&self) -> AwsAccess {
        AwsAccess {
            region: self.region.clone(),
            profile: self.profile.clone(),
            role: self.role.clone(),
            endpoint: self.endpoint.clone(),
        }
    }

    /// Events asked for per FilterLogEvents page: never more than a batch still has room for.
    pub fn page_limit(&self, room: usize) -> i32 {
        i32::try_from(room.clamp(1, MAX_PAGE_EVENTS)).unwrap_or(1)
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

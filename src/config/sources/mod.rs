//! `[[sources]]`: the raw tables and their validated settings, one file per source type.
//!
//! A new source type adds a variant to [`RawSource`] (and its `TYPES` and `decode` arms) and
//! [`SourceKind`], and a `config.rs` beside its code holding its raw table, its settings and the
//! function that builds one from the other (as `sources/file/config.rs` does).

// The cloud sources keep their config beside their code; these names keep the dispatch below
// and `config::sources::<type>` paths working.
pub use crate::sources::aws_cloudwatch::config as aws_cloudwatch;
pub use crate::sources::azure::config as azure_credential;
pub use crate::sources::azure_blob::config as azure_blob;
pub use crate::sources::azure_monitor::config as azure_monitor;
pub use crate::sources::gcp_logging::config as gcp_logging;

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::sources::Validated;

pub use crate::sources::file::{FileSourceSettings, RawFileSource, StartAt};
pub use aws_cloudwatch::{AssumeRole, AwsCloudWatchSettings, RawAwsCloudWatchSource};
pub use azure_blob::{AzureBlobSettings, RawAzureBlobSource};
pub use azure_monitor::{AzureMonitorSettings, RawAzureMonitorSource};
pub use gcp_logging::{GcpCredentials, GcpLoggingSettings, RawGcpLoggingSource};

use serde_value::Value;

use super::decode;
use crate::validation::Problems;

// Parsed once at startup: the size of the largest table does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RawSource {
    File(RawFileSource),
    AzureMonitor(RawAzureMonitorSource),
    AzureBlob(RawAzureBlobSource),
    GcpLogging(RawGcpLoggingSource),
    #[serde(rename = "aws_cloudwatch")]
    AwsCloudWatch(RawAwsCloudWatchSource),
}

impl RawSource {
    /// The `type` of each variant, as written in the file.
    pub const TYPES: &[&str] = &[
        "file",
        "azure_monitor",
        "azure_blob",
        "gcp_logging",
        "aws_cloudwatch",
    ];

    /// Decodes one `[[sources]]` table whose `type` was `kind` (already taken out), reporting
    /// every problem under `key`.
    pub fn decode(kind: &str, table: Value, key: &str, p: &mut Problems) -> Option<RawSource> {
        match kind {
            "file" => decode::table(table, key, p).map(RawSource::File),
            "azure_monitor" => decode::table(table, key, p).map(RawSource::AzureMonitor),
            "azure_blob" => decode::table(table, key, p).map(RawSource::AzureBlob),
            "gcp_logging" => decode::table(table, key, p).map(RawSource::GcpLogging),
            "aws_cloudwatch" => decode::table(table, key, p).map(RawSource::AwsCloudWatch),
            _ => None,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            RawSource::File(s) => &s.name,
            RawSource::AzureMonitor(s) => &s.name,
            RawSource::AzureBlob(s) => &s.name,
            RawSource::GcpLogging(s) => &s.name,
            RawSource::AwsCloudWatch(s) => &s.name,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SourceSettings {
    pub name: String,
    pub interval: Duration,
    /// On restart, a checkpoint further behind than this is moved forward (and the gap logged)
    /// instead of catching up; `None` always catches up.
    pub max_catchup: Option<Duration>,
    pub kind: SourceKind,
}

#[derive(Clone, Debug)]
pub enum SourceKind {
    File(FileSourceSettings),
    AzureMonitor(AzureMonitorSettings),
    AzureBlob(AzureBlobSettings),
    GcpLogging(GcpLoggingSettings),
    AwsCloudWatch(Box<AwsCloudWatchSettings>),
}

impl SourceKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceKind::File(_) => "file",
            SourceKind::AzureMonitor(_) => "azure_monitor",
            SourceKind::AzureBlob(_) => "azure_blob",
            SourceKind::GcpLogging(_) => "gcp_logging",
            SourceKind::AwsCloudWatch(_) => "aws_cloudwatch",
        }
    }
}

/// Validates one `[[sources]]` table; problems are reported under `key`.
pub(super) fn build(
    raw: &RawSource,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<SourceSettings> {
    match raw {
        RawSource::File(f) => {
            let (interval, settings) = crate::sources::file::config::build(f, key, base, p);
            Some(SourceSettings {
                name: f.name.clone(),
                interval,
                // File offsets have no time axis: a file source always reads what it has not read.
                max_catchup: None,
                kind: SourceKind::File(settings),
            })
        }
        RawSource::AzureMonitor(s) => {
            azure_monitor::build(s, key, p).map(|v| wrap(&s.name, v, SourceKind::AzureMonitor))
        }
        RawSource::AzureBlob(s) => {
            azure_blob::build(s, key, base, p).map(|v| wrap(&s.name, v, SourceKind::AzureBlob))
        }
        RawSource::GcpLogging(g) => {
            gcp_logging::build(g, key, base, p).map(|v| wrap(&g.name, v, SourceKind::GcpLogging))
        }
        RawSource::AwsCloudWatch(s) => aws_cloudwatch::build(s, key, base, p)
            .map(|v| wrap(&s.name, v, |s| SourceKind::AwsCloudWatch(Box::new(s)))),
    }
}

fn wrap<S>(name: &str, v: Validated<S>, kind: impl FnOnce(S) -> SourceKind) -> SourceSettings {
    SourceSettings {
        name: name.to_owned(),
        interval: v.interval,
        max_catchup: v.max_catchup,
        kind: kind(v.settings),
    }
}

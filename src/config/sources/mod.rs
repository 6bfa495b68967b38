//! `[[sources]]`: the raw tables and their validated settings, one file per source type.
//!
//! A new source type adds a variant to [`RawSource`] and [`SourceKind`] and a `config.rs` beside
//! its code (`src/sources/<type>/config.rs`) holding its raw table, its settings and the function
//! that builds one from the other. The file source's config still lives here.

pub mod file;

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

pub use aws_cloudwatch::{AssumeRole, AwsCloudWatchSettings, RawAwsCloudWatchSource};
pub use azure_blob::{AzureBlobSettings, RawAzureBlobSource};
pub use azure_monitor::{AzureMonitorSettings, RawAzureMonitorSource};
pub use file::{FileSourceSettings, RawFileSource, StartAt};
pub use gcp_logging::{GcpCredentials, GcpLoggingSettings, RawGcpLoggingSource};

use super::settings::Problems;

// Parsed once at startup: the size of the largest table does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Deserialize)]
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
        RawSource::File(f) => file::build(f, key, base, p),
        RawSource::AzureMonitor(s) => azure_monitor::build(s, key, p),
        RawSource::AzureBlob(s) => azure_blob::build(s, key, p),
        RawSource::GcpLogging(g) => gcp_logging::build(g, key, base, p),
        RawSource::AwsCloudWatch(s) => aws_cloudwatch::build(s, key, base, p),
    }
}

//! The `file` source's table: as written ([`RawFileSource`]) and validated
//! ([`FileSourceSettings`]). It imports only the validation toolkit and the model, so the
//! source's folder holds everything about it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::model::{Format, Provider};
use crate::validation::{Problems, duration, size};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
const DEFAULT_MAX_RECORD: usize = 4 * 1024 * 1024;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFileSource {
    pub name: String,
    /// Files, directories (their files, not recursive) or glob patterns.
    pub paths: Vec<String>,
    /// `auto` (default), `k8s`, `eks`, `gke` or `aks`.
    pub format: Option<String>,
    pub interval: Option<String>,
    /// Reported for events whose record does not name them.
    pub cluster: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    /// `beginning` (default) or `end`: where to start in files seen for the first time.
    pub start_at: Option<String>,
    /// Longest record accepted, e.g. `4MiB`.
    pub max_record_size: Option<String>,
}

#[derive(Clone, Debug, Copy, PartialEq, Eq)]
pub enum StartAt {
    Beginning,
    End,
}

#[derive(Clone, Debug)]
pub struct FileSourceSettings {
    /// Files, directories or glob patterns, absolute.
    pub paths: Vec<PathBuf>,
    pub format: Format,
    pub cluster: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub start_at: StartAt,
    pub max_record_bytes: usize,
}

impl FileSourceSettings {
    /// The provider of bare audit Events in these files.
    pub fn provider(&self) -> Option<Provider> {
        match self.format {
            Format::Eks => Some(Provider::Eks),
            Format::Gke => Some(Provider::Gke),
            Format::Aks => Some(Provider::Aks),
            Format::K8s | Format::Auto => None,
        }
    }
}

/// Validates one `type = "file"` table; returns its poll interval and settings, problems are
/// reported under `key`. Relative paths are taken from `base` (the configuration's folder).
pub fn build(
    raw: &RawFileSource,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> (Duration, FileSourceSettings) {
    if raw.paths.is_empty() {
        p.push(
            format!("{key}.paths"),
            "list at least one file, directory or pattern",
        );
    }
    let start_at = match raw.start_at.as_deref() {
        None | Some("beginning") => StartAt::Beginning,
        Some("end") => StartAt::End,
        Some(other) => {
            p.push(
                format!("{key}.start_at"),
                format!("`{other}` is not `beginning` or `end`"),
            );
            StartAt::Beginning
        }
    };
    let settings = FileSourceSettings {
        paths: raw.paths.iter().map(|path| base.join(path)).collect(),
        format: raw
            .format
            .as_deref()
            .and_then(|f| p.check(format!("{key}.format"), f.parse::<Format>()))
            .unwrap_or_default(),
        cluster: raw.cluster.clone(),
        account: raw.account.clone(),
        region: raw.region.clone(),
        start_at,
        max_record_bytes: size(
            p,
            &format!("{key}.max_record_size"),
            raw.max_record_size.as_deref(),
        )
        .unwrap_or(DEFAULT_MAX_RECORD),
    };
    let interval = duration(p, &format!("{key}.interval"), raw.interval.as_deref())
        .unwrap_or(DEFAULT_INTERVAL);
    (interval, settings)
}

//! The `file` sink's table as written and validated, beside the code that uses it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::sinks::OutputFormat;
use crate::sinks::http::config::output_format;
use crate::validation::Problems;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFileSink {
    pub name: String,
    pub path: String,
    /// `native` (the alert document, default), `ocsf` (an OCSF Detection Finding) or `falco`.
    pub format: Option<String>,
    pub rules: Option<Vec<String>>,
    pub min_severity: Option<String>,
    /// Send a resolution when an exposure this sink was alerted about closes (default on).
    pub notify_closed: Option<bool>,
    /// Send a still-open exposure again, once, after this long (`7d`); off when absent.
    pub remind_after: Option<String>,
}

#[derive(Clone, Debug)]
pub struct FileSinkSettings {
    pub path: PathBuf,
    pub format: OutputFormat,
}

pub fn build(
    raw: &RawFileSink,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<FileSinkSettings> {
    if raw.path.trim().is_empty() {
        p.push(format!("{key}.path"), "name the file to append alerts to");
        return None;
    }
    Some(FileSinkSettings {
        path: base.join(&raw.path),
        format: output_format(p, key, raw.format.as_deref()),
    })
}

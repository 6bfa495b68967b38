//! The top-level [`Settings`]: validated, typed values gathered from each component's config.
//!
//! Validation never stops at the first problem: `validate` shows the user every mistake at once,
//! each with the key it concerns (`sources[1].interval: …`).

use std::collections::HashSet;
use std::path::Path;

use super::detection::{self, DetectionSettings};
use super::raw::RawConfig;
use super::scans::{self, ScanSchedule};
use super::server::{self, ServerSettings};
use super::sinks::{self, SinkSettings};
use super::sources::{self, SourceSettings};
use crate::delivery::RetryPolicy;
use crate::state::StateSettings;
use crate::telemetry::logging::LogFormat;
use crate::validation::{Problem, Problems, duration};
// Transitional: the cloud sources' config files still import the toolkit from here; once they
// sit beside their code they import `crate::validation` directly and this line goes.

#[derive(Clone, Debug)]
pub struct Settings {
    pub state: StateSettings,
    /// `[state] retention`: how long delivered alerts are kept.
    pub retention: std::time::Duration,
    pub log_format: LogFormat,
    pub log_level: String,
    pub detection: DetectionSettings,
    pub delivery: RetryPolicy,
    pub sources: Vec<SourceSettings>,
    pub sinks: Vec<SinkSettings>,
    /// `None`: no health or metrics endpoint.
    pub server: Option<ServerSettings>,
    pub scans: Vec<ScanSchedule>,
}

impl Settings {
    /// Builds settings from the raw file; relative paths are taken from `base_dir` (the
    /// directory of the configuration file), so a config works from any working directory.
    pub fn from_raw(raw: RawConfig, base_dir: &Path) -> Result<Settings, Vec<Problem>> {
        let mut p = Problems::default();
        let state = StateSettings::from_raw(&raw.state, base_dir, &mut p);
        let retention = crate::state::settings::retention(&raw.state, &mut p);
        let log_format = match raw.log.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                p.push("log.format", format!("`{other}` is not `text` or `json`"));
                LogFormat::Text
            }
        };
        let log_level = raw.log.level.unwrap_or_else(|| "info".to_owned());
        let detection = detection::build(&raw.detection, &mut p);
        let delivery = RetryPolicy {
            min_backoff: duration(
                &mut p,
                "delivery.min_backoff",
                raw.delivery.min_backoff.as_deref(),
            )
            .unwrap_or(RetryPolicy::default().min_backoff),
            max_backoff: duration(
                &mut p,
                "delivery.max_backoff",
                raw.delivery.max_backoff.as_deref(),
            )
            .unwrap_or(RetryPolicy::default().max_backoff),
            max_attempts: raw.delivery.max_attempts,
            idle_poll: duration(
                &mut p,
                "delivery.poll_interval",
                raw.delivery.poll_interval.as_deref(),
            )
            .unwrap_or(RetryPolicy::default().idle_poll),
        };
        if delivery.max_attempts == Some(0) {
            p.push(
                "delivery.max_attempts",
                "must be at least 1; remove it to retry forever",
            );
        }
        if delivery.idle_poll.is_zero() {
            p.push("delivery.poll_interval", "must be longer than zero");
        }

        let mut names = HashSet::new();
        let mut sources = Vec::new();
        for (i, source) in raw.sources.iter().enumerate() {
            let key = format!("sources[{i}]");
            check_name(&mut p, &key, source.name(), &mut names);
            if let Some(s) = sources::build(source, &key, base_dir, &mut p) {
                sources.push(s);
            }
        }
        let mut names = HashSet::new();
        let mut sinks = Vec::new();
        for (i, sink) in raw.sinks.iter().enumerate() {
            let key = format!("sinks[{i}]");
            check_name(&mut p, &key, sink.name(), &mut names);
            if let Some(s) = sinks::build(sink, &key, base_dir, &mut p) {
                sinks.push(s);
            }
        }
        let server = raw.server.as_ref().and_then(|s| server::build(s, &mut p));
        let source_names: HashSet<&str> = raw.sources.iter().map(|s| s.name()).collect();
        let mut names = HashSet::new();
        let mut scans = Vec::new();
        for (i, scan) in raw.scans.iter().enumerate() {
            let key = format!("scans[{i}]");
            check_name(&mut p, &key, &scan.name, &mut names);
            if let Some(s) = scans::build(scan, &key, &source_names, &mut p) {
                scans.push(s);
            }
        }
        if raw.sinks.is_empty() {
            p.push(
                "sinks",
                "no sink is configured: alerts would only be stored; add a [[sinks]] table",
            );
        }

        if !p.is_empty() {
            return Err(p.into_vec());
        }
        let Some(state) = state else {
            // Unreachable in practice: a missing state always left a problem above.
            return Err(p.into_vec());
        };
        Ok(Settings {
            state,
            retention,
            log_format,
            log_level,
            detection,
            delivery,
            sources,
            sinks,
            server,
            scans,
        })
    }

    pub fn source(&self, name: &str) -> Option<&SourceSettings> {
        self.sources.iter().find(|s| s.name == name)
    }
}

fn check_name(p: &mut Problems, key: &str, name: &str, seen: &mut HashSet<String>) {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        p.push(
            format!("{key}.name"),
            format!("`{name}` must be non-empty and use only letters, digits, `-`, `_` and `.`"),
        );
    } else if !seen.insert(name.to_owned()) {
        p.push(format!("{key}.name"), format!("`{name}` is used twice"));
    }
}

//! Validated, typed settings built from the raw file.
//!
//! Validation never stops at the first problem: `validate` shows the user every mistake at once,
//! each with the key it concerns (`sources[1].interval: …`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::raw::{RawConfig, RawDetection, RawException};
use super::scans::{self, ScanSchedule};
use super::server::{self, ServerSettings};
use super::sinks::{self, SinkSettings};
use super::sources::{self, SourceSettings};
use crate::delivery::RetryPolicy;
use crate::detect::{Exception, Patterns};
use crate::model::{Format, RuleId};
use crate::state::StateSettings;
use crate::telemetry::logging::LogFormat;

/// One thing wrong with the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Collects problems while the settings are built.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    /// Keeps the value, or records the error under `key`.
    pub fn check<T>(&mut self, key: impl Into<String>, r: Result<T, String>) -> Option<T> {
        r.map_err(|e| self.push(key, e)).ok()
    }

    pub fn into_vec(self) -> Vec<Problem> {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems so far: a builder compares before and after to know if its part failed.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub state: StateSettings,
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

#[derive(Clone, Debug)]
pub struct DetectionSettings {
    pub rules: BTreeSet<RuleId>,
    pub include_raw: bool,
    pub exceptions: Vec<Exception>,
}

impl Settings {
    /// Builds settings from the raw file; relative paths are taken from `base_dir` (the
    /// directory of the configuration file), so a config works from any working directory.
    pub fn from_raw(raw: RawConfig, base_dir: &Path) -> Result<Settings, Vec<Problem>> {
        let mut p = Problems::default();
        let state = StateSettings::from_raw(&raw.state, base_dir, &mut p);
        let log_format = match raw.log.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                p.push("log.format", format!("`{other}` is not `text` or `json`"));
                LogFormat::Text
            }
        };
        let log_level = raw.log.level.unwrap_or_else(|| "info".to_owned());
        let detection = detection(&raw.detection, &mut p);
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

fn detection(raw: &RawDetection, p: &mut Problems) -> DetectionSettings {
    let rules = match &raw.rules {
        None => crate::detect::Detector::default_rules(),
        Some(list) => rule_set(p, "detection.rules", list),
    };
    let exceptions = raw
        .exceptions
        .iter()
        .enumerate()
        .filter_map(|(i, e)| exception(p, &format!("detection.exceptions[{i}]"), e))
        .collect();
    DetectionSettings {
        rules,
        include_raw: raw.include_raw.unwrap_or(false),
        exceptions,
    }
}

pub fn rule_set(p: &mut Problems, key: &str, list: &[String]) -> BTreeSet<RuleId> {
    list.iter()
        .filter_map(|name| {
            p.check(
                key,
                RuleId::parse(name).ok_or_else(|| {
                    format!(
                        "unknown rule `{name}` (known: {})",
                        RuleId::ALL.map(RuleId::as_str).join(", ")
                    )
                }),
            )
        })
        .collect()
}

fn exception(p: &mut Problems, key: &str, raw: &RawException) -> Option<Exception> {
    let before = p.0.len();
    let mut patterns = |field: &str, list: &Option<Vec<String>>| {
        list.as_ref().and_then(|l| {
            p.check(
                format!("{key}.{field}"),
                Patterns::new(l).map_err(|e| format!("invalid pattern: {e}")),
            )
        })
    };
    let clusters = patterns("clusters", &raw.clusters);
    let namespaces = patterns("namespaces", &raw.namespaces);
    let services = patterns("services", &raw.services);
    let users = patterns("users", &raw.users);
    let groups = patterns("groups", &raw.groups);
    let mut labels = BTreeMap::new();
    for (label, pattern) in raw.labels.iter().flatten() {
        if let Some(pat) = p.check(
            format!("{key}.labels.{label}"),
            Patterns::new(std::slice::from_ref(pattern))
                .map_err(|e| format!("invalid pattern: {e}")),
        ) {
            labels.insert(label.clone(), pat);
        }
    }
    let rules = raw
        .rules
        .as_ref()
        .map(|r| rule_set(p, &format!("{key}.rules"), r))
        .unwrap_or_default();
    let expires = raw
        .expires
        .as_deref()
        .and_then(|s| p.check(format!("{key}.expires"), parse_expiry(s)));
    // Judge by what was written, so an invalid pattern is not also reported as missing.
    let criteria = [
        &raw.clusters,
        &raw.namespaces,
        &raw.services,
        &raw.users,
        &raw.groups,
    ]
    .iter()
    .any(|c| c.as_ref().is_some_and(|l| !l.is_empty()))
        || raw.labels.as_ref().is_some_and(|l| !l.is_empty());
    if !criteria {
        p.push(
            key,
            "an exception needs at least one of clusters, namespaces, services, users, groups or labels",
        );
    }
    (p.0.len() == before).then_some(Exception {
        rules,
        clusters,
        namespaces,
        services,
        users,
        groups,
        labels,
        reason: raw.reason.clone(),
        expires,
    })
}

/// RFC 3339, or a date meaning "through the end of that day, UTC".
pub fn parse_expiry(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.succ_opt())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("`{s}` is not a date (2026-12-31) or an RFC 3339 time"))
}

/// `30s`, `5m`, `1h 30m`.
pub fn duration(p: &mut Problems, key: &str, value: Option<&str>) -> Option<Duration> {
    let value = value?;
    p.check(
        key,
        humantime::parse_duration(value)
            .map_err(|e| format!("`{value}` is not a duration like `30s` or `5m`: {e}")),
    )
}

/// `512KiB`, `4MiB`, `1048576`.
pub fn size(p: &mut Problems, key: &str, value: Option<&str>) -> Option<usize> {
    let value = value?;
    let s = value.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let unit = match s[digits..].trim() {
        "" | "B" => Some(1usize),
        "KiB" | "KB" | "K" => Some(1 << 10),
        "MiB" | "MB" | "M" => Some(1 << 20),
        "GiB" | "GB" | "G" => Some(1 << 30),
        _ => None,
    };
    let parsed = s[..digits]
        .parse::<usize>()
        .ok()
        .zip(unit)
        .and_then(|(n, u)| n.checked_mul(u))
        .filter(|n| *n > 0);
    p.check(
        key,
        parsed.ok_or_else(|| format!("`{value}` is not a size like `512KiB` or `4MiB`")),
    )
}

pub fn format(p: &mut Problems, key: &str, value: Option<&str>) -> Format {
    value
        .and_then(|v| p.check(key, v.parse::<Format>()))
        .unwrap_or_default()
}

//! `[[sinks]]`: the raw tables and their validated settings.
//!
//! A new sink type adds a variant to [`RawSink`] and [`SinkKind`]; a sink with many options
//! keeps its raw table and settings in a file of its own here.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::settings::{Problems, rule_set};
use crate::alert::SinkRoute;
use crate::model::Severity;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RawSink {
    Stdout(RawStdoutSink),
    File(RawFileSink),
}

/// Which alerts a sink receives. Every sink table repeats these keys: serde cannot flatten a
/// shared struct into a table that rejects unknown keys.
#[derive(Clone, Copy, Debug, Default)]
pub struct SinkFilter<'a> {
    pub rules: Option<&'a [String]>,
    pub min_severity: Option<&'a str>,
}

impl RawSink {
    pub fn name(&self) -> &str {
        match self {
            RawSink::Stdout(s) => &s.name,
            RawSink::File(s) => &s.name,
        }
    }

    pub fn filter(&self) -> SinkFilter<'_> {
        let (rules, min_severity) = match self {
            RawSink::Stdout(s) => (&s.rules, &s.min_severity),
            RawSink::File(s) => (&s.rules, &s.min_severity),
        };
        SinkFilter {
            rules: rules.as_deref(),
            min_severity: min_severity.as_deref(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStdoutSink {
    pub name: String,
    pub rules: Option<Vec<String>>,
    pub min_severity: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFileSink {
    pub name: String,
    pub path: String,
    pub rules: Option<Vec<String>>,
    pub min_severity: Option<String>,
}

#[derive(Clone, Debug)]
pub struct SinkSettings {
    pub name: String,
    pub route: SinkRoute,
    pub kind: SinkKind,
}

#[derive(Clone, Debug)]
pub enum SinkKind {
    Stdout,
    File { path: PathBuf },
}

impl SinkKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            SinkKind::Stdout => "stdout",
            SinkKind::File { .. } => "file",
        }
    }
}

/// Validates one `[[sinks]]` table; problems are reported under `key`.
pub(super) fn build(
    raw: &RawSink,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<SinkSettings> {
    let route = route(p, key, raw.name(), raw.filter());
    let kind = match raw {
        RawSink::Stdout(_) => SinkKind::Stdout,
        RawSink::File(f) => SinkKind::File {
            path: base.join(&f.path),
        },
    };
    Some(SinkSettings {
        name: raw.name().to_owned(),
        route,
        kind,
    })
}

fn route(p: &mut Problems, key: &str, name: &str, filter: SinkFilter<'_>) -> SinkRoute {
    let min_severity = filter
        .min_severity
        .and_then(|s| {
            p.check(
                format!("{key}.min_severity"),
                Severity::parse(s).ok_or_else(|| {
                    format!("`{s}` is not one of info, low, medium, high, critical")
                }),
            )
        })
        .unwrap_or(Severity::Info);
    SinkRoute {
        sink: name.to_owned(),
        rules: filter
            .rules
            .map(|r| rule_set(p, &format!("{key}.rules"), r)),
        min_severity,
    }
}

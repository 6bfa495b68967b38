//! Reading the file and the environment into one tree, then into the raw tables.
//!
//! The `config` crate merges the file with `NODEPORT_WATCH__…` variables; the merged tree is
//! then decoded table by table ([`super::decode`]) so that every problem is found in one pass.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_value::Value;
use thiserror::Error;

use super::decode::{self, entries, items, take_type, unknown_key};
use super::locate::{ENV_PREFIX, Located, Locator, Origin, syntax_error};
use super::raw::{RawConfig, RawState};
use super::settings::Settings;
use super::sinks::RawSink;
use super::sources::RawSource;
use crate::state::StateSettings;
use crate::validation::Problems;

/// The top-level tables, for "did you mean" on a misspelled one.
const TOP_LEVEL: &[&str] = &[
    "state",
    "log",
    "detection",
    "delivery",
    "sources",
    "sinks",
    "server",
    "scans",
];

/// The file's text (for line numbers) and the merged tree.
pub struct Loaded {
    pub text: Option<String>,
    pub tables: BTreeMap<String, Value>,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: no such file; give --config the path of a TOML configuration file")]
    Missing { path: String },
    #[error(
        "{path} is a folder; give --config the configuration file itself (e.g. {path}/config.toml)"
    )]
    Folder { path: String },
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}: {}", Listed(.problems))]
    Invalid {
        path: String,
        problems: Vec<Located>,
    },
}

/// "3 problems:" and one line each.
struct Listed<'a>(&'a [Located]);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} problem{}:", if n == 1 { "" } else { "s" })?;
        for problem in self.0 {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

fn base_dir(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

fn invalid(path: &Path, text: Option<String>, problems: Problems) -> ConfigError {
    let locator = Locator::new(path, text);
    let mut problems: Vec<Located> = problems
        .into_vec()
        .into_iter()
        .map(|p| locator.locate(p))
        .collect();
    // Top to bottom through the file, as the reader fixes them; variables and keys without a
    // line come last.
    problems.sort_by_key(|p| match &p.origin {
        Origin::File {
            line: Some(line), ..
        } => (0, *line),
        Origin::File { line: None, .. } => (1, 0),
        Origin::Env(_) => (2, 0),
    });
    ConfigError::Invalid {
        path: path.display().to_string(),
        problems,
    }
}

/// Reads the file and the environment into the raw form, reporting every problem of shape
/// (types, unknown keys, missing keys) at once.
pub fn load_raw(path: &Path) -> Result<RawConfig, ConfigError> {
    let mut p = Problems::default();
    let loaded = read(path, &mut p)?;
    let (raw, _) = decode_all(loaded.tables, &mut p);
    if p.is_empty() {
        Ok(raw)
    } else {
        Err(invalid(path, loaded.text, p))
    }
}

/// Reads the `[state]` settings of the configuration at `path`, ignoring everything else: what
/// `alerts` (and any command that just reads the store) needs. No secret is resolved, so a sink
/// whose secret is missing from this shell does not stop an operator from looking at the outbox.
pub fn load_state(path: &Path) -> Result<StateSettings, ConfigError> {
    let mut p = Problems::default();
    let mut loaded = read(path, &mut p)?;
    let state: RawState = loaded
        .tables
        .remove("state")
        .and_then(|v| decode::table(v, "state", &mut p))
        .unwrap_or_default();
    let settings = StateSettings::from_raw(&state, base_dir(path), &mut p);
    match settings {
        Some(settings) if p.is_empty() => Ok(settings),
        _ => Err(invalid(path, loaded.text, p)),
    }
}

/// Reads and validates the configuration at `path`.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let mut p = Problems::default();
    let loaded = read(path, &mut p)?;
    let (raw, numbering) = decode_all(loaded.tables, &mut p);
    let later = match Settings::from_raw(raw, base_dir(path)) {
        Ok(settings) if p.is_empty() => return Ok(settings),
        Ok(_) => Vec::new(),
        Err(later) => later,
    };
    for problem in later {
        // Checks across elements are guesses when an element could not be read at all.
        let across = problem.key == "sinks" || problem.message.starts_with("no source named");
        if numbering.incomplete && across {
            continue;
        }
        p.push(numbering.renumber(&problem.key), problem.message);
    }
    Err(invalid(path, loaded.text, p))
}

/// Reads the file at `path` and the environment; a missing file or a folder is said once.
fn read(path: &Path, p: &mut Problems) -> Result<Loaded, ConfigError> {
    let shown = path.display().to_string();
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::Missing { path: shown });
        }
        Err(e) => {
            return Err(ConfigError::Read {
                path: shown,
                message: e.to_string(),
            });
        }
        Ok(m) if m.is_dir() => return Err(ConfigError::Folder { path: shown }),
        Ok(_) => {}
    }
    // Read again for spans only: a file we cannot read here fails in the builder just below.
    let text = std::fs::read_to_string(path).ok();
    // The `toml` parser's message and position, never the line itself: it may hold a secret.
    if let Some((text, Err(e))) = text.as_deref().map(|t| (t, toml::de::DeTable::parse(t))) {
        return Err(ConfigError::Read {
            path: shown,
            message: syntax_error(text, e.message(), e.span()),
        });
    }
    let mut builder = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml));
    for (variable, key, value) in env_overrides() {
        builder = builder
            .set_override(&key, value)
            .map_err(|e| ConfigError::Read {
                path: variable,
                message: e.to_string(),
            })?;
    }
    let tree: Value = builder
        .build()
        .and_then(config::Config::try_deserialize)
        .map_err(|e| ConfigError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
    let tables = entries(tree, "", p).unwrap_or_default();
    Ok(Loaded { text, tables })
}

/// `NODEPORT_WATCH__SOURCES__0__INTERVAL=5s` → (`sources[0].interval`, `"5s"`), for every such
/// variable. Not `config::Environment`: it cannot address an element of `[[sources]]` (it turns
/// the list into a table keyed `"0"`), and an override of one source's key is what operators
/// need most. Values are typed like its `try_parsing`: booleans, integers, decimals, else text.
fn env_overrides() -> Vec<(String, String, config::Value)> {
    let prefix = format!("{ENV_PREFIX}__");
    let mut overrides = Vec::new();
    for (variable, value) in std::env::vars_os() {
        let (Some(variable), Some(value)) = (variable.to_str(), value.to_str()) else {
            continue;
        };
        let Some(rest) = variable.strip_prefix(&prefix) else {
            continue;
        };
        let mut key = String::new();
        for part in rest.split("__") {
            let part = part.to_lowercase();
            if part.parse::<usize>().is_ok() && !key.is_empty() {
                key.push_str(&format!("[{part}]"));
            } else {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(&part);
            }
        }
        let typed = if let Ok(b) = value.parse::<bool>() {
            config::Value::from(b)
        } else if let Ok(i) = value.parse::<i64>() {
            config::Value::from(i)
        } else if let Ok(f) = value.parse::<f64>() {
            config::Value::from(f)
        } else {
            config::Value::from(value)
        };
        overrides.push((variable.to_owned(), key, typed));
    }
    overrides
}

/// Index maps from the raw lists back to the file's elements, for elements that did not decode
/// (their problems are already reported; later problems must keep the file's numbering).
#[derive(Debug, Default)]
pub struct Numbering {
    pub sources: Vec<usize>,
    pub sinks: Vec<usize>,
    pub scans: Vec<usize>,
    /// Some element did not decode, so checks across elements (a scan naming a source, "no
    /// sink") would be guesses.
    pub incomplete: bool,
}

impl Numbering {
    /// `sources[1].interval` of the decoded list → the key of the element in the file.
    pub fn renumber(&self, key: &str) -> String {
        for (list, map) in [
            ("sources", &self.sources),
            ("sinks", &self.sinks),
            ("scans", &self.scans),
        ] {
            let Some(rest) = key.strip_prefix(list).and_then(|r| r.strip_prefix('[')) else {
                continue;
            };
            let Some((index, tail)) = rest.split_once(']') else {
                continue;
            };
            if let Some(original) = index.parse::<usize>().ok().and_then(|i| map.get(i)) {
                return format!("{list}[{original}]{tail}");
            }
        }
        key.to_owned()
    }
}

/// Decodes every top-level table and list element on its own, collecting every problem.
pub fn decode_all(tables: BTreeMap<String, Value>, p: &mut Problems) -> (RawConfig, Numbering) {
    let mut raw = RawConfig::default();
    let mut numbering = Numbering::default();
    for (name, value) in tables {
        match name.as_str() {
            "state" => raw.state = decode::table(value, "state", p).unwrap_or_default(),
            "log" => raw.log = decode::table(value, "log", p).unwrap_or_default(),
            "detection" => raw.detection = decode::table(value, "detection", p).unwrap_or_default(),
            "delivery" => raw.delivery = decode::table(value, "delivery", p).unwrap_or_default(),
            "server" => raw.server = decode::table(value, "server", p),
            "sources" => {
                raw.sources = list(
                    value,
                    "sources",
                    &mut numbering.sources,
                    &mut numbering.incomplete,
                    p,
                    source,
                );
            }
            "sinks" => {
                raw.sinks = list(
                    value,
                    "sinks",
                    &mut numbering.sinks,
                    &mut numbering.incomplete,
                    p,
                    sink,
                );
            }
            "scans" => {
                raw.scans = list(
                    value,
                    "scans",
                    &mut numbering.scans,
                    &mut numbering.incomplete,
                    p,
                    decode::table,
                );
            }
            other => p.push(other, unknown_key(other, TOP_LEVEL)),
        }
    }
    (raw, numbering)
}

/// Decodes each element of the list `name`; `numbering` gets each decoded element's index in
/// the file, and `incomplete` is set when an element could not be decoded.
fn list<T>(
    value: Value,
    name: &str,
    numbering: &mut Vec<usize>,
    incomplete: &mut bool,
    p: &mut Problems,
    decode: impl Fn(Value, &str, &mut Problems) -> Option<T>,
) -> Vec<T> {
    let mut decoded = Vec::new();
    for (i, item) in items(value, name, p).into_iter().enumerate() {
        match decode(item, &format!("{name}[{i}]"), p) {
            Some(element) => {
                decoded.push(element);
                numbering.push(i);
            }
            None => *incomplete = true,
        }
    }
    decoded
}

fn source(mut item: Value, key: &str, p: &mut Problems) -> Option<RawSource> {
    let kind = take_type(&mut item, key, RawSource::TYPES, p)?;
    RawSource::decode(&kind, item, key, p)
}

fn sink(mut item: Value, key: &str, p: &mut Problems) -> Option<RawSink> {
    let kind = take_type(&mut item, key, RawSink::TYPES, p)?;
    RawSink::decode(&kind, item, key, p)
}

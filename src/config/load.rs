//! Reading the file and the environment into one tree, then into the raw tables.
//!
//! The `config` crate merges the file with `NODEPORT_WATCH__…` variables; the merged tree is
//! then decoded table by table ([`super::decode`]) so that every problem is found in one pass.

use std::collections::BTreeMap;
use std::path::Path;

use serde_value::Value;

use super::decode::{self, entries, items, take_type, unknown_key};
use super::raw::RawConfig;
use super::sinks::RawSink;
use super::sources::RawSource;
use super::{ConfigError, ENV_PREFIX};
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

/// Reads the file at `path` and the environment; a missing file or a folder is said once.
pub fn read(path: &Path, p: &mut Problems) -> Result<Loaded, ConfigError> {
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
    // The `toml` parser's own message (line, column, a caret), without the loader's wrapping.
    if let Some(Err(e)) = text.as_deref().map(toml::de::DeTable::parse) {
        return Err(ConfigError::Read {
            path: shown,
            message: e.to_string().trim_end().to_owned(),
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
                for (i, item) in items(value, "sources", p).into_iter().enumerate() {
                    match source(item, &format!("sources[{i}]"), p) {
                        Some(s) => {
                            raw.sources.push(s);
                            numbering.sources.push(i);
                        }
                        None => numbering.incomplete = true,
                    }
                }
            }
            "sinks" => {
                for (i, item) in items(value, "sinks", p).into_iter().enumerate() {
                    match sink(item, &format!("sinks[{i}]"), p) {
                        Some(s) => {
                            raw.sinks.push(s);
                            numbering.sinks.push(i);
                        }
                        None => numbering.incomplete = true,
                    }
                }
            }
            "scans" => {
                for (i, item) in items(value, "scans", p).into_iter().enumerate() {
                    match decode::table(item, &format!("scans[{i}]"), p) {
                        Some(s) => {
                            raw.scans.push(s);
                            numbering.scans.push(i);
                        }
                        None => numbering.incomplete = true,
                    }
                }
            }
            other => p.push(other, unknown_key(other, TOP_LEVEL)),
        }
    }
    (raw, numbering)
}

fn source(mut item: Value, key: &str, p: &mut Problems) -> Option<RawSource> {
    let kind = take_type(&mut item, key, RawSource::TYPES, p)?;
    RawSource::decode(&kind, item, key, p)
}

fn sink(mut item: Value, key: &str, p: &mut Problems) -> Option<RawSink> {
    let kind = take_type(&mut item, key, RawSink::TYPES, p)?;
    RawSink::decode(&kind, item, key, p)
}

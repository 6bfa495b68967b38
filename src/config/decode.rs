//! Typed raw tables from the loaded tree, with every problem at once.
//!
//! serde stops at the first error, and loses the path inside internally tagged enums (which is
//! how `paths = "x.log"` used to be blamed on `sources[0]`). So each top-level table and each
//! `[[sources]]` / `[[sinks]]` / `[[scans]]` element is decoded on its own ([`table`]), with
//! [`serde_path_to_error`] for the key; on an error the offending key is recorded, removed from
//! the tree, and the table decoded again, until it decodes or a required key is missing. Errors
//! are kept structured ([`FieldError`]) so the message can say what was expected and what kind
//! of value was found, and never quote the value itself (it may be an inline secret).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, Expected, Unexpected};
use serde_value::{Value, ValueDeserializer};

use crate::validation::Problems;

/// Keys whose value is a duration string: a number there gets a hint instead of "a string".
const DURATION_KEYS: &[&str] = &[
    "interval",
    "timeout",
    "request_timeout",
    "lag",
    "overlap",
    "max_span",
    "lookback",
    "max_catchup",
    "max_ingestion_delay",
    "settle",
    "discovery_interval",
    "progress_interval",
    "min_backoff",
    "max_backoff",
    "poll_interval",
    "every",
];
/// Keys whose value is a size string.
const SIZE_KEYS: &[&str] = &["max_record_size", "max_batch_size"];
/// Decoding stops after this many attempts on one table (each removes one bad key).
const MAX_ATTEMPTS: usize = 64;

/// One deserialization error, kept structured instead of serde's sentence.
#[derive(Debug)]
pub enum FieldError {
    Type {
        found: String,
        expected: String,
    },
    UnknownField {
        field: String,
        known: &'static [&'static str],
    },
    UnknownVariant {
        variant: String,
        known: &'static [&'static str],
    },
    Missing(&'static str),
    Other(String),
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldError::Type { found, expected } => write!(f, "expected {expected}, found {found}"),
            FieldError::UnknownField { field, .. } => write!(f, "unknown key `{field}`"),
            FieldError::UnknownVariant { variant, known } => {
                write!(f, "`{variant}` is not one of {}", known.join(", "))
            }
            FieldError::Missing(field) => write!(f, "missing `{field}`"),
            FieldError::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for FieldError {}

impl de::Error for FieldError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        FieldError::Other(msg.to_string())
    }
    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        FieldError::Type {
            found: kind(&unexp).to_owned(),
            expected: exp.to_string(),
        }
    }
    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::invalid_type(unexp, exp)
    }
    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        FieldError::Other(format!("expected {exp}, found {len} items"))
    }
    fn unknown_variant(variant: &str, known: &'static [&'static str]) -> Self {
        FieldError::UnknownVariant {
            variant: variant.to_owned(),
            known,
        }
    }
    fn unknown_field(field: &str, known: &'static [&'static str]) -> Self {
        FieldError::UnknownField {
            field: field.to_owned(),
            known,
        }
    }
    fn missing_field(field: &'static str) -> Self {
        FieldError::Missing(field)
    }
    fn duplicate_field(field: &'static str) -> Self {
        FieldError::Other(format!("`{field}` is given twice"))
    }
}

/// The kind of value found, never the value: it may be a secret written inline.
fn kind(unexp: &Unexpected<'_>) -> &'static str {
    match unexp {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer",
        Unexpected::Float(_) => "a decimal number",
        Unexpected::Char(_) | Unexpected::Str(_) | Unexpected::Bytes(_) => "a string",
        Unexpected::Unit | Unexpected::Option => "an empty value",
        Unexpected::Seq => "a list",
        Unexpected::Map | Unexpected::StructVariant => "a table",
        _ => "another kind of value",
    }
}

/// One step of a key path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `prefix` followed by `steps`, written the way problems name keys: `sources[0].paths`.
fn join(prefix: &str, steps: &[Step]) -> String {
    let mut key = prefix.to_owned();
    for step in steps {
        match step {
            Step::Key(k) if key.is_empty() => key.push_str(k),
            Step::Key(k) => {
                key.push('.');
                key.push_str(k);
            }
            Step::Index(i) => key.push_str(&format!("[{i}]")),
        }
    }
    key
}

/// Decodes `value` as `T`, reporting every problem under `key`; `None` when a required key is
/// missing or has the wrong type (the problems say which).
pub fn table<T: DeserializeOwned>(mut value: Value, key: &str, p: &mut Problems) -> Option<T> {
    let mut removed: Vec<Vec<Step>> = Vec::new();
    for bad in text_keys_of_other_types(&mut value) {
        p.push(
            join(key, std::slice::from_ref(&bad.key)),
            format!("expected {}, found {}", bad.expected, bad.found),
        );
        removed.push(vec![bad.key]);
    }
    for _ in 0..MAX_ATTEMPTS {
        let result: Result<T, _> =
            serde_path_to_error::deserialize(ValueDeserializer::<FieldError>::new(value.clone()));
        let error = match result {
            Ok(decoded) => return Some(decoded),
            Err(e) => e,
        };
        let mut steps: Vec<Step> = error
            .path()
            .iter()
            .filter_map(|s| match s {
                serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
                serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
                _ => None,
            })
            .collect();
        match error.into_inner() {
            FieldError::Missing(field) => {
                steps.push(Step::Key(field.to_owned()));
                if !removed.contains(&steps) {
                    p.push(join(key, &steps), "this key is required");
                }
                return None;
            }
            FieldError::UnknownField { field, known } => {
                // The path may or may not already end at the key, depending on where serde
                // raised the error.
                if steps.last() != Some(&Step::Key(field.clone())) {
                    steps.push(Step::Key(field.clone()));
                }
                p.push(join(key, &steps), unknown_key(&field, known));
            }
            FieldError::Type { found, expected } => {
                let message = format!("expected {}, found {found}", wording(&steps, &expected));
                p.push(join(key, &steps), message);
            }
            other => p.push(join(key, &steps), other.to_string()),
        }
        // Remove the whole key (a list with one bad item goes entirely) and try again.
        while matches!(steps.last(), Some(Step::Index(_))) {
            steps.pop();
        }
        if steps.is_empty() || !remove(&mut value, &steps) {
            return None;
        }
        removed.push(steps);
    }
    None
}

/// A duration or size key of a table whose value is not a string, taken out of the table.
struct Misfit {
    key: Step,
    expected: String,
    found: &'static str,
}

/// Takes the duration and size keys that do not hold a string out of a table, before serde sees
/// it. Serde reports errors inside a `#[serde(flatten)]` block (the cloud sources' shared window
/// keys) against the enclosing table, without the key: checked here by name, every such key is
/// named exactly, wherever its struct is declared.
fn text_keys_of_other_types(value: &mut Value) -> Vec<Misfit> {
    let Value::Map(map) = value else {
        return Vec::new();
    };
    let misfits: Vec<Value> = map
        .iter()
        .filter(|(k, v)| {
            matches!(k, Value::String(k) if DURATION_KEYS.contains(&k.as_str())
                || SIZE_KEYS.contains(&k.as_str()))
                && !matches!(v, Value::String(_) | Value::Option(None) | Value::Unit)
        })
        .map(|(k, _)| k.clone())
        .collect();
    misfits
        .into_iter()
        .filter_map(|k| {
            let v = map.remove(&k)?;
            let Value::String(name) = k else { return None };
            let steps = [Step::Key(name.clone())];
            Some(Misfit {
                expected: wording(&steps, "a string"),
                found: found(&v),
                key: Step::Key(name),
            })
        })
        .collect()
}

/// What was expected, in the words of a configuration file rather than of serde.
fn wording(steps: &[Step], expected: &str) -> String {
    let last = steps.iter().rev().find_map(|s| match s {
        Step::Key(k) => Some(k.as_str()),
        Step::Index(_) => None,
    });
    let is = |keys: &[&str]| last.is_some_and(|k| keys.contains(&k));
    match expected {
        "a string" if is(DURATION_KEYS) => "a duration string such as \"5s\"".to_owned(),
        "a string" if is(SIZE_KEYS) => "a size string such as \"4MiB\"".to_owned(),
        "a sequence" => "a list such as [\"…\"]".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" => "a whole number".to_owned(),
        e if e.starts_with("struct ") || e == "a map" => "a table".to_owned(),
        e => e.to_owned(),
    }
}

/// "unknown key `intervall`; did you mean `interval`?", or the keys this table has.
pub fn unknown_key(field: &str, known: &[&str]) -> String {
    match suggest(field, known) {
        Some(close) => format!("unknown key `{field}`; did you mean `{close}`?"),
        None if known.is_empty() => format!("unknown key `{field}`"),
        None => format!("unknown key `{field}` (known keys: {})", known.join(", ")),
    }
}

/// The closest of `known` to `word`, if it is close enough to be a typo.
pub fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k), *k))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

fn remove(value: &mut Value, steps: &[Step]) -> bool {
    let Some((last, parents)) = steps.split_last() else {
        return false;
    };
    let mut node = value;
    for step in parents {
        node = match (step, node) {
            (Step::Key(k), Value::Map(m)) => match m.get_mut(&Value::String(k.clone())) {
                Some(child) => child,
                None => return false,
            },
            (Step::Index(i), Value::Seq(s)) => match s.get_mut(*i) {
                Some(child) => child,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, node) {
        (Step::Key(k), Value::Map(m)) => m.remove(&Value::String(k.clone())).is_some(),
        _ => false,
    }
}

/// The entries of a table, or a problem under `key` when `value` is not one.
pub fn entries(value: Value, key: &str, p: &mut Problems) -> Option<BTreeMap<String, Value>> {
    match value {
        Value::Map(map) => Some(
            map.into_iter()
                .filter_map(|(k, v)| match k {
                    Value::String(k) => Some((k, v)),
                    _ => None,
                })
                .collect(),
        ),
        other => {
            p.push(key, format!("expected a table, found {}", found(&other)));
            None
        }
    }
}

/// The items of a list (`[[sources]]`), or a problem under `key` when `value` is not one.
pub fn items(value: Value, key: &str, p: &mut Problems) -> Vec<Value> {
    match value {
        Value::Seq(items) => items,
        other => {
            p.push(
                key,
                format!(
                    "expected a list of tables (`[[{key}]]`), found {}",
                    found(&other)
                ),
            );
            Vec::new()
        }
    }
}

/// Takes the `type` key out of an element table, checking it against `known`.
pub fn take_type(
    table: &mut Value,
    key: &str,
    known: &'static [&'static str],
    p: &mut Problems,
) -> Option<String> {
    let Value::Map(map) = table else {
        p.push(key, format!("expected a table, found {}", found(table)));
        return None;
    };
    let type_key = format!("{key}.type");
    match map.remove(&Value::String("type".to_owned())) {
        None => p.push(
            type_key,
            format!("this key is required (one of {})", known.join(", ")),
        ),
        Some(Value::String(t)) if known.contains(&t.as_str()) => return Some(t),
        Some(Value::String(t)) => {
            let hint = match suggest(&t, known) {
                Some(close) => format!("; did you mean `{close}`?"),
                None => format!(" (known types: {})", known.join(", ")),
            };
            p.push(type_key, format!("unknown type `{t}`{hint}"));
        }
        Some(other) => p.push(
            type_key,
            format!("expected a string, found {}", found(&other)),
        ),
    }
    None
}

fn found(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "a boolean",
        Value::String(_) | Value::Char(_) | Value::Bytes(_) => "a string",
        Value::F32(_) | Value::F64(_) => "a decimal number",
        Value::Seq(_) => "a list",
        Value::Map(_) => "a table",
        Value::Unit | Value::Option(_) | Value::Newtype(_) => "an empty value",
        _ => "an integer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        paths: Vec<String>,
        interval: Option<String>,
        count: Option<u32>,
    }

    fn tree(toml_text: &str) -> Value {
        config::Config::builder()
            .add_source(config::File::from_str(toml_text, config::FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap()
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let mut p = Problems::default();
        let value = tree("name = \"x\"\npaths = \"a.log\"\nintervall = \"5s\"\ncount = \"many\"");
        assert!(table::<Sample>(value, "sources[0]", &mut p).is_none());
        let text: Vec<String> = p.into_vec().iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "sources[0].count: expected a whole number, found a string",
                "sources[0].intervall: unknown key `intervall`; did you mean `interval`?",
                "sources[0].paths: expected a list such as [\"…\"], found a string",
            ]
        );
    }

    #[test]
    fn optional_keys_with_errors_leave_the_rest_usable() {
        let mut p = Problems::default();
        let value = tree("name = \"x\"\npaths = [\"a\"]\ninterval = 5");
        let sample = table::<Sample>(value, "k", &mut p).unwrap();
        assert_eq!(sample.paths, ["a"]);
        assert_eq!(
            p.into_vec()[0].to_string(),
            "k.interval: expected a duration string such as \"5s\", found an integer"
        );
    }

    #[test]
    fn a_missing_key_is_named_with_its_dot() {
        let mut p = Problems::default();
        assert!(table::<Sample>(tree("paths = []"), "sources[0]", &mut p).is_none());
        assert_eq!(
            p.into_vec()[0].to_string(),
            "sources[0].name: this key is required"
        );
    }

    #[test]
    fn suggestions_only_for_close_words() {
        assert_eq!(suggest("pahts", &["name", "paths"]), Some("paths"));
        assert_eq!(suggest("colour", &["name", "paths"]), None);
    }
}

//! Where a problem's key was written: a line of the file (found with the `toml` crate's spans,
//! since the `config` crate that loads the file forgets them) or an environment variable.

use std::fmt;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use crate::validation::Problem;

/// Environment variables that override the file start with this, then `__`.
pub const ENV_PREFIX: &str = "NODEPORT_WATCH";

/// A problem and where its key came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub problem: Problem,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The file, at this line (1-based) when the parser knows it.
    File { path: String, line: Option<usize> },
    /// An environment override, by the variable's name.
    Env(String),
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File {
                path,
                line: Some(line),
            } => write!(f, "{path}:{line}: {}", self.problem),
            Origin::File { path, line: None } => write!(f, "{path}: {}", self.problem),
            Origin::Env(name) => write!(f, "{name}: {}", self.problem),
        }
    }
}

/// Finds where the keys of one configuration were written.
pub struct Locator {
    path: String,
    text: Option<String>,
}

impl Locator {
    pub fn new(path: &Path, text: Option<String>) -> Self {
        Locator {
            path: path.display().to_string(),
            text,
        }
    }

    pub fn locate(&self, problem: Problem) -> Located {
        let steps = steps(&problem.key);
        let env = env_name(&steps);
        let origin = if std::env::var_os(&env).is_some() {
            Origin::Env(env)
        } else {
            Origin::File {
                path: self.path.clone(),
                line: self.text.as_deref().and_then(|t| line_of(t, &steps)),
            }
        };
        Located { problem, origin }
    }
}

/// A TOML syntax error as `line 3, column 9 (key `token`): <the parser's words>`. The toml
/// crate's own `Display` quotes the offending line under a caret, and that line may be an inline
/// secret (`token = "…`, an unclosed quote): only the key and the position are shown.
pub fn syntax_error(text: &str, message: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(start) = span.map(|s| s.start.min(text.len())) else {
        return format!("not valid TOML: {}", message.trim_end());
    };
    let before = text.get(..start).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or_default();
    // The key is what the operator looks for; a bare or quoted key has no secret in it.
    let key = line_text
        .split_once('=')
        .map(|(key, _)| key.trim())
        .filter(|key| {
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"'))
        });
    let message = message.trim_end();
    match key {
        Some(key) => {
            format!("line {line}, column {column} (key `{key}`): not valid TOML: {message}")
        }
        None => format!("line {line}, column {column}: not valid TOML: {message}"),
    }
}

/// `sources[0].paths` → `["sources", "0", "paths"]`.
fn steps(key: &str) -> Vec<String> {
    key.split(['.', '['])
        .map(|s| s.trim_end_matches(']').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The variable that sets this key: `NODEPORT_WATCH__SOURCES__0__INTERVAL`.
fn env_name(steps: &[String]) -> String {
    let mut name = ENV_PREFIX.to_owned();
    for step in steps {
        name.push_str("__");
        name.push_str(&step.to_uppercase());
    }
    name
}

/// The line of the deepest part of the key the file has (a missing key: its table's line).
fn line_of(text: &str, steps: &[String]) -> Option<usize> {
    let document = DeTable::parse(text).ok()?;
    let mut span = None;
    let mut table = Some(document.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
    for step in steps {
        let value = if let Some(items) = array.take() {
            step.parse::<usize>().ok().and_then(|i| items.get(i))
        } else {
            let found = table
                .take()
                .and_then(|t| t.iter().find(|(k, _)| k.get_ref() == step));
            found.map(|(k, v)| {
                span = Some(k.span());
                v
            })
        };
        let Some(value) = value else { break };
        if span.is_none() || matches!(value.get_ref(), DeValue::Table(_)) {
            span = Some(value.span());
        }
        match value.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(&a[..]),
            _ => break,
        }
    }
    let start = span?.start;
    Some(text.get(..start)?.matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_keys_and_their_tables() {
        let text = "[log]\nformat = \"x\"\n\n[[sources]]\nname = \"a\"\n\n[[sources]]\nname = \"b\"\npaths = 1\n";
        assert_eq!(line_of(text, &steps("log.format")), Some(2));
        assert_eq!(line_of(text, &steps("sources[1].paths")), Some(9));
        assert_eq!(line_of(text, &steps("sources[1].interval")), Some(7));
        assert_eq!(line_of(text, &steps("sources[0].name")), Some(5));
        assert_eq!(line_of(text, &steps("sinks")), None);
    }

    #[test]
    fn syntax_errors_name_the_key_and_never_the_value() {
        for (text, expected) in [
            (
                "[[sinks]]\nname = \"s\"\ntoken = \"hunter2-unclosed\n",
                "line 3, column 26 (key `token`): not valid TOML",
            ),
            (
                "[[sinks]]\nurl = https://hooks.example.com/T0/hunter2\n",
                "line 2, column 7 (key `url`): not valid TOML",
            ),
            ("a = 1\nhunter2 hunter2\n", "line 2, column"),
        ] {
            let Err(e) = DeTable::parse(text) else {
                panic!("{text} parsed")
            };
            let shown = syntax_error(text, e.message(), e.span());
            assert!(shown.starts_with(expected), "{shown}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(
                e.to_string().contains("hunter2"),
                "the crate's own text quotes the line"
            );
        }
    }

    #[test]
    fn variables_are_named_like_the_loader_reads_them() {
        assert_eq!(
            env_name(&steps("sources[0].interval")),
            "NODEPORT_WATCH__SOURCES__0__INTERVAL"
        );
    }
}

//! Configuration: a TOML file plus `NODEPORT_WATCH__…` environment overrides.
//!
//! [`load`](mod@load) reads the file and the environment into one tree and [`decode`] turns it into
//! the raw tables of [`raw`] (each source's and sink's own table lives beside its code, in
//! `sources/<type>/config.rs` and `sinks/<type>/config.rs`); [`settings`] gathers them into
//! typed, validated [`Settings`]. Every problem is reported at once, with its full key, its line
//! (or the environment variable that set it) and no secret value ([`locate`]). Values are checked
//! with the leaf toolkit [`crate::validation`]. Environment variables use `__` between keys:
//! `NODEPORT_WATCH__STATE__PATH=/data/state.db` sets `[state] path`.

pub mod decode;
pub mod detection;
pub mod load;
pub mod locate;
pub mod raw;
pub mod scans;
pub mod server;
pub mod settings;
pub mod sinks;
pub mod sources;

use std::fmt;
use std::path::Path;

use thiserror::Error;

pub use crate::state::{StatePath, StateSettings};
pub use crate::validation::{Problem, Secret};
pub use detection::DetectionSettings;
pub use locate::{Located, Origin};
pub use raw::{RawConfig, RawState};
pub use scans::{ScanSchedule, ScanTrigger};
pub use server::ServerSettings;
pub use settings::Settings;
pub use sinks::{SinkKind, SinkSettings};
pub use sources::{FileSourceSettings, SourceKind, SourceSettings, StartAt};

use crate::validation::Problems;
use locate::Locator;

const ENV_PREFIX: &str = "NODEPORT_WATCH";

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
    let loaded = load::read(path, &mut p)?;
    let (raw, _) = load::decode_all(loaded.tables, &mut p);
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
    let mut loaded = load::read(path, &mut p)?;
    let state: RawState = loaded
        .tables
        .remove("state")
        .and_then(|v| decode::table(v, "state", &mut p))
        .unwrap_or_default();
    if !p.is_empty() {
        return Err(invalid(path, loaded.text, p));
    }
    Ok(StateSettings::from_raw(&state, base_dir(path)))
}

/// Reads and validates the configuration at `path`.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let mut p = Problems::default();
    let loaded = load::read(path, &mut p)?;
    let (raw, numbering) = load::decode_all(loaded.tables, &mut p);
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

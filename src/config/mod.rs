//! Configuration: a TOML file plus `NODEPORT_WATCH__…` environment overrides.
//!
//! [`raw`] mirrors the file; [`settings`] validates it into typed values. Environment variables
//! use `__` between keys: `NODEPORT_WATCH__STATE__PATH=/data/state.db` sets `[state] path`.

pub mod raw;
pub mod scans;
pub mod secret;
pub mod server;
pub mod settings;
pub mod sinks;
pub mod sources;

use std::path::Path;

use thiserror::Error;

pub use crate::state::{StatePath, StateSettings};
pub use raw::{RawConfig, RawState};
pub use scans::{ScanSchedule, ScanTrigger};
pub use secret::Secret;
pub use server::ServerSettings;
pub use settings::{DetectionSettings, Problem, Settings};
pub use sinks::{SinkKind, SinkSettings};
pub use sources::{FileSourceSettings, SourceKind, SourceSettings, StartAt};

const ENV_PREFIX: &str = "NODEPORT_WATCH";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: config::ConfigError,
    },
    #[error("{path} has problems:\n{}", list(.problems))]
    Invalid {
        path: String,
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads the file and the environment into the raw form.
pub fn load_raw(path: &Path) -> Result<RawConfig, ConfigError> {
    read(path)
}

/// Reads the file and the environment into `T`, which may mirror only part of the file.
fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let read = |source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    };
    config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        )
        .build()
        .map_err(read)?
        .try_deserialize()
        .map_err(read)
}

/// Only the `[state]` table: what `alerts` (and any command that just reads the store) needs.
/// The rest of the file is not validated and no secret is resolved, so a sink whose secret is
/// missing from this shell does not stop an operator from looking at the outbox.
#[derive(Debug, Default, serde::Deserialize)]
struct StateOnly {
    #[serde(default)]
    state: RawState,
}

/// Reads the `[state]` settings of the configuration at `path`, ignoring everything else.
pub fn load_state(path: &Path) -> Result<StateSettings, ConfigError> {
    let raw: StateOnly = read(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut problems = settings::Problems::default();
    StateSettings::from_raw(&raw.state, base, &mut problems).ok_or_else(|| ConfigError::Invalid {
        path: path.display().to_string(),
        problems: problems.into_vec(),
    })
}

/// Reads and validates the configuration at `path`.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let raw = load_raw(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    Settings::from_raw(raw, base).map_err(|problems| ConfigError::Invalid {
        path: path.display().to_string(),
        problems,
    })
}

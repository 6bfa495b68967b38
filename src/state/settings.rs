//! `[state]`: which backend keeps checkpoints and the outbox, and where.
//!
//! It lives beside the store rather than in `config/` so the store imports nothing above it, and
//! it is parsed on its own so that commands needing only the store (`alerts`, later `status`)
//! can load this table without resolving any sink or source secret.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_STATE_PATH: &str = "/var/lib/nodeport-watch/state.db";

/// The `[state]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawState {
    /// SQLite file; `:memory:` keeps state only for the life of the process (demos).
    pub path: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatePath {
    File(PathBuf),
    /// Nothing survives the process: for demos only.
    Memory,
}

/// The store a process opens. One variant per backend; [`super::open`] is the only place that
/// matches on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateSettings {
    /// The embedded default: one SQLite file (`[state] path`).
    Sqlite(StatePath),
}

impl StateSettings {
    /// Builds the settings from the raw table; a relative path is taken from `base_dir` (the
    /// directory of the configuration file).
    pub fn from_raw(raw: &RawState, base_dir: &Path) -> StateSettings {
        StateSettings::Sqlite(match raw.path.as_deref() {
            Some(":memory:") => StatePath::Memory,
            Some(path) => StatePath::File(base_dir.join(path)),
            None => StatePath::File(PathBuf::from(DEFAULT_STATE_PATH)),
        })
    }
}

//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod fake_filter;
pub mod fake_logging;
pub mod gcp;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `tests/fixtures`.
pub fn fixture(relative: &str) -> PathBuf {
    root().join("tests/fixtures").join(relative)
}

/// The public corpus of provider records with documented verdicts (`index.json`).
pub fn corpus_dir() -> PathBuf {
    fixture("corpus")
}

/// The binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nodeport-watch"))
}

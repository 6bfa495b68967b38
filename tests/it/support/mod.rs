//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod daemon;
pub mod doubles;
pub mod fixtures;
pub mod prom;
pub mod receiver;

use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// Polls `check` until it returns `Some`, panicking with `what` after `deadline`. For waiting on
/// another process (no notification to await); tokio time, so a paused clock moves through it.
pub async fn eventually<T>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let start = tokio::time::Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

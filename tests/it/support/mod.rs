//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod alertmanager_api;
pub mod aws_proxy;
pub mod azure_blob_kit;
pub mod azure_harness;
pub mod azure_monitor_kit;
pub mod azurite;
pub mod cli_inputs;
pub mod cloudwatch;
pub mod daemon;
pub mod detect;
pub mod doubles;
pub mod elasticsearch_api;
pub mod fake_az;
pub mod fake_filter;
pub mod fake_log_analytics;
pub mod fake_logging;
pub mod falcosidekick_api;
pub mod fixtures;
pub mod fleet;
pub mod fleet_aws;
pub mod fleet_gke;
pub mod fleet_run;
pub mod gcp;
pub mod ingest;
pub mod installer;
pub mod logs;
pub mod logs_ingestion_api;
pub mod mixed_fleet;
pub mod moto;
pub mod postgres;
pub mod process;
pub mod prom;
pub mod receiver;
pub mod shapes;
pub mod sinks;
pub mod store;
pub mod volume;
pub mod wait;

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

//! Integration tests: one binary, so the crate and its dependencies link once.
//!
//! Modules, by stage of the data flow:
//! - `corpus`       every public corpus event gives its documented verdict (CLI and library)
//! - `detection`    the cases other tools get wrong, in every provider shape
//! - `robustness`   arbitrary bytes, truncation and wrong types never panic a normalizer
//! - `state`        the outbox survives crashes: re-delivers what was not delivered, never twice
//! - `file_source`  following, rotation, partial lines, restart
//! - `daemon`       `run` on the demo config, then a clean stop on SIGTERM
//! - `config`       every problem reported with its key; shipped configs valid; env overrides
//! - `azure_monitor` Log Analytics windows, late rows, splits, table styles (against a local fake)
//! - `azure_monitor_failures` throttling, partial results, tokens, scans, config (same fake)
//! - `azure_blob`   storage archives: appends, split lines, clusters, restart (against Azurite)
//! - `azure_blob_lifecycle` settled hours, scans, healthchecks, refused keys, max_catchup
//!
//! Shared helpers live in `support`.

mod azure_blob;
mod azure_blob_lifecycle;
mod azure_monitor;
mod azure_monitor_failures;
mod config;
mod corpus;
mod daemon;
mod detection;
mod file_source;
mod robustness;
mod state;
mod support;

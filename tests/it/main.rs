//! Integration tests: one binary, so the crate and its dependencies link once.
//!
//! Modules, by stage of the data flow:
//! - `corpus`       every public corpus event gives its documented verdict (CLI and library)
//! - `detection`    the cases other tools get wrong, in every provider shape
//! - `robustness`   arbitrary bytes, truncation and wrong types never panic a normalizer
//! - `state`        the outbox survives crashes: re-delivers what was not delivered, never twice
//! - `file_source`  following, rotation, partial lines, restart
//! - `daemon`       `run` on the demo config, then a clean stop on SIGTERM
//! - `gcp_fake`     the fake Cloud Logging honours the `entries.list` contract
//! - `gcp_logging`  GKE poller vs the fake: corpus alerts = `detect`, projects, pagination
//! - `gcp_resilience` late entries, restart and crash, shared quota, failed pages, scans
//!
//! Shared helpers live in `support`.

mod gcp_fake;
mod gcp_logging;
mod gcp_resilience;
mod support;

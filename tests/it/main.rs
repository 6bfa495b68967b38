//! Integration tests: one binary, so the crate and its dependencies link once.
//!
//! Modules, by stage of the data flow:
//! - `corpus`       every public corpus event gives its documented verdict (CLI and library)
//! - `detection`    the cases other tools get wrong, in every provider shape
//! - `robustness`   arbitrary bytes, truncation and wrong types never panic a normalizer
//! - `state`        the outbox survives crashes: re-delivers what was not delivered, never twice
//! - `file_source`  following, rotation, partial lines, restart
//! - `daemon`       `run` on the demo config, then a clean stop on SIGTERM
//! - `aws_poller`   CloudWatch on moto: one alert per event, clusters, streams, discovery, roles
//! - `aws_windows`  CloudWatch windows: >10k events in batches, same-ms edges, late events, restarts
//! - `aws_faults`   CloudWatch behind a throttling proxy: nothing lost, checkpoint never moves early
//! - `aws_pushdown` the pushed-down filter pattern never hides an alert (model and end to end)
//! - `aws_cli`      CloudWatch through the binary: env credentials, `validate --connect`, `scan`
//! - `aws_measure`  (ignored: a measurement) one simulated cluster-day with and without pushdown
//!
//! Shared helpers live in `support`.

mod aws_cli;
mod aws_faults;
mod aws_measure;
mod aws_poller;
mod aws_pushdown;
mod aws_windows;
mod support;

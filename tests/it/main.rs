//! Integration tests: one binary, so the crate and its dependencies link once.
//!
//! Modules, by stage of the data flow:
//! - `corpus`       every public corpus event gives its documented verdict (CLI and library)
//! - `detection`    the cases other tools get wrong, in every provider shape
//! - `robustness`   arbitrary bytes, truncation and wrong types never panic a normalizer
//! - `state`        the outbox survives crashes: re-delivers what was not delivered, never twice
//! - `file_source`  following, rotation, partial lines, restart
//! - `daemon`       `run` on the demo config, then a clean stop on SIGTERM
//! - `aws_poller`   CloudWatch source against moto: alerts once per event, clusters, streams,
//!                  discovery, missing groups, assumed roles
//! - `aws_cli`      CloudWatch source through the binary: env credentials, `validate --connect`,
//!                  `scan`
//! - `aws_faults`   CloudWatch behind a throttling/failing proxy: nothing lost, checkpoint still;
//!                  missing log groups, unreachable endpoints
//! - `aws_pushdown` the pushed-down filter pattern never hides an alert (pattern model on the
//!                  corpus; pushdown on and off end to end)
//! - `aws_windows`  CloudWatch windows: >10k events paginated in batches, same-millisecond
//!                  edges, late ingestion, restart mid-window, scans
//!
//! Shared helpers live in `support`.

mod aws_cli;
mod aws_faults;
mod aws_poller;
mod aws_pushdown;
mod aws_windows;
mod support;

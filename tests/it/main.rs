//! Integration tests: one binary, so the crate and its dependencies link once.
//!
//! Modules, by stage of the data flow:
//! - `corpus`       every public corpus event gives its documented verdict (CLI and library)
//! - `detection`    the cases other tools get wrong, in every provider shape
//! - `robustness`   arbitrary bytes, truncation and wrong types never panic a normalizer
//! - `state`        the outbox survives crashes: re-delivers what was not delivered, never twice
//! - `file_source`  following, rotation, partial lines, restart
//! - `daemon`       `run` on the demo config, then a clean stop on SIGTERM
//! - `crash`        kill -9 of the real daemon while polling, after the outbox write and during
//!   delivery, then restart: no alert missing, repeats carry the same id
//! - `delivery`     a sink down (refused, 503, 429 + Retry-After) then back: each alert once, in
//!   order; a 400 dead-lettered, listed and re-queued with `alerts`
//! - `deployment`   Kubernetes manifests parse and fit together; the ConfigMap validates; the
//!   Dockerfile runs the daemon non-root with a HEALTHCHECK
//! - `measure`      (ignored; run explicitly) detection latency p50/p99 and RSS with 100 sources
//! - `operations`   /readyz follows failing and recovering sources and the state store; the
//!   daemon serves /healthz and /metrics (parsed as Prometheus text); `health` subcommand
//! - `scans`        a scheduled scan finds an alert behind the live checkpoint and re-sends
//!   nothing; checkpoints resume, and one older than max_catchup is skipped forward loudly
//! - `sinks`        webhook, Slack, Splunk HEC, PagerDuty against loopback receivers: exact
//!   requests, signatures, idempotency keys, classification, secrets never shown
//!
//! Shared helpers live in `support`.

mod crash;
mod delivery;
mod deployment;
mod measure;
mod operations;
mod scans;
mod sinks;
mod support;

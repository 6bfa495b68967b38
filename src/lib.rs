//! nodeport-watch: finds Kubernetes Services exposed through a NodePort in EKS, GKE and AKS
//! control-plane audit logs.
//!
//! # Layout
//!
//! The modules follow one audit record through the daemon:
//!
//! ```text
//! config ─► sources (file, aws_cloudwatch, gcp_logging, azure_monitor, azure_blob)
//!              │  fetch the batch after a cursor (no state, no side effects)
//!              ▼
//!           ingest ─ load cursor → fetch → drop seen → pipeline → commit (fenced) → signal
//!              │      pipeline = normalize (every provider shape → AuditEvent)
//!              │               → detect    (rules, exceptions, risk factors)
//!              │               → alert     (fingerprint, document, routing)
//!              │               → exposure  (what each write opens, updates or closes)
//!              ▼
//!           state (one transaction: the batch's exposures and alerts into the outbox + the
//!              │   source's cursor)
//!              │
//!              ▼
//!           delivery ─► sinks (stdout, file, webhook, …), marked delivered per sink
//! ```
//!
//! `runtime` supervises ingest and delivery (under leases when replicas share a store), runs
//! scans and handles shutdown; `telemetry` owns logs, metrics and health; `cli` holds the subcommands; `retry` (backoff and the throttle /
//! transient / fatal classification), `clock` and `model` (the plain data every stage shares)
//! are leaves. Arrows point one way: a lower stage never imports a higher one, and
//! `tests/it/architecture.rs` fails on any import cycle. `docs/architecture.md` draws the same
//! map with every module.
//!
//! `config` gathers each component's own config (kept beside its code, e.g.
//! `sources/file/config.rs`, `sinks/webhook/config.rs`), all checked with the leaf toolkit
//! `validation` (problems under full keys, durations, sizes, secrets).

pub mod alert;
pub mod aws;
pub mod cli;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod detect;
pub mod exposure;
pub mod ingest;
pub mod model;
pub mod normalize;
pub mod pipeline;
pub mod retry;
pub mod runtime;
pub mod sinks;
pub mod sources;
pub mod state;
pub mod telemetry;
pub mod validation;

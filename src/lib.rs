//! nodeport-watch: finds Kubernetes Services exposed through a NodePort in EKS, GKE and AKS
//! control-plane audit logs.
//!
//! # Layout
//!
//! The modules follow one audit record through the daemon:
//!
//! ```text
//! config ─► sources (file, aws_cloudwatch, gcp_logging, azure_monitor, azure_blob)
//!              │  a batch of raw records
//!              ▼
//!           pipeline ─► normalize (every provider shape → AuditEvent)
//!              │        detect    (rules, exceptions, risk factors)
//!              │        alert     (fingerprint, document, routing)
//!              ▼
//!           state (one transaction: the batch's alerts into the outbox + the source's cursor)
//!              │
//!              ▼
//!           delivery ─► sinks (stdout, file, …), marked delivered per sink
//! ```
//!
//! `runtime` supervises sources and deliverers and handles shutdown; `telemetry` owns logs,
//! metrics and health; `cli` holds the subcommands; `model` is the plain data they share.

pub mod alert;
pub mod cli;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod detect;
pub mod model;
pub mod normalize;
pub mod pipeline;
pub mod retry;
pub mod runtime;
pub mod sinks;
pub mod sources;
pub mod state;
pub mod telemetry;

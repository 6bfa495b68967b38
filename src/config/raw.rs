//! The configuration file as written: a serde mirror, strings where the user writes strings.
//!
//! Every table rejects unknown keys, so a typo (`intervall`) is an error instead of a silently
//! ignored setting. Parsing durations, rule names and patterns happens in [`super::settings`],
//! where each error can name its key.

use serde::Deserialize;

pub use super::detection::{RawDetection, RawException};
use super::sinks::RawSink;
use super::sources::RawSource;
pub use crate::state::RawState;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub state: RawState,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub detection: RawDetection,
    #[serde(default)]
    pub delivery: RawDelivery,
    #[serde(default)]
    pub sources: Vec<RawSource>,
    #[serde(default)]
    pub sinks: Vec<RawSink>,
    pub server: Option<RawServer>,
    #[serde(default)]
    pub scans: Vec<RawScan>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// `text` or `json`.
    pub format: Option<String>,
    /// A tracing filter: `info`, `debug`, `nodeport_watch=debug,warn`.
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDelivery {
    pub min_backoff: Option<String>,
    pub max_backoff: Option<String>,
    /// Dead-letter an alert after this many failed attempts; unset retries forever.
    pub max_attempts: Option<u32>,
    /// How often a deliverer looks at the outbox without being woken (alerts re-queued or
    /// written by another process).
    pub poll_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// `host:port` for `/healthz`, `/readyz` and `/metrics`.
    pub listen: String,
    /// A source is not ready once its last successful poll is older than this many intervals.
    pub readiness_intervals: Option<u32>,
}

/// `[[scans]]`: a catch-up scan the daemon runs on a schedule.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScan {
    pub name: String,
    /// Run every so often (`6h`); exclusive with `cron`.
    pub every: Option<String>,
    /// A cron expression (5 fields, or 6 with seconds), evaluated in UTC.
    pub cron: Option<String>,
    /// How far back each run looks (`24h`).
    pub lookback: String,
    /// Source names; all sources when unset.
    pub sources: Option<Vec<String>>,
}

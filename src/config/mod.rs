//! Configuration: a TOML file plus `NODEPORT_WATCH__…` environment overrides.
//!
//! [`load`](mod@load) reads the file and the environment into one tree and [`decode`] turns it into
//! the raw tables of [`raw`] (each source's and sink's own table lives beside its code, in
//! `sources/<type>/config.rs` and `sinks/<type>/config.rs`); [`settings`] gathers them into
//! typed, validated [`Settings`]. Every problem is reported at once, with its full key, its line
//! (or the environment variable that set it) and no secret value ([`locate`]). Values are checked
//! with the leaf toolkit [`crate::validation`]. Environment variables use `__` between keys:
//! `NODEPORT_WATCH__STATE__PATH=/data/state.db` sets `[state] path`.

pub mod decode;
pub mod detection;
pub mod load;
pub mod locate;
pub mod raw;
pub mod scans;
pub mod server;
pub mod settings;
pub mod sinks;
pub mod sources;

pub use crate::state::{StatePath, StateSettings};
pub use crate::validation::{Problem, Secret};
pub use detection::DetectionSettings;
pub use load::{ConfigError, load, load_raw, load_state};
pub use locate::{ENV_PREFIX, Located, Origin};
pub use raw::{RawConfig, RawState};
pub use scans::{ScanSchedule, ScanTrigger};
pub use server::ServerSettings;
pub use settings::Settings;
pub use sinks::{SinkKind, SinkSettings};
pub use sources::{FileSourceSettings, SourceKind, SourceSettings, StartAt};

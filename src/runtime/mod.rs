//! Running the daemon: supervision of sources and deliverers, shutdown, catch-up scans (on
//! demand and scheduled) and their progress display.

pub mod daemon;
pub mod launch;
pub mod progress;
pub mod scan;
pub mod scheduler;
pub mod shutdown;

/// The process's shared parts; they live with the ingest layer that needs most of them.
pub use crate::ingest::Services;

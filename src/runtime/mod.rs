//! Running the daemon: supervision of sources and deliverers, shutdown, catch-up scans.

pub mod backoff;
pub mod daemon;
pub mod launch;
pub mod scan;
mod services;
pub mod shutdown;

pub use services::Services;

//! Running the daemon: supervision of sources and deliverers, shutdown, catch-up scans (on
//! demand and scheduled) and their progress display.

pub mod daemon;
pub mod fleet;
pub mod launch;
pub mod progress;
pub mod scan;
pub mod scheduler;
pub mod shutdown;
pub mod units;

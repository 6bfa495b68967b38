//! Running the daemon: supervision of sources and deliverers, shutdown, catch-up scans (on
//! demand and scheduled), their progress display, and still-open exposure reminders.

pub mod daemon;
pub mod fleet;
pub mod launch;
pub mod progress;
pub mod reminders;
pub mod retention;
pub mod scan;
pub mod scheduler;
pub mod shutdown;
pub mod supervise;
pub mod units;

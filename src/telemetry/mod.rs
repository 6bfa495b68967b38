//! What operators see: logs, metrics and health.

pub mod health;
pub mod logging;
pub mod metrics;

pub use health::Health;

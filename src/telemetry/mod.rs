//! What operators see: logs, metrics, health and readiness, and the endpoints serving them.

pub mod exporter;
pub mod health;
pub mod leases;
pub mod logging;
pub mod metrics;
pub mod readiness;
pub mod server;
pub mod store_metrics;

pub use health::Health;

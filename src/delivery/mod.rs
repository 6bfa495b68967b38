//! Feeds sinks from the outbox: per sink, in outbox order, with retries, until delivered or
//! dead-lettered.
//!
//! Every sink has its own deliverer task and its own delivery rows, so a sink that is down holds
//! back only its own queue. An alert is marked delivered after the sink confirmed it; a crash in
//! between re-sends it once on restart with the same id, which receivers use as an idempotency
//! key.

mod deliverer;
mod signal;

pub use deliverer::{Deliverer, MAX_UNRECORDED, RetryPolicy};
pub use signal::OutboxSignal;

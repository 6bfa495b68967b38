//! The ingest layer: drives one source from its checkpoint to the outbox.
//!
//! One step of [`SourceDriver`]: load the cursor (once) → fetch the batch after it → drop records
//! an overlapping window already read → run the [`pipeline`](crate::pipeline) → commit alerts,
//! seen ids and the new cursor in one transaction, fenced by the writer's [`Fence`] → wake the
//! deliverers → report health. [`poll_loop`] repeats steps until cancelled, backing off on
//! failure; live polling and scans use the same loop. [`launch`] builds a source from its
//! settings and starts it.
//!
//! Sources never import this module: they only fetch. That is what keeps a failed fetch from
//! ever moving a checkpoint.
//!
//! [`Fence`]: crate::state::Fence

pub mod driver;
pub mod launch;
pub mod orphans;
pub mod poll_loop;
mod services;

pub use driver::{DriverError, SourceDriver, StepReport, cursor_key};
pub use services::Services;

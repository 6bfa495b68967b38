//! Replicas sharing a PostgreSQL store: who works on what, through leases with fencing.
//!
//! The units of work are one lease each: `source/<name>` (polling and committing a source),
//! `sink/<name>` (delivering a sink's queue, so each sink is delivered by one replica, in
//! outbox order) and `fleet/metrics` (exporting the totals read from the shared outbox).
//! A source is the unit rather than a log group, project or workspace: a source's cursor is
//! one row committed in one transaction, so finer units would need a cursor each, and a
//! fleet spreads over many sources anyway (one per account, project or workspace is the
//! documented layout).
//!
//! - [`replica`]: this replica's id.
//! - [`timing`]: ttl, renew period and local deadline, from the poll interval.
//! - [`balance`]: which units to take or give up.
//! - [`share`]: each replica's share of every provider quota.
//! - [`keeper`]: the task that does it all and runs the work under the leases; `held.rs`,
//!   one held unit and the watchdog that stops it in time.
//!
//! On a single-writer store (SQLite) the same keeper runs: the store grants every lease to
//! the one process with [`Fence::Sole`](crate::state::Fence), nothing expires, and every
//! share stays 1.

pub mod balance;
mod held;
pub mod keeper;
pub mod replica;
pub mod share;
pub mod timing;

pub use keeper::{FLEET_METRICS, Graces, Keeper, Work};
pub use replica::ReplicaId;
pub use timing::LeaseTiming;

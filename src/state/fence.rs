//! The ownership token a writer shows with every commit.
//!
//! A single-writer backend (SQLite behind its file lock) has nothing to check and ignores it; a
//! shared backend (PostgreSQL) compares the lease's owner and epoch inside the commit's
//! transaction and refuses with [`StateError::LeaseLost`](super::StateError::LeaseLost) when
//! another replica took the lease since, so a paused or partitioned replica can never move a
//! cursor after losing ownership.

/// A lease as its holder saw it when it was granted or last renewed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LeaseToken {
    /// What is leased (`source/<name>`, `sink/<name>`, or a finer unit the lease keeper chooses).
    pub key: String,
    /// The replica that holds it.
    pub owner: String,
    /// Grows each time the lease changes hands; a commit carrying an older one is refused.
    pub epoch: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Fence {
    /// The process is the only writer of this store (SQLite's lock says so, or a one-off
    /// command on a store no daemon uses).
    Sole,
    /// The writer holds this lease of a shared store.
    Lease(LeaseToken),
}

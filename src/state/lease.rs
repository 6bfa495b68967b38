//! What the [`Leases`](super::Leases) role hands out and reports, in backend-neutral terms.
//!
//! A [`Grant`] is one lease as its holder knows it; its [`Fence`] is what every write made
//! under it carries. A single-writer store grants everything with [`Fence::Sole`], so the
//! daemon's code path is the same on both backends.

use super::Fence;

/// A lease as granted to (or renewed by) its holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The unit it covers: `source/<name>`, `sink/<name>` or `fleet/<role>`.
    pub name: String,
    pub owner: String,
    /// Grows every time the lease changes hands (0 on a single-writer store).
    pub epoch: u64,
    /// What writes made under this lease carry.
    pub fence: Fence,
}

impl Grant {
    /// Whether another holder had this lease before (it was taken over or given back), as
    /// opposed to taken for the first time.
    pub fn held_before(&self) -> bool {
        self.epoch > 1
    }
}

/// How the live leases drawing on one provider quota key are spread, seen from one replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaHolding {
    /// `gcp:<project>`, `aws:<account>:<region>`, …
    pub key: String,
    /// Live leases on the key held by the asking replica.
    pub mine: u32,
    /// Live leases on the key held by anyone.
    pub all: u32,
}

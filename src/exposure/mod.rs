//! The exposure lifecycle: which Services are exposed right now, since when, by whom, and what
//! ended it.
//!
//! An alert reports one write; an exposure follows a Service under one rule from the alerting
//! write that opens it, through the writes that keep it exposed (updates), to the write that
//! ends it (a ClusterIP, emptied `externalIPs`, a delete of the Service or of its namespace).
//! It sits after `detect` in the data flow and is pure: [`observe`] reads what one audit event
//! does, [`plan`] applies it to the rows it concerns (ordered by the write's own time, so late
//! or repeated reads never corrupt the state), and the state store writes the result in the
//! same transaction as the batch ([`Inventory`] does the same in memory for `detect`).
//! `docs/exposures.md` describes the lifecycle for users.

mod inventory;
mod key;
mod observation;
mod order;
mod plan;
mod resolution;
mod transition;

use serde::{Deserialize, Serialize};

pub use inventory::{Inventory, covers};
pub use key::{EXPOSURE_RULES, ExposureKey, ServiceRef};
pub use observation::{Actor, Effect, Observation, Opening, Snapshot, Target, observe};
pub use order::{OrderKey, Placement};
pub use plan::{Notice, Plan, plan};
pub use resolution::{Resolution, remind, resolve};
pub use transition::{Exposure, Status, Transition, transition};

/// Which exposures a listing shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Showing {
    #[default]
    Open,
    Closed,
    /// Open and closed (never the rows of Services known not to be exposed).
    All,
}

/// A listing's filters (`nodeport-watch exposures`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposureFilter {
    pub cluster: Option<String>,
    pub namespace: Option<String>,
    #[serde(skip)]
    pub showing: Showing,
}

impl ExposureFilter {
    pub fn statuses(&self) -> &'static [Status] {
        match self.showing {
            Showing::Open => &[Status::Open],
            Showing::Closed => &[Status::Closed],
            Showing::All => &[Status::Open, Status::Closed],
        }
    }

    pub fn accepts(&self, row: &Exposure) -> bool {
        self.statuses().contains(&row.status)
            && self
                .cluster
                .as_ref()
                .is_none_or(|c| *c == row.key.service.cluster)
            && self
                .namespace
                .as_ref()
                .is_none_or(|n| *n == row.key.service.namespace)
    }
}

/// Open exposures counted for metrics: per cluster and rule, with the oldest opening.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenCount {
    pub cluster: String,
    pub rule: String,
    pub count: u64,
    pub oldest_opened_ms: Option<i64>,
}

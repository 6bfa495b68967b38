//! How far an `azure_monitor` source has read: one watermark per workspace.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Cursor;
use crate::sources::time_axis::Watermarked;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AzureMonitorCursor {
    /// Per workspace ID: every row before this instant (milliseconds since the epoch) on the
    /// window axis has been read — ingestion time live, `TimeGenerated` in a scan.
    pub watermarks: BTreeMap<String, i64>,
}

impl Cursor for AzureMonitorCursor {
    const KIND: &'static str = "azure_monitor";
    const VERSION: u32 = 1;
}

impl AzureMonitorCursor {
    pub fn watermark(&self, workspace: &str) -> Option<i64> {
        self.watermarks.get(workspace).copied()
    }

    /// The least advanced watermark: how far the whole source has surely read.
    pub fn oldest(&self) -> Option<i64> {
        self.watermarks.values().copied().min()
    }
}

impl Watermarked for AzureMonitorCursor {
    fn behind_ms(&self) -> Option<i64> {
        self.oldest()
    }

    fn advance_to(&mut self, floor_ms: i64) {
        for w in self.watermarks.values_mut() {
            *w = (*w).max(floor_ms);
        }
    }

    fn ahead_ms(&self) -> Option<i64> {
        self.watermarks.values().copied().max()
    }

    fn rewind_to(&mut self, ceiling_ms: i64) {
        for w in self.watermarks.values_mut() {
            *w = (*w).min(ceiling_ms);
        }
    }
}

//! The checkpoint of a CloudWatch source, and what it says to read next.
//!
//! Per log group: a watermark (every event stamped before it has been read) and, while a window
//! is being read in several batches, the FilterLogEvents `nextToken` where the next batch resumes.
//! Carrying the token is what lets a window of any size be committed batch by batch without reading
//! an event twice or skipping one, across restarts too. A token is only valid for the exact request
//! that produced it and expires after 24 hours, so the cursor keeps the request's window and filter
//! pattern and the time it was issued; a token that no longer fits is dropped and its window read
//! again from the start (the seen set drops what was already handed over).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Cursor;
use crate::sources::time_axis::{ScanBounds, StreamPosition, Watermarked, Window, WindowPlanner};

/// A log group's watermark and resume token (the shared time-axis position).
pub type GroupPosition = StreamPosition;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudWatchCursor {
    /// Where a log group seen for the first time starts reading (unless it was created later).
    pub origin_ms: i64,
    /// By log group name.
    pub groups: BTreeMap<String, GroupPosition>,
}

impl Cursor for CloudWatchCursor {
    const KIND: &'static str = "aws_cloudwatch";
    const VERSION: u32 = 1;
}

/// One read of a log group: a window, from its start or from a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowRead {
    pub group: String,
    /// `[start_ms, end_ms)`.
    pub start_ms: i64,
    pub end_ms: i64,
    pub token: Option<String>,
}

/// How windows are planned for one poll: the planner, the clock, and a scan's bounds.
#[derive(Clone, Copy, Debug)]
pub struct Plan<'a> {
    pub planner: WindowPlanner,
    pub now: DateTime<Utc>,
    /// A scan's bounds; `None` when live.
    pub scan: Option<ScanBounds>,
    pub filter_pattern: Option<&'a str>,
}

impl Plan<'_> {
    /// What to read next in a log group, if anything.
    pub fn next_read(&self, group: &str, position: &GroupPosition) -> Option<WindowRead> {
        if let Some(page) = &position.page {
            return Some(WindowRead {
                group: group.to_owned(),
                start_ms: page.start_ms,
                end_ms: page.end_ms,
                token: page
                    .usable_token(self.filter_pattern, self.now)
                    .map(str::to_owned),
            });
        }
        let planned = self
            .planner
            .next(position.watermark_ms, self.now, self.scan)?;
        Some(WindowRead {
            group: group.to_owned(),
            start_ms: planned.window.start_ms,
            end_ms: planned.window.end_ms,
            token: None,
        })
    }

    /// The next read of the group furthest behind; groups `deferred` says are failing come last.
    pub fn pick(
        &self,
        cursor: &CloudWatchCursor,
        deferred: impl Fn(&str) -> bool,
    ) -> Option<WindowRead> {
        cursor
            .groups
            .iter()
            .filter_map(|(name, pos)| {
                self.next_read(name, pos)
                    .map(|read| ((deferred(name), pos.watermark_ms), read))
            })
            .min_by_key(|(order, _)| *order)
            .map(|(_, read)| read)
    }

    pub fn has_work(&self, cursor: &CloudWatchCursor) -> bool {
        self.pick(cursor, |_| false).is_some()
    }

    /// Whether to poll again at once in this round of reads, which began when the horizon was
    /// `round_horizon_ms`: a group is mid-window, or has not been read up to that horizon yet.
    /// A poll reads one group, so by the time the last group of a round is read the first is a
    /// little behind again; it waits for the next interval. Without the round a source of many
    /// groups never rests, and spends its account's request budget all the time.
    pub fn round_has_work(&self, cursor: &CloudWatchCursor, round_horizon_ms: i64) -> bool {
        cursor.groups.iter().any(|(name, pos)| {
            (pos.page.is_some() || pos.watermark_ms < round_horizon_ms)
                && self.next_read(name, pos).is_some()
        })
    }
}

impl WindowRead {
    pub fn window(&self) -> Window {
        Window {
            start_ms: self.start_ms,
            end_ms: self.end_ms,
        }
    }
}

impl CloudWatchCursor {
    pub fn starting_at(origin_ms: i64) -> Self {
        CloudWatchCursor {
            origin_ms,
            groups: BTreeMap::new(),
        }
    }

    /// Makes the cursor follow exactly `groups` (name, creation time): new groups start at the
    /// origin, or at their creation when that is later; groups gone are forgotten.
    pub fn follow(&mut self, groups: &[(String, Option<i64>)]) {
        self.groups
            .retain(|name, _| groups.iter().any(|(known, _)| known == name));
        for (name, created_ms) in groups {
            let start = created_ms.map_or(self.origin_ms, |c| c.max(self.origin_ms));
            self.groups
                .entry(name.clone())
                .or_insert_with(|| GroupPosition::at(start));
        }
    }

    /// Seen ids of events before this can go: no window of any group reaches back that far.
    pub fn forget_before(&self, planner: &WindowPlanner) -> Option<i64> {
        self.groups
            .values()
            .map(|pos| {
                let window_start = pos.page.as_ref().map_or(i64::MAX, |p| p.start_ms);
                planner.forget_before(pos.watermark_ms).min(window_start)
            })
            .min()
    }

    /// The oldest watermark, for the checkpoint-lag metric.
    pub fn position(&self) -> Option<DateTime<Utc>> {
        let oldest = self.groups.values().map(|p| p.watermark_ms).min()?;
        DateTime::from_timestamp_millis(oldest)
    }
}

impl Watermarked for CloudWatchCursor {
    fn behind_ms(&self) -> Option<i64> {
        self.groups.values().map(GroupPosition::behind_ms).min()
    }

    fn advance_to(&mut self, floor_ms: i64) {
        self.origin_ms = self.origin_ms.max(floor_ms);
        for pos in self.groups.values_mut() {
            pos.advance_to(floor_ms);
        }
    }

    fn ahead_ms(&self) -> Option<i64> {
        self.groups.values().map(GroupPosition::ahead_ms).max()
    }

    fn rewind_to(&mut self, ceiling_ms: i64) {
        self.origin_ms = self.origin_ms.min(ceiling_ms);
        for pos in self.groups.values_mut() {
            pos.rewind_to(ceiling_ms);
        }
    }
}

#[cfg(test)]
#[path = "cursor_tests.rs"]
mod tests;

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
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Cursor;
use crate::sources::TimeRange;
use crate::sources::window::WindowPlanner;

/// FilterLogEvents tokens live 24 hours; one older than this is not trusted.
const TOKEN_TTL_MS: i64 = 23 * 3600 * 1000;

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

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPosition {
    /// Events stamped before this (ms since the epoch) have been read.
    pub watermark_ms: i64,
    /// A window read in part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PagePosition>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagePosition {
    /// The window being read, `[start_ms, end_ms)`.
    pub start_ms: i64,
    pub end_ms: i64,
    pub next_token: String,
    /// The pattern the token was issued for: a token only continues the same request.
    pub filter_pattern: Option<String>,
    /// Wall-clock time the token was issued (ms).
    pub issued_ms: i64,
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
    /// A scan's range; `None` when live.
    pub range: Option<TimeRange>,
    pub filter_pattern: Option<&'a str>,
}

impl Plan<'_> {
    fn until_ms(&self) -> Option<i64> {
        // A scan's `until` is inclusive; windows are half-open.
        self.range
            .map(|r| r.until.timestamp_millis().saturating_add(1))
    }

    /// What to read next in a log group, if anything.
    pub fn next_read(&self, group: &str, position: &GroupPosition) -> Option<WindowRead> {
        if let Some(page) = &position.page {
            let fresh = self.now.timestamp_millis() - page.issued_ms < TOKEN_TTL_MS;
            let same_request = page.filter_pattern.as_deref() == self.filter_pattern;
            return Some(WindowRead {
                group: group.to_owned(),
                start_ms: page.start_ms,
                end_ms: page.end_ms,
                token: (fresh && same_request).then(|| page.next_token.clone()),
            });
        }
        let planned = self
            .planner
            .next(position.watermark_ms, self.now, self.until_ms())?;
        // A scan reads nothing before its range (the overlap only matters for late arrivals).
        let floor = self.range.map_or(i64::MIN, |r| r.since.timestamp_millis());
        Some(WindowRead {
            group: group.to_owned(),
            start_ms: planned.window.start_ms.max(floor),
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
}

impl GroupPosition {
    /// The window was read to its end.
    pub fn complete(&mut self, read: &WindowRead) {
        self.watermark_ms = self.watermark_ms.max(read.end_ms);
        self.page = None;
    }

    /// The window was read up to `token`.
    pub fn pause(
        &mut self,
        read: &WindowRead,
        token: String,
        filter_pattern: Option<&str>,
        now: DateTime<Utc>,
    ) {
        self.page = Some(PagePosition {
            start_ms: read.start_ms,
            end_ms: read.end_ms,
            next_token: token,
            filter_pattern: filter_pattern.map(str::to_owned),
            issued_ms: now.timestamp_millis(),
        });
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
                .or_insert_with(|| GroupPosition {
                    watermark_ms: start,
                    page: None,
                });
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

    /// Moves every watermark more than `keep` behind `now` forward to `now - keep`; returns the
    /// range that will not be read.
    pub fn skip_backlog(&mut self, keep: Duration, now: DateTime<Utc>) -> Option<TimeRange> {
        let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
        let floor = now.timestamp_millis().saturating_sub(keep_ms);
        let mut skipped_from: Option<i64> = None;
        if self.origin_ms < floor {
            self.origin_ms = floor;
        }
        for pos in self.groups.values_mut() {
            let behind = pos
                .page
                .as_ref()
                .map_or(pos.watermark_ms, |p| p.start_ms.min(pos.watermark_ms));
            if behind < floor {
                skipped_from = Some(skipped_from.map_or(behind, |s| s.min(behind)));
                pos.watermark_ms = floor;
                pos.page = None;
            }
        }
        let since = DateTime::from_timestamp_millis(skipped_from?)?;
        let until = DateTime::from_timestamp_millis(floor)?;
        Some(TimeRange { since, until })
    }
}

#[cfg(test)]
#[path = "cursor_tests.rs"]
mod tests;

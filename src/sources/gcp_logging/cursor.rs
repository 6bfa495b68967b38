//! How far a `gcp_logging` source has read, exactly, even in the middle of a window.
//!
//! Each project has a watermark: every entry with a `timestamp` before it has been read (apart
//! from late entries, which the next window's overlap picks up). A window with many pages may be
//! committed in several batches; between them the cursor keeps the window and the page token of
//! the next page. Cloud Logging continues a query from a token as long as every other parameter
//! is identical, so the window is rebuilt from the cursor exactly and the next batch starts where
//! the committed one stopped: nothing is skipped, nothing is read twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use crate::model::Cursor;
use crate::sources::time_axis::position::token_fresh;
use crate::sources::time_axis::{Watermarked, Window};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcpCursor {
    /// Watermark per project id, in milliseconds since the epoch.
    pub projects: BTreeMap<String, i64>,
    /// A window committed in part.
    pub resume: Option<Resume>,
}

impl Cursor for GcpCursor {
    const KIND: &'static str = "gcp_logging";
    const VERSION: u32 = 1;
}

/// The rest of a window whose first pages are committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The projects of the request, in request order (the token is only valid for them).
    pub projects: Vec<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub page_token: String,
    /// Wall-clock time the token was issued (ms); absent in checkpoints written before it was
    /// kept, whose tokens are tried once (a refused one restarts the window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_ms: Option<i64>,
    /// Entries of the page `page_token` serves that were already read (a batch filled up in
    /// the middle of the page).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skip: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Resume {
    pub fn new(
        projects: Vec<String>,
        window: Window,
        page_token: String,
        now: DateTime<Utc>,
    ) -> Self {
        Resume {
            projects,
            start_ms: window.start_ms,
            end_ms: window.end_ms,
            page_token,
            issued_ms: Some(now.timestamp_millis()),
            skip: 0,
        }
    }

    /// The token, unless it is past its 24-hour life at `now`.
    pub fn usable_token(&self, now: DateTime<Utc>) -> Option<&str> {
        let fresh = self.issued_ms.is_none_or(|issued| token_fresh(issued, now));
        fresh.then_some(self.page_token.as_str())
    }

    pub fn window(&self) -> Window {
        Window {
            start_ms: self.start_ms,
            end_ms: self.end_ms,
        }
    }
}

impl GcpCursor {
    /// A cursor with every project at `watermark_ms`.
    pub fn at(projects: &[String], watermark_ms: i64) -> Self {
        GcpCursor {
            projects: projects.iter().map(|p| (p.clone(), watermark_ms)).collect(),
            resume: None,
        }
    }

    /// Follows a configuration change: projects added since the checkpoint start at
    /// `new_project_ms`, projects removed are forgotten, and a half-read window over another
    /// set of projects is dropped (its projects' watermarks were not moved, so it is read again
    /// from its start and the entries already seen are dropped by id).
    pub fn align(&mut self, projects: &[String], groups: &[Vec<String>], new_project_ms: i64) {
        self.projects.retain(|p, _| projects.contains(p));
        for p in projects {
            self.projects.entry(p.clone()).or_insert(new_project_ms);
        }
        if self
            .resume
            .as_ref()
            .is_some_and(|r| !groups.contains(&r.projects))
        {
            self.resume = None;
        }
    }

    /// The oldest watermark of `projects`: a shared request must start there.
    pub fn watermark_of(&self, projects: &[String]) -> Option<i64> {
        projects
            .iter()
            .filter_map(|p| self.projects.get(p).copied())
            .min()
    }

    /// The oldest watermark of all.
    pub fn low_watermark(&self) -> Option<i64> {
        self.projects.values().copied().min()
    }

    /// Marks a window of `projects` as completely read.
    pub fn complete(&mut self, projects: &[String], end_ms: i64) {
        for p in projects {
            let w = self.projects.entry(p.clone()).or_insert(end_ms);
            *w = (*w).max(end_ms);
        }
        self.resume = None;
    }
}

impl Watermarked for GcpCursor {
    fn behind_ms(&self) -> Option<i64> {
        self.low_watermark()
    }

    fn advance_to(&mut self, floor_ms: i64) {
        for w in self.projects.values_mut() {
            *w = (*w).max(floor_ms);
        }
        self.resume = None;
    }

    fn ahead_ms(&self) -> Option<i64> {
        self.projects.values().copied().max()
    }

    fn rewind_to(&mut self, ceiling_ms: i64) {
        for w in self.projects.values_mut() {
            *w = (*w).min(ceiling_ms);
        }
        self.resume = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StoredCursor;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn round_trips_through_the_store_format() {
        let mut c = GcpCursor::at(&names(&["a", "b"]), 1_000);
        c.resume = Some(Resume {
            projects: names(&["a", "b"]),
            start_ms: 500,
            end_ms: 2_000,
            page_token: "opaque".into(),
            issued_ms: Some(1_000),
            skip: 7,
        });
        let stored = StoredCursor::encode(&c).unwrap();
        assert_eq!(stored.kind, "gcp_logging");
        assert_eq!(stored.decode::<GcpCursor>().unwrap(), c);
    }

    #[test]
    fn follows_configuration_changes() {
        let mut c = GcpCursor::at(&names(&["a", "b"]), 1_000);
        c.resume = Some(Resume {
            projects: names(&["a", "b"]),
            start_ms: 500,
            end_ms: 2_000,
            page_token: "t".into(),
            issued_ms: None,
            skip: 0,
        });
        let now = names(&["a", "c"]);
        c.align(&now, std::slice::from_ref(&now), 9_000);
        assert_eq!(c.projects.get("a"), Some(&1_000));
        assert_eq!(c.projects.get("c"), Some(&9_000));
        assert!(!c.projects.contains_key("b"));
        assert_eq!(c.resume, None, "the token belonged to another request");
        assert_eq!(c.watermark_of(&now), Some(1_000));
    }

    #[test]
    fn completing_never_moves_a_watermark_back() {
        let mut c = GcpCursor::at(&names(&["a"]), 5_000);
        c.complete(&names(&["a"]), 4_000);
        assert_eq!(c.low_watermark(), Some(5_000));
        c.complete(&names(&["a"]), 6_000);
        assert_eq!(c.low_watermark(), Some(6_000));
    }

    #[test]
    fn skipping_a_backlog_reports_where_it_started() {
        use chrono::TimeZone;
        let mut c = GcpCursor::at(&names(&["a", "b"]), 1_000);
        c.complete(&names(&["b"]), 8_000);
        let now = Utc.timestamp_millis_opt(10_000).unwrap();
        let keep = std::time::Duration::from_secs(5);
        let skipped = crate::sources::time_axis::skip_backlog(&mut c, keep, now).unwrap();
        assert_eq!(skipped.since.timestamp_millis(), 1_000);
        assert_eq!(c.projects.get("a"), Some(&5_000));
        assert_eq!(c.projects.get("b"), Some(&8_000));
        assert_eq!(
            crate::sources::time_axis::skip_backlog(&mut c, keep, now),
            None
        );
    }

    #[test]
    fn a_resume_token_expires_with_its_day() {
        use chrono::TimeZone;
        let t = Utc.timestamp_millis_opt(1_800_000_000_000).unwrap();
        let window = Window {
            start_ms: 0,
            end_ms: 1,
        };
        let r = Resume::new(names(&["a"]), window, "tok".into(), t);
        assert_eq!(r.usable_token(t + chrono::Duration::hours(1)), Some("tok"));
        assert_eq!(r.usable_token(t + chrono::Duration::hours(24)), None);
    }
}

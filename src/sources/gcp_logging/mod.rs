//! `type = "gcp_logging"`: GKE audit entries polled from Cloud Logging with `entries.list`.
//!
//! A poll reads one time window of one request group (up to 100 projects sharing a query):
//! the window's upper edge stays `lag` behind now and its lower edge `overlap` before the
//! watermark, because Cloud Logging makes entries visible seconds after their `timestamp`;
//! entries read twice are dropped by the driver on `logName`+`timestamp`+`insertId`. Pages are
//! read in `timestamp asc` order until no `nextPageToken` is left (an empty page with a token
//! only means the search is not done). A window too large for one batch is committed in
//! several, the cursor keeping the page token between them (see [`cursor`]).
//!
//! `poll` has no side effect besides API calls: the driver commits the returned cursor only
//! with the batch's alerts, so a failed page, a crash or a stop never moves the checkpoint past
//! an entry that was not processed. Every request first waits for the quota of each of its
//! projects ([`quota`]); a 429 is returned as a throttle for the driver to back off. A page that
//! fails after earlier pages of its window follows the shared policy
//! ([`crate::sources::time_axis::page_failure`]): those pages are committed with the failed
//! page's token, and the failure is reported at the next poll so the driver backs off first.

mod client;
pub mod config;
pub mod cursor;
pub mod filter;
pub mod quota;
pub mod record;
mod stats;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::{debug, warn};

use self::client::{LoggingApi, PageRequest};
use self::config::GcpLoggingSettings;
use self::filter::RequestGroup;
use self::quota::ProjectQuota;
use self::record::Origins;
use super::time_axis::progress::ProgressLog;
use super::time_axis::{self, HeldFailure, ScanBounds, Window, WindowPlanner, millis};
use super::{
    Batch, BuildSource, PollMode, Progress, Record, Source, SourceContext, SourceError, TimeRange,
};
use crate::clock::Clock;
use crate::telemetry::metrics;

pub use client::ClientError;
pub use cursor::{GcpCursor, Resume};
pub use stats::{PollStats, StatsSnapshot};

pub struct GcpLoggingSource {
    name: String,
    settings: Arc<GcpLoggingSettings>,
    api: LoggingApi,
    groups: Vec<RequestGroup>,
    quota: ProjectQuota,
    origins: Origins,
    planner: WindowPlanner,
    clock: Arc<dyn Clock>,
    progress: ProgressLog,
    stats: Arc<PollStats>,
    /// The `now` every window of the current cycle is planned against (see [`Self::cycle_now`]).
    cycle: Option<DateTime<Utc>>,
    /// A page failure held back while the pages before it are committed.
    held_failure: HeldFailure,
}

/// What the next poll reads.
#[derive(Clone, Debug)]
struct Step {
    group: usize,
    window: Window,
    /// Empty for the window's first page.
    page_token: String,
    /// Entries of that page already committed (a batch filled up in the middle of it).
    skip: usize,
    /// When `page_token` was issued, if it was stored.
    issued_ms: Option<i64>,
}

/// How a run of pages ended.
enum PagesEnd {
    WindowDone,
    /// The batch is full; the rest of the window waits for the next poll: the page of `token`
    /// from its entry `skip` on.
    Cut {
        token: String,
        skip: usize,
    },
    /// A page failed after `token`; what came before it is kept.
    Failed {
        token: String,
        error: google_cloud_gax::error::Error,
    },
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl BuildSource for GcpLoggingSource {
    type Settings = GcpLoggingSettings;

    /// Builds the client (credentials are resolved here, so a missing key file is reported at
    /// start) and takes the projects' shares of the quota from `rate_limits`.
    async fn build(ctx: SourceContext, settings: &GcpLoggingSettings) -> Result<Self, SourceError> {
        let SourceContext {
            name,
            clock,
            rate_limits,
        } = ctx;
        let name = name.as_str();
        let rate_limits = &rate_limits;
        let settings = settings.clone();
        let groups = filter::plan_groups(&settings).map_err(SourceError::fatal)?;
        let api = LoggingApi::connect(&settings).await?;
        let quota = ProjectQuota::new(
            rate_limits,
            &settings.projects,
            settings.requests_per_minute,
        );
        Ok(GcpLoggingSource {
            name: name.to_owned(),
            origins: Origins::new(name, &settings.projects),
            planner: settings.window.planner(),
            progress: ProgressLog::new(settings.progress_interval),
            settings: Arc::new(settings),
            api,
            groups,
            quota,
            clock,
            stats: Arc::default(),
            cycle: None,
            held_failure: HeldFailure::default(),
        })
    }
}

impl GcpLoggingSource {
    /// The time windows are planned against. It stays fixed until every group has read up to
    /// the horizon it gives: otherwise the seconds spent waiting for quota would always leave a
    /// sliver of new time, and each sliver would cost a poll that re-reads the whole overlap.
    /// A new cycle (a fresh `now`) starts on the poll after the source reported `CaughtUp`.
    fn cycle_now(&mut self, cursor: &GcpCursor, until: Option<ScanBounds>) -> DateTime<Utc> {
        if let Some(now) = self.cycle
            && (cursor.resume.is_some() || self.next_step(cursor, now, until).is_some())
        {
            return now;
        }
        let now = self.clock.now();
        self.cycle = Some(now);
        now
    }

    /// The source's API counters (shared: they keep counting after this call).
    pub fn stats(&self) -> Arc<PollStats> {
        Arc::clone(&self.stats)
    }

    fn start_ms(&self, mode: &PollMode, now: DateTime<Utc>) -> i64 {
        self.settings.window.start_ms(mode, now)
    }

    fn group_projects(&self) -> Vec<Vec<String>> {
        self.groups.iter().map(|g| g.projects.clone()).collect()
    }

    /// The half-read window if there is one, else the group furthest behind with time to read.
    fn next_step(
        &self,
        cursor: &GcpCursor,
        now: DateTime<Utc>,
        until: Option<ScanBounds>,
    ) -> Option<Step> {
        if let Some(resume) = &cursor.resume
            && let Some(group) = self
                .groups
                .iter()
                .position(|g| g.projects == resume.projects)
        {
            // An expired token restarts the window from its first page, all of it.
            let token = resume.usable_token(now);
            return Some(Step {
                group,
                window: resume.window(),
                page_token: token.unwrap_or_default().to_owned(),
                skip: if token.is_some() { resume.skip } else { 0 },
                issued_ms: resume.issued_ms,
            });
        }
        self.groups
            .iter()
            .enumerate()
            .filter_map(|(i, g)| {
                let watermark = cursor.watermark_of(&g.projects)?;
                let planned = self.planner.next(watermark, now, until)?;
                Some((watermark, i, planned.window))
            })
            .min_by_key(|(watermark, i, _)| (*watermark, *i))
            .map(|(_, group, window)| Step {
                group,
                window,
                page_token: String::new(),
                skip: 0,
                issued_ms: None,
            })
    }

    /// Where the source stands once `cursor` is committed.
    fn progress_of(
        &self,
        cursor: &GcpCursor,
        now: DateTime<Utc>,
        until: Option<ScanBounds>,
    ) -> Progress {
        if cursor.resume.is_some() || self.next_step(cursor, now, until).is_some() {
            return Progress::More;
        }
        match (until, cursor.low_watermark()) {
            (Some(bounds), Some(low)) if bounds.finished(low) => Progress::Finished,
            _ => Progress::CaughtUp,
        }
    }

    /// Reads pages of `step` until the window ends, the batch is full or a page fails. A batch
    /// fills up at an entry, not at a page's end: a page of large entries (up to 1,000 of up to
    /// 512 KiB) must not take a batch far past `max_batch_size`.
    async fn read_pages(&self, step: &Step, records: &mut Vec<Record>) -> PagesEnd {
        let group = &self.groups[step.group];
        let filter = group.filter(step.window);
        let mut token = step.page_token.clone();
        let mut skip = step.skip;
        let mut bytes = 0usize;
        loop {
            self.quota.acquire(&group.projects).await;
            self.stats.request();
            metrics::record_api_call(&self.name, "entries.list");
            let request = PageRequest {
                resource_names: &group.resource_names,
                filter: &filter,
                page_size: self.settings.page_size,
                page_token: &token,
            };
            let page = match self.api.list(request).await {
                Ok(page) => page,
                Err(error) => {
                    if self.api.classify(&error, &group.projects).kind
                        == super::SourceErrorKind::Throttled
                    {
                        self.stats.throttled();
                    } else {
                        self.stats.failed(client::is_timeout(&error));
                    }
                    return PagesEnd::Failed { token, error };
                }
            };
            let has_more = !page.next_page_token.is_empty();
            self.stats.page(page.entries.len(), has_more);
            let full = |records: &Vec<Record>, bytes: usize| {
                records.len() >= self.settings.max_batch_entries
                    || bytes >= self.settings.max_batch_bytes
            };
            let already_read = std::mem::take(&mut skip);
            for (i, entry) in page.entries.iter().enumerate().skip(already_read) {
                match record::to_record(entry, &self.origins, step.window.start_ms) {
                    Ok(r) => {
                        bytes += r.text.len();
                        records.push(r);
                    }
                    Err(e) => {
                        // Cannot happen with JSON-backed values; counted rather than trusted.
                        metrics::record_skip(&self.name, "unserializable");
                        warn!(source = %self.name, insert_id = %entry.insert_id, error = %e, "entry could not be serialized; skipped");
                    }
                }
                if full(records, bytes) && i + 1 < page.entries.len() {
                    // The same token serves the same page again; the overlap and the seen ids
                    // cover an entry that turned up in it late, as between any two pages.
                    return PagesEnd::Cut { token, skip: i + 1 };
                }
            }
            if !has_more {
                return PagesEnd::WindowDone;
            }
            token = page.next_page_token;
            if full(records, bytes) {
                return PagesEnd::Cut { token, skip: 0 };
            }
        }
    }

    fn batch(
        &mut self,
        records: Vec<Record>,
        cursor: GcpCursor,
        mode: &PollMode,
        now: DateTime<Utc>,
    ) -> Batch<GcpCursor> {
        let until = scan_until(mode);
        let progress = self.progress_of(&cursor, now, until);
        if progress != Progress::More {
            self.cycle = None;
        }
        let low = cursor.low_watermark();
        if let Some(low) = low {
            let stats = self.stats.snapshot().into();
            match mode {
                PollMode::Scan(range) => {
                    let bounds = ScanBounds::of(range);
                    self.progress
                        .scan(&self.name, bounds.start_ms, low, bounds.end_ms, stats);
                }
                PollMode::Live => {
                    let window = &self.settings.window;
                    let horizon = ms(now).saturating_sub(millis(window.lag));
                    let behind = horizon.saturating_sub(low) > millis(window.max_span);
                    self.progress.live(&self.name, low, horizon, behind, stats);
                }
            }
        }
        Batch {
            records,
            progress,
            forget_seen_before_ms: low.map(|w| self.planner.forget_before(w)),
            position: low.and_then(DateTime::from_timestamp_millis),
            cursor,
        }
    }
}

fn scan_until(mode: &PollMode) -> Option<ScanBounds> {
    match mode {
        PollMode::Live => None,
        PollMode::Scan(range) => Some(ScanBounds::of(range)),
    }
}

#[async_trait]
impl Source for GcpLoggingSource {
    type Cursor = GcpCursor;

    fn start(&self, mode: &PollMode, now: DateTime<Utc>) -> GcpCursor {
        GcpCursor::at(&self.settings.projects, self.start_ms(mode, now))
    }

    async fn poll(
        &mut self,
        cursor: &GcpCursor,
        mode: &PollMode,
    ) -> Result<Batch<GcpCursor>, SourceError> {
        self.held_failure.report()?;
        let until = scan_until(mode);
        let mut cursor = cursor.clone();
        cursor.align(
            &self.settings.projects,
            &self.group_projects(),
            self.start_ms(mode, self.clock.now()),
        );
        let now = self.cycle_now(&cursor, until);
        let Some(step) = self.next_step(&cursor, now, until) else {
            return Ok(self.batch(Vec::new(), cursor, mode, now));
        };
        let projects = self.groups[step.group].projects.clone();
        let mut records = Vec::new();
        match self.read_pages(&step, &mut records).await {
            PagesEnd::WindowDone => {
                self.stats.window();
                cursor.complete(&projects, step.window.end_ms);
            }
            PagesEnd::Cut { token, skip } => {
                let same_page = skip > 0 && token == step.page_token;
                let mut resume = Resume::new(projects, step.window, token, now);
                resume.skip = skip;
                if same_page {
                    // The token is as old as when it was first handed out.
                    resume.issued_ms = step.issued_ms.or(resume.issued_ms);
                }
                cursor.resume = Some(resume);
            }
            PagesEnd::Failed { error, .. } if records.is_empty() => {
                if client::is_invalid_argument(&error) && !step.page_token.is_empty() {
                    // A stored token older than its 24 h life: read the window again from its
                    // start (the watermark never moved); entries already seen are dropped.
                    warn!(source = %self.name, error = %error, "the saved page token was refused; reading the window again from its start");
                    cursor.resume = None;
                    return Ok(self.batch(Vec::new(), cursor, mode, now));
                }
                return Err(self.api.classify(&error, &projects));
            }
            PagesEnd::Failed { token, error } => {
                // The shared page-failure policy: keep the pages that arrived, report the
                // failure at the next poll so the driver backs off first.
                debug!(source = %self.name, error = %error, "page failed after {} entries; committing them first", records.len());
                self.held_failure.hold(self.api.classify(&error, &projects));
                cursor.resume = Some(Resume::new(projects, step.window, token, now));
            }
        }
        Ok(self.batch(records, cursor, mode, now))
    }

    fn skip_backlog(
        &self,
        cursor: &mut GcpCursor,
        keep: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Option<TimeRange> {
        time_axis::skip_backlog(cursor, keep, now)
    }

    fn rewind_ahead(
        &self,
        cursor: &mut Self::Cursor,
        now: DateTime<Utc>,
    ) -> Option<time_axis::Rewound> {
        time_axis::rewind_ahead(cursor, &self.planner, now)
    }

    fn skew_tolerance(&self) -> std::time::Duration {
        time_axis::skew_tolerance(&self.planner)
    }

    async fn healthcheck(&mut self) -> Result<(), SourceError> {
        let now = ms(self.clock.now());
        let window = Window {
            start_ms: now.saturating_sub(3_600_000),
            end_ms: now,
        };
        for group in &self.groups {
            self.quota.acquire(&group.projects).await;
            self.stats.request();
            let filter = group.filter(window);
            let request = PageRequest {
                resource_names: &group.resource_names,
                filter: &filter,
                page_size: 1,
                page_token: "",
            };
            self.api
                .list(request)
                .await
                .map_err(|e| self.api.classify(&e, &group.projects))?;
        }
        Ok(())
    }
}

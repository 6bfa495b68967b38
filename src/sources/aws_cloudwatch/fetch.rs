//! Reading one window of one log group: FilterLogEvents page after page, under the rate limit
//! shared by every source of the same account and region.
//!
//! Pagination follows `nextToken` until there is none: AWS may return pages that are empty, or
//! partly full, while it still has more to search, so neither ends a window. A batch stops early
//! (and the window is resumed from its token by the next poll) once it holds `max_batch_entries` events,
//! `BATCH_BYTES` of messages or `max_pages` pages, so memory stays flat whatever the backlog. Each
//! request asks for no more events than the batch has room for, so a page is never split.
//!
//! Both `logStreamNamePrefix` and a client-side check select the audit streams: AWS applies the
//! prefix, an emulator may not (moto ignores it), and the behaviour must be the same on both.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;

use super::client;
use super::config::AwsCloudWatchSettings;
use super::cursor::WindowRead;
use super::cut_pattern::{CUT_SERVICES_PATTERN, MAX_CUT_PAGES};
use super::errors::{ApiError, Failure};
use crate::sources::rate_limit::Limiter;
use crate::telemetry::metrics;

/// Message bytes per batch; a page adds at most 1 MB beyond it.
pub const BATCH_BYTES: usize = 16 * 1024 * 1024;

/// What a source has fetched since it started, for the measurement and for tests.
#[derive(Debug, Default)]
pub struct FetchStats {
    requests: AtomicU64,
    failed_requests: AtomicU64,
    events: AtomicU64,
    bytes: AtomicU64,
    foreign_stream_events: AtomicU64,
    skipped_messages: AtomicU64,
}

/// A copy of [`FetchStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchCounts {
    /// FilterLogEvents requests, failed ones included.
    pub requests: u64,
    pub failed_requests: u64,
    /// Events AWS returned, and the bytes of their messages.
    pub events: u64,
    pub bytes: u64,
    /// Events returned from streams outside `stream_prefix` (dropped client-side).
    pub foreign_stream_events: u64,
    /// Messages skipped as not JSON (each counted once).
    pub skipped_messages: u64,
}

impl FetchStats {
    pub fn counts(&self) -> FetchCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FetchCounts {
            requests: get(&self.requests),
            failed_requests: get(&self.failed_requests),
            events: get(&self.events),
            bytes: get(&self.bytes),
            foreign_stream_events: get(&self.foreign_stream_events),
            skipped_messages: get(&self.skipped_messages),
        }
    }

    pub fn count_skipped(&self) {
        Self::add(&self.skipped_messages, 1);
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The pages read by one poll.
#[derive(Debug)]
pub struct Fetched {
    /// Events of the audit streams, in the order AWS returned them.
    pub events: Vec<FilteredLogEvent>,
    /// Where the window resumes; `None` when it was read to its end.
    pub resume: Option<String>,
    /// A page failed after earlier pages of this poll succeeded: those are kept (and committed)
    /// and the failure is reported at the next poll, before any new request.
    pub failure: Option<ApiError>,
}

pub struct Fetcher<'a> {
    pub source: &'a str,
    pub logs: &'a aws_sdk_cloudwatchlogs::Client,
    pub limiter: &'a Limiter,
    pub settings: &'a AwsCloudWatchSettings,
    pub stats: &'a Arc<FetchStats>,
}

struct Page {
    events: Vec<FilteredLogEvent>,
    next_token: Option<String>,
}

impl Fetcher<'_> {
    /// Reads `read` from its token (or its start) until the window ends or the batch is full.
    /// Fails only if no page at all could be read.
    pub async fn read(&self, read: &WindowRead) -> Result<Fetched, ApiError> {
        let mut token = read.token.clone();
        let mut events: Vec<FilteredLogEvent> = Vec::new();
        let mut bytes = 0usize;
        for page_number in 0..self.settings.max_pages {
            let room = self.settings.max_batch_entries.saturating_sub(events.len());
            let pattern = self.settings.filter_pattern.as_deref();
            let page = match self.page(read, pattern, token.clone(), room).await {
                Ok(page) => page,
                Err(e) if page_number == 0 => return Err(e),
                Err(e) => {
                    return Ok(Fetched {
                        events,
                        resume: token,
                        failure: Some(e),
                    });
                }
            };
            let stalled = page.events.is_empty() && page.next_token == token;
            bytes += page
                .events
                .iter()
                .map(|e| e.message().map_or(0, str::len))
                .sum::<usize>();
            events.extend(page.events);
            // A token that does not move would loop forever: the server has nothing more.
            token = page.next_token.filter(|next| !next.is_empty() && !stalled);
            let full = events.len() >= self.settings.max_batch_entries || bytes >= BATCH_BYTES;
            if token.is_none() || full {
                break;
            }
        }
        Ok(Fetched {
            events,
            resume: token,
            failure: None,
        })
    }

    /// Reads the whole window `read` covers with [`CUT_SERVICES_PATTERN`]: the messages cut at
    /// the size limit that the JSON pattern cannot return. Nearly always one request; a window
    /// whose search takes more than [`MAX_CUT_PAGES`] pages fails transiently, to be read again.
    pub async fn read_cut_messages(
        &self,
        read: &WindowRead,
    ) -> Result<Vec<FilteredLogEvent>, ApiError> {
        let mut events = Vec::new();
        let mut token = None;
        for _ in 0..MAX_CUT_PAGES {
            let room = self.settings.max_batch_entries;
            let page = self
                .page(read, Some(CUT_SERVICES_PATTERN), token.clone(), room)
                .await?;
            let stalled = page.events.is_empty() && page.next_token == token;
            events.extend(page.events);
            token = page.next_token.filter(|next| !next.is_empty() && !stalled);
            if token.is_none() {
                return Ok(events);
            }
        }
        Err(ApiError::new(
            Failure::Transient,
            format!(
                "log group {}: searching one window for cut messages took more than \
                 {MAX_CUT_PAGES} pages; reading it again",
                read.group
            ),
        ))
    }

    async fn page(
        &self,
        read: &WindowRead,
        pattern: Option<&str>,
        token: Option<String>,
        room: usize,
    ) -> Result<Page, ApiError> {
        self.limiter.acquire().await;
        metrics::record_api_call(self.source, "FilterLogEvents");
        FetchStats::add(&self.stats.requests, 1);
        let prefix = &self.settings.stream_prefix;
        let response = self
            .logs
            .filter_log_events()
            .log_group_name(&read.group)
            .set_log_stream_name_prefix((!prefix.is_empty()).then(|| prefix.clone()))
            .start_time(read.start_ms)
            // FilterLogEvents' endTime is inclusive; windows are half-open.
            .end_time(read.end_ms.saturating_sub(1))
            .set_filter_pattern(pattern.map(str::to_owned))
            .limit(self.settings.page_limit(room))
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| {
                FetchStats::add(&self.stats.failed_requests, 1);
                ApiError::from_sdk(
                    "FilterLogEvents",
                    &client::endpoint(self.settings, "logs"),
                    e,
                )
            })?;
        let next_token = response.next_token().map(str::to_owned);
        let returned = response.events.unwrap_or_default();
        FetchStats::add(&self.stats.events, returned.len() as u64);
        FetchStats::add(
            &self.stats.bytes,
            returned
                .iter()
                .map(|e| e.message().map_or(0, str::len) as u64)
                .sum(),
        );
        let before = returned.len();
        let events: Vec<FilteredLogEvent> = returned
            .into_iter()
            .filter(|e| {
                e.log_stream_name()
                    .map_or(prefix.is_empty(), |s| s.starts_with(prefix.as_str()))
            })
            .collect();
        FetchStats::add(
            &self.stats.foreign_stream_events,
            (before - events.len()) as u64,
        );
        Ok(Page { events, next_token })
    }
}

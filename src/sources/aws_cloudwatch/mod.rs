//! `type = "aws_cloudwatch"`: EKS control-plane audit logs polled from CloudWatch Logs.
//!
//! One poll reads one window of one log group (the group furthest behind) with FilterLogEvents
//! and hands its events over as a batch; the driver commits the batch's alerts, the seen event ids
//! and the new cursor in one transaction. The poll itself writes nothing, so a failed or throttled
//! page can never move the checkpoint.
//!
//! Why events are neither lost nor sent twice:
//! - a window's upper edge stays `lag` behind now, and every window starts again `overlap` before
//!   the watermark: events that share a millisecond across a window edge, and events CloudWatch
//!   makes visible after their timestamp was passed, are read by the next window; the ones read
//!   before are dropped by event id (the driver's seen set, scoped by log group);
//! - a window too large for one batch is committed in several, each resuming from the page token
//!   kept in the cursor ([`cursor`]);
//! - a page that fails after others succeeded keeps the pages before it and reports the failure
//!   at the next poll (before any request), so the driver backs off without losing work (the
//!   shared policy of [`crate::sources::time_axis::page_failure`]).
//!
//! The modules: [`client`] (credentials, role, endpoint, account), [`discovery`] (which log
//! groups), [`cursor`] (checkpoint and window planning), [`fetch`] (pages), [`records`] (events →
//! records, unusable messages), [`errors`] (retry classification), [`filter_pattern`] (pushdown).

pub mod client;
pub mod config;
pub mod cursor;
pub mod cut_pattern;
pub mod discovery;
pub mod errors;
pub mod fetch;
pub mod filter_pattern;
pub mod records;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::config::SharedCredentialsProvider;
use chrono::{DateTime, Utc};
use tracing::{info, warn};

pub use cursor::CloudWatchCursor;
pub use fetch::{FetchCounts, FetchStats};

use self::client::Clients;
use self::config::AwsCloudWatchSettings;
use self::cursor::{Plan, WindowRead};
use self::discovery::{Discovery, cluster_of};
use self::errors::{ApiError, Failure};
use self::fetch::Fetcher;
use self::records::{Made, Origins, RecordMaker};
use super::rate_limit::{Budget, Limiter, RateLimits};
use super::time_axis::{self, HeldFailure, ScanBounds, WindowPlanner};
use super::{
    Batch, BuildSource, PollMode, Progress, Record, Source, SourceContext, SourceError, TimeRange,
};
use crate::clock::Clock;

/// A log group whose reads fail for a reason of its own (permissions) is tried after the others
/// for this long, so one misconfigured cluster does not blind the source to the rest.
const FAILING_GROUP_DEFERRAL: chrono::Duration = chrono::Duration::seconds(60);

/// The shared request budgets of this source's account and region.
struct Budgets {
    account: String,
    filter: Arc<Limiter>,
    describe: Arc<Limiter>,
}

pub struct AwsCloudWatchSource {
    name: String,
    settings: Arc<AwsCloudWatchSettings>,
    clients: Clients,
    rate_limits: RateLimits,
    clock: Arc<dyn Clock>,
    planner: WindowPlanner,
    discovery: Discovery,
    budgets: Option<Budgets>,
    stats: Arc<FetchStats>,
    /// Dedupe keys of skipped messages, so a re-read in the overlap is not counted again.
    skipped: HashMap<String, i64>,
    /// Groups whose last read failed on their own account, until when they go last.
    failing: HashMap<String, DateTime<Utc>>,
    /// Groups that do not exist, warned about once.
    missing: HashSet<String>,
    /// A page failure held back while the pages before it are committed.
    held_failure: HeldFailure,
    /// The horizon when the current round of live reads began (see `Plan::round_has_work`).
    round_horizon_ms: Option<i64>,
}

impl AwsCloudWatchSource {
    /// Builds the source; no AWS call is made before the first poll. `credentials` replaces the
    /// default credential chain (tests point an emulator at static keys).
    pub async fn new(
        ctx: SourceContext,
        settings: AwsCloudWatchSettings,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Self {
        let SourceContext {
            name,
            clock,
            rate_limits,
        } = ctx;
        let name = name.as_str();
        let clients = client::connect(&settings, credentials).await;
        let planner = settings.window.planner();
        let discovery = Discovery::new(
            name,
            settings.log_groups.clone(),
            settings.log_group_prefix.clone(),
            settings.discovery_interval,
        );
        AwsCloudWatchSource {
            name: name.to_owned(),
            settings: Arc::new(settings),
            clients,
            rate_limits,
            clock,
            planner,
            discovery,
            budgets: None,
            stats: Arc::default(),
            skipped: HashMap::new(),
            failing: HashMap::new(),
            missing: HashSet::new(),
            held_failure: HeldFailure::default(),
            round_horizon_ms: None,
        }
    }
}

impl BuildSource for AwsCloudWatchSource {
    type Settings = AwsCloudWatchSettings;

    async fn build(
        ctx: SourceContext,
        settings: &AwsCloudWatchSettings,
    ) -> Result<Self, SourceError> {
        Ok(AwsCloudWatchSource::new(ctx, settings.clone(), None).await)
    }
}

impl AwsCloudWatchSource {
    /// Requests, events and bytes fetched so far.
    pub fn stats(&self) -> Arc<FetchStats> {
        Arc::clone(&self.stats)
    }

    /// The key of the request budget this source draws on (`aws:<account>:<region>`), once the
    /// first poll resolved the account.
    pub fn quota_key(&self) -> Option<String> {
        let budgets = self.budgets.as_ref()?;
        Some(format!("aws:{}:{}", budgets.account, self.settings.region))
    }

    /// Resolves the account once, then the limiters shared under `aws:<account>:<region>`.
    async fn budgets(&mut self) -> Result<&Budgets, SourceError> {
        if self.budgets.is_none() {
            let account = self.clients.account(&self.settings).await?;
            let key = format!("aws:{account}:{}", self.settings.region);
            let budget = Budget::per_second(self.settings.requests_per_second);
            info!(source = %self.name, quota = %key, "reading CloudWatch Logs");
            self.budgets = Some(Budgets {
                filter: self
                    .rate_limits
                    .get(&format!("{key}:FilterLogEvents"), budget),
                describe: self
                    .rate_limits
                    .get(&format!("{key}:DescribeLogGroups"), budget),
                account,
            });
        }
        self.budgets
            .as_ref()
            .ok_or_else(|| SourceError::transient("the account could not be resolved"))
    }

    async fn log_groups(&mut self) -> Result<Vec<(String, Option<i64>)>, SourceError> {
        let describe = Arc::clone(&self.budgets().await?.describe);
        let groups = self.discovery.groups(&self.clients, &describe).await?;
        Ok(groups.into_iter().map(|g| (g.name, g.created_ms)).collect())
    }

    /// Reads one window (or the next part of it) and moves the group's position past it.
    async fn read_group(
        &mut self,
        cursor: &mut CloudWatchCursor,
        read: &WindowRead,
        now: DateTime<Utc>,
    ) -> Result<Vec<Record>, SourceError> {
        let filter = Arc::clone(&self.budgets().await?.filter);
        let fetcher = Fetcher {
            source: &self.name,
            logs: &self.clients.logs,
            limiter: &filter,
            settings: &self.settings,
            stats: &self.stats,
        };
        let mut fetched = match fetcher.read(read).await {
            Ok(fetched) => fetched,
            Err(e) => return self.read_failed(cursor, read, now, e),
        };
        // With pushdown on, the window's cut messages come from a second pattern, read once the
        // window is read to its end; if that fails, the window's last part is read again.
        let window_done = fetched.resume.is_none() && fetched.failure.is_none();
        if window_done && self.settings.filter_pattern.is_some() {
            match fetcher.read_cut_messages(read).await {
                Ok(cut) => fetched.events.extend(cut),
                Err(e) => return self.read_failed(cursor, read, now, e),
            }
        }
        self.failing.remove(&read.group);
        if self.missing.remove(&read.group) {
            info!(source = %self.name, log_group = %read.group, "log group found");
        }

        let account = self.budgets.as_ref().map(|b| b.account.as_str());
        let mut maker = RecordMaker::new(Origins {
            source: &self.name,
            group: &read.group,
            cluster: cluster_of(&read.group),
            account,
            region: &self.settings.region,
        });
        let mut records = Vec::with_capacity(fetched.events.len());
        for event in &fetched.events {
            match maker.make(event, read.start_ms) {
                Made::Record(record) => records.push(record),
                Made::Skipped(key, why) => {
                    if self.skipped.insert(key.key, key.event_ms).is_none() {
                        self.stats.count_skipped();
                        maker.report_skip(event, why);
                    }
                }
            }
        }
        if let Some(position) = cursor.groups.get_mut(&read.group) {
            match fetched.resume {
                None => position.complete(read.window()),
                Some(token) => position.pause(
                    read.window(),
                    token,
                    self.settings.filter_pattern.as_deref(),
                    now,
                ),
            }
        }
        if let Some(failure) = &fetched.failure
            && failure.failure == Failure::Fatal
        {
            self.failing
                .insert(read.group.clone(), now + FAILING_GROUP_DEFERRAL);
        }
        if let Some(failure) = fetched.failure {
            self.held_failure.hold(failure.into());
        }
        Ok(records)
    }

    /// A read that got no page at all: some failures are the group's own business.
    fn read_failed(
        &mut self,
        cursor: &mut CloudWatchCursor,
        read: &WindowRead,
        now: DateTime<Utc>,
        e: ApiError,
    ) -> Result<Vec<Record>, SourceError> {
        let position = cursor.groups.get_mut(&read.group);
        match (e.failure, position) {
            // No group, no events: the window is empty. It is polled again every interval and
            // read from then on once EKS starts writing to it.
            (Failure::NotFound, Some(position)) => {
                if self.missing.insert(read.group.clone()) {
                    warn!(source = %self.name, log_group = %read.group, "log group does not exist: is the `audit` log type of the cluster turned on?");
                }
                position.complete(read.window());
                Ok(Vec::new())
            }
            (Failure::InvalidParameter, Some(position)) if read.token.is_some() => {
                warn!(source = %self.name, log_group = %read.group, error = %e, "page token refused; reading the window again from its start");
                position.page = None;
                Ok(Vec::new())
            }
            (Failure::Fatal, _) => {
                self.failing
                    .insert(read.group.clone(), now + FAILING_GROUP_DEFERRAL);
                Err(e.into())
            }
            _ => Err(e.into()),
        }
    }
}

#[async_trait]
impl Source for AwsCloudWatchSource {
    type Cursor = CloudWatchCursor;

    fn start(&self, mode: &PollMode, now: DateTime<Utc>) -> CloudWatchCursor {
        CloudWatchCursor::starting_at(self.settings.window.start_ms(mode, now))
    }

    async fn poll(
        &mut self,
        cursor: &CloudWatchCursor,
        mode: &PollMode,
    ) -> Result<Batch<CloudWatchCursor>, SourceError> {
        self.held_failure.report()?;
        let groups = self.log_groups().await?;
        let now = self.clock.now();
        let mut cursor = cursor.clone();
        cursor.follow(&groups);
        let scan = match mode {
            PollMode::Live => None,
            PollMode::Scan(range) => Some(ScanBounds::of(range)),
        };
        let settings = Arc::clone(&self.settings);
        let plan = Plan {
            planner: self.planner,
            now,
            scan,
            filter_pattern: settings.filter_pattern.as_deref(),
        };
        let failing = &self.failing;
        let next = plan.pick(&cursor, |g| {
            failing.get(g).is_some_and(|until| *until > now)
        });
        let records = match next {
            Some(read) => self.read_group(&mut cursor, &read, now).await?,
            None => Vec::new(),
        };
        let round = *self
            .round_horizon_ms
            .get_or_insert_with(|| self.planner.horizon(now, scan));
        let more = match scan {
            None => plan.round_has_work(&cursor, round),
            Some(_) => plan.has_work(&cursor),
        };
        let progress = match (more, scan) {
            (true, _) => Progress::More,
            (false, Some(_)) => Progress::Finished,
            (false, None) => Progress::CaughtUp,
        };
        if !more {
            self.round_horizon_ms = None;
        }
        let forget = cursor.forget_before(&self.planner);
        if let Some(before) = forget {
            self.skipped.retain(|_, event_ms| *event_ms >= before);
        }
        Ok(Batch {
            records,
            position: cursor.position(),
            cursor,
            progress,
            forget_seen_before_ms: forget,
        })
    }

    fn skip_backlog(
        &self,
        cursor: &mut CloudWatchCursor,
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
        let groups = self.log_groups().await?;
        if groups.is_empty() {
            return Err(SourceError::fatal(format!(
                "no log group starts with `{}`",
                self.settings.log_group_prefix.as_deref().unwrap_or("")
            )));
        }
        let now_ms = self.clock.now().timestamp_millis();
        for (group, _) in groups {
            let read = WindowRead {
                group,
                start_ms: now_ms - 60_000,
                end_ms: now_ms,
                token: None,
            };
            let filter = Arc::clone(&self.budgets().await?.filter);
            let settings = AwsCloudWatchSettings {
                max_batch_entries: 1,
                max_pages: 1,
                ..(*self.settings).clone()
            };
            let fetcher = Fetcher {
                source: &self.name,
                logs: &self.clients.logs,
                limiter: &filter,
                settings: &settings,
                stats: &self.stats,
            };
            match fetcher.read(&read).await {
                Ok(_) => {}
                Err(e) if e.failure == Failure::NotFound => {
                    return Err(SourceError::fatal(format!(
                        "log group {} does not exist: turn on the `audit` log type of the cluster",
                        read.group
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

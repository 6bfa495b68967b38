//! `type = "azure_blob"`: AKS audit logs archived by a diagnostic setting to a storage account.
//!
//! Each poll lists the hourly blobs of the open hours (per cluster and day prefix, so a listing
//! stays small however long the account keeps logs), reads the bytes appended to each since
//! its checkpointed offset, and hands every complete line to the pipeline as a diagnostic
//! record. The cursor keeps, per blob, the offset past the last complete line, the ETag read
//! and the creation time (a blob written anew is read from its start), plus the oldest hour
//! still open: an hour closes once it has settled (no more appends) and all its blobs were read
//! to the end. The driver commits the cursor with the batch's alerts, so a failed read or a
//! crash re-reads, and never skips, a line.
//!
//! Without configured `clusters`, the containers are listed whole every `discovery_interval`
//! to find the clusters that archive there.

pub mod access;
pub mod config;
pub mod cursor;
pub mod layout;
pub mod lines;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::http::{RetryOptions, Url};
use chrono::{DateTime, Utc};
use tracing::{debug, warn};

pub use cursor::{BlobCursor, BlobPosition};

use self::access::BlobAccess;
use self::config::AzureBlobSettings;
use self::store::{BlobInfo, BlobStore, Read};
use super::time_axis::{self, millis};
use super::{
    Batch, BuildSource, PollMode, Progress, Record, RecordOrigin, Source, SourceContext,
    SourceError, TimeRange,
};
use crate::clock::Clock;
use crate::model::{Format, Provider};
use crate::telemetry::metrics;

/// At most this much is read per poll across all blobs, so memory stays flat on a backlog.
const BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Records reach an hour's blob by receive time; a scan also reads this many later hours.
const SCAN_LATE_HOURS: i64 = 2;

pub struct AzureBlobSource {
    name: String,
    settings: Arc<AzureBlobSettings>,
    store: BlobStore,
    clock: Arc<dyn Clock>,
    /// Cluster prefixes by container: configured, or found by discovery.
    clusters: BTreeMap<String, BTreeSet<String>>,
    last_discovery: Option<DateTime<Utc>>,
}

impl BuildSource for AzureBlobSource {
    type Settings = AzureBlobSettings;

    async fn build(ctx: SourceContext, settings: &AzureBlobSettings) -> Result<Self, SourceError> {
        let (url, access) = access::resolve(settings)
            .map_err(|e| SourceError::fatal(format!("source {}: {}", ctx.name, e.message)))?;
        Self::new(
            ctx,
            settings.clone(),
            &url,
            &access,
            super::azure::sdk_retry(),
        )
    }
}

impl AzureBlobSource {
    /// Builds the source over an explicit account URL, access and retry policy.
    pub fn new(
        ctx: SourceContext,
        settings: AzureBlobSettings,
        account_url: &Url,
        access: &BlobAccess,
        retry: RetryOptions,
    ) -> Result<Self, SourceError> {
        let SourceContext { name, clock, .. } = ctx;
        let name = name.as_str();
        let store = BlobStore::new(name, account_url, &settings.containers, access, retry)?;
        let configured: BTreeSet<String> = settings
            .clusters
            .iter()
            .map(|id| layout::cluster_prefix(id))
            .collect();
        let clusters = settings
            .containers
            .iter()
            .map(|c| (c.clone(), configured.clone()))
            .collect();
        Ok(AzureBlobSource {
            name: name.to_owned(),
            settings: Arc::new(settings),
            store,
            clock,
            clusters,
            last_discovery: None,
        })
    }

    fn discovery_due(&self, now: DateTime<Utc>) -> bool {
        self.settings.clusters.is_empty()
            && self.last_discovery.is_none_or(|last| {
                (now - last).num_milliseconds() >= millis(self.settings.discovery_interval)
            })
    }

    /// The blobs of hours `[from_ms, until_ms]`, oldest hour first.
    async fn list_open(
        &mut self,
        from_ms: i64,
        until_ms: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<BlobInfo>, SourceError> {
        let discover = self.discovery_due(now);
        let in_window = |blob: &BlobInfo| {
            layout::parse(&blob.name).is_some_and(|p| {
                let hour = p.hour.timestamp_millis();
                hour >= from_ms && hour <= until_ms
            })
        };
        let mut listed = Vec::new();
        let containers: Vec<String> = self.store.containers().map(str::to_owned).collect();
        for container in containers {
            let result = if discover {
                // Discovery lists the whole container once; only the cluster prefixes and the
                // window's blobs are kept from it.
                let known = self.clusters.entry(container.clone()).or_default();
                self.store
                    .list(
                        &container,
                        layout::RESOURCE_PREFIX,
                        None,
                        |blob| match layout::parse(&blob.name) {
                            Some(parsed) => {
                                if !known.contains(parsed.cluster_prefix) {
                                    known.insert(parsed.cluster_prefix.to_owned());
                                }
                                in_window(blob)
                            }
                            None => false,
                        },
                    )
                    .await
            } else {
                let mut blobs = Vec::new();
                let prefixes = self.clusters.get(&container).cloned().unwrap_or_default();
                for prefix in prefixes {
                    for day in layout::days(from_ms, until_ms) {
                        let day_prefix = layout::day_prefix(&prefix, day);
                        blobs.extend(
                            self.store
                                .list(&container, &day_prefix, None, in_window)
                                .await?,
                        );
                    }
                }
                Ok(blobs)
            };
            match result {
                Ok(blobs) => listed.extend(blobs),
                Err(e) if store::is_not_found(&e) => {
                    debug!(source = %self.name, container, "container does not exist (yet)");
                }
                Err(e) => return Err(e),
            }
        }
        if discover {
            self.last_discovery = Some(now);
        }
        listed.sort_by_key(|b| (layout::parse(&b.name).map(|p| p.hour), b.key()));
        Ok(listed)
    }

    fn record(
        &self,
        blob: &BlobInfo,
        origin: &Arc<RecordOrigin>,
        offset: u64,
        line: Vec<u8>,
    ) -> Record {
        Record {
            text: line,
            origin: Arc::clone(origin),
            record_id: Some(format!("{}@{offset}", blob.key())),
            record_time: None,
            dedupe: None,
        }
    }
}

/// The oldest hour that has not settled at `now_ms`: no hour from it on may be closed yet.
fn first_unsettled_hour(now_ms: i64, settle_ms: i64) -> i64 {
    layout::hour_floor(now_ms - settle_ms - layout::hour_ms()) + layout::hour_ms()
}

/// The hour a cursor key (`container/name`) belongs to.
pub(crate) fn hour_of_key(key: &str) -> Option<i64> {
    let (_, name) = key.split_once('/')?;
    layout::parse(name).map(|p| p.hour.timestamp_millis())
}

#[async_trait]
impl Source for AzureBlobSource {
    type Cursor = BlobCursor;

    fn start(&self, mode: &PollMode, now: DateTime<Utc>) -> BlobCursor {
        let from = match mode {
            PollMode::Live => now.timestamp_millis() - millis(self.settings.lookback),
            PollMode::Scan(range) => range.since.timestamp_millis() - layout::hour_ms(),
        };
        BlobCursor {
            from_hour_ms: layout::hour_floor(from),
            blobs: BTreeMap::new(),
        }
    }

    async fn poll(
        &mut self,
        cursor: &BlobCursor,
        mode: &PollMode,
    ) -> Result<Batch<BlobCursor>, SourceError> {
        let now = self.clock.now();
        let now_ms = now.timestamp_millis();
        let until_ms = match mode {
            PollMode::Live => now_ms,
            PollMode::Scan(range) => layout::hour_floor(range.until.timestamp_millis())
                .saturating_add(SCAN_LATE_HOURS * layout::hour_ms())
                .min(now_ms),
        };
        let settle = millis(self.settings.settle);
        let max_record = self.settings.max_record_bytes;
        let mut next = cursor.clone();
        let listed = self.list_open(next.from_hour_ms, until_ms, now).await?;

        let mut records = Vec::new();
        let mut budget = BATCH_BYTES;
        let mut more = false;
        let mut oldest_pending: Option<i64> = None;
        for blob in &listed {
            let Some(hour) = layout::parse(&blob.name).map(|p| p.hour.timestamp_millis()) else {
                continue;
            };
            let settled = now_ms >= hour + layout::hour_ms() + settle;
            let position = next.blobs.entry(blob.key()).or_default();
            let recreated = position.created_ms.is_some()
                && blob.created_ms.is_some()
                && position.created_ms != blob.created_ms;
            if recreated || blob.size < position.offset {
                warn!(source = %self.name, blob = %blob.key(), "blob was replaced or truncated; reading it from the start");
                *position = BlobPosition::default();
            }
            position.created_ms = blob.created_ms.or(position.created_ms);
            if blob.size > position.offset && budget > 0 {
                let want = (blob.size - position.offset).min(budget.max(max_record + 1) as u64);
                let end = position.offset + want;
                match self.store.read(blob, position.offset..end).await? {
                    Read::Changed => more = true,
                    Read::Bytes(buf) => {
                        let at_end = position.offset + buf.len() as u64 >= blob.size;
                        let taken = lines::take(&buf, position, at_end, settled, max_record);
                        position.etag = blob.etag.clone();
                        budget = budget.saturating_sub(buf.len());
                        for _ in 0..taken.oversized {
                            metrics::record_skip(&self.name, "oversized");
                            warn!(source = %self.name, blob = %blob.key(), "line longer than max_record_size skipped");
                        }
                        let origin = Arc::new(RecordOrigin {
                            format: Format::Aks,
                            provider: Some(Provider::Aks),
                            stream: blob.key(),
                            ..RecordOrigin::default()
                        });
                        records.extend(
                            taken
                                .lines
                                .into_iter()
                                .map(|(offset, line)| self.record(blob, &origin, offset, line)),
                        );
                        more |= !at_end;
                    }
                }
            } else if blob.size > position.offset {
                more = true;
            }
            if position.offset < blob.size {
                oldest_pending = Some(oldest_pending.map_or(hour, |h| h.min(hour)));
            }
        }

        // An hour closes once it has settled and none of its blobs has bytes left to read.
        let first_unsettled = first_unsettled_hour(now_ms, settle);
        let horizon = oldest_pending
            .map_or(first_unsettled, |h| h.min(first_unsettled))
            .min(layout::hour_floor(until_ms) + layout::hour_ms())
            .max(next.from_hour_ms);
        next.from_hour_ms = horizon;
        next.blobs
            .retain(|key, _| hour_of_key(key).is_none_or(|h| h >= horizon));

        let progress = match (more, mode) {
            (true, _) => Progress::More,
            (false, PollMode::Scan(_)) => Progress::Finished,
            (false, PollMode::Live) => Progress::CaughtUp,
        };
        debug!(source = %self.name, records = records.len(), blobs = listed.len(), ?progress, "blobs polled");
        Ok(Batch {
            records,
            position: DateTime::from_timestamp_millis(next.from_hour_ms),
            cursor: next,
            progress,
            forget_seen_before_ms: None,
        })
    }

    fn skip_backlog(
        &self,
        cursor: &mut BlobCursor,
        keep: Duration,
        now: DateTime<Utc>,
    ) -> Option<TimeRange> {
        time_axis::skip_backlog(cursor, keep, now)
    }

    /// Hours closed while the clock ran fast (it has since been stepped back) are opened again
    /// from the oldest hour that has not settled by the clock now: appends to them are read.
    fn rewind_ahead(
        &self,
        cursor: &mut BlobCursor,
        now: DateTime<Utc>,
    ) -> Option<time_axis::Rewound> {
        let unsettled = first_unsettled_hour(now.timestamp_millis(), millis(self.settings.settle));
        time_axis::rewind_past(cursor, unsettled, unsettled)
    }

    async fn healthcheck(&mut self) -> Result<(), SourceError> {
        let containers: Vec<String> = self.store.containers().map(str::to_owned).collect();
        for container in containers {
            self.store
                .list(&container, layout::RESOURCE_PREFIX, Some(1), |_| true)
                .await
                .map_err(|e| {
                    if store::is_not_found(&e) {
                        SourceError::fatal(format!(
                            "{}: container {container} does not exist: no diagnostic setting has archived \
                             its category to this account yet, or the account is not the right one",
                            e.message
                        ))
                    } else {
                        e
                    }
                })?;
        }
        Ok(())
    }
}

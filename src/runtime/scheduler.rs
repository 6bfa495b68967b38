//! `[[scans]]`: catch-up scans the daemon runs on a schedule.
//!
//! Each schedule is one task: wait for the next fire time, scan `[now - lookback, now]` on its
//! sources through [`super::scan::scan_sources`] (own checkpoint keys, shared outbox, so
//! delivered alerts are never re-sent), then wait again. A run that outlasts its period delays
//! the next one instead of overlapping it; the missed fire times are counted as skipped.
//! An interrupted run is not resumed: the next run's lookback covers its range when
//! `lookback >= every`, which the README recommends.
//!
//! Replicas sharing a store each keep the schedule and split each occurrence by source: a
//! replica scans the sources whose lease it holds, each claimed once per occurrence
//! (`Leases::claim_occurrence` on `<schedule>/<source>`), so a source changing hands at that
//! moment is still scanned once. The scan then draws on the quota share the replica already
//! has for that source (a replica holding none of a quota key's sources has no share of it,
//! and could not scan them). Alone on a single-writer store a process holds every source.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::progress::Display;
use super::scan::{ScanRequest, scan_sources};
use crate::config::{ScanSchedule, ScanTrigger, Settings};
use crate::ingest::Services;
use crate::sources::TimeRange;
use crate::telemetry::leases::LeaseHealth;
use crate::telemetry::metrics;

/// The first fire time strictly after `after`; `None` when a cron expression never fires again.
///
/// `every` fires on the multiples of its period since the Unix epoch (`1h` on the hour), not
/// relative to when a process started: replicas started at different times then agree on each
/// occurrence, and claim the same one in the store. A run that outlasts its period skips the
/// fire times it missed instead of running back to back.
pub fn next_fire(trigger: &ScanTrigger, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match trigger {
        ScanTrigger::Every(every) => {
            let period = i64::try_from(every.as_millis()).ok()?.max(1);
            let next = after
                .timestamp_millis()
                .div_euclid(period)
                .checked_add(1)?
                .checked_mul(period)?;
            DateTime::from_timestamp_millis(next)
        }
        ScanTrigger::Cron(cron) => cron.find_next_occurrence(&after, false).ok(),
    }
}

/// Runs one schedule until `stop` is cancelled. Each occurrence runs on the sources `leases`
/// says this replica holds, each claimed in the store for `replica` first.
pub async fn run_schedule(
    schedule: ScanSchedule,
    settings: Settings,
    services: Services,
    leases: Arc<LeaseHealth>,
    replica: String,
    stop: CancellationToken,
) {
    let mut previous: Option<DateTime<Utc>> = None;
    loop {
        let now = services.clock.now();
        let Some(next) = next_fire(&schedule.trigger, now) else {
            warn!(scan = %schedule.name, "the cron expression never fires again; schedule stopped");
            return;
        };
        if let Some(prev) = previous
            && let ScanTrigger::Every(every) = &schedule.trigger
        {
            let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
            let missed = ((next - prev).num_milliseconds() / every_ms - 1).max(0);
            for _ in 0..missed {
                metrics::record_scan_run(&schedule.name, "skipped");
            }
            if missed > 0 {
                warn!(scan = %schedule.name, missed, "the last run outlasted its period; missed runs skipped");
            }
        }
        info!(scan = %schedule.name, next = %next.to_rfc3339(), "next scheduled scan");
        let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        previous = Some(next);
        let sources = claim_sources(&schedule, &settings, &services, &leases, &replica, next).await;
        if sources.is_empty() {
            info!(scan = %schedule.name, due = %next.to_rfc3339(), "other replicas scan this occurrence's sources");
            continue;
        }

        let until = services.clock.now();
        let Some(since) = chrono::Duration::from_std(schedule.lookback)
            .ok()
            .and_then(|l| until.checked_sub_signed(l))
        else {
            error!(scan = %schedule.name, "lookback too long; schedule stopped");
            return;
        };
        let range = TimeRange { since, until };
        let parts = sources.iter().map(|source| {
            scan_while_held(
                &schedule, source, range, &settings, &services, &leases, &stop,
            )
        });
        let failed = join_all(parts).await.into_iter().filter(|ok| !ok).count();
        if stop.is_cancelled() {
            return;
        }
        if failed == 0 {
            metrics::record_scan_run(&schedule.name, "finished");
        } else {
            metrics::record_scan_run(&schedule.name, "failed");
            error!(scan = %schedule.name, failed, "scheduled scan failed; the next run tries again");
        }
    }
}

/// Scans `range` on `source` for as long as this replica holds its lease; `false` if it failed.
///
/// A source handed to another replica mid-scan is left to that replica's next occurrence
/// (whose lookback covers the range when `lookback >= every`): here its quota share has gone
/// to the new holder, so going on would wait for a share this replica no longer has.
async fn scan_while_held(
    schedule: &ScanSchedule,
    source: &str,
    range: TimeRange,
    settings: &Settings,
    services: &Services,
    leases: &LeaseHealth,
    stop: &CancellationToken,
) -> bool {
    let only = [source.to_owned()];
    let request = ScanRequest {
        label: &schedule.name,
        range,
        only: &only,
        display: Display::Log,
    };
    let unit = format!("source/{source}");
    let cancel = stop.child_token();
    let scan = scan_sources(settings, services, &request, cancel.clone());
    tokio::pin!(scan);
    let result = tokio::select! {
        result = &mut scan => result,
        () = leases.until_released(&unit) => {
            info!(scan = %schedule.name, source, "the source moved to another replica; its scan stops here");
            cancel.cancel();
            scan.await
        }
    };
    match result {
        Ok(_) => true,
        Err(e) => {
            error!(scan = %schedule.name, source, error = %e, "scheduled scan of a source failed");
            false
        }
    }
}

/// The schedule's sources this replica scans for the occurrence `due`: those it holds the lease
/// of, each claimed for `<schedule>/<source>` so that no source is scanned twice. A claim the
/// store cannot record is logged and its source left to the next occurrence.
async fn claim_sources(
    schedule: &ScanSchedule,
    settings: &Settings,
    services: &Services,
    leases: &LeaseHealth,
    replica: &str,
    due: DateTime<Utc>,
) -> Vec<String> {
    let mut claimed = Vec::new();
    let wanted = settings
        .sources
        .iter()
        .map(|s| &s.name)
        .filter(|name| schedule.sources.is_empty() || schedule.sources.contains(name))
        .filter(|name| leases.holds(&format!("source/{name}")));
    for name in wanted {
        let part = format!("{}/{name}", schedule.name);
        match services.store.claim_occurrence(&part, due, replica).await {
            Ok(true) => claimed.push(name.clone()),
            Ok(false) => {}
            Err(e) => {
                metrics::record_scan_run(&schedule.name, "failed");
                error!(scan = %schedule.name, source = %name, error = %e, "cannot claim the scheduled scan in the state store; the next run covers this source");
            }
        }
    }
    claimed
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use chrono::TimeZone;
    use croner::Cron;

    use super::*;

    #[test]
    fn every_fires_on_multiples_of_its_period_and_skips_missed_ones() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let every = ScanTrigger::Every(Duration::from_secs(3600));
        assert_eq!(
            next_fire(&every, t0),
            Some(t0 + chrono::Duration::hours(1)),
            "strictly after"
        );
        // Two replicas started at 00:10 and 00:40 agree on 01:00.
        for started in [10, 40] {
            assert_eq!(
                next_fire(&every, t0 + chrono::Duration::minutes(started)),
                Some(t0 + chrono::Duration::hours(1))
            );
        }
        // A run that fired at 01:00 and ended at 03:30 next fires at 04:00.
        let ended = t0 + chrono::Duration::minutes(210);
        assert_eq!(
            next_fire(&every, ended),
            Some(t0 + chrono::Duration::hours(4))
        );
    }

    #[test]
    fn cron_fires_at_the_next_match_in_utc() {
        let cron = ScanTrigger::Cron(Box::new(Cron::from_str("30 3 * * *").unwrap()));
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 3, 30, 0).unwrap();
        assert_eq!(
            next_fire(&cron, t),
            Some(Utc.with_ymd_and_hms(2026, 1, 2, 3, 30, 0).unwrap())
        );
        let before = Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap();
        assert_eq!(next_fire(&cron, before), Some(t));
    }
}

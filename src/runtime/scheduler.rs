//! `[[scans]]`: catch-up scans the daemon runs on a schedule.
//!
//! Each schedule is one task: wait for the next fire time, scan `[now - lookback, now]` on its
//! sources through [`super::scan::scan_sources`] (own checkpoint keys, shared outbox, so
//! delivered alerts are never re-sent), then wait again. A run that outlasts its period delays
//! the next one instead of overlapping it; the missed fire times are counted as skipped.
//! An interrupted run is not resumed: the next run's lookback covers its range when
//! `lookback >= every`, which the README recommends. Replicas sharing a store each keep the
//! schedule, and the first to claim an occurrence (`Leases::claim_occurrence`) runs it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::progress::Display;
use super::scan::{ScanRequest, scan_sources};
use crate::config::{ScanSchedule, ScanTrigger, Settings};
use crate::ingest::Services;
use crate::sources::TimeRange;
use crate::telemetry::metrics;

/// The first fire time strictly after `after`; `None` when a cron expression never fires again.
pub fn next_fire(
    trigger: &ScanTrigger,
    previous: Option<DateTime<Utc>>,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match trigger {
        ScanTrigger::Every(every) => {
            let every = chrono::Duration::from_std(*every).ok()?;
            let mut next = previous.unwrap_or(after) + every;
            // Catch up on missed periods by skipping them, not by running back to back.
            while next <= after {
                next += every;
            }
            Some(next)
        }
        ScanTrigger::Cron(cron) => cron.find_next_occurrence(&after, false).ok(),
    }
}

/// Runs one schedule until `stop` is cancelled. Each occurrence is claimed in the store for
/// `replica` first: replicas sharing a store run it once, on whichever claims it first.
pub async fn run_schedule(
    schedule: ScanSchedule,
    settings: Settings,
    services: Services,
    replica: String,
    stop: CancellationToken,
) {
    let mut previous: Option<DateTime<Utc>> = None;
    loop {
        let now = services.clock.now();
        let Some(next) = next_fire(&schedule.trigger, previous, now) else {
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
        match services
            .store
            .claim_occurrence(&schedule.name, next, &replica)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                info!(scan = %schedule.name, due = %next.to_rfc3339(), "another replica runs this occurrence");
                continue;
            }
            Err(e) => {
                metrics::record_scan_run(&schedule.name, "failed");
                error!(scan = %schedule.name, error = %e, "cannot claim the scheduled scan in the state store; the next run tries again");
                continue;
            }
        }

        let until = services.clock.now();
        let Some(since) = chrono::Duration::from_std(schedule.lookback)
            .ok()
            .and_then(|l| until.checked_sub_signed(l))
        else {
            error!(scan = %schedule.name, "lookback too long; schedule stopped");
            return;
        };
        let request = ScanRequest {
            label: &schedule.name,
            range: TimeRange { since, until },
            only: &schedule.sources,
            display: Display::Log,
        };
        match scan_sources(&settings, &services, &request, stop.child_token()).await {
            Ok(_) if stop.is_cancelled() => return,
            Ok(_) => metrics::record_scan_run(&schedule.name, "finished"),
            Err(e) => {
                metrics::record_scan_run(&schedule.name, "failed");
                error!(scan = %schedule.name, error = %e, "scheduled scan failed; the next run tries again");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use chrono::TimeZone;
    use croner::Cron;

    use super::*;

    #[test]
    fn every_skips_missed_periods() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let every = ScanTrigger::Every(Duration::from_secs(3600));
        assert_eq!(
            next_fire(&every, None, t0),
            Some(t0 + chrono::Duration::hours(1))
        );
        // A run that fired at 01:00 and ended at 03:30 next fires at 04:00.
        let fired = t0 + chrono::Duration::hours(1);
        let ended = t0 + chrono::Duration::minutes(210);
        assert_eq!(
            next_fire(&every, Some(fired), ended),
            Some(t0 + chrono::Duration::hours(4))
        );
    }

    #[test]
    fn cron_fires_at_the_next_match_in_utc() {
        let cron = ScanTrigger::Cron(Box::new(Cron::from_str("30 3 * * *").unwrap()));
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 3, 30, 0).unwrap();
        assert_eq!(
            next_fire(&cron, None, t),
            Some(Utc.with_ymd_and_hms(2026, 1, 2, 3, 30, 0).unwrap())
        );
        let before = Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap();
        assert_eq!(next_fire(&cron, None, before), Some(t));
    }
}

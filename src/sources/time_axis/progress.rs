//! Progress lines for long reads: a scan over months of retained logs, or a daemon catching up
//! after a stop, can take hours at 50 requests a minute; an operator must see it moving.
//!
//! At most one line per `every` (on tokio's clock), plus one when the read ends. The share of a
//! range read ([`percent`]) is also what `scan`'s progress bar shows (`runtime::progress`).

use std::time::Duration;

use chrono::DateTime;
use tokio::time::Instant;
use tracing::info;

/// What a source has asked and received so far, for the lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadCounts {
    pub requests: u64,
    pub entries: u64,
    pub throttled: u64,
}

#[derive(Debug)]
pub struct ProgressLog {
    every: Duration,
    last: Option<Instant>,
    /// Where the current catch-up started (live mode), to express progress as a share of it.
    catchup_from_ms: Option<i64>,
}

/// How much of `[from, to]` lies behind `at`, in percent.
pub fn percent(from_ms: i64, at_ms: i64, to_ms: i64) -> f64 {
    if to_ms <= from_ms {
        return 100.0;
    }
    let done = (at_ms.clamp(from_ms, to_ms) - from_ms) as f64;
    done * 100.0 / (to_ms - from_ms) as f64
}

fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

impl ProgressLog {
    pub fn new(every: Duration) -> Self {
        ProgressLog {
            every,
            last: None,
            catchup_from_ms: None,
        }
    }

    fn due(&mut self) -> bool {
        let now = Instant::now();
        let due = self
            .last
            .is_none_or(|at| now.duration_since(at) >= self.every);
        if due {
            self.last = Some(now);
        }
        due
    }

    /// A scan of `[since, until]` has read up to `at`.
    pub fn scan(
        &mut self,
        source: &str,
        since_ms: i64,
        at_ms: i64,
        until_ms: i64,
        stats: ReadCounts,
    ) {
        let finished = at_ms >= until_ms;
        if !finished && !self.due() {
            return;
        }
        info!(
            source,
            done = %format!("{:.1}%", percent(since_ms, at_ms, until_ms)),
            position = %rfc3339(at_ms),
            until = %rfc3339(until_ms),
            requests = stats.requests,
            entries = stats.entries,
            throttled = stats.throttled,
            "scan progress"
        );
    }

    /// The live source has read up to `at` while now − lag is at `horizon`; `behind` says
    /// whether more than one window is waiting.
    pub fn live(
        &mut self,
        source: &str,
        at_ms: i64,
        horizon_ms: i64,
        behind: bool,
        stats: ReadCounts,
    ) {
        match (self.catchup_from_ms, behind) {
            (None, false) => {}
            (None, true) => {
                self.catchup_from_ms = Some(at_ms);
                self.last = None;
                self.live(source, at_ms, horizon_ms, behind, stats);
            }
            (Some(_), false) => {
                self.catchup_from_ms = None;
                info!(source, position = %rfc3339(at_ms), requests = stats.requests, "caught up");
            }
            (Some(from), true) => {
                if self.due() {
                    info!(
                        source,
                        done = %format!("{:.1}%", percent(from, at_ms, horizon_ms)),
                        position = %rfc3339(at_ms),
                        behind = ?Duration::from_millis(u64::try_from(horizon_ms - at_ms).unwrap_or(0)),
                        requests = stats.requests,
                        throttled = stats.throttled,
                        "catching up"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_of_a_range() {
        assert_eq!(percent(0, 0, 200), 0.0);
        assert_eq!(percent(0, 50, 200), 25.0);
        assert_eq!(percent(0, 300, 200), 100.0);
        assert_eq!(percent(100, 50, 200), 0.0);
        assert_eq!(percent(5, 5, 5), 100.0);
    }

    #[tokio::test(start_paused = true)]
    async fn lines_are_spaced() {
        let mut log = ProgressLog::new(Duration::from_secs(30));
        assert!(log.due());
        assert!(!log.due());
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(log.due());
    }
}

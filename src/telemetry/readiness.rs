//! What `/readyz` answers: the state store accepts writes, and every live source has polled
//! successfully within `readiness_intervals` of its poll interval.
//!
//! A source that has not succeeded yet is judged from when it was registered, so a daemon that
//! just started is ready as soon as its sources have had their first chance, and not before
//! their grace runs out if they cannot.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Health;
use super::health::SourceHealth;
use crate::state::StateStore;

pub struct Readiness {
    health: Arc<Health>,
    store: Arc<dyn StateStore>,
    /// Each live source's poll interval.
    intervals: BTreeMap<String, Duration>,
    multiple: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyReport {
    pub ready: bool,
    /// One line per check, for the response body and `health --ready`.
    pub text: String,
}

impl Readiness {
    pub fn new(
        health: Arc<Health>,
        store: Arc<dyn StateStore>,
        intervals: BTreeMap<String, Duration>,
        multiple: u32,
    ) -> Self {
        Readiness {
            health,
            store,
            intervals,
            multiple: multiple.max(1),
        }
    }

    pub async fn check(&self) -> ReadyReport {
        let mut ready = true;
        let mut text = String::new();
        match self.store.check_writable().await {
            Ok(()) => text.push_str("state: ok\n"),
            Err(e) => {
                ready = false;
                let _ = writeln!(text, "state: NOT WRITABLE: {e}");
            }
        }
        let now = self.health.now();
        let snapshot = self.health.snapshot();
        for (name, interval) in &self.intervals {
            let allowed = *interval * self.multiple;
            let verdict = judge(snapshot.get(name), allowed, now);
            ready &= verdict.is_ok();
            let _ = match verdict {
                Ok(line) | Err(line) => writeln!(text, "source {name}: {line}"),
            };
        }
        text.insert_str(0, if ready { "ready\n" } else { "not ready\n" });
        ReadyReport { ready, text }
    }
}

/// `Ok(description)` when the source is fresh enough, `Err(description)` otherwise.
fn judge(
    health: Option<&SourceHealth>,
    allowed: Duration,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let Some(h) = health else {
        return Err("not started".to_owned());
    };
    let allowed_ms = i64::try_from(allowed.as_millis()).unwrap_or(i64::MAX);
    let age_ms = |t: DateTime<Utc>| (now - t).num_milliseconds().max(0);
    let errors = match (&h.last_error, h.consecutive_failures) {
        (Some(e), n) if n > 0 => format!("; {n} failure(s) in a row, last: {e}"),
        _ => String::new(),
    };
    match (h.last_success, h.since) {
        (Some(at), _) if age_ms(at) <= allowed_ms => Ok(format!(
            "ok (last success {}s ago){errors}",
            age_ms(at) / 1000
        )),
        (Some(at), _) => Err(format!(
            "STALE: no successful poll for {}s (allowed {}s){errors}",
            age_ms(at) / 1000,
            allowed.as_secs()
        )),
        (None, Some(since)) if age_ms(since) <= allowed_ms => {
            Ok(format!("starting (no poll finished yet){errors}"))
        }
        (None, _) => Err(format!(
            "STALE: no successful poll since start (allowed {}s){errors}",
            allowed.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn judges_freshness() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 10, 0).unwrap();
        let allowed = Duration::from_secs(60);
        let at = |s: i64| Some(now - chrono::Duration::seconds(s));
        let h = |last, since| SourceHealth {
            last_success: last,
            since,
            ..SourceHealth::default()
        };
        assert!(judge(Some(&h(at(30), at(500))), allowed, now).is_ok());
        assert!(judge(Some(&h(at(61), at(500))), allowed, now).is_err());
        assert!(judge(Some(&h(None, at(10))), allowed, now).is_ok());
        assert!(judge(Some(&h(None, at(100))), allowed, now).is_err());
        assert!(judge(None, allowed, now).is_err());
    }
}

//! What `/readyz` answers: the state store accepts writes, the leases are being renewed (a
//! replica of a shared store), every live source this process works on has polled
//! successfully within `readiness_intervals` of its poll interval, and no supervised task (a
//! deliverer, a scan schedule) is down after a panic. A source another replica holds is
//! listed as such and does not hold readiness back.
//!
//! A source whose first poll has not finished is `starting`: not ready (a load balancer or a
//! rollout must not count it yet), and said apart from a failing one, so an operator watching a
//! slow first catch-up is not sent looking for an error. The first line of the body is
//! `ready`, `starting` (only sources still starting hold readiness back) or `not ready`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Health;
use super::health::SourceHealth;
use super::leases::LeaseHealth;
use crate::state::StateStore;

pub struct Readiness {
    health: Arc<Health>,
    store: Arc<dyn StateStore>,
    /// Each live source's poll interval.
    intervals: BTreeMap<String, Duration>,
    multiple: u32,
    leases: Arc<LeaseHealth>,
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
            leases: Arc::new(LeaseHealth::sole()),
        }
    }

    /// Judges leases (and only the sources this replica holds) from the keeper's view.
    pub fn with_leases(mut self, leases: Arc<LeaseHealth>) -> Self {
        self.leases = leases;
        self
    }

    pub fn leases(&self) -> &Arc<LeaseHealth> {
        &self.leases
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
        let (leases_ok, line) = self.leases.report();
        ready &= leases_ok;
        if let Some(line) = line {
            let _ = writeln!(text, "{line}");
        }
        let now = self.health.now();
        let snapshot = self.health.snapshot();
        let mut only_starting = ready;
        for (name, interval) in &self.intervals {
            if !self.leases.holds(&format!("source/{name}")) {
                let _ = writeln!(text, "source {name}: polled by another replica");
                continue;
            }
            let allowed = *interval * self.multiple;
            let verdict = judge(snapshot.get(name), allowed, now);
            match &verdict {
                Verdict::Ok(_) => {}
                Verdict::Starting => ready = false,
                Verdict::NotReady(_) => {
                    ready = false;
                    only_starting = false;
                }
            }
            let _ = writeln!(text, "source {name}: {verdict}");
        }
        // Only tasks that panicked at least once are listed: the others have nothing to say.
        for (task, h) in self.health.tasks() {
            match &h.down {
                Some(reason) => {
                    ready = false;
                    only_starting = false;
                    let _ = writeln!(
                        text,
                        "{task}: DOWN after a panic, restarting ({} restart(s)): {reason}",
                        h.restarts
                    );
                }
                None => {
                    let _ = writeln!(text, "{task}: ok ({} restart(s) after a panic)", h.restarts);
                }
            }
        }
        let headline = match (ready, only_starting) {
            (true, _) => "ready\n",
            (false, true) => "starting\n",
            (false, false) => "not ready\n",
        };
        text.insert_str(0, headline);
        ReadyReport { ready, text }
    }
}

/// One source's readiness line.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Ok(String),
    /// Registered, first poll not finished yet.
    Starting,
    NotReady(String),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Ok(line) | Verdict::NotReady(line) => f.write_str(line),
            Verdict::Starting => f.write_str("starting (first poll not finished)"),
        }
    }
}

fn judge(health: Option<&SourceHealth>, allowed: Duration, now: DateTime<Utc>) -> Verdict {
    let Some(h) = health else {
        return Verdict::NotReady("not started".to_owned());
    };
    let allowed_ms = i64::try_from(allowed.as_millis()).unwrap_or(i64::MAX);
    let age_ms = |t: DateTime<Utc>| (now - t).num_milliseconds().max(0);
    let errors = match (&h.last_error, h.consecutive_failures) {
        (Some(e), n) if n > 0 => format!("; {n} failure(s) in a row, last: {e}"),
        _ => String::new(),
    };
    if let Some(skew) = h.clock_skew {
        return Verdict::NotReady(format!(
            "CLOCK SKEW: the local clock is {}s behind the time this source had already read up to; \
             it re-reads from now − overlap and keeps reading; check the host's time sync (NTP){errors}",
            skew.as_secs()
        ));
    }
    match h.last_success {
        Some(at) if age_ms(at) <= allowed_ms => Verdict::Ok(format!(
            "ok (last success {}s ago){errors}",
            age_ms(at) / 1000
        )),
        Some(at) => Verdict::NotReady(format!(
            "STALE: no successful poll for {}s (allowed {}s){errors}",
            age_ms(at) / 1000,
            allowed.as_secs()
        )),
        None if h.consecutive_failures == 0 => Verdict::Starting,
        None => Verdict::NotReady(format!("FAILING: no successful poll yet{errors}")),
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
        let h = |last, failures| SourceHealth {
            last_success: last,
            consecutive_failures: failures,
            last_error: (failures > 0).then(|| "boom".to_owned()),
            since: at(500),
            ..SourceHealth::default()
        };
        assert!(matches!(
            judge(Some(&h(at(30), 0)), allowed, now),
            Verdict::Ok(_)
        ));
        assert!(matches!(
            judge(Some(&h(at(61), 0)), allowed, now),
            Verdict::NotReady(_)
        ));
        assert_eq!(judge(Some(&h(None, 0)), allowed, now), Verdict::Starting);
        assert_eq!(
            judge(Some(&h(None, 2)), allowed, now).to_string(),
            "FAILING: no successful poll yet; 2 failure(s) in a row, last: boom"
        );
        assert!(matches!(judge(None, allowed, now), Verdict::NotReady(_)));
        let skewed = SourceHealth {
            clock_skew: Some(Duration::from_secs(3_600)),
            ..h(at(30), 0)
        };
        let verdict = judge(Some(&skewed), allowed, now);
        assert!(matches!(verdict, Verdict::NotReady(_)));
        assert!(
            verdict
                .to_string()
                .starts_with("CLOCK SKEW: the local clock is 3600s behind")
        );
    }
}

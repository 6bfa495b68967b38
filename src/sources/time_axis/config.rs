//! The window keys every cloud source shares — `lag`, `overlap`, `max_span`, `lookback`,
//! `max_catchup` — read once, with one set of rules, and flattened into each source's table.
//!
//! Only the defaults differ by source type (each API makes entries visible after a different
//! delay); a source passes its [`WindowDefaults`]. The rules: every value is a duration
//! (`"30s"`, `"5m"`, `"1h"`); `max_span` is at least `1s` (a shorter window would cost a request
//! per millisecond of backlog); `max_catchup`, when set, is longer than zero.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::millis;
use super::window::WindowPlanner;
use crate::sources::PollMode;
use crate::validation::{Problems, duration};

const MIN_SPAN: Duration = Duration::from_secs(1);

/// The keys as written in a `[[sources]]` table.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct RawWindowSettings {
    /// How far behind now a window's upper edge stays.
    pub lag: Option<String>,
    /// How far before the watermark every window starts again.
    pub overlap: Option<String>,
    /// The longest time window read in one go.
    pub max_span: Option<String>,
    /// How far back a source without a checkpoint starts.
    pub lookback: Option<String>,
    /// On restart, a checkpoint further behind than this jumps forward (the gap is logged).
    pub max_catchup: Option<String>,
}

/// A source type's defaults for the keys it may leave out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowDefaults {
    pub lag: Duration,
    pub overlap: Duration,
    pub max_span: Duration,
    pub lookback: Duration,
}

/// The validated keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowSettings {
    pub lag: Duration,
    pub overlap: Duration,
    pub max_span: Duration,
    pub lookback: Duration,
    /// `None`: always catch up.
    pub max_catchup: Option<Duration>,
}

impl WindowSettings {
    pub fn defaults(d: WindowDefaults) -> Self {
        WindowSettings {
            lag: d.lag,
            overlap: d.overlap,
            max_span: d.max_span,
            lookback: d.lookback,
            max_catchup: None,
        }
    }

    /// Where a stream without a checkpoint starts: `lookback` before the first window's upper
    /// edge (`now - lag`) when live, `--since` in a scan.
    pub fn start_ms(&self, mode: &PollMode, now: DateTime<Utc>) -> i64 {
        match mode {
            PollMode::Live => now
                .timestamp_millis()
                .saturating_sub(millis(self.lag))
                .saturating_sub(millis(self.lookback)),
            PollMode::Scan(range) => range.since.timestamp_millis(),
        }
    }

    pub fn planner(&self) -> WindowPlanner {
        WindowPlanner {
            lag: self.lag,
            overlap: self.overlap,
            max_span: self.max_span,
        }
    }
}

impl RawWindowSettings {
    /// Validates the keys of the table at `key`; problems are reported under `key.<name>`.
    pub fn build(&self, key: &str, d: WindowDefaults, p: &mut Problems) -> WindowSettings {
        let mut read = |name: &str, value: &Option<String>| {
            duration(p, &format!("{key}.{name}"), value.as_deref())
        };
        let settings = WindowSettings {
            lag: read("lag", &self.lag).unwrap_or(d.lag),
            overlap: read("overlap", &self.overlap).unwrap_or(d.overlap),
            max_span: read("max_span", &self.max_span).unwrap_or(d.max_span),
            lookback: read("lookback", &self.lookback).unwrap_or(d.lookback),
            max_catchup: read("max_catchup", &self.max_catchup),
        };
        if settings.max_span < MIN_SPAN {
            p.push(format!("{key}.max_span"), "must be at least 1s");
        }
        if settings.max_catchup.is_some_and(|m| m.is_zero()) {
            p.push(
                format!("{key}.max_catchup"),
                "must be longer than zero; remove it to always catch up",
            );
        }
        settings
    }

    /// For a source without windows (it reads whole units, e.g. hours of blobs): only
    /// `lookback` and `max_catchup` apply, and setting another key is a mistake worth saying.
    pub fn build_without_windows(
        &self,
        key: &str,
        d: WindowDefaults,
        why: &str,
        p: &mut Problems,
    ) -> WindowSettings {
        for (name, value) in [
            ("lag", &self.lag),
            ("overlap", &self.overlap),
            ("max_span", &self.max_span),
        ] {
            if value.is_some() {
                p.push(
                    format!("{key}.{name}"),
                    format!("does not apply to this source type ({why}); remove it"),
                );
            }
        }
        let only_start = RawWindowSettings {
            lookback: self.lookback.clone(),
            max_catchup: self.max_catchup.clone(),
            ..RawWindowSettings::default()
        };
        only_start.build(key, d, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: WindowDefaults = WindowDefaults {
        lag: Duration::from_secs(30),
        overlap: Duration::from_secs(120),
        max_span: Duration::from_secs(3600),
        lookback: Duration::ZERO,
    };

    fn raw(pairs: &[(&str, &str)]) -> RawWindowSettings {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        };
        RawWindowSettings {
            lag: get("lag"),
            overlap: get("overlap"),
            max_span: get("max_span"),
            lookback: get("lookback"),
            max_catchup: get("max_catchup"),
        }
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let mut p = Problems::default();
        let s = raw(&[("overlap", "10m"), ("max_catchup", "6h")]).build("s", D, &mut p);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(s.lag, D.lag);
        assert_eq!(s.overlap, Duration::from_secs(600));
        assert_eq!(s.max_catchup, Some(Duration::from_secs(6 * 3600)));
        assert_eq!(s.planner().max_span, D.max_span);
    }

    #[test]
    fn one_set_of_rules_names_each_key() {
        let mut p = Problems::default();
        raw(&[
            ("lag", "soon"),
            ("max_span", "500ms"),
            ("max_catchup", "0s"),
        ])
        .build("sources[0]", D, &mut p);
        let keys: Vec<String> = p.into_vec().into_iter().map(|x| x.key).collect();
        assert_eq!(
            keys,
            [
                "sources[0].lag",
                "sources[0].max_span",
                "sources[0].max_catchup"
            ]
        );
    }

    #[test]
    fn a_new_stream_starts_lookback_before_its_first_window() {
        use chrono::TimeZone;
        let now = Utc.timestamp_millis_opt(10_000_000).unwrap();
        let s = WindowSettings {
            lookback: Duration::from_secs(3600),
            ..WindowSettings::defaults(D)
        };
        assert_eq!(
            s.start_ms(&PollMode::Live, now),
            10_000_000 - 30_000 - 3_600_000
        );
        let range = crate::sources::TimeRange {
            since: Utc.timestamp_millis_opt(5_000).unwrap(),
            until: now,
        };
        assert_eq!(s.start_ms(&PollMode::Scan(range), now), 5_000);
    }

    #[test]
    fn keys_that_do_not_apply_are_refused() {
        let mut p = Problems::default();
        let s = raw(&[("overlap", "1m"), ("lookback", "3h")]).build_without_windows(
            "s",
            D,
            "it reads whole hours",
            &mut p,
        );
        assert_eq!(s.lookback, Duration::from_secs(3 * 3600));
        let keys: Vec<String> = p.into_vec().into_iter().map(|x| x.key).collect();
        assert_eq!(keys, ["s.overlap"]);
    }
}

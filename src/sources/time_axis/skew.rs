//! Clock jumps: a watermark ahead of the local clock, and how far the clock is behind.
//!
//! A window's upper edge is the local `now − lag`. A node that ran hours fast moves its
//! watermarks hours into the future; once NTP steps the clock back, every watermark stands past
//! the horizon and the planner would find nothing to read until the clock catches up, while
//! entries stamped in between, read by no window, fall behind the overlap for good. So before
//! each live poll, a stream standing past the horizon is moved back to `now − overlap` (and no
//! further than the horizon): the span the fast clock skipped is read again and the driver's
//! seen ids drop what was already handed over. Small backward steps rewind the same way, so a
//! source never stalls behind its own watermark.
//!
//! A skew larger than the [tolerance](skew_tolerance) is an episode the operator must hear of:
//! [`SkewWatch`] keeps the newest instant the source had reached, and reports how far the
//! local clock is behind it until the clock has caught up.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::backlog::Watermarked;
use super::millis;
use super::window::WindowPlanner;

/// A skew below this is ordinary jitter (NTP slews, a late poll), whatever the overlap.
pub const MIN_SKEW_TOLERANCE: Duration = Duration::from_secs(60);

/// How far ahead of the clock a watermark may stand before it is called a clock skew: twice
/// the overlap (a re-read that large is no longer covered by ordinary lateness), at least a
/// minute.
pub fn skew_tolerance(planner: &WindowPlanner) -> Duration {
    planner.overlap.saturating_mul(2).max(MIN_SKEW_TOLERANCE)
}

/// A cursor moved back because a stream stood past the horizon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rewound {
    /// The newest watermark before the rewind (ms).
    pub from_ms: i64,
    /// Where streams past it now stand (ms).
    pub to_ms: i64,
}

/// If a stream of `cursor` stands past the live horizon (`now − lag`), moves every such stream
/// back to `now − overlap` (or the horizon, whichever is earlier).
pub fn rewind_ahead<C: Watermarked>(
    cursor: &mut C,
    planner: &WindowPlanner,
    now: DateTime<Utc>,
) -> Option<Rewound> {
    let now_ms = now.timestamp_millis();
    let horizon = now_ms.saturating_sub(millis(planner.lag));
    let ceiling = now_ms.saturating_sub(millis(planner.overlap)).min(horizon);
    rewind_past(cursor, horizon, ceiling)
}

/// If a stream of `cursor` stands past `horizon_ms` (the furthest a stream can be at this
/// clock), moves every stream past `ceiling_ms` back to it. For cursors whose horizon is not
/// `now − lag` (the hours of an archive close by `settle`).
pub fn rewind_past<C: Watermarked>(
    cursor: &mut C,
    horizon_ms: i64,
    ceiling_ms: i64,
) -> Option<Rewound> {
    let ahead = cursor.ahead_ms().filter(|a| *a > horizon_ms)?;
    cursor.rewind_to(ceiling_ms);
    Some(Rewound {
        from_ms: ahead,
        to_ms: ceiling_ms,
    })
}

/// What changed with one observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkewChange {
    /// In or out of an episode as before.
    Same,
    /// The clock is now more than the tolerance behind an instant already reached.
    Started,
    /// The clock has caught up.
    Ended,
}

/// One source's clock-skew episode: the newest instant reached and how far the clock lags it.
#[derive(Clone, Debug)]
pub struct SkewWatch {
    tolerance: Duration,
    reached_ms: Option<i64>,
    in_episode: bool,
}

impl SkewWatch {
    pub fn new(tolerance: Duration) -> Self {
        SkewWatch {
            tolerance,
            reached_ms: None,
            in_episode: false,
        }
    }

    /// The newest instant reached so far (ms), if any was observed.
    pub fn reached_ms(&self) -> Option<i64> {
        self.reached_ms
    }

    /// Notes an instant the source reached (a watermark, an event time) and returns the skew
    /// at `now` (`None` within the tolerance) and whether an episode started or ended.
    pub fn observe(
        &mut self,
        reached_ms: Option<i64>,
        now: DateTime<Utc>,
    ) -> (Option<Duration>, SkewChange) {
        if let Some(r) = reached_ms {
            self.reached_ms = Some(self.reached_ms.map_or(r, |old| old.max(r)));
        }
        let ahead_ms = self
            .reached_ms
            .map_or(0, |r| r.saturating_sub(now.timestamp_millis()));
        let skew = u64::try_from(ahead_ms)
            .ok()
            .map(Duration::from_millis)
            .filter(|s| *s > self.tolerance);
        let change = match (self.in_episode, skew.is_some()) {
            (false, true) => SkewChange::Started,
            (true, false) => SkewChange::Ended,
            _ => SkewChange::Same,
        };
        self.in_episode = skew.is_some();
        (skew, change)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::clock::{Clock, ManualClock};

    const T: i64 = 1_800_000_000_000;

    fn planner() -> WindowPlanner {
        WindowPlanner {
            lag: Duration::from_secs(30),
            overlap: Duration::from_secs(120),
            max_span: Duration::from_secs(600),
        }
    }

    /// Two streams, as a cursor over two log groups.
    #[derive(Debug, PartialEq)]
    struct Two(i64, i64);

    impl Watermarked for Two {
        fn behind_ms(&self) -> Option<i64> {
            Some(self.0.min(self.1))
        }
        fn advance_to(&mut self, floor_ms: i64) {
            self.0 = self.0.max(floor_ms);
            self.1 = self.1.max(floor_ms);
        }
        fn ahead_ms(&self) -> Option<i64> {
            Some(self.0.max(self.1))
        }
        fn rewind_to(&mut self, ceiling_ms: i64) {
            self.0 = self.0.min(ceiling_ms);
            self.1 = self.1.min(ceiling_ms);
        }
    }

    fn at_ms(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).unwrap()
    }

    #[test]
    fn the_tolerance_is_twice_the_overlap_and_at_least_a_minute() {
        assert_eq!(skew_tolerance(&planner()), Duration::from_secs(240));
        let tight = WindowPlanner {
            overlap: Duration::from_secs(5),
            ..planner()
        };
        assert_eq!(skew_tolerance(&tight), MIN_SKEW_TOLERANCE);
    }

    #[test]
    fn a_stream_past_the_horizon_is_rewound_and_the_planner_reads_again() {
        let clock = ManualClock::new(at_ms(T));
        let mut cursor = Two(T - 30_000, T - 600_000);
        assert_eq!(rewind_ahead(&mut cursor, &planner(), clock.now()), None);
        assert_eq!(
            cursor,
            Two(T - 30_000, T - 600_000),
            "at the horizon: unchanged"
        );

        // Three hours fast, then stepped back: the first stream stands in the future.
        cursor.0 = T + 3 * 3_600_000;
        let planner = planner();
        assert_eq!(planner.next(cursor.0, clock.now(), None), None, "stalls");
        let rewound = rewind_ahead(&mut cursor, &planner, clock.now()).unwrap();
        assert_eq!(rewound.from_ms, T + 3 * 3_600_000);
        assert_eq!(rewound.to_ms, T - 120_000);
        assert_eq!(
            cursor,
            Two(T - 120_000, T - 600_000),
            "only the stream ahead moves"
        );
        let window = planner.next(cursor.0, clock.now(), None).unwrap().window;
        assert!(window.start_ms <= T - 120_000 && window.end_ms == T - 30_000);
    }

    #[test]
    fn a_small_backward_step_never_stalls() {
        let clock = ManualClock::new(at_ms(T));
        let mut cursor = Two(T - 30_000, T - 30_000);
        clock.advance(chrono::Duration::seconds(-20));
        assert_eq!(planner().next(cursor.0, clock.now(), None), None);
        let rewound = rewind_ahead(&mut cursor, &planner(), clock.now()).unwrap();
        assert_eq!(rewound.to_ms, T - 20_000 - 120_000);
        assert!(planner().next(cursor.0, clock.now(), None).is_some());
    }

    #[test]
    fn an_episode_starts_once_and_ends_when_the_clock_catches_up() {
        let clock = ManualClock::new(at_ms(T));
        let mut watch = SkewWatch::new(Duration::from_secs(240));
        assert_eq!(
            watch.observe(Some(T - 30_000), clock.now()),
            (None, SkewChange::Same)
        );
        assert_eq!(
            watch.observe(Some(T + 200_000), clock.now()),
            (None, SkewChange::Same),
            "within the tolerance"
        );
        let (skew, change) = watch.observe(Some(T + 3_600_000), clock.now());
        assert_eq!(
            (skew, change),
            (Some(Duration::from_secs(3_600)), SkewChange::Started)
        );
        clock.advance(chrono::Duration::minutes(30));
        let (skew, change) = watch.observe(Some(T), clock.now());
        assert_eq!(
            (skew, change),
            (Some(Duration::from_secs(1_800)), SkewChange::Same)
        );
        clock.advance(chrono::Duration::minutes(27));
        assert_eq!(watch.observe(None, clock.now()), (None, SkewChange::Ended));
        assert_eq!(watch.observe(None, clock.now()), (None, SkewChange::Same));
        assert_eq!(watch.reached_ms(), Some(T + 3_600_000));
    }
}

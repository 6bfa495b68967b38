//! `max_catchup`: on resume, a checkpoint too far behind is moved forward instead of read.
//!
//! The decision (how far is too far, what range is given up, what to log) is the same for every
//! source with a time axis; a cursor only says where its streams stand and how to move them.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::millis;
use crate::sources::TimeRange;

/// A cursor made of streams along the axis.
pub trait Watermarked {
    /// The oldest instant any stream may still have to read; `None` without streams.
    fn behind_ms(&self) -> Option<i64>;

    /// Moves every stream behind `floor_ms` forward to it.
    fn advance_to(&mut self, floor_ms: i64);

    /// The instant a skip moves to for a wanted `floor_ms`: a cursor that reads whole units
    /// (hours of blobs) rounds it down to its unit so nothing after `floor_ms` is skipped.
    fn align_floor(&self, floor_ms: i64) -> i64 {
        floor_ms
    }

    /// The newest instant any stream has read up to, to see a watermark ahead of the clock
    /// (`skew`); `None` for a cursor that cannot be rewound.
    fn ahead_ms(&self) -> Option<i64> {
        None
    }

    /// Moves every stream ahead of `ceiling_ms` back to it; a half-read window is dropped (its
    /// token belongs to a request that will be planned again).
    fn rewind_to(&mut self, ceiling_ms: i64) {
        let _ = ceiling_ms;
    }
}

/// If `cursor` is more than `keep` behind `now`, moves it to `now - keep` and returns the range
/// that will not be read (the daemon logs it so an operator can `scan` it).
pub fn skip_backlog<C: Watermarked>(
    cursor: &mut C,
    keep: Duration,
    now: DateTime<Utc>,
) -> Option<TimeRange> {
    let floor = cursor.align_floor(now.timestamp_millis().saturating_sub(millis(keep)));
    let behind = cursor.behind_ms().filter(|b| *b < floor)?;
    cursor.advance_to(floor);
    Some(TimeRange {
        since: DateTime::from_timestamp_millis(behind)?,
        until: DateTime::from_timestamp_millis(floor)?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    struct Two(i64, i64);

    impl Watermarked for Two {
        fn behind_ms(&self) -> Option<i64> {
            Some(self.0.min(self.1))
        }
        fn advance_to(&mut self, floor_ms: i64) {
            self.0 = self.0.max(floor_ms);
            self.1 = self.1.max(floor_ms);
        }
    }

    #[test]
    fn moves_only_what_is_too_far_behind_and_reports_the_gap() {
        let now = Utc.timestamp_millis_opt(10_000_000).unwrap();
        let mut c = Two(1_000, 9_000_000);
        let skipped = skip_backlog(&mut c, Duration::from_secs(3_600), now).unwrap();
        assert_eq!(skipped.since.timestamp_millis(), 1_000);
        assert_eq!(skipped.until.timestamp_millis(), 6_400_000);
        assert_eq!((c.0, c.1), (6_400_000, 9_000_000));
        assert_eq!(skip_backlog(&mut c, Duration::from_secs(3_600), now), None);
    }
}

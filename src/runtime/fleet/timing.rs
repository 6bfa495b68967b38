//! How long a lease lasts and how often it is renewed, derived from the shortest poll interval.
//!
//! - `ttl = 3 × shortest interval`, at least 3 s and at most 60 s: a dead replica's sources
//!   resume elsewhere within about `ttl + renew period`, which stays inside two poll
//!   intervals plus the lease time.
//! - Renew every `ttl / 3`: two renewals may fail in a row before anything is at risk.
//! - A replica that has not renewed a lease by `ttl − ttl/6` (by its own monotonic clock,
//!   counted from when it *sent* the last successful renewal, so the database's expiry is
//!   always later) stops the work under it: it stops before the lease can expire, and the
//!   fenced commit refuses whatever it might still try.
//! - A unit is released for rebalancing only after it was held `2 × ttl`, and a unit freed by
//!   a release is left to the replica short of work for two renew periods.

use std::time::Duration;

const MIN_TTL: Duration = Duration::from_secs(3);
const MAX_TTL: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTiming {
    pub ttl: Duration,
    pub renew_every: Duration,
    /// The work under a lease stops when a renewal is this old.
    pub stop_after: Duration,
    /// Held at least this long before it may be released to rebalance.
    pub min_hold: Duration,
    /// How long a released unit is left to a replica short of work.
    pub handover: Duration,
}

impl LeaseTiming {
    pub fn for_interval(shortest: Duration) -> Self {
        LeaseTiming::with_ttl((shortest * 3).clamp(MIN_TTL, MAX_TTL))
    }

    pub fn with_ttl(ttl: Duration) -> Self {
        let renew_every = ttl / 3;
        LeaseTiming {
            ttl,
            renew_every,
            stop_after: ttl - ttl / 6,
            min_hold: ttl * 2,
            handover: renew_every * 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_follows_the_poll_interval_within_bounds() {
        let t = LeaseTiming::for_interval(Duration::from_secs(10));
        assert_eq!(t.ttl, Duration::from_secs(30));
        assert_eq!(t.renew_every, Duration::from_secs(10));
        assert_eq!(t.stop_after, Duration::from_secs(25));
        assert!(t.stop_after > t.renew_every * 2 && t.stop_after < t.ttl);
        assert_eq!(
            LeaseTiming::for_interval(Duration::from_millis(50)).ttl,
            MIN_TTL
        );
        assert_eq!(
            LeaseTiming::for_interval(Duration::from_secs(600)).ttl,
            MAX_TTL
        );
    }
}

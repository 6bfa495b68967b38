//! When to try again: the one backoff-with-jitter schedule and the one throttle / transient /
//! fatal classification, shared by the sources, the ingest loop and the deliverers.
//!
//! A leaf: it imports nothing from the crate, so any layer may use it. Each client decides which
//! of its own errors fall in which [`ErrorKind`] (vector's `RetryLogic`); how long to wait is
//! decided here, once, by [`Backoff`].

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// What a failed call means for the next attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The service asked us to slow down: wait, but this is pacing, not a failure.
    Throttled,
    /// Network trouble, 5xx, timeouts: retry after a backoff.
    Transient,
    /// Credentials, permissions, missing resources, a refused request: retrying the same call
    /// cannot help until an operator acts.
    Fatal,
}

impl ErrorKind {
    /// The meaning of a non-2xx HTTP status: 429 throttles, 408 and 5xx are transient,
    /// everything else is the request's own fault.
    pub fn from_http_status(status: u16) -> ErrorKind {
        match status {
            429 => ErrorKind::Throttled,
            408 | 500..=599 => ErrorKind::Transient,
            _ => ErrorKind::Fatal,
        }
    }

    /// Whether the same call may succeed later without an operator acting.
    pub fn is_retriable(self) -> bool {
        self != ErrorKind::Fatal
    }
}

/// A retry schedule in progress: [`exponential`] delays, stretched to what the other side asked
/// for (`Retry-After`), never beyond `max` so a hostile or broken answer cannot park a client.
pub struct Backoff {
    min: Duration,
    max: Duration,
    delays: Box<dyn Iterator<Item = Duration> + Send>,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            delays: Box::new(exponential(min, max)),
        }
    }

    /// The wait before the next attempt; at least `asked` (capped at `max`) when given.
    pub fn next_delay(&mut self, asked: Option<Duration>) -> Duration {
        let delay = self.delays.next().unwrap_or(self.max);
        match asked {
            Some(asked) => delay.max(asked.min(self.max)),
            None => delay,
        }
    }

    /// Starts over from `min`: call after a success.
    pub fn reset(&mut self) {
        self.delays = Box::new(exponential(self.min, self.max));
    }
}

/// Delays growing from `min` towards `max`, jittered, never ending.
///
/// backon's jitter adds up to 100% of the current delay, so the un-jittered schedule is capped
/// at `max / 2`: every delay then stays in `[d, 2d)` with `2d <= max`, and the delays at the cap
/// still spread out over `[max/2, max)` instead of all landing on `max` together.
pub fn exponential(min: Duration, max: Duration) -> impl Iterator<Item = Duration> + Send {
    let max = max.max(min);
    let base_max = (max / 2).max(min);
    ExponentialBuilder::default()
        .with_min_delay(min)
        .with_max_delay(base_max)
        .with_jitter()
        .without_max_times()
        .build()
        .map(move |d| d.min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_stays_bounded() {
        let delays: Vec<_> = exponential(Duration::from_millis(100), Duration::from_secs(2))
            .take(20)
            .collect();
        assert_eq!(delays.len(), 20);
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(2)));
        assert!(delays.iter().all(|d| *d >= Duration::from_millis(100)));
        // At the cap the delays still differ (jitter), within [max/2, max].
        let capped = &delays[10..];
        assert!(capped.iter().all(|d| *d >= Duration::from_secs(1)));
        assert!(capped.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn retry_after_stretches_the_delay_but_never_past_max() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        assert_eq!(
            backoff.next_delay(Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(
            backoff.next_delay(Some(Duration::from_secs(86_400))),
            Duration::from_secs(10)
        );
        let grown: Vec<_> = (0..8).map(|_| backoff.next_delay(None)).collect();
        backoff.reset();
        let first = backoff.next_delay(None);
        assert!(first < Duration::from_millis(200), "{first:?} after reset");
        assert!(grown.last().is_some_and(|d| *d >= Duration::from_secs(5)));
    }

    #[test]
    fn http_statuses_classify_once_for_every_client() {
        assert_eq!(ErrorKind::from_http_status(429), ErrorKind::Throttled);
        for transient in [408, 500, 502, 503, 504, 599] {
            assert_eq!(ErrorKind::from_http_status(transient), ErrorKind::Transient);
        }
        for fatal in [400, 401, 403, 404, 409, 422] {
            assert_eq!(ErrorKind::from_http_status(fatal), ErrorKind::Fatal);
            assert!(!ErrorKind::from_http_status(fatal).is_retriable());
        }
    }
}

//! The one retry schedule: exponential with jitter, so many retrying clients spread out.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

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
}

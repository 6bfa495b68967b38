//! The one retry schedule: exponential with full jitter, so many retrying clients spread out.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// Delays growing from `min` to `max`, jittered, never ending.
pub fn exponential(min: Duration, max: Duration) -> impl Iterator<Item = Duration> + Send {
    let max_clamped = max.max(min);
    ExponentialBuilder::default()
        .with_min_delay(min)
        .with_max_delay(max_clamped)
        .with_jitter()
        .without_max_times()
        .build()
        .map(move |d| d.min(max_clamped))
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
        assert!(
            delays
                .iter()
                .skip(10)
                .all(|d| *d >= Duration::from_millis(100))
        );
    }
}

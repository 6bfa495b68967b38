//! Waiting on another process or task with a deadline, instead of sleeping a fixed time.

use std::time::Duration;

/// How often a condition is checked again.
const RECHECK: Duration = Duration::from_millis(20);

/// Checks `check` until it returns `Some`, panicking with `what` after `deadline`. For waiting
/// on another process or task (nothing to await directly); tokio time, so a paused clock moves
/// through it. `check` is an async closure, so it may itself await (an HTTP call, a store
/// query); a check that need not await is written `async || …` all the same.
pub async fn eventually<T>(
    what: &str,
    deadline: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let start = tokio::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(RECHECK).await;
    }
}

//! The one poll loop: take a step, wait, repeat until cancelled or done.
//!
//! A step is never interrupted half-way: cancellation is checked between steps and raced only
//! against the wait, so a stop always leaves the last complete batch committed and nothing
//! half-applied (the daemon gives a running step a grace period to finish).

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::retry::Backoff;

/// Where a successful step leaves the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// More is available: step again at once.
    Now,
    /// Caught up: step again after the poll interval.
    AfterInterval,
    /// Nothing more will come (a scan reached the end of its range).
    Done,
}

/// What the loop asks of the thing it drives.
pub trait Steps {
    type Error;

    /// One unit of work.
    fn step(&mut self) -> impl Future<Output = Result<Next, Self::Error>> + Send;

    /// The wait the failure itself asks for (`Retry-After`), if any.
    fn asked_wait(&self, error: &Self::Error) -> Option<Duration>;

    /// Told of a failed step and the wait before the next one; `false` ends the loop with the
    /// error.
    fn keep_going(&mut self, error: &Self::Error, retry_in: Duration) -> bool;
}

/// Runs `steps` until `cancel` fires or a step says it is done. Failures back off (with
/// jitter, stretched to what the failure asks for); a success resets the backoff.
///
/// A round is the steps taken back to back while each says more is waiting. `interval` runs
/// from the end of a round's first step, so the further steps of a round (a CloudWatch source
/// reads one log group per step) do not stretch the period its sources are polled at. A round
/// of one step waits the whole interval after it, as a step that waited for its rate limit
/// must not be followed by the next one at once: the loop would then spend its time inside
/// steps, where cancellation (a lease given up) is not seen.
pub async fn run<S: Steps>(
    steps: &mut S,
    interval: Duration,
    mut backoff: Backoff,
    cancel: &CancellationToken,
) -> Result<(), S::Error> {
    let mut round: Option<tokio::time::Instant> = None;
    loop {
        if cancel.is_cancelled() {
            return Ok(());
        }
        let outcome = steps.step().await;
        let first_step_ended = *round.get_or_insert_with(tokio::time::Instant::now);
        let wait = match outcome {
            Ok(Next::Now) => {
                backoff.reset();
                continue;
            }
            Ok(Next::AfterInterval) => {
                backoff.reset();
                interval.saturating_sub(first_step_ended.elapsed())
            }
            Ok(Next::Done) => return Ok(()),
            Err(error) => {
                let retry_in = backoff.next_delay(steps.asked_wait(&error));
                if !steps.keep_going(&error, retry_in) {
                    return Err(error);
                }
                retry_in
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(wait) => {}
        }
        round = None;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// Plays a script of step results and records every wait the loop chose.
    struct Script {
        results: VecDeque<Result<Next, &'static str>>,
        retries: Vec<Duration>,
        give_up_after: usize,
        /// How long each step takes, and when each began.
        takes: Duration,
        starts: Vec<tokio::time::Instant>,
    }

    fn script(results: Vec<Result<Next, &'static str>>, give_up_after: usize) -> Script {
        Script {
            results: VecDeque::from(results),
            retries: Vec::new(),
            give_up_after,
            takes: Duration::ZERO,
            starts: Vec::new(),
        }
    }

    impl Steps for Script {
        type Error = &'static str;

        async fn step(&mut self) -> Result<Next, &'static str> {
            self.starts.push(tokio::time::Instant::now());
            tokio::time::sleep(self.takes).await;
            self.results.pop_front().unwrap_or(Ok(Next::Done))
        }

        fn asked_wait(&self, error: &&'static str) -> Option<Duration> {
            (*error == "slow down").then_some(Duration::from_secs(30))
        }

        fn keep_going(&mut self, _error: &&'static str, retry_in: Duration) -> bool {
            self.retries.push(retry_in);
            self.retries.len() < self.give_up_after
        }
    }

    fn backoff() -> Backoff {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
    }

    #[tokio::test(start_paused = true)]
    async fn backs_off_on_failure_resets_on_success_and_honours_asked_waits() {
        let mut steps = script(
            vec![
                Err("boom"),
                Err("boom"),
                Err("boom"),
                Ok(Next::AfterInterval),
                Err("boom"),
                Err("slow down"),
                Ok(Next::Now),
                Ok(Next::Done),
            ],
            usize::MAX,
        );
        let started = tokio::time::Instant::now();
        run(
            &mut steps,
            Duration::from_secs(10),
            backoff(),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        let r = &steps.retries;
        assert_eq!(r.len(), 5);
        assert!(r[2] > r[0], "delays grow while failing: {r:?}");
        assert!(r[3] < Duration::from_secs(2), "a success resets: {r:?}");
        assert!(
            r[4] >= Duration::from_secs(30),
            "Retry-After is honoured: {r:?}"
        );
        let slept = started.elapsed();
        let expected: Duration = r.iter().sum::<Duration>() + Duration::from_secs(10);
        // tokio's timer rounds each sleep up to the next millisecond.
        let rounding = Duration::from_millis(r.len() as u64 + 1);
        assert!(
            slept >= expected && slept <= expected + rounding,
            "the loop waited what it chose: {slept:?} vs {expected:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stops_with_the_error_when_told_to_and_at_once_when_cancelled() {
        let mut failing = script(vec![Err("boom"), Err("boom"), Err("last")], 3);
        let result = run(
            &mut failing,
            Duration::from_secs(1),
            backoff(),
            &CancellationToken::new(),
        )
        .await;
        assert_eq!(result, Err("last"));

        let cancel = CancellationToken::new();
        let mut waiting = script(vec![Ok(Next::AfterInterval), Ok(Next::Now)], usize::MAX);
        let stopper = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            stopper.cancel();
        });
        let started = tokio::time::Instant::now();
        run(&mut waiting, Duration::from_secs(3600), backoff(), &cancel)
            .await
            .unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert_eq!(waiting.results.len(), 1, "no step after the cancellation");
    }

    #[tokio::test(start_paused = true)]
    async fn the_interval_runs_from_the_end_of_a_rounds_first_step() {
        // Rounds of two 4 s steps every 10 s: the second round's first step ends 10 s after
        // the first round's did, not 10 s after the first round ended.
        let mut rounds = script(
            vec![
                Ok(Next::Now),
                Ok(Next::AfterInterval),
                Ok(Next::Now),
                Ok(Next::AfterInterval),
                Ok(Next::Done),
            ],
            usize::MAX,
        );
        rounds.takes = Duration::from_secs(4);
        let started = tokio::time::Instant::now();
        run(
            &mut rounds,
            Duration::from_secs(10),
            backoff(),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        let starts: Vec<u64> = rounds
            .starts
            .iter()
            .map(|s| (*s - started).as_secs())
            .collect();
        assert_eq!(starts, [0, 4, 14, 18, 28]);
        // A round of one step waits the whole interval after it, however long the step took.
        let mut long = script(vec![Ok(Next::AfterInterval), Ok(Next::Done)], usize::MAX);
        long.takes = Duration::from_secs(15);
        let started = tokio::time::Instant::now();
        run(
            &mut long,
            Duration::from_secs(10),
            backoff(),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(long.starts[1] - started, Duration::from_secs(25));
    }
}

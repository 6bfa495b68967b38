//! Progress of a running scan: a bar per source on a terminal, a log line every so often
//! otherwise (a daemon's log, CI, `kubectl logs`).
//!
//! Progress is read from the scan's own health registry: sources with a time axis report how
//! far they have read in event time, which gives a fraction of the range; others (files) report
//! batches only.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::sources::TimeRange;
use crate::sources::time_axis::progress::percent;
use crate::telemetry::Health;
use crate::telemetry::health::SourceHealth;

/// How often a log line is written when there is no terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(30);
const BAR_TICK: Duration = Duration::from_millis(250);
const BAR_LENGTH: u64 = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    /// indicatif bars on stderr.
    Bar,
    /// A log line per source every [`LOG_EVERY`].
    Log,
}

impl Display {
    /// Bars when stderr is a terminal, log lines otherwise.
    pub fn for_stderr() -> Display {
        if std::io::stderr().is_terminal() {
            Display::Bar
        } else {
            Display::Log
        }
    }
}

/// How much of `range` a source has covered, in `[0, 1]`, when it reports a position.
pub fn fraction(range: &TimeRange, position: Option<DateTime<Utc>>) -> Option<f64> {
    let at = position?.timestamp_millis();
    let (since, until) = (
        range.since.timestamp_millis(),
        range.until.timestamp_millis(),
    );
    Some(percent(since, at, until) / 100.0)
}

/// The log line's description of one source.
pub fn describe(range: &TimeRange, h: &SourceHealth) -> String {
    let mut text = match (fraction(range, h.position), h.position) {
        (Some(f), Some(at)) => format!("{:.0}% (read up to {})", f * 100.0, at.to_rfc3339()),
        _ => "in progress".to_owned(),
    };
    text.push_str(&format!(", {} batch(es)", h.batches));
    if h.consecutive_failures > 0 {
        text.push_str(&format!(", {} failure(s) in a row", h.consecutive_failures));
    }
    text
}

/// Shows progress until `done` is cancelled.
pub fn watch(
    scan: String,
    health: Arc<Health>,
    sources: Vec<String>,
    range: TimeRange,
    display: Display,
    done: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        match display {
            Display::Log => log_lines(&scan, &health, &sources, &range, &done).await,
            Display::Bar => bars(&health, &sources, &range, &done).await,
        }
    })
}

async fn log_lines(
    scan: &str,
    health: &Health,
    sources: &[String],
    range: &TimeRange,
    done: &CancellationToken,
) {
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = tokio::time::sleep(LOG_EVERY) => {}
        }
        let snapshot = health.snapshot();
        for source in sources {
            let state = snapshot
                .get(source)
                .map_or_else(|| "starting".to_owned(), |h| describe(range, h));
            info!(scan, source = %source, progress = %state, "scan progress");
        }
    }
}

async fn bars(health: &Health, sources: &[String], range: &TimeRange, done: &CancellationToken) {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    // Sources without a time axis (files) get a spinner; a bar once a position is known.
    let spinner = ProgressStyle::with_template("{prefix:>16} {spinner} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let bar_style = ProgressStyle::with_template("{prefix:>16} [{bar:32}] {percent:>3}% {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bars: Vec<ProgressBar> = sources
        .iter()
        .map(|s| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(spinner.clone());
            bar.set_prefix(s.clone());
            bar
        })
        .collect();
    loop {
        let snapshot = health.snapshot();
        for (source, bar) in sources.iter().zip(&bars) {
            let Some(h) = snapshot.get(source) else {
                bar.tick();
                continue;
            };
            match fraction(range, h.position) {
                Some(f) => {
                    if bar.length() != Some(BAR_LENGTH) {
                        bar.set_length(BAR_LENGTH);
                        bar.set_style(bar_style.clone());
                    }
                    bar.set_position((f * BAR_LENGTH as f64) as u64);
                }
                None => bar.tick(),
            }
            bar.set_message(format!("{} batch(es)", h.batches));
        }
        tokio::select! {
            _ = done.cancelled() => break,
            _ = tokio::time::sleep(BAR_TICK) => {}
        }
    }
    for bar in bars {
        bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn fraction_of_the_range() {
        let since = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let range = TimeRange {
            since,
            until: since + chrono::Duration::hours(10),
        };
        assert_eq!(fraction(&range, None), None);
        assert_eq!(
            fraction(&range, Some(since + chrono::Duration::hours(4))),
            Some(0.4)
        );
        assert_eq!(
            fraction(&range, Some(since - chrono::Duration::hours(1))),
            Some(0.0)
        );
        let h = SourceHealth {
            position: Some(since + chrono::Duration::hours(5)),
            batches: 3,
            ..SourceHealth::default()
        };
        assert!(describe(&range, &h).starts_with("50% (read up to 2026-01-01T05:00:00"));
    }
}

//! The `gcp_logging` poller when things go wrong: late entries, restarts and crashes, an
//! exhausted quota, failing pages, expired tokens, a stale checkpoint; and scans beside it.
//!
//! Paused tokio clock throughout (see `gcp_logging`): request rates are counted by the fake in
//! simulated time. The fake runs on the test's runtime, so a request in flight always has a
//! task to run and tokio never auto-advances the clock into the client's attempt timeout; each
//! test checks that no request timed out.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Duration as Span;
use nodeport_watch::ingest::{DriverError, SourceDriver};
use nodeport_watch::sources::{PollMode, Progress, Source, SourceErrorKind, TimeRange};
use tokio_util::sync::CancellationToken;

use crate::support::fake_logging::FakeLogging;
use nodeport_watch::clock::Clock;

use crate::support::gcp::{GcpHarness, SimClock, at, harness, nodeport_create};

async fn until_caught_up<S: Source>(driver: &mut SourceDriver<S>) -> (usize, usize, usize) {
    let (mut inserted, mut duplicates, mut seen) = (0, 0, 0);
    loop {
        let r = driver.step().await.unwrap();
        inserted += r.inserted;
        duplicates += r.duplicates;
        seen += r.already_seen;
        if r.progress != Progress::More {
            return (inserted, duplicates, seen);
        }
    }
}

async fn ids(h: &GcpHarness) -> BTreeSet<String> {
    h.alerts()
        .await
        .into_iter()
        .map(|a| a.record_id.unwrap())
        .collect()
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn gcp_late_entries_in_the_overlap_are_read_and_a_scan_finds_older_ones() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    );
    let fake = FakeLogging::start().await;
    let t0 = at("2024-04-01T08:00:00Z");
    fake.insert(nodeport_create("late-1", "web", t0 + Span::minutes(2), 1));
    let dir = tempfile::tempdir().unwrap();
    let h = harness(
        &dir,
        &fake,
        &["late-1"],
        "lag = \"60s\"\noverlap = \"5m\"\nmax_span = \"10m\"\nprogress_interval = \"1s\"",
        SimClock::starting_at(t0),
    );
    let (mut live, stats) = h.driver(PollMode::Live).await;
    tokio::time::advance(Duration::from_secs(300)).await;
    until_caught_up(&mut live).await;
    assert_eq!(ids(&h).await.len(), 1);
    let watermark = h.live_cursor().await.unwrap().low_watermark().unwrap();
    assert_eq!(watermark, (t0 + Span::minutes(4)).timestamp_millis());

    // Visible only now: one behind the watermark but inside the overlap, one far behind it.
    fake.insert(nodeport_create("late-1", "web", t0 + Span::minutes(3), 2));
    fake.insert(nodeport_create("late-1", "web", t0 - Span::minutes(10), 3));
    tokio::time::advance(Duration::from_secs(30)).await;
    let (inserted, _, seen_again) = until_caught_up(&mut live).await;
    assert_eq!(inserted, 1, "the late entry inside the overlap");
    assert_eq!(
        seen_again, 1,
        "the first entry, re-read in the overlap, dropped"
    );
    assert!(ids(&h).await.contains("late-1-web-0000002"));
    assert!(
        !ids(&h).await.contains("late-1-web-0000003"),
        "beyond the overlap"
    );
    assert_eq!(stats.snapshot().timeouts, 0);

    // A scan over the past finds it, under its own checkpoint.
    let live_cursor = h.live_cursor().await;
    let range = TimeRange {
        since: t0 - Span::minutes(30),
        until: t0 + Span::minutes(4),
    };
    let (mut scan, _) = h.driver(PollMode::Scan(range)).await;
    let mut inserted = 0;
    loop {
        let r = scan.step().await.unwrap();
        inserted += r.inserted;
        if r.progress == Progress::Finished {
            break;
        }
    }
    assert_eq!(
        inserted, 1,
        "only the entry live polling could not see is new"
    );
    assert!(ids(&h).await.contains("late-1-web-0000003"));
    assert_eq!(
        h.live_cursor().await,
        live_cursor,
        "the scan left the live checkpoint"
    );
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("scan progress"), "{text}");
    assert!(text.contains("done=100.0%"), "{text}");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn gcp_restarts_and_crashes_miss_nothing_and_repeat_nothing() {
    let fake = FakeLogging::start().await;
    let t0 = at("2024-04-02T08:00:00Z");
    for n in 0..3_000 {
        let time = t0 + Span::milliseconds(60_000 + 60 * n as i64);
        fake.insert(nodeport_create("restart-1", "web", time, n));
    }
    let dir = tempfile::tempdir().unwrap();
    let clock = SimClock::starting_at(t0);
    let opts = "max_batch_entries = 1000";
    let mut total = 0;
    {
        let h = harness(&dir, &fake, &["restart-1"], opts, clock.clone());
        let (mut driver, _) = h.driver(PollMode::Live).await;
        tokio::time::advance(Duration::from_secs(300)).await;
        let r = driver.step().await.unwrap();
        total += r.inserted;
        assert_eq!(r.inserted, 1000);
        assert!(
            driver.cursor().resume.is_some(),
            "stopped in the middle of a window"
        );
        // A crash after fetching the next batch and before committing it.
        let mut source = h.source().await;
        let stored = h.live_cursor().await.unwrap();
        let fetched = source.poll(&stored, &PollMode::Live).await.unwrap();
        assert_eq!(fetched.records.len(), 1000);
    }
    {
        let h = harness(&dir, &fake, &["restart-1"], opts, clock.clone());
        let (mut driver, stats) = h.driver(PollMode::Live).await;
        let r = driver.step().await.unwrap();
        assert_eq!(
            (r.inserted, r.duplicates, r.already_seen),
            (1000, 0, 0),
            "resumed exactly at the committed page token: the uncommitted batch is read again"
        );
        let (inserted, duplicates, _) = until_caught_up(&mut driver).await;
        total += r.inserted + inserted;
        assert_eq!((inserted, duplicates), (1000, 0));
        assert_eq!(ids(&h).await.len(), 3000);
        assert_eq!(stats.snapshot().timeouts, 0);

        for n in 3_000..3_010 {
            let time = t0 + Span::minutes(6) + Span::seconds(n as i64 - 3_000);
            fake.insert(nodeport_create("restart-1", "web", time, n));
        }
        tokio::time::advance(Duration::from_secs(240)).await;
        let (inserted, duplicates, seen) = until_caught_up(&mut driver).await;
        total += inserted;
        assert_eq!((inserted, duplicates), (10, 0));
        assert!(
            seen >= 1000,
            "the overlap was re-read and dropped by id ({seen})"
        );
    }
    let h = harness(&dir, &fake, &["restart-1"], opts, clock.clone());
    let (mut driver, _) = h.driver(PollMode::Live).await;
    tokio::time::advance(Duration::from_secs(60)).await;
    let (inserted, duplicates, _) = until_caught_up(&mut driver).await;
    assert_eq!(
        (inserted, duplicates),
        (0, 0),
        "a restart reports nothing twice"
    );
    assert_eq!(total, 3010);
    assert_eq!(ids(&h).await.len(), 3010);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn gcp_quota_is_shared_never_exceeded_and_throttles_lose_nothing() {
    let fake = FakeLogging::start().await;
    fake.quota_per_minute(Some(60));
    let t0 = at("2024-05-01T00:00:00Z");
    let projects = ["quota-a", "quota-b"];
    for (p, project) in projects.iter().enumerate() {
        for n in 0..4_000 {
            let time = t0 - Span::hours(2) + Span::milliseconds(1_700 * n as i64 + p as i64);
            fake.insert(nodeport_create(project, "web", time, n));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let h = harness(
        &dir,
        &fake,
        &projects,
        // Small pages: many requests per committed batch, so the limiter is what sets the pace.
        "max_span = \"10m\"\noverlap = \"1m\"\npage_size = 50\nrequests_per_minute = 50",
        SimClock::starting_at(t0),
    );
    let range = TimeRange {
        since: t0 - Span::hours(2),
        until: t0 - Span::minutes(2),
    };
    // A scan catching up and the live poller draw on the same per-project budget.
    let (scan, scan_stats) = h.driver(PollMode::Scan(range)).await;
    let (live, live_stats) = h.driver(PollMode::Live).await;
    fake.fail_next(429, 4);
    let started = tokio::time::Instant::now();
    let cancel = CancellationToken::new();
    let scan_task = tokio::spawn(scan.run(Duration::from_secs(30), cancel.clone()));
    let live_task = tokio::spawn(live.run(Duration::from_secs(30), cancel.clone()));
    scan_task.await.unwrap().unwrap();
    let took = started.elapsed();
    cancel.cancel();
    live_task.await.unwrap().unwrap();

    assert_eq!(ids(&h).await.len(), 8_000, "every entry alerted once");
    let requests = fake.requests();
    for project in projects {
        let max = fake.max_requests_in_a_minute(project);
        assert!(max <= 50, "{max} requests for {project} in one minute");
    }
    assert!(requests.len() > 120, "the limiter was the bottleneck");
    assert!(took >= Duration::from_secs(60 * (requests.len() as u64 - 1) / 50));
    let refused = requests.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        refused, 4,
        "only the injected 429s: the poller stayed under the fake's quota"
    );
    let (s, l) = (scan_stats.snapshot(), live_stats.snapshot());
    assert_eq!(s.throttled + l.throttled, 4, "every throttle counted");
    assert_eq!(s.timeouts + l.timeouts, 0);
}

fn source_error(e: DriverError) -> nodeport_watch::sources::SourceError {
    match e {
        DriverError::Source(e) => e,
        other => panic!("not a source error: {other}"),
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn gcp_failed_pages_and_expired_tokens_never_move_the_checkpoint_past_data() {
    let fake = FakeLogging::start().await;
    let t0 = at("2024-06-01T00:00:00Z");
    for n in 0..1_500 {
        let time = t0 + Span::milliseconds(60_000 + 100 * n as i64);
        fake.insert(nodeport_create("errors-1", "web", time, n));
    }
    let dir = tempfile::tempdir().unwrap();
    let h = harness(
        &dir,
        &fake,
        &["errors-1"],
        "max_batch_entries = 1000\npage_size = 500",
        SimClock::starting_at(t0),
    );
    let (mut driver, stats) = h.driver(PollMode::Live).await;
    tokio::time::advance(Duration::from_secs(600)).await;

    fake.fail_next(500, 1);
    let before = driver.cursor().clone();
    let e = source_error(driver.step().await.unwrap_err());
    assert_eq!(e.kind, SourceErrorKind::Transient);
    assert_eq!(driver.cursor(), &before);
    assert_eq!(h.live_cursor().await, None, "nothing committed");

    // The second page fails: the first is committed with the token of the failed one.
    fake.fail_after(1, 500);
    let r = driver.step().await.unwrap();
    assert_eq!((r.inserted, r.progress), (500, Progress::More));
    let resume = driver.cursor().resume.clone().unwrap();
    assert_eq!(h.live_cursor().await.unwrap().resume, Some(resume.clone()));

    // The failure is reported by the next poll, before any request, so the driver backs off.
    let requests = fake.requests().len();
    let e = source_error(driver.step().await.unwrap_err());
    assert_eq!(e.kind, SourceErrorKind::Transient);
    assert_eq!(
        fake.requests().len(),
        requests,
        "no request before the backoff"
    );
    assert_eq!(driver.cursor().resume, Some(resume));

    // Its token outlived its 24 hours: the window is read again from its start.
    fake.expire_tokens();
    let r = driver.step().await.unwrap();
    assert_eq!((r.inserted, r.progress), (0, Progress::More));
    assert_eq!(driver.cursor().resume, None);
    let (inserted, duplicates, seen) = until_caught_up(&mut driver).await;
    assert_eq!((inserted, duplicates, seen), (1000, 0, 500));
    assert_eq!(ids(&h).await.len(), 1500);
    let refused = fake.requests().iter().filter(|r| r.status == 400).count();
    assert_eq!(refused, 1, "one expired token");

    tokio::time::advance(Duration::from_secs(60)).await;
    fake.fail_next(403, 1);
    let e = source_error(driver.step().await.unwrap_err());
    assert_eq!(e.kind, SourceErrorKind::Fatal);
    assert!(e.message.contains("roles/logging.viewer"), "{}", e.message);
    fake.fail_next(429, 1);
    let e = source_error(driver.step().await.unwrap_err());
    assert_eq!(e.kind, SourceErrorKind::Throttled);
    assert_eq!(stats.snapshot().timeouts, 0);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn gcp_healthcheck_calls_the_api_and_max_catchup_skips_a_stale_checkpoint() {
    let fake = FakeLogging::start().await;
    let t0 = at("2024-07-01T00:00:00Z");
    let dir = tempfile::tempdir().unwrap();
    let clock = SimClock::starting_at(t0);
    let h = harness(
        &dir,
        &fake,
        &["health-1"],
        "max_catchup = \"1h\"",
        clock.clone(),
    );
    let mut source = h.source().await;
    source.healthcheck().await.unwrap();
    assert_eq!(fake.requests().len(), 1);
    fake.fail_next(403, 1);
    let e = source.healthcheck().await.unwrap_err();
    assert_eq!(e.kind, SourceErrorKind::Fatal);

    let (mut driver, _) = h.driver(PollMode::Live).await;
    until_caught_up(&mut driver).await;
    drop(driver);
    // Three days later: one entry in the skipped range, one within max_catchup.
    let later = t0 + Span::days(3);
    fake.insert(nodeport_create("health-1", "web", t0 + Span::hours(5), 1));
    fake.insert(nodeport_create(
        "health-1",
        "web",
        later - Span::minutes(30),
        2,
    ));
    tokio::time::advance(Duration::from_secs(3 * 86_400)).await;
    let keep_from = clock.now() - Span::hours(1);
    assert!(keep_from - (later - Span::hours(1)) < Span::seconds(10));
    let (mut driver, _) = h.driver(PollMode::Live).await;
    let resumed_at = driver.cursor().low_watermark().unwrap();
    assert_eq!(resumed_at, keep_from.timestamp_millis());
    until_caught_up(&mut driver).await;
    assert_eq!(
        ids(&h).await.into_iter().collect::<Vec<_>>(),
        ["health-1-web-0000002"]
    );
}

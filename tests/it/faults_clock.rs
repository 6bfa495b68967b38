//! Clock jumps under a live source: a node that ran hours fast and was stepped back by NTP, and a
//! small backward step, with `gcp_logging` (the fake behind it); hours of an `azure_blob`
//! archive closed by a fast clock (Azurite).
//!
//! For `gcp_logging` the clock is tokio's paused clock plus an offset the test moves, so window
//! edges follow simulated time and jumps happen at an exact instant. Each test would fail before
//! the rewind: nothing was read while the checkpoint stood past the clock's horizon.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};
use nodeport_watch::clock::Clock;
use nodeport_watch::sources::PollMode;
use nodeport_watch::telemetry::exporter;
use nodeport_watch::telemetry::readiness::Readiness;

use crate::support::azure_blob_kit::{self, ADMIN, blob_name, nodeport_line, service_names};
use crate::support::azure_harness::{cluster_id, start_time};
use crate::support::azurite::{Azurite, append};
use crate::support::fake_logging::FakeLogging;
use crate::support::gcp::{GcpHarness, at, harness, nodeport_create};
use crate::support::{ingest, logs};

/// Simulated time (tokio's paused clock) plus an offset: the host's clock, jumps included.
#[derive(Debug)]
struct JumpClock {
    base: DateTime<Utc>,
    origin: tokio::time::Instant,
    offset: Mutex<Span>,
}

impl JumpClock {
    fn starting_at(base: DateTime<Utc>) -> Arc<JumpClock> {
        Arc::new(JumpClock {
            base,
            origin: tokio::time::Instant::now(),
            offset: Mutex::new(Span::zero()),
        })
    }

    fn jump(&self, by: Span) {
        *self.offset.lock().unwrap() += by;
    }
}

impl Clock for JumpClock {
    fn now(&self) -> DateTime<Utc> {
        self.base + Span::from_std(self.origin.elapsed()).unwrap() + *self.offset.lock().unwrap()
    }
}

const OPTIONS: &str = "lag = \"60s\"\noverlap = \"5m\"\nmax_span = \"4h\"\nlookback = \"10m\"";

async fn readiness(h: &GcpHarness) -> (bool, String) {
    let intervals = BTreeMap::from([("gke".to_owned(), Duration::from_secs(60))]);
    let report = Readiness::new(
        Arc::clone(&h.services.health),
        Arc::clone(&h.services.store),
        intervals,
        3,
    )
    .check()
    .await;
    (report.ready, report.text)
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_forward_jump_then_back_is_reported_and_the_skipped_span_is_read_once() {
    let (_guard, logs) = logs::capture();
    let fake = FakeLogging::start().await;
    let t0 = at("2024-04-01T08:00:00Z");
    fake.insert(nodeport_create("p1", "web", t0 - Span::minutes(3), 1));
    let dir = tempfile::tempdir().unwrap();
    let clock = JumpClock::starting_at(t0);
    let h = harness(&dir, &fake, &["p1"], OPTIONS, clock.clone());
    let (mut live, _) = h.driver(PollMode::Live).await;
    let first = ingest::drain(&mut live, 10).await;
    assert_eq!(first.iter().map(|r| r.inserted).sum::<usize>(), 1);

    // The host runs three hours fast: its windows reach into what is still the future.
    clock.jump(Span::hours(3));
    ingest::drain(&mut live, 10).await;
    let ahead = h.live_cursor().await.unwrap().projects["p1"];
    assert!(ahead > (t0 + Span::hours(2)).timestamp_millis());

    // NTP steps it back; meanwhile a Service was exposed in the span the fast clock skipped.
    clock.jump(Span::hours(-3));
    tokio::time::advance(Duration::from_secs(120)).await;
    fake.insert(nodeport_create("p1", "web", t0 + Span::seconds(30), 2));
    let after = ingest::drain(&mut live, 10).await;
    let inserted: usize = after.iter().map(|r| r.inserted).sum();
    let duplicates: usize = after.iter().map(|r| r.duplicates).sum();
    let already_seen: usize = after.iter().map(|r| r.already_seen).sum();
    assert_eq!(inserted, 1, "the entry in the skipped span is read");
    // The first entry is read again. Its seen id was forgotten while the clock ran fast (ids
    // older than the watermark − overlap go), so the outbox, which already holds its alert, is
    // what keeps it from being queued twice.
    assert_eq!(
        already_seen + duplicates,
        1,
        "the re-read entry is recognised"
    );
    assert_eq!(h.alerts().await.len(), 2, "no alert twice");
    let rewound = h.live_cursor().await.unwrap().projects["p1"];
    assert!(
        rewound <= clock.now().timestamp_millis(),
        "the checkpoint is back behind the clock"
    );

    let skew = h.services.health.snapshot()["gke"]
        .clock_skew
        .expect("a skew");
    assert!(skew > Duration::from_secs(2 * 3_600), "{skew:?}");
    let (ready, text) = readiness(&h).await;
    assert!(!ready, "{text}");
    assert!(
        text.contains("source gke: CLOCK SKEW: the local clock is"),
        "{text}"
    );

    let handle = exporter::install().unwrap();
    let scrape = exporter::render(&handle, &h.services.health, &h.services.store, true).await;
    let gauge = scrape
        .lines()
        .find(|l| l.starts_with("nodeport_watch_clock_skew_seconds{source=\"gke\"}"))
        .expect("the skew gauge");
    let value: f64 = gauge.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(value > 7_200.0, "{gauge}");

    // Another poll in the same episode says nothing new: one loud line per episode.
    tokio::time::advance(Duration::from_secs(60)).await;
    ingest::drain(&mut live, 10).await;
    assert_eq!(
        logs.text().matches("CLOCK SKEW").count(),
        1,
        "{}",
        logs.text()
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_small_backward_step_keeps_the_source_reading_and_ready() {
    let fake = FakeLogging::start().await;
    let t0 = at("2024-04-01T08:00:00Z");
    let dir = tempfile::tempdir().unwrap();
    let clock = JumpClock::starting_at(t0);
    let h = harness(&dir, &fake, &["p1"], OPTIONS, clock.clone());
    fake.insert(nodeport_create("p1", "web", t0 - Span::minutes(3), 1));
    let (mut live, _) = h.driver(PollMode::Live).await;
    ingest::drain(&mut live, 10).await;
    tokio::time::advance(Duration::from_secs(30)).await;
    ingest::drain(&mut live, 10).await;

    // Two minutes back: the checkpoint now stands past `now − lag`.
    clock.jump(Span::minutes(-2));
    fake.insert(nodeport_create(
        "p1",
        "web",
        clock.now() - Span::seconds(70),
        2,
    ));
    let after = ingest::drain(&mut live, 10).await;
    assert_eq!(
        after.iter().map(|r| r.inserted).sum::<usize>(),
        1,
        "read at the next poll, not once the clock has caught up"
    );
    assert_eq!(
        after.iter().map(|r| r.already_seen).sum::<usize>(),
        1,
        "the re-read entry is dropped by its seen id"
    );
    assert_eq!(after.iter().map(|r| r.duplicates).sum::<usize>(), 0);
    assert_eq!(
        h.services.health.snapshot()["gke"].clock_skew,
        None,
        "within the tolerance"
    );
    h.services.health.record_success("gke");
    let (ready, text) = readiness(&h).await;
    assert!(ready, "{text}");
}

#[tokio::test]
async fn azure_blob_hours_closed_by_a_fast_clock_are_opened_again() {
    let azurite = Azurite::start().await;
    let admin = azurite.create_container(ADMIN).await;
    let h = azure_blob_kit::harness(
        &azurite,
        &format!("clusters = [\"{}\"]\n", cluster_id("prod")),
    );
    // The hour being written when the host's clock jumps three hours ahead.
    let prod = blob_name("prod", start_time());
    append(
        &admin,
        &prod,
        nodeport_line("prod", "r-1", "r1").as_bytes(),
        true,
    )
    .await;
    let services = h.services();
    let mut live = azure_blob_kit::driver(&h, &services, PollMode::Live).await;
    assert_eq!(live.step().await.unwrap().inserted, 1);
    h.clock.advance(Span::hours(3));
    live.step().await.unwrap();

    // Stepped back; the hour, closed as settled by the fast clock, is still being written.
    h.clock.advance(Span::hours(-3) + Span::minutes(5));
    append(
        &admin,
        &prod,
        nodeport_line("prod", "r-2", "r2").as_bytes(),
        false,
    )
    .await;
    let after = ingest::drain(&mut live, 10).await;
    assert_eq!(after.iter().map(|r| r.inserted).sum::<usize>(), 1);
    assert_eq!(
        after.iter().map(|r| r.duplicates).sum::<usize>(),
        1,
        "the blob is read again from its start; the outbox already holds the first alert"
    );
    assert_eq!(service_names(&services).await, ["r1", "r2"]);
    let skew = services.health.snapshot()["archive"]
        .clock_skew
        .expect("a skew");
    assert!(skew > Duration::from_secs(3_600), "{skew:?}");
}

//! The `aws_cloudwatch` source's windows against moto: pagination of large windows, events on a
//! window edge, late ingestion, restarts and scans.

use chrono::Duration;
use nodeport_watch::clock::{Clock, ManualClock};
use nodeport_watch::sources::aws_cloudwatch::CloudWatchCursor;
use nodeport_watch::sources::{PollMode, Progress, TimeRange};
use nodeport_watch::state::Checkpoints;

use crate::support::cloudwatch::{
    Harness, at, create_stream, drain, nodeport, noise, now_ms, put, seeding_client, source_toml,
};
use crate::support::moto::Moto;

const GROUP: &str = "/aws/eks/prod/cluster";
const STREAM_A: &str = "kube-apiserver-audit-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const STREAM_B: &str = "kube-apiserver-audit-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

async fn live_cursor(h: &Harness) -> Option<CloudWatchCursor> {
    let stored = h.store.load_cursor("live/eks").await.unwrap()?;
    Some(stored.decode().unwrap())
}

fn ids(h: &std::collections::BTreeMap<String, nodeport_watch::model::Alert>) -> Vec<String> {
    h.keys().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_window_of_more_than_10k_events_is_paginated_in_batches_across_a_restart() {
    let moto = Moto::start();
    let client = seeding_client(&moto.endpoint);
    create_stream(&client, GROUP, STREAM_A).await;
    create_stream(&client, GROUP, STREAM_B).await;
    let t0 = now_ms() - 120_000;
    let filler: Vec<(i64, String)> = (0..10_400)
        .map(|i| {
            (
                t0 + i % 30_000,
                noise(&format!("n{i}"), "watch", "endpoints"),
            )
        })
        .collect();
    put(&client, GROUP, STREAM_A, &filler).await;
    let nodeports: Vec<(i64, String)> = (0..6)
        .map(|i| (t0 + i * 5_000, nodeport(&format!("np{i}"))))
        .collect();
    put(&client, GROUP, STREAM_B, &nodeports).await;
    let total = (filler.len() + nodeports.len()) as u64;

    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("state.db");
    let clock = ManualClock::new(at(now_ms()));
    let small = "clusters = [\"prod\"]\nlookback = \"5m\"\nmax_batch_entries = 3000\nmax_pages = 1";
    let h = Harness::new(&source_toml(&moto.endpoint, small), &db, clock.clone());
    let mut driver = h.driver(PollMode::Live).await;
    let mut records = 0;
    for step in 1..=2 {
        let report = driver.step().await.unwrap();
        assert_eq!(report.progress, Progress::More);
        assert_eq!(report.already_seen, 0);
        records += report.stats.records;
        let cursor = live_cursor(&h).await.unwrap();
        let position = &cursor.groups[GROUP];
        assert!(
            position.page.is_some(),
            "step {step}: the window is not done"
        );
        assert_eq!(
            position.watermark_ms, cursor.origin_ms,
            "step {step}: the watermark waits for the window's end"
        );
    }
    assert_eq!(records, 6_000);
    drop(driver);

    // Restart with larger batches: the window resumes from its page token, pages of 10,000.
    let large =
        "clusters = [\"prod\"]\nlookback = \"5m\"\nmax_batch_entries = 20000\nmax_pages = 10";
    let h2 = Harness::new(&source_toml(&moto.endpoint, large), &db, clock.clone());
    let mut driver = h2.driver(PollMode::Live).await;
    let rest = drain(&mut driver, 10).await;
    assert_eq!(rest.already_seen, 0, "nothing handed over twice: {rest:?}");
    assert_eq!(records + rest.records, total, "nothing lost: {rest:?}");
    assert_eq!(rest.duplicates, 0);
    let expected: Vec<String> = (0..6).map(|i| format!("np{i}")).collect();
    assert_eq!(ids(&h2.alerts().await), expected);
    let cursor = live_cursor(&h2).await.unwrap();
    assert_eq!(cursor.groups[GROUP].page, None);
    assert_eq!(
        cursor.groups[GROUP].watermark_ms,
        clock.now().timestamp_millis()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_events_sharing_a_millisecond_on_both_sides_of_a_window_edge_are_read_once() {
    let moto = Moto::start();
    let client = seeding_client(&moto.endpoint);
    create_stream(&client, GROUP, STREAM_A).await;
    create_stream(&client, GROUP, STREAM_B).await;
    let edge = now_ms() - 60_000;
    put(
        &client,
        GROUP,
        STREAM_A,
        &[
            (edge, nodeport("a-at-edge")),
            (edge + 1, nodeport("a-after-edge")),
        ],
    )
    .await;
    put(&client, GROUP, STREAM_B, &[(edge, nodeport("b-at-edge"))]).await;

    let state = tempfile::tempdir().unwrap();
    // The first window ends just after `edge` (windows are half-open, FilterLogEvents' endTime
    // inclusive): the events at `edge` are in, the one at `edge + 1` is not.
    let clock = ManualClock::new(at(edge + 1));
    let toml = source_toml(&moto.endpoint, "clusters = [\"prod\"]\nlookback = \"1m\"");
    let h = Harness::new(&toml, &state.path().join("state.db"), clock.clone());
    let mut driver = h.driver(PollMode::Live).await;
    let first = drain(&mut driver, 10).await;
    assert_eq!(ids(&h.alerts().await), ["a-at-edge", "b-at-edge"]);
    assert_eq!(first.inserted, 2);

    // Same millisecond, put after the poll passed it, in both streams.
    put(
        &client,
        GROUP,
        STREAM_B,
        &[(edge, nodeport("b-late-at-edge"))],
    )
    .await;
    put(
        &client,
        GROUP,
        STREAM_A,
        &[(edge + 1, nodeport("a-late-after-edge"))],
    )
    .await;
    clock.set(at(edge + 2));
    let second = drain(&mut driver, 10).await;
    assert_eq!(
        ids(&h.alerts().await),
        [
            "a-after-edge",
            "a-at-edge",
            "a-late-after-edge",
            "b-at-edge",
            "b-late-at-edge"
        ]
    );
    assert_eq!((second.inserted, second.duplicates), (3, 0), "{second:?}");
    assert_eq!(
        second.already_seen, 2,
        "the first two were dropped by event id: {second:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_late_event_is_caught_within_the_overlap_and_a_scan_finds_older_ones() {
    let moto = Moto::start();
    let client = seeding_client(&moto.endpoint);
    create_stream(&client, GROUP, STREAM_A).await;
    let now = now_ms();
    put(
        &client,
        GROUP,
        STREAM_A,
        &[(now - 60_000, nodeport("on-time"))],
    )
    .await;

    let state = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(now));
    let toml = source_toml(&moto.endpoint, "clusters = [\"prod\"]\nlookback = \"10m\"");
    let h = Harness::new(&toml, &state.path().join("state.db"), clock.clone());
    let mut driver = h.driver(PollMode::Live).await;
    drain(&mut driver, 10).await;
    assert_eq!(ids(&h.alerts().await), ["on-time"]);

    // Ingested after the poller passed their time: 90 s old is inside the 2 min overlap, 4 min
    // old is not.
    put(
        &client,
        GROUP,
        STREAM_A,
        &[
            (now - 90_000, nodeport("late-in-overlap")),
            (now - 240_000, nodeport("late-beyond-overlap")),
        ],
    )
    .await;
    clock.advance(Duration::seconds(10));
    drain(&mut driver, 10).await;
    assert_eq!(ids(&h.alerts().await), ["late-in-overlap", "on-time"]);

    // A scan reads a past range with the same code, under its own checkpoint.
    let live_before = live_cursor(&h).await.unwrap();
    let range = TimeRange {
        since: at(now - 300_000),
        until: at(now),
    };
    let mut scan = h.driver(PollMode::Scan(range)).await;
    assert_ne!(scan.cursor_key(), "live/eks");
    let scanned = drain(&mut scan, 10).await;
    assert_eq!(scanned.inserted, 1, "{scanned:?}");
    assert_eq!(
        ids(&h.alerts().await),
        ["late-beyond-overlap", "late-in-overlap", "on-time"]
    );
    assert_eq!(
        live_cursor(&h).await.unwrap(),
        live_before,
        "the live checkpoint is untouched"
    );
    let report = scan.step().await.unwrap();
    assert_eq!(report.progress, Progress::Finished);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_stop_and_restart_mid_stream_misses_nothing_and_repeats_nothing() {
    let moto = Moto::start();
    let client = seeding_client(&moto.endpoint);
    create_stream(&client, GROUP, STREAM_A).await;
    create_stream(&client, GROUP, STREAM_B).await;
    let now = now_ms();
    let wave = |name: &str, from: i64| -> Vec<(i64, String)> {
        (0..12)
            .map(|i| {
                let id = format!("{name}{i:02}");
                let message = if i % 4 == 0 {
                    nodeport(&id)
                } else {
                    noise(&id, "list", "pods")
                };
                (from + i * 1_000, message)
            })
            .collect()
    };
    put(&client, GROUP, STREAM_A, &wave("a", now - 150_000)).await;
    put(&client, GROUP, STREAM_B, &wave("b", now - 140_000)).await;

    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("state.db");
    let clock = ManualClock::new(at(now - 100_000));
    let toml = source_toml(
        &moto.endpoint,
        "clusters = [\"prod\"]\nlookback = \"3m\"\nmax_batch_entries = 5\nmax_pages = 1",
    );
    let h = Harness::new(&toml, &db, clock.clone());
    let mut driver = h.driver(PollMode::Live).await;
    let mut inserted = 0;
    for _ in 0..3 {
        let report = driver.step().await.unwrap();
        assert_eq!(report.duplicates, 0);
        inserted += report.inserted;
    }
    drop(driver); // Stopped mid-window.

    // While it was down: more events, some stamped inside the window it was reading.
    put(&client, GROUP, STREAM_A, &wave("c", now - 115_000)).await;
    put(&client, GROUP, STREAM_B, &wave("d", now - 30_000)).await;
    clock.set(at(now));
    let h2 = Harness::new(&toml, &db, clock.clone());
    let mut driver = h2.driver(PollMode::Live).await;
    let rest = drain(&mut driver, 100).await;
    assert_eq!(rest.duplicates, 0, "{rest:?}");
    let expected: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .flat_map(|w| [0, 4, 8].map(|i| format!("{w}{i:02}")))
        .collect();
    let mut expected = expected;
    expected.sort();
    assert_eq!(ids(&h2.alerts().await), expected);
    assert_eq!(inserted + rest.inserted, expected.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_checkpoint_older_than_max_catchup_jumps_forward_on_restart() {
    use nodeport_watch::model::StoredCursor;
    use nodeport_watch::state::{Commit, Fence, SeenUpdate};

    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("state.db");
    let now = now_ms();
    let clock = ManualClock::new(at(now));
    // Never polled: the endpoint is not contacted before the first poll.
    let toml = source_toml(
        "http://127.0.0.1:9",
        "clusters = [\"prod\", \"dev\"]\nmax_catchup = \"1h\"",
    );
    let h = Harness::new(&toml, &db, clock.clone());
    let mut old = CloudWatchCursor::starting_at(now - 6 * 3_600_000);
    old.follow(&[
        ("/aws/eks/prod/cluster".into(), None),
        ("/aws/eks/dev/cluster".into(), None),
    ]);
    old.groups
        .get_mut("/aws/eks/dev/cluster")
        .unwrap()
        .watermark_ms = now - 60_000;
    h.store
        .commit(
            Commit {
                cursor_key: "live/eks".into(),
                cursor: StoredCursor::encode(&old).unwrap(),
                alerts: Vec::new(),
                seen: SeenUpdate::default(),
                exposures: Vec::new(),
            },
            &Fence::Sole,
        )
        .await
        .unwrap();

    let driver = h.driver(PollMode::Live).await;
    let cursor = driver.cursor();
    assert_eq!(
        cursor.groups["/aws/eks/prod/cluster"].watermark_ms,
        now - 3_600_000
    );
    assert_eq!(
        cursor.groups["/aws/eks/dev/cluster"].watermark_ms,
        now - 60_000
    );
    assert_eq!(cursor.origin_ms, now - 3_600_000);
}

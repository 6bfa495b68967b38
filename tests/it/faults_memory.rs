//! Memory bounds under large input: a Cloud Logging page of large entries is cut at the
//! batch size in the middle of the page (the rest read from the same page by the next batch),
//! so one batch holds at most `max_batch_size` plus one entry, and nothing is lost or repeated;
//! an `azure_blob` container holding months of hourly archives is listed page by page and only
//! the window's blobs are kept.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Duration as Span;
use nodeport_watch::sources::{PollMode, Progress};
use serde_json::json;

use crate::support::azure_blob_kit::{
    ADMIN, blob_name, driver, harness as blob_harness, nodeport_line, service_names,
};
use crate::support::azure_harness::start_time;
use crate::support::azurite::{Azurite, append};
use crate::support::fake_logging::FakeLogging;
use crate::support::gcp::{SimClock, at, harness, nodeport_create};

const ENTRY_PADDING: usize = 100 * 1024;

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_page_of_large_gcp_entries_is_cut_at_the_batch_size() {
    let fake = FakeLogging::start().await;
    let t0 = at("2024-04-02T08:00:00Z");
    for n in 0..10 {
        let mut entry = nodeport_create("big-1", "web", t0 + Span::seconds(60 + n as i64), n);
        entry["protoPayload"]["padding"] = json!("x".repeat(ENTRY_PADDING));
        fake.insert(entry);
    }
    let dir = tempfile::tempdir().unwrap();
    // One page holds all ten entries (about 1 MiB); a batch may hold 256 KiB.
    let options = "max_batch_size = \"256KiB\"\npage_size = 1000";
    let h = harness(&dir, &fake, &["big-1"], options, SimClock::starting_at(t0));
    let (mut driver, _) = h.driver(PollMode::Live).await;
    tokio::time::advance(Duration::from_secs(300)).await;

    let mut batches = Vec::new();
    let mut duplicates = 0;
    loop {
        let report = driver.step().await.unwrap();
        batches.push(report.stats.records);
        duplicates += report.duplicates + report.already_seen;
        if report.progress != Progress::More {
            break;
        }
        assert!(batches.len() < 20, "never caught up: {batches:?}");
    }
    // 256 KiB is crossed by the third entry of about 100 KiB: three records per batch at most.
    assert!(batches.iter().all(|n| *n <= 3), "{batches:?}");
    assert_eq!(batches.iter().sum::<u64>(), 10, "{batches:?}");
    assert_eq!(duplicates, 0);
    let ids: HashSet<String> = h.alerts().await.into_iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), 10);
}

#[tokio::test]
async fn a_container_of_many_old_blobs_keeps_only_the_window() {
    let azurite = Azurite::start().await;
    let admin = azurite.create_container(ADMIN).await;
    let t0 = start_time();
    // Ten days of hourly archives of two clusters, all older than the window (`lookback = 3h`).
    let old: Vec<String> = (0..240)
        .flat_map(|h| {
            let hour = t0 - Span::days(11) + Span::hours(h);
            [blob_name("prod", hour), blob_name("staging", hour)]
        })
        .collect();
    for name in &old {
        append(
            &admin,
            name,
            nodeport_line("prod", name, "old").as_bytes(),
            true,
        )
        .await;
    }
    append(
        &admin,
        &blob_name("prod", t0 - Span::hours(1)),
        nodeport_line("prod", "new-1", "new").as_bytes(),
        true,
    )
    .await;

    let h = blob_harness(&azurite, "");
    let services = h.services();
    let mut driver = driver(&h, &services, PollMode::Live).await;
    let report = driver.step().await.unwrap();
    // Discovery walked all 481 blobs, but only the window's one was kept and read.
    assert_eq!(report.stats.records, 1);
    assert_eq!(service_names(&services).await, ["new"]);
}

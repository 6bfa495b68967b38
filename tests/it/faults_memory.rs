//! Memory bounds under large input: a Cloud Logging page of large entries is cut at the
//! batch size in the middle of the page (the rest read from the same page by the next batch),
//! so one batch holds at most `max_batch_size` plus one entry, and nothing is lost or repeated.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Duration as Span;
use nodeport_watch::sources::{PollMode, Progress};
use serde_json::json;

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

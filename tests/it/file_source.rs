//! The `file` source, driven step by step through the real driver and state store: it follows
//! appended lines, never reads half a line, survives restarts and both kinds of log rotation,
//! and scans a time range without touching the live checkpoint.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use nodeport_watch::alert::Router;
use nodeport_watch::clock::ManualClock;
use nodeport_watch::config::{FileSourceSettings, StartAt};
use nodeport_watch::ingest::{SourceDriver, StepReport};
use nodeport_watch::model::Format;
use nodeport_watch::sources::file::FileSource;
use nodeport_watch::sources::{BuildSource, PollMode, Progress, TimeRange};
use nodeport_watch::state::{Checkpoints, OutboxDelivery, SqliteStore, StoreStatus};

use crate::support::detect::fixed_now;
use crate::support::ingest;
use crate::support::shapes::ServiceEvent;

/// One audit Event line creating NodePort Service `name` at `time`.
pub(crate) fn nodeport_line(name: &str, time: &str) -> String {
    ServiceEvent::new(&format!("file-{name}"), name)
        .at_text(time)
        .build()
        .to_string()
        + "\n"
}

fn noise_line(i: usize) -> String {
    format!(
        r#"{{"kind":"Event","auditID":"noise-{i}","verb":"get","objectRef":{{"resource":"pods","name":"p{i}"}},"responseStatus":{{"code":200}}}}"#
    ) + "\n"
}

pub(crate) fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

pub(crate) struct Harness {
    dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    pub(crate) settings: FileSourceSettings,
}

impl Harness {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("state.db")).unwrap());
        let logs = dir.path().join("logs");
        fs::create_dir(&logs).unwrap();
        let settings = FileSourceSettings {
            paths: vec![logs],
            format: Format::Auto,
            cluster: Some("files".into()),
            account: None,
            region: None,
            start_at: StartAt::Beginning,
            max_record_bytes: 4096,
        };
        Harness {
            dir,
            store,
            settings,
        }
    }

    pub(crate) fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join("logs").join(name)
    }

    pub(crate) async fn driver(&self, mode: PollMode) -> SourceDriver<FileSource> {
        let clock = Arc::new(ManualClock::new(fixed_now()));
        let services = ingest::services(
            self.store.clone(),
            clock,
            Router::to_all(["out".to_owned()]),
        );
        let source = FileSource::build(services.source_context("files"), &self.settings)
            .await
            .unwrap();
        ingest::open(&services, "files", source, mode, None).await
    }

    /// Alerted Service names still waiting for delivery, in outbox order.
    pub(crate) async fn alerted(&self) -> Vec<String> {
        self.store
            .pending("out", 1000)
            .await
            .unwrap()
            .ready
            .into_iter()
            .map(|p| p.alert.service.unwrap())
            .collect()
    }
}

/// Steps until the source has nothing more to read now; returns the reports.
pub(crate) async fn drain(driver: &mut SourceDriver<FileSource>) -> Vec<StepReport> {
    ingest::drain(driver, 100).await
}

#[tokio::test]
async fn follows_appended_lines_and_never_reads_half_a_line() {
    let h = Harness::new();
    let log = h.log("audit.log");
    append(
        &log,
        &(noise_line(1) + &nodeport_line("a", "2026-06-01T10:00:00Z")),
    );
    let mut driver = h.driver(PollMode::Live).await;
    drain(&mut driver).await;
    assert_eq!(h.alerted().await, ["a"]);

    let line = nodeport_line("b", "2026-06-01T10:00:01Z");
    let (first, rest) = line.split_at(line.len() / 2);
    append(&log, first);
    drain(&mut driver).await;
    assert_eq!(h.alerted().await, ["a"], "half a line is not a record yet");
    append(&log, rest);
    drain(&mut driver).await;
    assert_eq!(h.alerted().await, ["a", "b"]);
}

#[tokio::test]
async fn a_restart_resumes_at_the_checkpoint() {
    let h = Harness::new();
    let log = h.log("audit.log");
    append(
        &log,
        &(nodeport_line("a", "2026-06-01T10:00:00Z") + &noise_line(1)),
    );
    drain(&mut h.driver(PollMode::Live).await).await;

    let mut restarted = h.driver(PollMode::Live).await;
    let reports = drain(&mut restarted).await;
    assert_eq!(
        reports.iter().map(|r| r.stats.records).sum::<u64>(),
        0,
        "nothing re-read"
    );
    append(&log, &nodeport_line("b", "2026-06-01T10:00:01Z"));
    let reports = drain(&mut restarted).await;
    assert_eq!(reports.iter().map(|r| r.stats.records).sum::<u64>(), 1);
    assert_eq!(h.alerted().await, ["a", "b"]);
}

#[tokio::test]
async fn rotation_by_rename_neither_rereads_nor_skips() {
    let h = Harness::new();
    let log = h.log("audit.log");
    append(&log, &nodeport_line("a", "2026-06-01T10:00:00Z"));
    let mut driver = h.driver(PollMode::Live).await;
    drain(&mut driver).await;
    // The writer renames the file and keeps writing its tail, then starts a fresh file.
    let rotated = h.log("audit.log.1");
    fs::rename(&log, &rotated).unwrap();
    append(&rotated, &nodeport_line("b", "2026-06-01T10:00:01Z"));
    append(&log, &nodeport_line("c", "2026-06-01T10:00:02Z"));
    let reports = drain(&mut driver).await;
    assert_eq!(reports.iter().map(|r| r.stats.records).sum::<u64>(), 2);
    let mut alerted = h.alerted().await;
    alerted.sort();
    assert_eq!(alerted, ["a", "b", "c"]);
}

#[tokio::test]
async fn copy_truncate_rotation_is_read_from_the_start() {
    let h = Harness::new();
    let log = h.log("audit.log");
    append(
        &log,
        &(nodeport_line("a", "2026-06-01T10:00:00Z") + &noise_line(1) + &noise_line(2)),
    );
    let mut driver = h.driver(PollMode::Live).await;
    drain(&mut driver).await;
    fs::write(&log, nodeport_line("d", "2026-06-01T10:00:03Z")).unwrap();
    drain(&mut driver).await;
    assert_eq!(h.alerted().await, ["a", "d"]);
}

#[tokio::test]
async fn start_at_end_skips_history_but_not_new_lines() {
    let mut h = Harness::new();
    h.settings.start_at = StartAt::End;
    let log = h.log("audit.log");
    append(&log, &nodeport_line("old", "2026-06-01T09:00:00Z"));
    let mut driver = h.driver(PollMode::Live).await;
    drain(&mut driver).await;
    append(&log, &nodeport_line("new", "2026-06-01T10:00:00Z"));
    append(
        &h.log("later.log"),
        &nodeport_line("other", "2026-06-01T10:00:01Z"),
    );
    drain(&mut driver).await;
    let mut alerted = h.alerted().await;
    alerted.sort();
    assert_eq!(
        alerted,
        ["new", "other"],
        "files created after the start are read whole"
    );
}

#[tokio::test]
async fn an_oversized_line_is_skipped_and_the_next_one_read() {
    let h = Harness::new();
    let log = h.log("audit.log");
    let huge = format!(
        r#"{{"verb":"create","objectRef":{{"resource":"services"}},"pad":"{}"}}"#,
        "x".repeat(10_000)
    ) + "\n";
    append(
        &log,
        &(huge + &nodeport_line("after", "2026-06-01T10:00:00Z")),
    );
    drain(&mut h.driver(PollMode::Live).await).await;
    assert_eq!(h.alerted().await, ["after"]);
}

#[tokio::test]
async fn pretty_printed_exports_are_read_once_complete() {
    let h = Harness::new();
    let event = nodeport_line("pretty", "2026-06-01T10:00:00Z");
    let export = serde_json::json!({"events": [{"logStreamName": "kube-apiserver-audit-1", "timestamp": 1, "message": event.trim(), "eventId": "1"}]});
    let text = serde_json::to_string_pretty(&export).unwrap();
    let log = h.log("filter-log-events.json");
    let (first, rest) = text.split_at(text.len() - 10);
    append(&log, first);
    let mut driver = h.driver(PollMode::Live).await;
    drain(&mut driver).await;
    assert!(h.alerted().await.is_empty(), "an unfinished document waits");
    append(&log, rest);
    drain(&mut driver).await;
    assert_eq!(h.alerted().await, ["pretty"]);
}

#[tokio::test]
async fn a_scan_reads_its_range_only_and_leaves_the_live_checkpoint_alone() {
    let h = Harness::new();
    let log = h.log("audit.log");
    append(
        &log,
        &(nodeport_line("before", "2026-05-01T00:00:00Z")
            + &nodeport_line("inside", "2026-05-15T00:00:00Z")
            + &nodeport_line("after", "2026-05-30T00:00:00Z")),
    );
    let range = TimeRange {
        since: Utc.with_ymd_and_hms(2026, 5, 10, 0, 0, 0).unwrap(),
        until: Utc.with_ymd_and_hms(2026, 5, 20, 0, 0, 0).unwrap(),
    };
    let mut scan = h.driver(PollMode::Scan(range)).await;
    let reports = drain(&mut scan).await;
    assert_eq!(reports.last().unwrap().progress, Progress::Finished);
    assert_eq!(reports.iter().map(|r| r.stats.out_of_range).sum::<u64>(), 2);
    assert_eq!(h.alerted().await, ["inside"]);
    assert_eq!(h.store.load_cursor("live/files").await.unwrap(), None);

    // The live source still reads everything, and does not re-queue what the scan found.
    drain(&mut h.driver(PollMode::Live).await).await;
    assert_eq!(h.alerted().await, ["inside", "before", "after"]);
}

#[tokio::test]
async fn a_broken_first_line_does_not_hide_the_rest_of_the_file() {
    let h = Harness::new();
    let log = h.log("audit.log");
    append(&log, "{\"verb\":\"create\",\"objectRef\":{\"res\n");
    let mut driver = h.driver(PollMode::Live).await;
    let mut reports = drain(&mut driver).await;
    append(&log, &nodeport_line("next", "2026-06-01T10:00:00Z"));
    reports.extend(drain(&mut driver).await);
    // Both lines were read as records: the broken one (rejected unparsed, it names no
    // Service) and the next one.
    assert_eq!(reports.iter().map(|r| r.stats.records).sum::<u64>(), 2);
    assert_eq!(h.alerted().await, ["next"]);
}

/// An idle poll leaves the checkpoint row alone (its `updated_at` says when it last moved), also
/// after a restart; the next line is committed as usual.
#[tokio::test]
async fn an_idle_poll_writes_nothing_to_the_store() {
    let h = Harness::new();
    let clock = Arc::new(ManualClock::new(fixed_now()));
    let store = Arc::new(SqliteStore::in_memory_with(clock.clone()).unwrap());
    let driver = || async {
        let services = ingest::services(
            store.clone(),
            clock.clone(),
            Router::to_all(["out".to_owned()]),
        );
        let source = FileSource::build(services.source_context("files"), &h.settings)
            .await
            .unwrap();
        ingest::open(&services, "files", source, PollMode::Live, None).await
    };
    let moved = || async {
        let cursors = store.cursors().await.unwrap();
        assert_eq!(cursors.len(), 1, "{cursors:?}");
        cursors[0].updated_at
    };
    let log = h.log("audit.log");
    append(&log, &nodeport_line("a", "2026-06-01T10:00:00Z"));
    let mut live = driver().await;
    drain(&mut live).await;
    let first = moved().await;

    clock.advance(chrono::Duration::hours(1));
    drain(&mut live).await;
    assert_eq!(moved().await, first, "an idle poll committed");
    drain(&mut driver().await).await;
    assert_eq!(
        moved().await,
        first,
        "an idle poll after a restart committed"
    );

    append(&log, &nodeport_line("b", "2026-06-01T10:00:01Z"));
    drain(&mut live).await;
    assert_eq!(moved().await, first + chrono::Duration::hours(1));
    let pending = store.pending("out", 10).await.unwrap().ready;
    let services: Vec<_> = pending.iter().map(|p| p.alert.service.clone()).collect();
    assert_eq!(services, [Some("a".to_owned()), Some("b".to_owned())]);
}

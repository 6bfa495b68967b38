//! Catch-up: scheduled scans find what the live poller never read and never re-send what was
//! delivered; on start a source resumes from its checkpoint, and a checkpoint older than
//! `max_catchup` is moved forward with a loud log line naming what is skipped.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use nodeport_watch::alert::Router;
use nodeport_watch::clock::{Clock, ManualClock};
use nodeport_watch::config;
use nodeport_watch::ingest::Services;
use nodeport_watch::ingest::SourceDriver;
use nodeport_watch::model::StoredCursor;
use nodeport_watch::runtime::daemon;
use nodeport_watch::sources::PollMode;
use nodeport_watch::state::{Access, Commit, Fence, SqliteStore, StateStore};

use crate::support::doubles::{ScriptedSource, TimeCursor};
use crate::support::fixtures::nodeport_line;
use crate::support::ingest;
use crate::support::receiver::Receiver;
use crate::support::wait::eventually;

const WAIT: Duration = Duration::from_secs(3600);

#[tokio::test(start_paused = true)]
async fn a_scheduled_scan_finds_what_the_live_poller_never_read_and_resends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    let log = dir.path().join("logs/audit.log");
    let now = Utc::now();
    // Written before the daemon starts; the live source starts at the end of existing files,
    // so only a scan can see it.
    std::fs::write(
        &log,
        nodeport_line(
            "behind-checkpoint",
            "old-svc",
            now - chrono::Duration::minutes(10),
        ),
    )
    .unwrap();
    let rx = Receiver::start().await;
    let config_path = dir.path().join("config.toml");
    std::fs::write(
        &config_path,
        format!(
            r#"
[state]
path = "state.db"

[[sources]]
type = "file"
name = "audit"
paths = ["logs"]
start_at = "end"
interval = "2s"

[[sinks]]
type = "webhook"
name = "hook"
url = "{url}"

[[scans]]
name = "catch-up"
every = "1m"
lookback = "1h"
sources = ["audit"]
"#,
            url = rx.url("/hook")
        ),
    )
    .unwrap();
    let settings = config::load(&config_path).unwrap();
    let services = Services::open(&settings, Access::Deliver).await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = {
        let settings = settings.clone();
        let services = services.clone();
        tokio::spawn(async move {
            daemon::run(&settings, &services, async {
                let _ = stop_rx.await;
            })
            .await
        })
    };

    eventually("the live source's first poll", WAIT, async || {
        services
            .health
            .snapshot()
            .get("audit")
            .and_then(|h| h.last_success)
    })
    .await;
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(
        nodeport_line("seen-live", "new-svc", now - chrono::Duration::minutes(1)).as_bytes(),
    )
    .unwrap();
    drop(f);
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(
        got[0].json()["audit_id"],
        "seen-live",
        "the live poller found the new line"
    );
    let live_cursor = services.store.load_cursor("live/audit").await.unwrap();

    // The scan runs a minute after start and finds the line behind the checkpoint.
    let got = rx.wait_for(2, WAIT).await;
    assert_eq!(got[1].json()["audit_id"], "behind-checkpoint");
    // Two more scheduled runs: the same lines again, nothing new to send.
    tokio::time::sleep(Duration::from_secs(150)).await;
    let audit_ids: Vec<String> = rx
        .requests()
        .iter()
        .map(|r| r.json()["audit_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(audit_ids, ["seen-live", "behind-checkpoint"]);
    // The live checkpoint is the live poller's alone.
    assert_eq!(
        services.store.load_cursor("live/audit").await.unwrap(),
        live_cursor
    );

    stop_tx.send(()).unwrap();
    run.await.unwrap().unwrap();
}

/// Captures log lines written while the guard lives (current thread only).
fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    #[derive(Clone)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Arc::new(Mutex::new(Vec::new()));
    let writer = Buf(Arc::clone(&buf));
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (buf, tracing::subscriber::set_default(subscriber))
}

async fn open_with_checkpoint(
    watermark: chrono::DateTime<Utc>,
    max_catchup: Option<Duration>,
    clock: &ManualClock,
) -> SourceDriver<ScriptedSource> {
    let clock_dyn: Arc<dyn Clock> = Arc::new(clock.clone());
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    store
        .commit(
            Commit {
                cursor_key: "live/timed".into(),
                cursor: StoredCursor::encode(&TimeCursor {
                    watermark_ms: watermark.timestamp_millis(),
                })
                .unwrap(),
                alerts: vec![],
                seen: Default::default(),
                exposures: Vec::new(),
            },
            &Fence::Sole,
        )
        .await
        .unwrap();
    let services = ingest::services(store, Arc::clone(&clock_dyn), Router::default());
    let source = ScriptedSource::new(Arc::clone(&clock_dyn));
    ingest::open(&services, "timed", source, PollMode::Live, max_catchup).await
}

#[tokio::test]
async fn a_checkpoint_older_than_max_catchup_is_skipped_forward_loudly() {
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let clock = ManualClock::new(now);
    let (logs, _guard) = capture_logs();

    // A recent checkpoint: resumed exactly.
    let recent = now - chrono::Duration::minutes(10);
    let driver = open_with_checkpoint(recent, Some(Duration::from_secs(3600)), &clock).await;
    assert_eq!(driver.cursor().watermark_ms, recent.timestamp_millis());

    // Three days behind with max_catchup = 1h: moved to now - 1h, and the gap is logged.
    let old = now - chrono::Duration::days(3);
    let driver = open_with_checkpoint(old, Some(Duration::from_secs(3600)), &clock).await;
    let kept_from = now - chrono::Duration::hours(1);
    assert_eq!(driver.cursor().watermark_ms, kept_from.timestamp_millis());
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("older than max_catchup"))
        .unwrap_or_else(|| panic!("no max_catchup line in:\n{text}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains(&old.to_rfc3339()), "{line}");
    assert!(line.contains(&kept_from.to_rfc3339()), "{line}");
    assert!(
        line.contains("nodeport-watch scan --source timed"),
        "{line}"
    );

    // Without max_catchup the whole backlog is read.
    let driver = open_with_checkpoint(old, None, &clock).await;
    assert_eq!(driver.cursor().watermark_ms, old.timestamp_millis());
}

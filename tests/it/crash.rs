//! `kill -9` of the real daemon at several points of a run, then a restart: every expected
//! alert reaches the receiver, and an alert seen twice always carries the same id (in the body
//! and in the idempotency header), so the receiver can drop the repeat.
//!
//! The points: while it reads a backlog (killed as the first alert of the backlog arrives),
//! after the outbox write (alerts committed, the sink refusing them), and during delivery (the
//! receiver holding the request open).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;

use crate::support::daemon::Daemon;
use crate::support::fixtures::{nodeport_line, quiet_line};
use crate::support::receiver::{Receiver, Reply};
use crate::support::wait::eventually;

const WAIT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Accept,
    Refuse,
    /// Hold the next request open forever, then accept.
    HangOnce,
}

fn write_config(dir: &Path, receiver: &str) -> std::path::PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[state]
path = "state.db"

[delivery]
min_backoff = "20ms"
max_backoff = "200ms"
poll_interval = "100ms"

[[sources]]
type = "file"
name = "audit"
paths = ["logs"]
interval = "50ms"

[[sinks]]
type = "webhook"
name = "hook"
url = "{receiver}"
timeout = "30s"
"#
        ),
    )
    .unwrap();
    config
}

fn append(dir: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("logs/audit.log"))
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f.sync_all().unwrap();
}

fn outbox_size(dir: &Path) -> usize {
    let Ok(conn) = rusqlite::Connection::open(dir.join("state.db")) else {
        return 0;
    };
    conn.query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
        .unwrap_or(0)
}

/// audit id → (alert ids in bodies, alert ids in idempotency headers), over every request.
fn seen(rx: &Receiver) -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let mut out: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for r in rx.requests() {
        let body = r.json();
        let entry = out
            .entry(body["audit_id"].as_str().unwrap().to_owned())
            .or_default();
        entry.0.insert(body["id"].as_str().unwrap().to_owned());
        entry
            .1
            .insert(r.header("idempotency-key").unwrap().to_owned());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_any_point_loses_no_alert_and_keeps_ids() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    let rx = Receiver::start().await;
    let mode = Arc::new(Mutex::new(Mode::Accept));
    let accepted = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    {
        let mode = Arc::clone(&mode);
        let accepted = Arc::clone(&accepted);
        rx.script(move |req| {
            let mut m = mode.lock().unwrap();
            match *m {
                Mode::Refuse => Reply::Status(503),
                Mode::HangOnce => {
                    *m = Mode::Accept;
                    Reply::Hang
                }
                Mode::Accept => {
                    let id = req.header("idempotency-key").unwrap().to_owned();
                    accepted.lock().unwrap().insert(id);
                    Reply::Status(200)
                }
            }
        });
    }
    let config = write_config(dir.path(), &rx.url("/hook"));
    let log = dir.path().join("daemon.log");
    let now = Utc::now();
    let mut expected = BTreeSet::new();
    let mut line = |i: usize| {
        let audit = format!("crash-{i:03}");
        expected.insert(audit.clone());
        nodeport_line(&audit, &format!("svc-{i}"), now)
    };

    // 1. While polling: a backlog of several batches (8 MiB each) with alerts spread through
    //    it; killed as soon as the first of them is delivered, with more still to read.
    let mut backlog = String::new();
    for i in 0..60_000 {
        if i % 6_000 == 0 {
            backlog.push_str(&line(i / 6_000));
        }
        backlog.push_str(&quiet_line(i));
        // Pad quiet lines so the backlog spans several read batches.
        if i % 2 == 0 {
            backlog.push_str(&" ".repeat(200));
            backlog.push('\n');
        }
    }
    append(dir.path(), &backlog);
    let mut daemon = Daemon::start(&config, &log);
    rx.wait_for(1, WAIT).await;
    daemon.kill9();
    let after_first = seen(&rx).len();
    assert!(
        after_first < 10,
        "the kill should land mid-backlog (saw {after_first} alerts)"
    );

    // 2. After the outbox write: the sink refuses, so alerts stay pending once committed.
    *mode.lock().unwrap() = Mode::Refuse;
    let mut daemon = Daemon::start(&config, &log);
    let batch: String = (10..15).map(&mut line).collect();
    append(dir.path(), &batch);
    eventually("15 alerts in the outbox", WAIT, async || {
        (outbox_size(dir.path()) >= 15).then_some(())
    })
    .await;
    daemon.kill9();

    // 3. During delivery: the receiver holds a request open; killed while it waits.
    *mode.lock().unwrap() = Mode::HangOnce;
    let before = rx.requests().len();
    let mut daemon = Daemon::start(&config, &log);
    eventually("a request held open", WAIT, async || {
        (*mode.lock().unwrap() == Mode::Accept && rx.requests().len() > before).then_some(())
    })
    .await;
    daemon.kill9();
    let held = rx.requests().last().unwrap().json()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Restart for good: everything arrives.
    let mut daemon = Daemon::start(&config, &log);
    let more: String = (15..18).map(&mut line).collect();
    append(dir.path(), &more);
    let got = eventually("every alert delivered", WAIT, async || {
        let got = seen(&rx);
        let delivered: BTreeSet<String> = got
            .iter()
            .filter(|(_, (ids, _))| ids.iter().any(|id| accepted.lock().unwrap().contains(id)))
            .map(|(audit, _)| audit.clone())
            .collect();
        (delivered == expected).then_some(got)
    })
    .await;
    let status = daemon.terminate();
    assert!(status.success(), "clean stop after the crashes");

    assert_eq!(got.keys().cloned().collect::<BTreeSet<_>>(), expected);
    for (audit, (body_ids, header_ids)) in &got {
        assert_eq!(
            body_ids.len(),
            1,
            "{audit} was sent under several ids: {body_ids:?}"
        );
        assert_eq!(body_ids, header_ids, "{audit}: header and body disagree");
    }
    // The alert whose delivery was cut off was sent again, under the same id.
    assert!(accepted.lock().unwrap().contains(&held));
    let log_text = daemon.log_text();
    assert!(!log_text.contains("panicked"), "{log_text}");
}

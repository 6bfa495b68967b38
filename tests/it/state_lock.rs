//! One delivering process per SQLite file, shown with real processes of the binary: a second
//! daemon on the same file is refused at start and names the holder; once the holder exits the
//! file is free again; a `scan` beside a running daemon only queues (the daemon delivers, each
//! alert once); `alerts --config` needs only `[state]`, not the sinks' secrets.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;

use crate::support::binary;
use crate::support::daemon::{Daemon, run};
use crate::support::fixtures::nodeport_line;
use crate::support::receiver::Receiver;
use crate::support::wait::eventually;

const WAIT: Duration = Duration::from_secs(60);

/// A file source over `logs/` that only follows new lines, and a webhook whose header token
/// comes from the environment (`STATE_LOCK_TOKEN`), with the state in `state.db`.
fn write_config(dir: &Path, receiver: &str) -> PathBuf {
    write_config_with(dir, receiver, "path = \"state.db\"")
}

/// [`write_config`] with `state` as the body of `[state]`.
pub(crate) fn write_config_with(dir: &Path, receiver: &str, state: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[state]
{state}

[delivery]
min_backoff = "20ms"
max_backoff = "200ms"
# Long: the daemon delivers what another process queued only when woken or stopping, so
# whether the scan delivered cannot depend on a race.
poll_interval = "1h"

[[sources]]
type = "file"
name = "audit"
paths = ["logs"]
interval = "50ms"
start_at = "end"

[[sinks]]
type = "webhook"
name = "hook"
url = "{receiver}"
headers = {{ "x-token" = {{ env = "STATE_LOCK_TOKEN" }} }}
"#
        ),
    )
    .unwrap();
    config
}

/// The pid recorded in the lock file, once a process holds it.
fn lock_holder(dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(dir.join("state.db.lock")).ok()?;
    text.strip_prefix("pid ")?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

pub(crate) fn start_daemon(config: &Path, dir: &Path, log: &str) -> Daemon {
    Daemon::start_with_env(config, &dir.join(log), &[("STATE_LOCK_TOKEN", "t0ken")])
}

/// Until `daemon` holds the lock and runs (its signal handler is installed from then on).
async fn wait_until_running(dir: &Path, daemon: &Daemon) {
    eventually("the daemon to take the lock and run", WAIT, async || {
        (lock_holder(dir) == Some(daemon.pid())
            && daemon.log_text().contains("nodeport-watch running"))
        .then_some(())
    })
    .await;
}

/// Runs the binary with `args` and then `config`, the sink's secret in its environment, and
/// waits (with a deadline, killing it on drop) for it to exit by itself.
pub(crate) async fn run_to_exit(args: &[&str], config: &Path) -> std::process::Output {
    let mut child = Killed(
        Command::new(binary())
            .args(args)
            .arg(config)
            .env("STATE_LOCK_TOKEN", "t0ken")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let status = eventually("the process to exit", WAIT, async || {
        child.0.try_wait().unwrap()
    })
    .await;
    let mut stderr = String::new();
    if let Some(mut pipe) = child.0.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
    }
    std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: stderr.into_bytes(),
    }
}

/// A child killed when the test panics before it exits.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    let config = write_config(dir.path(), &rx.url("/hook"));
    let mut first = start_daemon(&config, dir.path(), "first.log");
    wait_until_running(dir.path(), &first).await;

    let out = run_to_exit(&["run", "--config"], &config).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second daemon must not run");
    assert!(
        stderr.contains("locked by another nodeport-watch process")
            && stderr.contains(&format!("pid {}", first.pid()))
            && stderr.contains("[state] path"),
        "{stderr}"
    );
    assert_eq!(
        lock_holder(dir.path()),
        Some(first.pid()),
        "the holder keeps it"
    );

    // The kernel drops the lock with the process: the next daemon starts.
    assert!(first.terminate().success(), "{}", first.log_text());
    let mut next = start_daemon(&config, dir.path(), "next.log");
    wait_until_running(dir.path(), &next).await;
    assert!(next.terminate().success(), "{}", next.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_beside_a_daemon_only_queues_and_the_daemon_delivers_once() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    let config = write_config(dir.path(), &rx.url("/hook"));
    // Written before the daemon starts at the end of its files: only a scan finds it. (Written
    // after the start, the daemon could poll first and follow the new file from its beginning.)
    let at = Utc::now() - chrono::Duration::minutes(5);
    std::fs::write(
        dir.path().join("logs/audit.log"),
        format!("{}\n", nodeport_line("lock-scan-1", "behind", at)),
    )
    .unwrap();
    let mut daemon = start_daemon(&config, dir.path(), "daemon.log");
    wait_until_running(dir.path(), &daemon).await;

    let out = run_to_exit(&["scan", "--since", "1h", "--config"], &config).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("only queues its alerts"), "{stderr}");
    assert!(
        rx.requests().is_empty(),
        "the scan delivered beside the daemon"
    );

    // Queued, not delivered; `alerts` reads it without the sink's secret in its environment.
    let listed = Command::new(binary())
        .args(["alerts", "--json", "--config"])
        .arg(&config)
        .env_remove("STATE_LOCK_TOKEN")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert_eq!(rows[0]["state"], "pending");
    assert_eq!(rows[0]["alert"]["audit_id"], "lock-scan-1");

    // The daemon delivers it (here: while stopping, it empties the outbox), exactly once.
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["audit_id"], "lock-scan-1");
    assert_eq!(got[0].header("x-token"), Some("t0ken"));
}

#[test]
fn alerts_needs_only_the_state_not_the_sink_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9/hook");
    // The full configuration cannot load without the secret...
    let out = Command::new(binary())
        .args(["validate", "--config"])
        .arg(&config)
        .env_remove("STATE_LOCK_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("STATE_LOCK_TOKEN"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ...`alerts` only needs `[state]`: no database yet is its only complaint.
    let out = run(&["alerts", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no state database at"), "{stderr}");
    assert!(!stderr.contains("STATE_LOCK_TOKEN"), "{stderr}");
    assert!(
        !dir.path().join("state.db").exists(),
        "alerts created a database"
    );
}

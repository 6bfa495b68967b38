//! Delivery on PostgreSQL belongs to the replica holding the sink's lease, shown with real
//! processes of the binary on the throwaway server: a `scan` beside a daemon only queues and the
//! daemon delivers each alert once; a `scan` with no replica running delivers nothing (it cannot
//! race a replica that starts after it) and the first replica to start delivers; the password
//! in `[state] url` never reaches either process's stderr.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;

use crate::state_lock::{run_to_exit, start_daemon, write_config_with};
use crate::support::daemon::Daemon;
use crate::support::fixtures::nodeport_line;
use crate::support::postgres::PgServer;
use crate::support::receiver::Receiver;
use crate::support::wait::eventually;

const WAIT: Duration = Duration::from_secs(60);
const PASSWORD: &str = "pg-lock-secret-never-shown";

/// A fresh database on the shared server and a config delivering from it to `receiver`, the
/// URL carrying a password (which the trust-authenticated server ignores). Returns the
/// database's name.
async fn postgres_config(dir: &Path, receiver: &str) -> String {
    let server = PgServer::shared();
    let database = server.database().await;
    let url = server
        .url(&database)
        .replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1);
    write_config_with(dir, receiver, &format!("url = \"{url}\""));
    database
}

/// The live holder of the lease `name` in `database`, if any.
async fn lease_holder(database: &str, name: &str) -> Option<String> {
    let client = PgServer::shared().connect(database).await.ok()?;
    let row = client
        .query_opt(
            "SELECT owner FROM leases WHERE name = $1 AND expires_at > now()",
            &[&name],
        )
        .await
        .ok()??;
    row.get(0)
}

/// Until `daemon` runs and holds the sink's lease (it delivers from then on).
async fn wait_until_delivering(database: &str, daemon: &Daemon) {
    let pid = format!("-{}-", daemon.pid());
    eventually("the daemon to hold the sink's lease", WAIT, async || {
        (lease_holder(database, "sink/hook")
            .await
            .is_some_and(|owner| owner.contains(&pid))
            && daemon.log_text().contains("nodeport-watch running"))
        .then_some(())
    })
    .await;
}

/// A config on a fresh database and, in the file source's directory, one NodePort line `id`
/// written before any daemon starts at the end of its files: only a scan finds it. Returns the
/// receiver, the database and the config's path.
async fn setup(dir: &Path, id: &str) -> (Receiver, String, std::path::PathBuf) {
    let rx = Receiver::start().await;
    let database = postgres_config(dir, &rx.url("/hook")).await;
    let at = Utc::now() - chrono::Duration::minutes(5);
    std::fs::write(
        dir.join("logs/audit.log"),
        format!("{}\n", nodeport_line(id, "behind", at)),
    )
    .unwrap();
    (rx, database, dir.join("config.toml"))
}

/// Runs `scan --since 1h`: it must queue the one alert and deliver nothing. Returns stderr.
async fn scan_queues_one(config: &Path, rx: &Receiver) -> String {
    let out = run_to_exit(&["scan", "--since", "1h", "--config"], config).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("newly queued=1"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    assert!(rx.requests().is_empty(), "a scan on PostgreSQL delivered");
    stderr
}

/// Stops `daemon`, which delivers the queued alert `id` on its way out, exactly once.
async fn stop_and_expect_one(mut daemon: Daemon, rx: &Receiver, id: &str) {
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["audit_id"], id);
    assert!(!daemon.log_text().contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_beside_a_postgres_daemon_only_queues_and_the_daemon_delivers_once() {
    let dir = tempfile::tempdir().unwrap();
    let (rx, database, config) = setup(dir.path(), "pg-lock-scan-1").await;
    let daemon = start_daemon(&config, dir.path(), "daemon.log");
    wait_until_delivering(&database, &daemon).await;
    let stderr = scan_queues_one(&config, &rx).await;
    assert!(stderr.contains("only queues its alerts"), "{stderr}");
    // The daemon delivers it (here: while stopping, it empties the outbox), exactly once.
    stop_and_expect_one(daemon, &rx, "pg-lock-scan-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_with_no_replica_running_only_queues_and_the_first_replica_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let (rx, database, config) = setup(dir.path(), "pg-scan-alone-1").await;
    let stderr = scan_queues_one(&config, &rx).await;
    assert!(stderr.contains("no daemon replica is running"), "{stderr}");
    let daemon = start_daemon(&config, dir.path(), "daemon.log");
    wait_until_delivering(&database, &daemon).await;
    stop_and_expect_one(daemon, &rx, "pg-scan-alone-1").await;
}

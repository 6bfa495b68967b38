//! One delivering process per PostgreSQL database, shown with real processes of the binary on
//! the throwaway server: a second daemon is refused and told who holds the advisory lock (the
//! holder's `application_name`); a `scan` beside a daemon only queues and the daemon delivers
//! each alert once; the password in `[state] url` never reaches either process's stderr; a
//! store whose lock session dropped stops delivering while another process holds the lock.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use nodeport_watch::clock::SystemClock;
use nodeport_watch::state::postgres::{DELIVERY_LOCK, PostgresOptions, PostgresSettings};
use nodeport_watch::state::{self, Access, StateError, StateSettings};
use nodeport_watch::validation::Secret;

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

/// The `application_name` of the session holding the delivery lock of `database`, if any.
async fn lock_holder(database: &str) -> Option<String> {
    let client = PgServer::shared().connect(database).await.ok()?;
    let row = client
        .query_opt(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND l.granted
                AND l.classid::int8 = $1 AND l.objid::int8 = $2
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[&(DELIVERY_LOCK >> 32), &(DELIVERY_LOCK & 0xffff_ffff)],
        )
        .await
        .ok()??;
    row.get(0)
}

/// Until `daemon` holds the lock (under its own name) and runs.
async fn wait_until_running(database: &str, daemon: &Daemon) {
    let name = format!("nodeport-watch run (pid {})", daemon.pid());
    eventually("the daemon to take the lock and run", WAIT, async || {
        (lock_holder(database).await.as_deref() == Some(name.as_str())
            && daemon.log_text().contains("nodeport-watch running"))
        .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    let database = postgres_config(dir.path(), &rx.url("/hook")).await;
    let config = dir.path().join("config.toml");
    let mut first = start_daemon(&config, dir.path(), "first.log");
    wait_until_running(&database, &first).await;

    let out = run_to_exit(&["run", "--config"], &config).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second daemon must not run");
    assert!(
        stderr.contains("locked by another nodeport-watch process")
            && stderr.contains(&format!("nodeport-watch run (pid {})", first.pid()))
            && stderr.contains("[state] url"),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    assert_eq!(
        lock_holder(&database).await,
        Some(format!("nodeport-watch run (pid {})", first.pid())),
        "the holder keeps it"
    );

    // The server drops the lock with the session: the next daemon starts.
    assert!(first.terminate().success(), "{}", first.log_text());
    assert!(!first.log_text().contains(PASSWORD));
    let mut next = start_daemon(&config, dir.path(), "next.log");
    wait_until_running(&database, &next).await;
    assert!(next.terminate().success(), "{}", next.log_text());
    assert!(!next.log_text().contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_beside_a_postgres_daemon_only_queues_and_the_daemon_delivers_once() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    let database = postgres_config(dir.path(), &rx.url("/hook")).await;
    let config = dir.path().join("config.toml");
    // Written before the daemon starts at the end of its files: only a scan finds it.
    let at = Utc::now() - chrono::Duration::minutes(5);
    std::fs::write(
        dir.path().join("logs/audit.log"),
        format!("{}\n", nodeport_line("pg-lock-scan-1", "behind", at)),
    )
    .unwrap();
    let mut daemon = start_daemon(&config, dir.path(), "daemon.log");
    wait_until_running(&database, &daemon).await;

    let out = run_to_exit(&["scan", "--since", "1h", "--config"], &config).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("only queues its alerts"), "{stderr}");
    assert!(stderr.contains("newly queued=1"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    assert!(
        rx.requests().is_empty(),
        "the scan delivered beside the daemon"
    );

    // The daemon delivers it (here: while stopping, it empties the outbox), exactly once.
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["audit_id"], "pg-lock-scan-1");
    assert!(!daemon.log_text().contains(PASSWORD));
}

#[tokio::test]
async fn a_store_whose_lock_session_dropped_delivers_nothing_while_another_holds_the_lock() {
    let server = tokio::task::spawn_blocking(PgServer::start).await.unwrap();
    let database = server.database().await;
    let settings = StateSettings::Postgres(Box::new(
        PostgresSettings::new(
            &Secret::new(server.url(&database)),
            PostgresOptions::default(),
        )
        .unwrap(),
    ));
    let store = state::open(&settings, Access::Deliver, Arc::new(SystemClock))
        .await
        .unwrap();
    store.pending("hook", 10).await.unwrap();

    // The server restarts; another process takes the lock before this store comes back.
    server.restart();
    let other = server.connect(&database).await.unwrap();
    other
        .query_one("SELECT pg_advisory_lock($1)", &[&DELIVERY_LOCK])
        .await
        .unwrap();
    let err = eventually(
        "the store to see the lock taken",
        WAIT,
        async || match store.pending("hook", 10).await {
            Err(e @ StateError::Locked { .. }) => Some(e),
            _ => None,
        },
    )
    .await;
    assert!(err.to_string().contains("[state] url"), "{err}");

    // Once the other lets go, the store takes the lock back and reads its queue again.
    other
        .query_one("SELECT pg_advisory_unlock($1)", &[&DELIVERY_LOCK])
        .await
        .unwrap();
    eventually("the store to take the lock back", WAIT, async || {
        store.pending("hook", 10).await.ok()
    })
    .await;
    let second = state::open(&settings, Access::Deliver, Arc::new(SystemClock)).await;
    assert!(
        matches!(second, Err(StateError::Locked { .. })),
        "{:?}",
        second.err()
    );
}

//! A daemon over many sources keeps a bounded number of threads: 300 `file` sources starting
//! and polling together, the moment when each takes a blocking thread at once, never hold more
//! than the blocking pool's bound plus the async workers (tokio's default let them grow to one
//! thread per source, up to 512).

use std::time::{Duration, Instant};

use crate::support::daemon::Daemon;
use crate::support::process::status_field;

const SOURCES: usize = 300;
/// `BLOCKING_THREADS` in src/main.rs.
const BLOCKING_THREADS: u64 = 16;

#[tokio::test]
async fn many_sources_polling_at_once_hold_a_bounded_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::from("[state]\npath = \"state.db\"\n[log]\nlevel = \"warn\"\n");
    for i in 0..SOURCES {
        let logs = dir.path().join(format!("logs-{i}"));
        std::fs::create_dir(&logs).unwrap();
        std::fs::write(logs.join("audit.log"), "").unwrap();
        config.push_str(&format!(
            "[[sources]]\ntype = \"file\"\nname = \"s{i}\"\npaths = [\"logs-{i}\"]\ninterval = \"1s\"\n"
        ));
    }
    config.push_str("[[sinks]]\ntype = \"stdout\"\nname = \"out\"\n");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).unwrap();
    let daemon = Daemon::start_with_env(
        &path,
        &dir.path().join("daemon.log"),
        &[("RUST_LOG", "warn")],
    );

    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    // The main thread, the workers, the blocking pool, and a little room for the runtime's own.
    let bound = 1 + workers + BLOCKING_THREADS + 2;
    let started = Instant::now();
    let mut most = 0;
    while started.elapsed() < Duration::from_secs(8) {
        most = most.max(status_field(daemon.pid(), "Threads:"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = daemon.log_text();
    assert!(!log.contains("ERROR"), "{log}");
    assert!(
        most > workers,
        "the daemon never got going ({most} threads): {log}"
    );
    assert!(
        most <= bound,
        "{most} threads with {SOURCES} sources (bound {bound})"
    );
}

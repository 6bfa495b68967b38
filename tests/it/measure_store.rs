//! Measurement: commits and alerts per second one process sustains through the `Checkpoints`
//! role, on SQLite (a file, WAL, `synchronous = FULL`) and on PostgreSQL (the test server,
//! default pool of 8). Run explicitly (the numbers are in docs/performance.md):
//!
//! ```text
//! cargo test --release --test it measure_store -- --ignored --nocapture --test-threads 1
//! ```
//!
//! 16 sources commit at once, as a daemon's sources do: first cursor-only commits (a batch that
//! found records but no alert), then commits of 10 alerts each routed to 2 sinks.

use std::sync::Arc;
use std::time::Instant;

use nodeport_watch::model::Alert;
use nodeport_watch::state::postgres::PostgresStore;
use nodeport_watch::state::{Fence, SqliteStore, StateStore};

use crate::postgres_store::settings;
use crate::support::fixtures::alert;
use crate::support::postgres::PgServer;
use crate::support::store::commit;

const WRITERS: usize = 16;
const COMMITS_PER_WRITER: usize = 200;
const ALERTS_PER_COMMIT: usize = 10;

/// Commits per second and alerts per second with `alerts` alerts in each commit.
async fn rate(store: &Arc<dyn StateStore>, tag: &str, alerts: usize) -> (f64, f64) {
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = Arc::clone(store);
        let tag = tag.to_owned();
        writers.push(tokio::spawn(async move {
            for c in 0..COMMITS_PER_WRITER {
                let batch: Vec<Alert> = (0..alerts)
                    .map(|a| alert(&format!("{tag}-{w}-{c}-{a}")))
                    .collect();
                let key = format!("live/{tag}-{w}");
                store
                    .commit(
                        commit(&key, c as u64, &batch, &["soc", "slack"]),
                        &Fence::Sole,
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    let commits = (WRITERS * COMMITS_PER_WRITER) as f64;
    (commits / seconds, commits * alerts as f64 / seconds)
}

async fn report(backend: &str, store: Arc<dyn StateStore>) {
    let (cursor_only, _) = rate(&store, "cursor", 0).await;
    let (with_alerts, alerts) = rate(&store, "alerts", ALERTS_PER_COMMIT).await;
    println!(
        "{backend}: {cursor_only:.0} cursor-only commits/s; {with_alerts:.0} commits/s with \
         {ALERTS_PER_COMMIT} alerts each = {alerts:.0} alerts/s ({WRITERS} concurrent writers)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run explicitly, see the module doc"]
async fn measure_store_commit_rates() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("state.db")).unwrap();
    report("SQLite", Arc::new(sqlite)).await;

    let server = PgServer::shared();
    let database = server.database().await;
    let postgres = PostgresStore::open(&settings(server, &database))
        .await
        .unwrap();
    report("PostgreSQL", Arc::new(postgres)).await;
}

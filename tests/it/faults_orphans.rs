//! Cursors left by a source that was renamed or removed (or by an unfinished scan of one): the
//! daemon names them at start, and `nodeport-watch prune --orphans` removes them and their seen
//! ids while keeping every configured source's cursor.

use std::path::Path;
use std::time::Duration;

use nodeport_watch::state::{Checkpoints, Fence, SqliteStore, StoreStatus};

use crate::support::daemon::{Daemon, run};
use crate::support::store::commit;
use crate::support::wait::eventually;

/// A store with the cursors of `kept` (configured) and `old` (removed), and a config naming
/// only `kept`.
async fn setup(dir: &Path) -> (SqliteStore, std::path::PathBuf) {
    let state = dir.join("state.db");
    let store = SqliteStore::open(&state).unwrap();
    for key in ["live/kept", "live/old", "scan/old/1000..2000"] {
        store
            .commit(commit(key, 1, &[], &[]), &Fence::Sole)
            .await
            .unwrap();
    }
    std::fs::write(dir.join("audit.log"), "").unwrap();
    let config = dir.join("npw.toml");
    std::fs::write(
        &config,
        format!(
            "[state]\npath = {state:?}\n\n[[sources]]\nname = \"kept\"\ntype = \"file\"\n\
             paths = [{:?}]\nformat = \"auto\"\n\n[[sinks]]\nname = \"out\"\ntype = \"stdout\"\n",
            dir.join("audit.log")
        ),
    )
    .unwrap();
    (store, config)
}

async fn keys(store: &SqliteStore) -> Vec<String> {
    let mut keys: Vec<String> = (store.cursors().await.unwrap().into_iter())
        .map(|c| c.key)
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn prune_orphans_removes_only_the_cursors_of_unconfigured_sources() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = setup(dir.path()).await;
    let config = config.to_str().unwrap();

    let dry = run(&["prune", "--orphans", "--dry-run", "--config", config]);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{text}");
    assert!(text.contains("would remove 2 orphaned cursor(s)"), "{text}");
    assert_eq!(keys(&store).await.len(), 3, "a dry run changes nothing");

    let out = run(&["prune", "--orphans", "--config", config]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("removed cursor \"live/old\"") || text.contains("removed cursor live/old"),
        "{text}"
    );
    assert_eq!(keys(&store).await, ["live/kept"]);

    let none = run(&["prune", "--config", config]);
    assert!(!none.status.success(), "nothing to prune named");
}

#[tokio::test]
async fn the_daemon_names_orphaned_cursors_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, config) = setup(dir.path()).await;
    let mut daemon = Daemon::start(&config, &dir.path().join("daemon.log"));
    let log = eventually("the orphan warning", Duration::from_secs(30), async || {
        let log = daemon.log_text();
        log.contains("scan/old/1000..2000").then_some(log)
    })
    .await;
    daemon.terminate();
    let warnings: Vec<&str> = (log.lines())
        .filter(|l| l.contains("a source that is not configured"))
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings.iter().any(|l| l.contains("live/old")));
    assert!(warnings.iter().any(|l| l.contains("prune --orphans")));
}

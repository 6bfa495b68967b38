//! The store through the binary on both backends: `status` shows cursors, the outbox and (on
//! PostgreSQL) replicas and leases; `alerts` lists from PostgreSQL; a password in `[state] url`
//! never reaches the output or an error.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use nodeport_watch::clock::SystemClock;
use nodeport_watch::model::StoredCursor;
use nodeport_watch::sources::azure_monitor::AzureMonitorCursor;
use nodeport_watch::state::postgres::{PostgresOptions, PostgresSettings, PostgresStore};
use nodeport_watch::state::{self, Access, Fence, StatePath, StateSettings};
use nodeport_watch::validation::Secret;

use crate::support::binary;
use crate::support::postgres::PgServer;
use crate::support::store::{alerts_tagged, commit};

const PASSWORD: &str = "hunter2-never-shown";

fn run(args: &[&str], config: &Path) -> Output {
    Command::new(binary())
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("NODEPORT_WATCH_CONFIG")
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The JSON lines of `status --json` of one kind.
fn of_kind(stdout: &str, kind: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == kind)
        .collect()
}

/// A database with one committed alert for `hook`, the cursor `live/src`; returns the
/// `[state]` URL (with a password the trust-authenticated test server ignores).
async fn seeded_postgres() -> (String, String) {
    let server = PgServer::shared();
    let database = server.database().await;
    let url = server
        .url(&database)
        .replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1);
    let settings =
        PostgresSettings::new(&Secret::new(url.clone()), PostgresOptions::default()).unwrap();
    let store = state::open(
        &StateSettings::Postgres(Box::new(settings.clone())),
        Access::Deliver,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let alerts = alerts_tagged("cli", 1);
    store
        .commit(commit("live/src", 1, &alerts, &["hook"]), &Fence::Sole)
        .await
        .unwrap();
    let pg = PostgresStore::open(&settings).await.unwrap();
    pg.heartbeat_replica("replica-a", "host-a").await.unwrap();
    pg.acquire_lease("source/src", "replica-a", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    (url, alerts[0].id.clone())
}

#[tokio::test]
async fn status_and_alerts_read_postgres_and_never_show_the_password() {
    let (url, alert_id) = seeded_postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("npw.toml");
    std::fs::write(&config, format!("[state]\nurl = \"{url}\"\n")).unwrap();

    let out = run(&["status", "--json"], &config);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let cursors = of_kind(&stdout, "cursor");
    assert_eq!(cursors.len(), 1, "{stdout}");
    assert_eq!(cursors[0]["cursor"], "live/src");
    let outbox = of_kind(&stdout, "outbox");
    assert_eq!(
        (&outbox[0]["sink"], &outbox[0]["state"], &outbox[0]["count"]),
        (&"hook".into(), &"pending".into(), &1.into())
    );
    let replicas = of_kind(&stdout, "replica");
    assert_eq!(
        (&replicas[0]["id"], &replicas[0]["host"]),
        (&"replica-a".into(), &"host-a".into())
    );
    let leases = of_kind(&stdout, "lease");
    assert_eq!(leases[0]["lease"], "source/src");
    assert_eq!(
        (&leases[0]["owner"], &leases[0]["epoch"], &leases[0]["live"]),
        (&"replica-a".into(), &1.into(), &true.into())
    );

    let table = run(&["status"], &config);
    let (table_out, _) = text(&table);
    assert!(table.status.success());
    let rows: Vec<Vec<&str>> = table_out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let header = rows.iter().position(|r| r.first() == Some(&"LEASE"));
    let header = header.unwrap_or_else(|| panic!("no lease table: {table_out}"));
    assert_eq!(
        rows[header][..3],
        ["LEASE", "OWNER", "EPOCH"],
        "{table_out}"
    );
    assert_eq!(
        rows[header + 1][..3],
        ["source/src", "replica-a", "1"],
        "{table_out}"
    );

    let alerts = run(&["alerts", "--json"], &config);
    let (alerts_out, alerts_err) = text(&alerts);
    assert!(alerts.status.success(), "{alerts_err}");
    assert!(alerts_out.contains(&alert_id), "{alerts_out}");

    for output in [&stdout, &stderr, &table_out, &alerts_out, &alerts_err] {
        assert!(!output.contains(PASSWORD));
    }
}

#[tokio::test]
async fn a_store_that_cannot_be_read_is_a_clear_error_without_the_password() {
    let server = PgServer::shared();
    let url =
        server
            .url("npw_never_created")
            .replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("npw.toml");
    std::fs::write(&config, format!("[state]\nurl = \"{url}\"\n")).unwrap();
    for command in ["status", "alerts"] {
        let out = run(&[command], &config);
        let (stdout, stderr) = text(&out);
        assert!(!out.status.success());
        assert!(stderr.contains("npw_never_created"), "{stderr}");
        assert!(
            !stderr.contains(PASSWORD) && !stdout.contains(PASSWORD),
            "{stderr}"
        );
    }

    // A database the daemon never ran against: `status` does not create the tables.
    let empty = server.database().await;
    let url = server.url(&empty);
    std::fs::write(&config, format!("[state]\nurl = \"{url}\"\n")).unwrap();
    let out = run(&["status"], &config);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("has the daemon run"), "{stderr}");
    let client = server.connect(&empty).await.unwrap();
    let tables = client
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(tables.get::<_, i64>(0), 0);
}

#[tokio::test]
async fn status_reads_sqlite_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let store = state::open(
        &StateSettings::Sqlite(StatePath::File(db.clone())),
        Access::Write,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    store
        .commit(
            commit("live/files", 3, &alerts_tagged("sq", 2), &["hook"]),
            &Fence::Sole,
        )
        .await
        .unwrap();
    // A Log Analytics source ten minutes behind on its slower workspace.
    let behind = Utc::now() - chrono::Duration::minutes(10);
    let mut workspaces = AzureMonitorCursor::default();
    workspaces
        .watermarks
        .insert("slow".into(), behind.timestamp_millis());
    workspaces
        .watermarks
        .insert("fast".into(), Utc::now().timestamp_millis());
    let mut azure = commit("live/aks", 0, &[], &[]);
    azure.cursor = StoredCursor::encode(&workspaces).unwrap();
    store.commit(azure, &Fence::Sole).await.unwrap();
    drop(store);
    let config = dir.path().join("npw.toml");
    std::fs::write(&config, "[state]\npath = \"state.db\"\n").unwrap();
    let out = run(&["status", "--json"], &config);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let cursors = of_kind(&stdout, "cursor");
    assert_eq!(cursors[0]["cursor"], "live/aks");
    let lag = cursors[0]["lag_seconds"].as_i64().unwrap_or_default();
    assert!(
        (600..660).contains(&lag),
        "the slower workspace's lag: {stdout}"
    );
    assert_eq!(
        cursors[0]["position"].as_str().map(|p| p[..19].to_owned()),
        Some(behind.to_rfc3339()[..19].to_owned())
    );
    assert_eq!(cursors[1]["cursor"], "live/files");
    assert!(cursors[1]["position"].is_null() && cursors[1]["lag_seconds"].is_null());
    assert_eq!(of_kind(&stdout, "outbox")[0]["count"], 2);
    assert!(of_kind(&stdout, "replica").is_empty() && of_kind(&stdout, "lease").is_empty());
    let table = run(&["status"], &config);
    let (table_out, _) = text(&table);
    assert!(table_out.contains("single-writer store (SQLite)"));
    let aks: Vec<&str> = table_out
        .lines()
        .find(|l| l.starts_with("live/aks"))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    assert_eq!(aks.get(3), Some(&"10m"), "the lag column: {table_out}");
}

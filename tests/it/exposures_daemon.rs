//! The exposure lifecycle through the real daemon (file source): the open alert and the
//! resolution reach PagerDuty (`trigger` then `resolve`, one `dedup_key`), Slack (the alert,
//! then a short "closed" message) and a webhook (both documents, one `exposure_id`), across a
//! restart between open and close; `exposures` lists the inventory while the daemon runs,
//! hostile names escaped; `scan --inventory-only` seeds it and sends nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::exposures::{create_node_port, service};
use crate::support::daemon::{Daemon, run};
use crate::support::receiver::{Captured, Receiver};

const WAIT: Duration = Duration::from_secs(60);

fn setup(dir: &Path, rx: &Receiver) -> PathBuf {
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::write(dir.join("rk"), "R0UT1NGKEY0000000000000000000000\n").unwrap();
    std::fs::write(dir.join("slack-url"), rx.url("/slack")).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[state]
path = "state.db"

[delivery]
poll_interval = "100ms"

[[sources]]
type = "file"
name = "audit"
paths = ["logs"]
interval = "50ms"
cluster = "prod"

[[sinks]]
type = "webhook"
name = "hook"
url = "{hook}"

[[sinks]]
type = "slack"
name = "chat"
webhook_url = {{ file = "slack-url" }}

[[sinks]]
type = "pagerduty"
name = "pd"
routing_key = {{ file = "rk" }}
url = "{pd}"
"#,
            hook = rx.url("/hook"),
            pd = rx.url("/pd"),
        ),
    )
    .unwrap();
    config
}

fn append(dir: &Path, events: &[Value]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("logs/audit.log"))
        .unwrap();
    for e in events {
        writeln!(f, "{e}").unwrap();
    }
    f.sync_all().unwrap();
}

fn by_path<'a>(requests: &'a [Captured], path: &str) -> Vec<&'a Captured> {
    requests.iter().filter(|r| r.path == path).collect()
}

fn exposures(config: &Path, args: &[&str]) -> Output {
    let config = config.to_str().unwrap();
    let mut all = vec!["exposures", "--config", config];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_then_resolved_on_every_sink_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    let config = setup(dir.path(), &rx);
    append(
        dir.path(),
        &[
            create_node_port("a", 1, "web", 30080).build(),
            create_node_port("e", 2, "evil\u{1b}[2Jname", 30099).build(),
        ],
    );
    let mut daemon = Daemon::start(&config, &dir.path().join("daemon.log"));
    let opened = rx.wait_for(6, WAIT).await;

    // While the daemon runs: the inventory, as JSON and as a table with the name escaped.
    let open = json_lines(&exposures(&config, &["--json"]));
    assert_eq!(open.len(), 2);
    let web = open.iter().find(|r| r["service"] == "web").unwrap();
    assert_eq!(
        (web["cluster"].as_str(), web["status"].as_str()),
        (Some("prod"), Some("open"))
    );
    assert_eq!(web["opened"]["user"], "user-a");
    let table = String::from_utf8(exposures(&config, &["--cluster", "prod"]).stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("CLUSTER"), "{table}");
    assert!(
        lines[0].contains("OPENED BY") && lines[0].contains("CLOSED AT"),
        "{table}"
    );
    assert!(table.contains("evil\\u{1b}[2Jname"), "{table}");
    assert!(!table.contains('\u{1b}'), "{table}");
    let header_at = lines[0].find("SERVICE").unwrap();
    assert!(lines.iter().skip(1).all(|l| l.len() > header_at), "{table}");
    assert_eq!(
        json_lines(&exposures(&config, &["--cluster", "dev", "--json"])).len(),
        0
    );

    let status = daemon.terminate();
    assert!(status.success());
    let mut daemon = Daemon::start(&config, &dir.path().join("daemon.log"));
    append(dir.path(), &[service("b", 3, "delete", "web").build()]);
    let all = rx.wait_for(9, WAIT).await;
    daemon.terminate();

    let hook = by_path(&all, "/hook");
    let web_open = hook
        .iter()
        .map(|r| r.json())
        .find(|b| b["service"] == "web" && b["status"] == "open")
        .unwrap();
    let closed = hook
        .iter()
        .map(|r| r.json())
        .find(|b| b["status"] == "closed")
        .unwrap();
    assert_eq!(closed["exposure_id"], web_open["exposure_id"]);
    assert!(closed["exposure_id"].is_string());
    assert_eq!(closed["schema"], "nodeport-watch.alert.v1");
    assert_eq!(
        (
            closed["user"]["username"].as_str(),
            closed["audit_id"].as_str()
        ),
        (Some("user-b"), Some("b"))
    );
    assert_eq!(
        (closed["rule"].as_str(), closed["service"].as_str()),
        (Some("nodeport"), Some("web"))
    );

    let pd: Vec<Value> = by_path(&all, "/pd").iter().map(|r| r.json()).collect();
    let trigger = pd
        .iter()
        .find(|e| e["event_action"] == "trigger" && e["payload"]["component"] == "default/web")
        .unwrap();
    let resolve = pd.iter().find(|e| e["event_action"] == "resolve").unwrap();
    assert_eq!(resolve["dedup_key"], trigger["dedup_key"]);
    assert_eq!(resolve["dedup_key"], web_open["exposure_id"]);
    assert_eq!(resolve["routing_key"], "R0UT1NGKEY0000000000000000000000");

    let slack: Vec<Value> = by_path(&all, "/slack").iter().map(|r| r.json()).collect();
    let closed_text = slack
        .iter()
        .filter_map(|m| m["text"].as_str())
        .find(|t| t.starts_with("Exposure closed"))
        .unwrap();
    assert!(
        closed_text.contains("`default/web`") && closed_text.contains("user-b"),
        "{closed_text}"
    );
    assert_eq!(by_path(&opened, "/slack").len(), 2);

    let closed_rows = json_lines(&exposures(&config, &["--closed", "--json"]));
    assert_eq!(closed_rows.len(), 1);
    assert_eq!(closed_rows[0]["closed"]["user"], "user-b");
    assert_eq!(
        json_lines(&exposures(&config, &["--all", "--json"])).len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_inventory_only_seeds_exposures_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    let config = setup(dir.path(), &rx);
    append(
        dir.path(),
        &[
            create_node_port("a", 1, "web", 30080).build(),
            create_node_port("b", 2, "api", 30081).build(),
            service("c", 3, "delete", "api").build(),
        ],
    );
    let config_arg = config.to_str().unwrap();
    let out = run(&[
        "scan",
        "--config",
        config_arg,
        "--since",
        "3650d",
        "--inventory-only",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("none queued"));
    let open = json_lines(&exposures(&config, &["--json"]));
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["service"], "web");
    let alerts = run(&[
        "alerts", "--config", config_arg, "--status", "all", "--json",
    ]);
    assert_eq!(String::from_utf8_lossy(&alerts.stdout).lines().count(), 0);
    assert!(rx.requests().is_empty());
}

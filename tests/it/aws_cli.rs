//! The `aws_cloudwatch` source through the real binary: configuration, the default credential
//! chain (environment variables here), `validate --connect` and `scan` against moto.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::binary;
use crate::support::cloudwatch::{create_stream, nodeport, noise, now_ms, put, seeding_client};
use crate::support::moto::Moto;

const STREAM: &str = "kube-apiserver-audit-0123456789abcdef0123456789abcdef";

/// Runs the binary with static keys in its environment and nothing else from this machine's
/// AWS setup (no profile files, no instance metadata).
fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run nodeport-watch")
}

fn config(dir: &Path, endpoint: &str, clusters: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let text = format!(
        r#"[state]
path = "state.db"

[[sources]]
type = "aws_cloudwatch"
name = "eks"
region = "us-east-1"
endpoint = "{endpoint}"
clusters = [{clusters}]

[[sinks]]
type = "file"
name = "alerts"
path = "alerts.jsonl"
"#
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_validate_connect_and_scan_through_the_binary() {
    let moto = Moto::start();
    let client = seeding_client(&moto.endpoint);
    create_stream(&client, "/aws/eks/prod/cluster", STREAM).await;
    let t = now_ms() - 20 * 60_000;
    put(
        &client,
        "/aws/eks/prod/cluster",
        STREAM,
        &[
            (t, nodeport("cli-np")),
            (t + 1, noise("cli-noise", "get", "pods")),
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();

    let good = config(dir.path(), &moto.endpoint, "\"prod\"");
    let out = run(
        dir.path(),
        &["validate", "--config", good.to_str().unwrap(), "--connect"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("source eks: ok"),
        "{}",
        text(&out)
    );

    let out = run(
        dir.path(),
        &["scan", "--config", good.to_str().unwrap(), "--since", "1h"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let alerts = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = alerts
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{alerts}");
    assert_eq!(lines[0]["audit_id"], "cli-np");
    assert_eq!(lines[0]["cluster"], "prod");
    assert_eq!(lines[0]["provider"], "eks");

    let missing = config(dir.path(), &moto.endpoint, "\"prod\", \"ghost\"");
    let out = run(
        dir.path(),
        &[
            "validate",
            "--config",
            missing.to_str().unwrap(),
            "--connect",
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("source eks: FAILED") && stdout.contains("/aws/eks/ghost/cluster"),
        "{}",
        text(&out)
    );
}

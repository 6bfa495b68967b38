//! Configuration: every problem is reported with its key, typos are errors, the environment
//! overrides the file, and the shipped configurations are valid.

use std::process::Command;

use std::time::Duration;

use nodeport_watch::config::sinks::RawSink;
use nodeport_watch::config::{self, ConfigError, Settings, SourceKind, StatePath, StateSettings};

use crate::support::{binary, root};

fn validate(path: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(binary())
        .args(["validate", "--config"])
        .arg(path)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

fn write(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The secrets `config/example.toml` references, as its header lists them.
const EXAMPLE_SECRETS: [(&str, &str); 6] = [
    ("SOC_WEBHOOK_URL", "https://soc.example.com/hooks/nodeport"),
    ("SOC_WEBHOOK_AUTH", "Bearer example"),
    ("SOC_WEBHOOK_HMAC", "example-hmac-key"),
    (
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.com/services/T000/B000/example",
    ),
    ("SPLUNK_HEC_TOKEN", "example-token"),
    ("PAGERDUTY_ROUTING_KEY", "example-routing-key"),
];

#[test]
fn the_shipped_configurations_are_valid() {
    let (code, text) = validate(&root().join("config/demo.toml"));
    assert_eq!(code, Some(0), "demo: {text}");

    let out = Command::new(binary())
        .args(["validate", "--config"])
        .arg(root().join("config/example.toml"))
        .envs(EXAMPLE_SECRETS)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "example: {text}");
    assert!(
        text.contains("(5 sources, 6 sinks"),
        "every source and sink type is shown: {text}"
    );
}

/// The example's settings, without its secret-bearing sinks (so no environment is needed).
fn example_settings() -> Settings {
    let path = root().join("config/example.toml");
    let mut raw = config::load_raw(&path).unwrap();
    raw.sinks
        .retain(|s| matches!(s, RawSink::Stdout(_) | RawSink::File(_)));
    Settings::from_raw(raw, path.parent().unwrap()).expect("the example is valid")
}

#[test]
fn the_example_shows_every_source_type_as_documented() {
    let settings = example_settings();
    let kinds: Vec<&str> = settings
        .sources
        .iter()
        .map(|s| s.kind.type_name())
        .collect();
    assert_eq!(
        kinds,
        [
            "file",
            "aws_cloudwatch",
            "gcp_logging",
            "azure_monitor",
            "azure_blob"
        ]
    );
    for source in &settings.sources {
        match &source.kind {
            SourceKind::AwsCloudWatch(s) => {
                assert_eq!(s.log_groups.len(), 3);
                assert_eq!(s.role.as_ref().unwrap().account, "210987654321");
                assert_eq!(source.max_catchup, Some(Duration::from_secs(24 * 3600)));
            }
            SourceKind::AzureMonitor(s) => {
                assert_eq!(s.clusters.len(), 2);
                assert_eq!(s.max_rows, 50_000);
                assert_eq!(s.window.overlap, Duration::from_secs(300));
            }
            SourceKind::GcpLogging(s) => assert_eq!(s.projects.len(), 2),
            SourceKind::AzureBlob(_) | SourceKind::File(_) => {}
        }
    }
    assert_eq!(settings.detection.exceptions.len(), 3);
}

#[test]
fn every_problem_is_reported_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        r#"
        [detection]
        rules = ["nodeport", "node-port"]

        [[detection.exceptions]]
        namespaces = ["dev-["]
        expires = "next tuesday"

        [[sources]]
        name = "logs"
        type = "file"
        paths = ["/var/log/audit"]
        interval = "5 parsecs"
        format = "openshift"

        [[sources]]
        name = "logs"
        type = "file"
        paths = []

        [[sinks]]
        name = "out"
        type = "stdout"
        min_severity = "urgent"
        "#,
    );
    let (code, text) = validate(&path);
    assert_eq!(code, Some(1), "{text}");
    for key in [
        "detection.rules",
        "detection.exceptions[0].namespaces",
        "detection.exceptions[0].expires",
        "sources[0].interval",
        "sources[0].format",
        "sources[1].name",
        "sources[1].paths",
        "sinks[0].min_severity",
    ] {
        assert!(
            text.contains(&format!("{key}:")),
            "`{key}` missing from:\n{text}"
        );
    }
    assert!(text.contains("8 problem(s)"), "{text}");
}

#[test]
fn unknown_keys_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        r#"
        [[sources]]
        name = "logs"
        type = "file"
        paths = ["x"]
        intervall = "5s"

        [[sinks]]
        name = "out"
        type = "stdout"
        "#,
    );
    let err = config::load(&path).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("intervall"), "{err}");
    let (code, _) = validate(&path);
    assert_eq!(code, Some(1));
}

#[test]
fn unknown_types_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "[[sources]]\nname = \"x\"\ntype = \"kafka\"\n[[sinks]]\nname = \"o\"\ntype = \"stdout\"\n",
    );
    let err = config::load(&path).unwrap_err().to_string();
    assert!(err.contains("kafka"), "{err}");
}

#[test]
fn relative_paths_follow_the_file_and_the_environment_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "[state]\npath = \"state/db.sqlite\"\n[[sinks]]\nname = \"out\"\ntype = \"stdout\"\n",
    );
    let settings = config::load(&path).unwrap();
    assert!(
        matches!(
            &settings.state,
            StateSettings::Sqlite(StatePath::File(f)) if *f == dir.path().join("state/db.sqlite")
        ),
        "{:?}",
        settings.state
    );

    // A child process, so the variable cannot leak into other tests.
    let out = Command::new(binary())
        .args(["validate", "--config"])
        .arg(&path)
        .env("NODEPORT_WATCH__DETECTION__RULES", "oops")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("detection.rules"), "{text}");
}

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
        text.contains("(5 sources, 11 sinks"),
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
    assert!(text.contains("8 problems:"), "{text}");
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
    assert!(matches!(err, ConfigError::Invalid { .. }));
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

/// The source files under `dir` (recursively), with their text.
fn rust_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            files.push((path, text));
        }
    }
    files
}

/// Lines of code (not comments) that mention `needle`.
fn code_mentions(text: &str, needle: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with("//"))
        .any(|l| l.contains(needle))
}

#[test]
fn the_validation_toolkit_is_a_leaf_and_components_import_only_it() {
    for (path, text) in rust_files(&root().join("src/validation")) {
        assert!(
            !code_mentions(&text, "crate::"),
            "{} imports from the crate: the toolkit must stay a leaf",
            path.display()
        );
    }
    for dir in ["src/sinks", "src/sources/file"] {
        for (path, text) in rust_files(&root().join(dir)) {
            assert!(
                !code_mentions(&text, "crate::config"),
                "{} imports the top-level config; use crate::validation",
                path.display()
            );
        }
    }
}

#[test]
fn no_import_cycle_inside_config() {
    // Edges between the files directly in src/config/ (`use super::x` or `crate::config::x`).
    let dir = root().join("src/config");
    let mut edges: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .filter(|n| n != "mod")
        .collect();
    for name in &names {
        let file = dir.join(format!("{name}.rs"));
        let text = if file.exists() {
            std::fs::read_to_string(&file).unwrap()
        } else {
            rust_files(&dir.join(name))
                .into_iter()
                .map(|(_, text)| text)
                .collect()
        };
        let uses = names
            .iter()
            .filter(|other| *other != name)
            .filter(|other| {
                code_mentions(&text, &format!("super::{other}"))
                    || code_mentions(&text, &format!("crate::config::{other}"))
            })
            .cloned()
            .collect();
        edges.insert(name.clone(), uses);
    }
    fn visit(
        node: &str,
        edges: &std::collections::BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
    ) {
        assert!(
            !path.iter().any(|n| n == node),
            "import cycle in src/config: {} -> {node}",
            path.join(" -> ")
        );
        path.push(node.to_owned());
        for next in &edges[node] {
            visit(next, edges, path);
        }
        path.pop();
    }
    for name in edges.keys() {
        visit(name, &edges, &mut Vec::new());
    }
}

/// The smallest valid table of each cloud source type, for the shared window keys.
const CLOUD_SOURCES: [&str; 4] = [
    "type = \"aws_cloudwatch\"\nname = \"s\"\nregion = \"us-east-1\"\nclusters = [\"prod\"]",
    "type = \"gcp_logging\"\nname = \"s\"\nprojects = [\"p\"]",
    "type = \"azure_monitor\"\nname = \"s\"\nworkspace_id = \"6b2f1d3e-0000-4c1a-9a3b-1f2e3d4c5b6a\"\n\
     endpoint = \"http://127.0.0.1:9\"\ncredential = \"none\"",
    "type = \"azure_blob\"\nname = \"s\"\naccount_url = \"http://127.0.0.1:9/devstoreaccount1\"\n\
     credential = \"none\"",
];

/// The settings, or the error's text.
fn load_source(dir: &tempfile::TempDir, table: &str) -> Result<Settings, String> {
    let path = write(
        dir,
        &format!("[[sources]]\n{table}\n\n[[sinks]]\nname = \"out\"\ntype = \"stdout\"\n"),
    );
    config::load(&path).map_err(|e| e.to_string())
}

#[test]
fn window_keys_are_one_block_with_one_set_of_rules_for_every_cloud_source() {
    let dir = tempfile::tempdir().unwrap();
    for table in CLOUD_SOURCES {
        let windowed = !table.contains("azure_blob");
        // Shared keys are read by every type; a typo in them is an error.
        let s = load_source(
            &dir,
            &format!("{table}\nlookback = \"2h\"\nmax_catchup = \"6h\""),
        )
        .unwrap_or_else(|e| panic!("{table}: {e}"));
        assert_eq!(
            s.sources[0].max_catchup,
            Some(Duration::from_secs(6 * 3600))
        );
        let err = load_source(&dir, &format!("{table}\noverlapp = \"1m\"")).unwrap_err();
        assert!(err.contains("overlapp"), "{table}: {err}");

        // One rule for max_span; a source that reads whole hours refuses window keys.
        let text = load_source(&dir, &format!("{table}\nmax_span = \"500ms\"")).unwrap_err();
        assert!(text.contains("sources[0].max_span"), "{table}: {text}");
        let wanted = if windowed {
            "must be at least 1s"
        } else {
            "does not apply"
        };
        assert!(text.contains(wanted), "{table}: {text}");
        let err = load_source(&dir, &format!("{table}\nmax_catchup = \"0s\"")).unwrap_err();
        assert!(err.contains("sources[0].max_catchup"), "{err}");
    }
}

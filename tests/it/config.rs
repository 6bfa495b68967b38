//! Configuration: every problem is reported with its key, typos are errors, the environment
//! overrides the file, and the shipped configurations are valid.

use std::process::Command;

use nodeport_watch::config::{self, ConfigError, StatePath};

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

#[test]
fn the_shipped_configurations_are_valid() {
    for name in ["config/demo.toml", "config/example.toml"] {
        let (code, text) = validate(&root().join(name));
        assert_eq!(code, Some(0), "{name}: {text}");
    }
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
    assert_eq!(
        settings.state,
        StatePath::File(dir.path().join("state/db.sqlite"))
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

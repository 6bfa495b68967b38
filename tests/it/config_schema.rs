//! `nodeport-watch config-schema` (issue 16 item 4): the JSON Schema editors use for the
//! configuration file stays in step with what `validate` accepts. Every configuration we ship
//! validates against it, and configurations `validate` refuses for their shape (an unknown key,
//! an unknown `type`, a wrong value type, a malformed secret reference) are refused by it too.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{binary, root};

fn schema() -> jsonschema::Validator {
    let out = Command::new(binary())
        .arg("config-schema")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "editors need to know the draft"
    );
    jsonschema::validator_for(&schema).unwrap()
}

fn as_json(toml_text: &str) -> Value {
    let table: toml::Table = toml::from_str(toml_text).unwrap();
    serde_json::to_value(table).unwrap()
}

fn schema_errors(schema: &jsonschema::Validator, toml_text: &str) -> Vec<String> {
    let doc = as_json(toml_text);
    schema.iter_errors(&doc).map(|e| e.to_string()).collect()
}

/// Whether `validate` accepts the configuration (its own problems printed otherwise).
fn validate_accepts(dir: &Path, toml_text: &str) -> bool {
    let path = dir.join("config.toml");
    std::fs::write(&path, toml_text).unwrap();
    Command::new(binary())
        .args(["validate", "--config"])
        .arg(&path)
        .env("NPW_TEST_SECRET", "value")
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn every_shipped_configuration_matches_the_schema() {
    let schema = schema();
    let mut checked = 0;
    for name in ["config/example.toml", "config/demo.toml"] {
        let text = std::fs::read_to_string(root().join(name)).unwrap();
        let errors = schema_errors(&schema, &text);
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        checked += 1;
    }
    // The ConfigMaps' configurations (single replica and HA).
    for manifest in [
        "config/kubernetes/configmap.yaml",
        "config/kubernetes/ha/configmap.yaml",
    ] {
        let text = std::fs::read_to_string(root().join(manifest)).unwrap();
        let docs = yaml_rust2::YamlLoader::load_from_str(&text).unwrap();
        let config = docs[0]["data"]["config.toml"].as_str().unwrap();
        let errors = schema_errors(&schema, config);
        assert!(errors.is_empty(), "{manifest}: {errors:#?}");
        checked += 1;
    }
    assert_eq!(checked, 4);
}

/// A small valid configuration the refused variants start from.
const BASE: &str = r#"
[state]
path = "state.db"

[[sources]]
type = "file"
name = "audit"
paths = ["/var/log/audit.log"]

[[sinks]]
type = "webhook"
name = "soc"
url = "https://soc.example.com/in"
hmac_secret = { env = "NPW_TEST_SECRET" }
"#;

#[test]
fn what_validate_refuses_for_its_shape_the_schema_refuses_too() {
    let schema = schema();
    let dir = tempfile::tempdir().unwrap();
    assert!(
        validate_accepts(dir.path(), BASE),
        "the base configuration is valid"
    );
    assert!(schema_errors(&schema, BASE).is_empty());

    let refused = [
        (
            "an unknown top-level table",
            format!("{BASE}\n[extra]\nx = 1\n"),
        ),
        (
            "a misspelt source key",
            BASE.replace("paths = ", "intervall = \"5s\"\npaths = "),
        ),
        (
            "an unknown sink type",
            BASE.replace("\"webhook\"", "\"carrier_pigeon\""),
        ),
        (
            "a number where a list of paths goes",
            BASE.replace("[\"/var/log/audit.log\"]", "5"),
        ),
        (
            "a secret reference with an unknown key",
            BASE.replace("{ env = ", "{ vault = "),
        ),
        (
            "a sink without its url",
            BASE.replace("url = \"https://soc.example.com/in\"\n", ""),
        ),
    ];
    for (what, text) in refused {
        assert!(
            !validate_accepts(dir.path(), &text),
            "{what}: validate should refuse it"
        );
        assert!(
            !schema_errors(&schema, &text).is_empty(),
            "{what}: the schema accepts what validate refuses"
        );
    }
}

//! The Grafana dashboard and Prometheus alert rules under `deploy/` (issue 16): every query
//! names only metrics the daemon exports (its metric catalog), every rule has what Alertmanager
//! routing and a reader need, and the dashboard's panels have unique ids and a data source.

use std::collections::BTreeSet;

use nodeport_watch::telemetry::metrics::CATALOG;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::support::root;

/// Series Prometheus derives from a histogram's name.
const HISTOGRAM_SUFFIXES: &[&str] = &["_bucket", "_sum", "_count"];

fn dashboard() -> Value {
    let path = root().join("deploy/grafana/nodeport-watch.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rules() -> Yaml {
    let path = root().join("deploy/prometheus/nodeport-watch.rules.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut docs =
        YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(docs.len(), 1, "one YAML document");
    docs.remove(0)
}

/// Every `expr` string anywhere under `value`.
fn dashboard_queries(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr", Value::String(expr)) => out.push(expr.clone()),
                    _ => dashboard_queries(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| dashboard_queries(v, out)),
        _ => {}
    }
}

fn rule_list(rules: &Yaml) -> Vec<Yaml> {
    let groups = rules["groups"].as_vec().expect("`groups:` is a list");
    assert!(!groups.is_empty());
    groups
        .iter()
        .flat_map(|g| {
            g["rules"]
                .as_vec()
                .expect("each group has `rules:`")
                .clone()
        })
        .collect()
}

/// The `nodeport_watch_*` names a PromQL expression uses, histogram suffixes removed.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(start) = rest.find("nodeport_watch_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let exported = CATALOG.iter().any(|(n, ..)| *n == name);
        let base = HISTOGRAM_SUFFIXES
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|base| !exported && CATALOG.iter().any(|(n, ..)| n == base));
        names.insert(base.unwrap_or(name).to_owned());
        rest = &tail[end..];
    }
    names
}

fn exported() -> BTreeSet<&'static str> {
    CATALOG.iter().map(|(name, ..)| *name).collect()
}

#[test]
fn the_dashboard_queries_only_exported_metrics() {
    let mut queries = Vec::new();
    dashboard_queries(&dashboard(), &mut queries);
    assert!(queries.len() >= 15, "{} queries", queries.len());
    let exported = exported();
    let mut used = BTreeSet::new();
    for expr in &queries {
        for name in metric_names(expr) {
            assert!(
                exported.contains(name.as_str()),
                "the dashboard queries `{name}`, which the daemon does not export: {expr}"
            );
            used.insert(name);
        }
    }
    // The panels the issue asks for: lag, errors, throttles, alerts, outbox, dead letters.
    for wanted in [
        "nodeport_watch_checkpoint_lag_seconds",
        "nodeport_watch_source_consecutive_failures",
        "nodeport_watch_throttles_total",
        "nodeport_watch_outbox_alerts_total",
        "nodeport_watch_outbox_deliveries",
        "nodeport_watch_dead_letters_total",
    ] {
        assert!(used.contains(wanted), "no panel shows {wanted}");
    }
}

#[test]
fn the_dashboard_is_importable() {
    let dash = dashboard();
    assert_eq!(dash["uid"], "nodeport-watch");
    let panels = dash["panels"].as_array().unwrap();
    let ids: Vec<_> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
    let unique: BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "panel ids are unique");
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "panel {} uses the data source variable",
            panel["title"]
        );
        assert!(panel["title"].as_str().is_some_and(|t| !t.is_empty()));
    }
    let variables: Vec<_> = dash["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variables, ["datasource", "job", "source"]);
}

#[test]
fn the_alert_rules_use_exported_metrics_and_say_what_to_do() {
    let rules = rule_list(&rules());
    let exported = exported();
    let mut names = BTreeSet::new();
    for rule in &rules {
        let alert = rule["alert"]
            .as_str()
            .expect("every rule is an alerting rule");
        assert!(names.insert(alert.to_owned()), "{alert} twice");
        let expr = rule["expr"].as_str().expect("expr");
        for name in metric_names(expr) {
            assert!(
                exported.contains(name.as_str()),
                "rule {alert} uses `{name}`, which the daemon does not export"
            );
        }
        let severity = rule["labels"]["severity"].as_str().expect("severity label");
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{alert}"
        );
        for annotation in ["summary", "description"] {
            assert!(
                rule["annotations"][annotation].as_str().is_some(),
                "{alert} has no {annotation}"
            );
        }
    }
    // The situations the issue names: down, stalled or failing, lag, dead letters, throttling.
    for wanted in [
        "NodeportWatchDown",
        "NodeportWatchSourceFailing",
        "NodeportWatchSourceStalled",
        "NodeportWatchSourceLagging",
        "NodeportWatchDeadLetters",
        "NodeportWatchThrottled",
    ] {
        assert!(names.contains(wanted), "no rule {wanted}");
    }
}

#[test]
fn an_unknown_metric_is_caught() {
    let names = metric_names("sum(rate(nodeport_watch_no_such_thing_total[5m])) > 0");
    assert!(names.iter().all(|n| !exported().contains(n.as_str())));
    assert_eq!(names.len(), 1);
}

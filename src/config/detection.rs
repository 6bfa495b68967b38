//! `[detection]`: which rules run, whether alerts carry the raw record, and the exceptions;
//! the table as written and its validated settings.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::detect::{Exception, Patterns};
use crate::model::RuleId;
use crate::validation::{Problems, parse_expiry};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDetection {
    pub rules: Option<Vec<String>>,
    pub include_raw: Option<bool>,
    #[serde(default)]
    pub exceptions: Vec<RawException>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawException {
    pub rules: Option<Vec<String>>,
    pub clusters: Option<Vec<String>>,
    pub namespaces: Option<Vec<String>>,
    pub services: Option<Vec<String>>,
    pub users: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub reason: Option<String>,
    /// RFC 3339 time, or a date (the exception applies through the end of that day, UTC).
    pub expires: Option<String>,
}

#[derive(Clone, Debug)]
pub struct DetectionSettings {
    pub rules: BTreeSet<RuleId>,
    pub include_raw: bool,
    pub exceptions: Vec<Exception>,
}

pub(super) fn build(raw: &RawDetection, p: &mut Problems) -> DetectionSettings {
    let rules = match &raw.rules {
        None => crate::detect::Detector::default_rules(),
        Some(list) => rule_set(p, "detection.rules", list),
    };
    let exceptions = raw
        .exceptions
        .iter()
        .enumerate()
        .filter_map(|(i, e)| exception(p, &format!("detection.exceptions[{i}]"), e))
        .collect();
    DetectionSettings {
        rules,
        include_raw: raw.include_raw.unwrap_or(false),
        exceptions,
    }
}

pub fn rule_set(p: &mut Problems, key: &str, list: &[String]) -> BTreeSet<RuleId> {
    list.iter()
        .filter_map(|name| {
            p.check(
                key,
                RuleId::parse(name).ok_or_else(|| {
                    format!(
                        "unknown rule `{name}` (known: {})",
                        RuleId::ALL.map(RuleId::as_str).join(", ")
                    )
                }),
            )
        })
        .collect()
}

fn exception(p: &mut Problems, key: &str, raw: &RawException) -> Option<Exception> {
    let before = p.len();
    let mut patterns = |field: &str, list: &Option<Vec<String>>| {
        list.as_ref().and_then(|l| {
            p.check(
                format!("{key}.{field}"),
                Patterns::new(l).map_err(|e| format!("invalid pattern: {e}")),
            )
        })
    };
    let clusters = patterns("clusters", &raw.clusters);
    let namespaces = patterns("namespaces", &raw.namespaces);
    let services = patterns("services", &raw.services);
    let users = patterns("users", &raw.users);
    let groups = patterns("groups", &raw.groups);
    let mut labels = BTreeMap::new();
    for (label, pattern) in raw.labels.iter().flatten() {
        if let Some(pat) = p.check(
            format!("{key}.labels.{label}"),
            Patterns::new(std::slice::from_ref(pattern))
                .map_err(|e| format!("invalid pattern: {e}")),
        ) {
            labels.insert(label.clone(), pat);
        }
    }
    let rules = raw
        .rules
        .as_ref()
        .map(|r| rule_set(p, &format!("{key}.rules"), r))
        .unwrap_or_default();
    let expires = raw
        .expires
        .as_deref()
        .and_then(|s| p.check(format!("{key}.expires"), parse_expiry(s)));
    // Judge by what was written, so an invalid pattern is not also reported as missing.
    let criteria = [
        &raw.clusters,
        &raw.namespaces,
        &raw.services,
        &raw.users,
        &raw.groups,
    ]
    .iter()
    .any(|c| c.as_ref().is_some_and(|l| !l.is_empty()))
        || raw.labels.as_ref().is_some_and(|l| !l.is_empty());
    if !criteria {
        p.push(
            key,
            "an exception needs at least one of clusters, namespaces, services, users, groups or labels",
        );
    }
    (p.len() == before).then_some(Exception {
        rules,
        clusters,
        namespaces,
        services,
        users,
        groups,
        labels,
        reason: raw.reason.clone(),
        expires,
    })
}

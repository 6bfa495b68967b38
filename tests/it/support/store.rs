//! Builders for state-store tests: real alerts, cursors and commits.

use nodeport_watch::detect::Detector;
use nodeport_watch::model::{Alert, StoredCursor};
use nodeport_watch::state::{Commit, RoutedAlert, SeenUpdate};

use super::detect::run_library;

/// Distinct real alerts, built by the detector from corpus-like events; `tag` keeps the ids of
/// two calls apart.
pub fn alerts_tagged(tag: &str, n: usize) -> Vec<Alert> {
    let records: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"kind":"Event","auditID":"{tag}-{i}","stage":"ResponseComplete","verb":"create","objectRef":{{"resource":"services","namespace":"n","name":"s{i}"}},"responseStatus":{{"code":201}},"requestObject":{{"kind":"Service","spec":{{"type":"NodePort","selector":{{"a":"b"}},"ports":[{{"port":8080,"targetPort":8080}}]}}}}}}"#
            )
        })
        .collect();
    let got = run_library(&records, Detector::default());
    assert_eq!(got.alerts.len(), n);
    got.alerts
}

pub fn alerts(n: usize) -> Vec<Alert> {
    alerts_tagged("state", n)
}

pub fn cursor(position: u64) -> StoredCursor {
    StoredCursor {
        kind: "test".into(),
        version: 1,
        json: format!("{{\"at\":{position}}}"),
    }
}

/// A commit that moves `key` to `position` and routes every alert to every sink given.
pub fn commit(key: &str, position: u64, alerts: &[Alert], sinks: &[&str]) -> Commit {
    Commit {
        cursor_key: key.into(),
        cursor: cursor(position),
        alerts: alerts
            .iter()
            .map(|a| RoutedAlert {
                alert: a.clone(),
                sinks: sinks.iter().map(|s| s.to_string()).collect(),
            })
            .collect(),
        seen: SeenUpdate::default(),
        exposures: Vec::new(),
    }
}

//! A `LogEntry` from the client, turned back into the JSON Cloud Logging itself serves.
//!
//! The pipeline reads provider records as text, so the poller hands it each entry as
//! Cloud Logging's REST JSON: the same document `gcloud logging read --format=json` or an
//! export writes, and the same one `nodeport-watch detect` reads from a file, so an entry gives
//! the same alert whichever way it arrives. The client's serializer already writes that shape
//! (`protoPayload` with its `@type`, RFC 3339 timestamps, unknown fields kept) except for
//! `severity`, which it writes as the enum's number; it is put back as its name.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use google_cloud_logging_v2::model::LogEntry;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::SeenKey;
use crate::model::{Format, Provider};
use crate::sources::{Record, RecordOrigin};

/// The origin of every record of one project, built once.
#[derive(Debug, Default)]
pub struct Origins {
    by_project: HashMap<String, Arc<RecordOrigin>>,
}

impl Origins {
    pub fn new(source: &str, projects: &[String]) -> Self {
        Origins {
            by_project: projects
                .iter()
                .map(|p| {
                    let origin = RecordOrigin {
                        format: Format::Gke,
                        provider: Some(Provider::Gke),
                        // Entries name their cluster and location in `resource.labels`.
                        cluster: None,
                        account: Some(p.clone()),
                        region: None,
                        stream: format!("{source}: projects/{p}"),
                    };
                    (p.clone(), Arc::new(origin))
                })
                .collect(),
        }
    }

    fn of(&self, log_name: &str) -> Arc<RecordOrigin> {
        project_of(log_name)
            .and_then(|p| self.by_project.get(p))
            .cloned()
            .unwrap_or_else(|| {
                Arc::new(RecordOrigin {
                    format: Format::Gke,
                    provider: Some(Provider::Gke),
                    stream: log_name.to_owned(),
                    ..RecordOrigin::default()
                })
            })
    }
}

/// `projects/P/logs/L` → `P`.
fn project_of(log_name: &str) -> Option<&str> {
    log_name.strip_prefix("projects/")?.split('/').next()
}

fn entry_time(entry: &LogEntry) -> Option<DateTime<Utc>> {
    let t = entry.timestamp.as_ref()?;
    DateTime::from_timestamp(t.seconds(), u32::try_from(t.nanos()).ok()?)
}

/// The entry as Cloud Logging's JSON.
pub fn entry_json(entry: &LogEntry) -> Result<Vec<u8>, serde_json::Error> {
    let mut value = serde_json::to_value(entry)?;
    if let Some(map) = value.as_object_mut()
        && map.get("severity").is_some_and(Value::is_number)
        && let Some(name) = entry.severity.name()
    {
        map.insert("severity".to_owned(), Value::String(name.to_owned()));
    }
    serde_json::to_vec(&value)
}

/// The record for one entry. `fallback_ms` places an entry without a timestamp (none is
/// expected) in the window that returned it, so its id is kept as long as the window can recur.
pub fn to_record(
    entry: &LogEntry,
    origins: &Origins,
    fallback_ms: i64,
) -> Result<Record, serde_json::Error> {
    let text = entry_json(entry)?;
    let time = entry_time(entry);
    let stamp = time.map(|t| t.to_rfc3339()).unwrap_or_default();
    // Cloud Logging itself treats entries with the same project, timestamp and insertId as one.
    let id = if entry.insert_id.is_empty() {
        format!("sha256:{}", hex::encode(Sha256::digest(&text)))
    } else {
        entry.insert_id.clone()
    };
    let key = format!("{}|{}|{}", entry.log_name, stamp, id);
    Ok(Record {
        origin: origins.of(&entry.log_name),
        record_id: (!entry.insert_id.is_empty()).then(|| entry.insert_id.clone()),
        record_time: time,
        dedupe: Some(SeenKey {
            key,
            event_ms: time.map_or(fallback_ms, |t| t.timestamp_millis()),
        }),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Cloud Logging response entry as the REST API writes it.
    const ENTRY: &str = r#"{
      "insertId": "a1b2",
      "logName": "projects/demo/logs/cloudaudit.googleapis.com%2Factivity",
      "operation": {"first": true, "id": "a1b2", "last": true, "producer": "k8s.io"},
      "protoPayload": {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "methodName": "io.k8s.core.v1.services.create",
        "resourceName": "core/v1/namespaces/default/services/web",
        "serviceName": "k8s.io",
        "status": {},
        "request": {"@type": "core.k8s.io/v1.Service", "spec": {"type": "NodePort"}}
      },
      "labels": {"authorization.k8s.io/decision": "allow"},
      "receiveTimestamp": "2024-02-19T12:02:39.542633547Z",
      "resource": {"type": "k8s_cluster",
                   "labels": {"cluster_name": "c1", "location": "us-west1", "project_id": "demo"}},
      "severity": "NOTICE",
      "timestamp": "2024-02-19T12:02:22.057586Z"
    }"#;

    fn entry() -> LogEntry {
        serde_json::from_str(ENTRY).unwrap()
    }

    #[test]
    fn the_client_serializes_the_rest_shape() {
        let out: Value = serde_json::from_slice(&entry_json(&entry()).unwrap()).unwrap();
        let expected: Value = serde_json::from_str(ENTRY).unwrap();
        assert_eq!(
            out, expected,
            "the record must be the entry exactly as served"
        );
    }

    #[test]
    fn nanosecond_timestamps_survive() {
        let mut e = entry();
        e.timestamp = Some(google_cloud_wkt::Timestamp::new(1_708_344_142, 57_586_001).unwrap());
        let out: Value = serde_json::from_slice(&entry_json(&e).unwrap()).unwrap();
        assert_eq!(out["timestamp"], "2024-02-19T12:02:22.057586001Z");
        let r = to_record(&e, &Origins::default(), 0).unwrap();
        assert_eq!(
            r.record_time.unwrap().to_rfc3339(),
            "2024-02-19T12:02:22.057586001+00:00"
        );
    }

    #[test]
    fn dedupe_keys_name_the_log_time_and_insert_id() {
        let origins = Origins::new("gke", &["demo".to_owned()]);
        let r = to_record(&entry(), &origins, 0).unwrap();
        let d = r.dedupe.unwrap();
        assert_eq!(
            d.key,
            "projects/demo/logs/cloudaudit.googleapis.com%2Factivity|2024-02-19T12:02:22.057586+00:00|a1b2"
        );
        assert_eq!(d.event_ms, 1_708_344_142_057);
        assert_eq!(r.record_id.as_deref(), Some("a1b2"));
        assert_eq!(r.origin.account.as_deref(), Some("demo"));

        let mut anonymous = entry();
        anonymous.insert_id.clear();
        anonymous.timestamp = None;
        let r = to_record(&anonymous, &origins, 42).unwrap();
        assert!(r.dedupe.as_ref().unwrap().key.contains("|sha256:"));
        assert_eq!(r.dedupe.unwrap().event_ms, 42);
        assert_eq!(r.record_id, None);
    }
}

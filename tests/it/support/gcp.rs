//! Building `gcp_logging` sources against the fake, and GKE entries to feed it.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use nodeport_watch::clock::Clock;
use nodeport_watch::config::{self, Settings, SourceKind};
use nodeport_watch::ingest::Services;
use nodeport_watch::ingest::SourceDriver;
use nodeport_watch::model::Alert;
use nodeport_watch::sources::gcp_logging::{GcpCursor, GcpLoggingSource, PollStats};
use nodeport_watch::sources::{BuildSource, PollMode};
use nodeport_watch::state::{Checkpoints, OutboxDelivery, SqliteStore};
use serde_json::{Value, json};

use super::fake_logging::FakeLogging;
use super::ingest;

/// Wall-clock time that moves with tokio's clock, so window edges and request rates are in the
/// same simulated time.
#[derive(Debug)]
pub struct SimClock {
    base: DateTime<Utc>,
    origin: tokio::time::Instant,
}

impl SimClock {
    pub fn starting_at(base: DateTime<Utc>) -> Arc<SimClock> {
        Arc::new(SimClock {
            base,
            origin: tokio::time::Instant::now(),
        })
    }
}

impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        self.base + ChronoDuration::from_std(self.origin.elapsed()).unwrap()
    }
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A daemon's worth of state around one `gcp_logging` source named `gke`.
pub struct GcpHarness {
    pub settings: Settings,
    pub services: Services,
    pub store: Arc<SqliteStore>,
    pub db: PathBuf,
}

/// `options` are extra TOML lines for the source table.
pub fn harness(
    dir: &tempfile::TempDir,
    fake: &FakeLogging,
    projects: &[&str],
    options: &str,
    clock: Arc<dyn Clock>,
) -> GcpHarness {
    let db = dir.path().join("state.db");
    let list = projects
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        "[state]\npath = \"{}\"\n\n[[sinks]]\nname = \"out\"\ntype = \"stdout\"\n\n\
         [[sources]]\ntype = \"gcp_logging\"\nname = \"gke\"\nprojects = [{list}]\n\
         anonymous = true\nendpoint = \"{}\"\n{options}\n",
        db.display(),
        fake.endpoint()
    );
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let settings = config::load(&path).unwrap();
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let services = Services::with_store(&settings, store.clone(), clock);
    GcpHarness {
        settings,
        services,
        store,
        db,
    }
}

impl GcpHarness {
    pub async fn source(&self) -> GcpLoggingSource {
        let settings = &self.settings.sources[0];
        let SourceKind::GcpLogging(g) = &settings.kind else {
            panic!("not a gcp_logging source")
        };
        GcpLoggingSource::build(self.services.source_context(&settings.name), g)
            .await
            .unwrap()
    }

    /// A driver over a fresh source, and the source's counters.
    pub async fn driver(&self, mode: PollMode) -> (SourceDriver<GcpLoggingSource>, Arc<PollStats>) {
        let source = self.source().await;
        let stats = source.stats();
        let settings = &self.settings.sources[0];
        let driver = ingest::open_configured(&self.services, settings, source, mode).await;
        (driver, stats)
    }

    /// Every alert in the outbox (nothing delivers them in these tests).
    pub async fn alerts(&self) -> Vec<Alert> {
        self.store
            .pending("out", 1_000_000)
            .await
            .unwrap()
            .ready
            .into_iter()
            .map(|p| p.alert)
            .collect()
    }

    pub async fn live_cursor(&self) -> Option<GcpCursor> {
        self.store
            .load_cursor("live/gke")
            .await
            .unwrap()
            .map(|c| c.decode().unwrap())
    }
}

/// A GKE Admin Activity entry for a Service write, as Cloud Logging serves it.
pub struct ServiceWrite<'a> {
    pub project: &'a str,
    pub cluster: &'a str,
    pub location: &'a str,
    pub time: DateTime<Utc>,
    pub insert_id: String,
    pub verb: &'a str,
    pub service_type: &'a str,
    pub name: String,
}

impl ServiceWrite<'_> {
    pub fn entry(&self) -> Value {
        let method = format!("io.k8s.core.v1.services.{}", self.verb);
        let resource = format!("core/v1/namespaces/default/services/{}", self.name);
        json!({
            "insertId": self.insert_id,
            "labels": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""},
            "logName": format!("projects/{}/logs/cloudaudit.googleapis.com%2Factivity", self.project),
            "operation": {"first": true, "id": self.insert_id, "last": true, "producer": "k8s.io"},
            "protoPayload": {
                "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                "authenticationInfo": {"principalEmail": "dev@example.com"},
                "authorizationInfo": [{"granted": true, "permission": method, "resource": resource}],
                "methodName": method,
                "request": {"@type": "core.k8s.io/v1.Service", "apiVersion": "v1", "kind": "Service",
                            "metadata": {"name": self.name, "namespace": "default"},
                            "spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
                                     "type": self.service_type}},
                "requestMetadata": {"callerIp": "203.0.113.7", "callerSuppliedUserAgent": "kubectl/v1.30.0"},
                "resourceName": resource,
                "response": {"@type": "core.k8s.io/v1.Service", "apiVersion": "v1", "kind": "Service",
                             "metadata": {"name": self.name, "namespace": "default"},
                             "spec": {"clusterIP": "10.0.0.10",
                                      "ports": [{"nodePort": 31080, "port": 80, "protocol": "TCP", "targetPort": 8080}],
                                      "type": self.service_type}},
                "serviceName": "k8s.io",
                "status": {}
            },
            "receiveTimestamp": rfc3339(self.time + ChronoDuration::seconds(17)),
            "resource": {"labels": {"cluster_name": self.cluster, "location": self.location,
                                    "project_id": self.project},
                         "type": "k8s_cluster"},
            "severity": "NOTICE",
            "timestamp": rfc3339(self.time)
        })
    }
}

/// A NodePort create in `project`/`cluster` at `time`, with a unique id and Service name.
pub fn nodeport_create(project: &str, cluster: &str, time: DateTime<Utc>, n: usize) -> Value {
    ServiceWrite {
        project,
        cluster,
        location: "europe-west1",
        time,
        insert_id: format!("{project}-{cluster}-{n:07}"),
        verb: "create",
        service_type: "NodePort",
        name: format!("svc-{n}"),
    }
    .entry()
}

/// A corpus entry rewritten as the API would serve it: exports and vendor fixtures rename
/// `@type`, `callerIp` and reformat timestamps; Cloud Logging always writes RFC 3339, an
/// `insertId`, a `logName` and a `timestamp`.
pub fn as_served(mut entry: Value, fallback_id: &str, fallback_time: &str) -> Value {
    fn rename(v: &mut Value, from: &str, to: &str) {
        if let Some(map) = v.as_object_mut()
            && let Some(x) = map.remove(from)
        {
            map.insert(to.to_owned(), x);
        }
    }
    rename(&mut entry["protoPayload"], "at_sign_type", "@type");
    if entry["protoPayload"].get("@type").is_none() {
        entry["protoPayload"]["@type"] = json!("type.googleapis.com/google.cloud.audit.AuditLog");
    }
    rename(
        &mut entry["protoPayload"]["requestMetadata"],
        "callerIP",
        "callerIp",
    );
    for key in ["timestamp", "receiveTimestamp"] {
        if let Some(text) = entry.get(key).and_then(Value::as_str) {
            let t = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                .map(|n| n.and_utc())
                .unwrap_or_else(|_| at(text));
            entry[key] = json!(rfc3339(t));
        }
    }
    if entry.get("timestamp").is_none() {
        entry["timestamp"] = json!(fallback_time);
    }
    if entry.get("insertId").is_none() {
        entry["insertId"] = json!(fallback_id);
    }
    if entry.get("logName").is_none() {
        let project = entry["resource"]["labels"]["project_id"]
            .as_str()
            .unwrap_or("unknown-project")
            .to_owned();
        entry["logName"] = json!(format!(
            "projects/{project}/logs/cloudaudit.googleapis.com%2Factivity"
        ));
    }
    entry
}

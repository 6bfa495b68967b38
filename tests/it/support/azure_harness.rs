//! What the Azure source tests share: a config on disk, a state file, a manual clock, drivers
//! stepped by hand, a static token, and audit Events to seed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use chrono::{DateTime, TimeZone, Utc};
use nodeport_watch::clock::ManualClock;
use nodeport_watch::config::{self, Settings, SourceKind};
use nodeport_watch::ingest::Services;
use nodeport_watch::ingest::SourceDriver;
use nodeport_watch::model::Alert;
use nodeport_watch::sources::{PollMode, Source};
use nodeport_watch::state::{DeliveryState, SqliteStore, StateStore};
use serde_json::{Value, json};

use super::ingest;
use super::shapes::ServiceEvent;

/// A token credential that always returns the fake's token.
#[derive(Debug)]
pub struct StaticToken(pub &'static str);

#[async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        _: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            self.0,
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ))
    }
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
}

/// A config file with one source table and a stdout sink, loaded as the daemon would.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub settings: Settings,
    pub clock: ManualClock,
}

impl Harness {
    pub fn new(source_toml: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            format!(
                "[state]\npath = \"state.db\"\n\n{source_toml}\n\n[[sinks]]\ntype = \"stdout\"\nname = \"out\"\n"
            ),
        )
        .unwrap();
        let settings = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        Harness {
            dir,
            settings,
            clock: ManualClock::new(start_time()),
        }
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    pub fn kind(&self) -> &SourceKind {
        &self.settings.sources[0].kind
    }

    /// Services over the state file, as a freshly started process has them.
    pub fn services(&self) -> Services {
        let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(&self.state_path()).unwrap());
        Services::with_store(&self.settings, store, Arc::new(self.clock.clone()))
    }

    pub async fn driver<S: Source>(
        &self,
        services: &Services,
        source: S,
        mode: PollMode,
    ) -> SourceDriver<S> {
        ingest::open_configured(services, &self.settings.sources[0], source, mode).await
    }
}

/// Every alert in the outbox for the stdout sink.
pub async fn alerts(services: &Services) -> Vec<Alert> {
    services
        .store
        .deliveries(&[DeliveryState::Pending], Some("out"), 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.alert)
        .collect()
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// A Kubernetes audit Event of a Service write.
pub fn service_event(audit_id: &str, stage: &str, verb: &str, name: &str, kind: &str) -> Value {
    ServiceEvent::new(audit_id, name)
        .stage(stage)
        .verb(verb)
        .service_type(kind)
        .build()
}

/// A lease update: an audit Event no Service rule cares about.
pub fn lease_event(audit_id: &str) -> Value {
    json!({
        "kind": "Event", "auditID": audit_id, "stage": "ResponseComplete", "verb": "update",
        "objectRef": {"resource": "leases", "namespace": "kube-system", "name": "kube-scheduler"},
        "user": {"username": "system:kube-scheduler"}, "responseStatus": {"code": 200}
    })
}

pub const SUBSCRIPTION: &str = "0b1f6471-1bf0-4dda-aec3-111122223333";

pub fn cluster_id(name: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-{name}/providers/Microsoft.ContainerService/managedClusters/{name}"
    )
}

/// The Event's JSON in the API server's field order (`verb` and `objectRef` before the bodies),
/// which is what survives when Azure trims `log_s`.
pub fn go_order(event: &Value) -> String {
    const ORDER: [&str; 17] = [
        "kind",
        "apiVersion",
        "level",
        "auditID",
        "stage",
        "requestURI",
        "verb",
        "user",
        "sourceIPs",
        "userAgent",
        "objectRef",
        "responseStatus",
        "requestObject",
        "responseObject",
        "requestReceivedTimestamp",
        "stageTimestamp",
        "annotations",
    ];
    let fields: Vec<String> = ORDER
        .iter()
        .filter_map(|k| {
            event
                .get(*k)
                .map(|v| format!("{}:{v}", Value::String((*k).into())))
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

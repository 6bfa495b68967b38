//! CloudWatch Logs test fixtures: an SDK client for seeding an emulator, EKS audit events, and a
//! harness that runs the real `aws_cloudwatch` source through the driver and a SQLite store.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use aws_sdk_cloudwatchlogs::config::{Credentials, Region, SharedCredentialsProvider};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use chrono::{DateTime, Utc};
use nodeport_watch::clock::ManualClock;
use nodeport_watch::config::{RawConfig, Settings, SourceKind};
use nodeport_watch::ingest::Services;
use nodeport_watch::ingest::{SourceDriver, StepReport};
use nodeport_watch::model::Alert;
use nodeport_watch::sources::PollMode;
use nodeport_watch::sources::aws_cloudwatch::AwsCloudWatchSource;
use nodeport_watch::state::{DeliveryState, OutboxAdmin, SqliteStore, StateStore};
use serde_json::json;

use super::ingest;
use super::shapes::ServiceEvent;

pub fn static_credentials() -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new("test", "test", None, None, "tests"))
}

/// A client for seeding log groups, streams and events.
pub fn seeding_client(endpoint: &str) -> aws_sdk_cloudwatchlogs::Client {
    let config = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(static_credentials())
        .build();
    aws_sdk_cloudwatchlogs::Client::from_conf(config)
}

pub async fn create_stream(client: &aws_sdk_cloudwatchlogs::Client, group: &str, stream: &str) {
    // The group may exist already.
    let _ = client.create_log_group().log_group_name(group).send().await;
    client
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await
        .expect("create log stream");
}

/// Stands for the event's own time in the audit event builders; [`put`] fills it in, so the
/// audit event's timestamps agree with its CloudWatch timestamp as they do in EKS.
pub const TIME: &str = "@TIME@";

/// Puts events (timestamp ms, message) into a stream, in PutLogEvents-sized chunks.
pub async fn put(
    client: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    events: &[(i64, String)],
) {
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|(ts, _)| *ts);
    let mut chunk: Vec<InputLogEvent> = Vec::new();
    let mut bytes = 0;
    for (ts, message) in sorted {
        let message = message.replace(
            TIME,
            &at(ts).to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        );
        if chunk.len() == 5_000 || bytes + message.len() + 26 > 900_000 {
            send(client, group, stream, std::mem::take(&mut chunk)).await;
            bytes = 0;
        }
        bytes += message.len() + 26;
        chunk.push(
            InputLogEvent::builder()
                .timestamp(ts)
                .message(message)
                .build()
                .expect("a log event"),
        );
    }
    if !chunk.is_empty() {
        send(client, group, stream, chunk).await;
    }
}

async fn send(
    client: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    events: Vec<InputLogEvent>,
) {
    let out = client
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .expect("put log events");
    assert!(out.rejected_log_events_info().is_none(), "{out:?}");
}

/// Milliseconds since the epoch of real time: moto rejects events older than 14 days.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).expect("a valid time")
}

/// A Service write as EKS logs it (RequestResponse level, ResponseComplete stage).
pub fn service_write(audit_id: &str, verb: &str, service_type: &str, code: u16) -> String {
    ServiceEvent::new(audit_id, &format!("svc-{audit_id}"))
        .verb(verb)
        .service_type(service_type)
        .code(code)
        .node_port((service_type == "NodePort").then_some(30080))
        .without_selector()
        .collection_uri()
        .without_namespace_in_response()
        .user(
            "kubernetes-admin",
            &["system:masters", "system:authenticated"],
        )
        .user_agent("kubectl/v1.29.0")
        .authorization_reason("")
        .at_text(TIME)
        .build()
        .to_string()
}

pub fn nodeport(audit_id: &str) -> String {
    service_write(audit_id, "create", "NodePort", 201)
}

/// A read that makes up most of an audit log.
pub fn noise(audit_id: &str, verb: &str, resource: &str) -> String {
    json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Request",
        "auditID": audit_id,
        "stage": "ResponseComplete",
        "requestURI": format!("/api/v1/namespaces/kube-system/{resource}"),
        "verb": verb,
        "user": {"username": "system:serviceaccount:kube-system:coredns", "groups": ["system:serviceaccounts"]},
        "sourceIPs": ["10.0.12.34"],
        "userAgent": "coredns/v1.11.1",
        "objectRef": {"resource": resource, "namespace": "kube-system", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": TIME,
        "stageTimestamp": TIME,
        "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC"}
    })
    .to_string()
}

/// The `aws_cloudwatch` source table of a test: `extra` adds or overrides keys.
pub fn source_toml(endpoint: &str, extra: &str) -> String {
    format!(
        "type = \"aws_cloudwatch\"\nname = \"eks\"\nregion = \"us-east-1\"\nendpoint = \"{endpoint}\"\n\
         lag = \"0s\"\noverlap = \"2m\"\nrequests_per_second = 1000\n{extra}\n"
    )
}

/// Runs one `aws_cloudwatch` source the way the daemon does, with a clock the test moves.
pub struct Harness {
    pub settings: Settings,
    pub services: Services,
    pub clock: ManualClock,
    pub store: Arc<SqliteStore>,
}

impl Harness {
    /// `source` is the body of the `[[sources]]` table; the state lives in `state` (a file, so a
    /// second harness on it is a restart).
    pub fn new(source: &str, state: &Path, clock: ManualClock) -> Harness {
        let text = format!("[[sinks]]\ntype = \"stdout\"\nname = \"out\"\n\n[[sources]]\n{source}");
        let raw: RawConfig = config::Config::builder()
            .add_source(config::File::from_str(&text, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .expect("a valid test configuration");
        let settings = Settings::from_raw(raw, Path::new(".")).expect("valid test settings");
        let store = Arc::new(SqliteStore::open(state).expect("open the state"));
        let services = Services::with_store(
            &settings,
            Arc::clone(&store) as Arc<dyn StateStore>,
            Arc::new(clock.clone()),
        );
        Harness {
            settings,
            services,
            clock,
            store,
        }
    }

    pub async fn source(&self) -> AwsCloudWatchSource {
        let source = &self.settings.sources[0];
        let SourceKind::AwsCloudWatch(s) = &source.kind else {
            panic!("not an aws_cloudwatch source");
        };
        AwsCloudWatchSource::new(
            self.services.source_context(&source.name),
            (**s).clone(),
            Some(static_credentials()),
        )
        .await
    }

    pub async fn driver(&self, mode: PollMode) -> SourceDriver<AwsCloudWatchSource> {
        self.driver_with(self.source().await, mode).await
    }

    pub async fn driver_with(
        &self,
        source: AwsCloudWatchSource,
        mode: PollMode,
    ) -> SourceDriver<AwsCloudWatchSource> {
        ingest::open_configured(&self.services, &self.settings.sources[0], source, mode).await
    }

    /// Every `nodeport` alert in the outbox, by audit ID (each must appear once).
    pub async fn alerts(&self) -> BTreeMap<String, Alert> {
        let mut by_audit_id = BTreeMap::new();
        for alert in self.every_alert().await {
            if alert.rule.as_str() != "nodeport" {
                continue;
            }
            let id = alert.audit_id.clone().expect("alerts carry the audit ID");
            let previous = by_audit_id.insert(id.clone(), alert);
            assert!(previous.is_none(), "audit event {id} alerted twice");
        }
        by_audit_id
    }

    /// Every alert in the outbox as `(audit ID, rule)`, each asserted to appear once.
    pub async fn alert_keys(&self) -> Vec<(String, String)> {
        let mut keys: Vec<(String, String)> = self
            .every_alert()
            .await
            .into_iter()
            .map(|a| (a.audit_id.unwrap_or_default(), a.rule.as_str().to_owned()))
            .collect();
        keys.sort();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len(), "an event alerted twice for one rule");
        keys
    }

    async fn every_alert(&self) -> Vec<Alert> {
        self.store
            .deliveries(&[DeliveryState::Pending], Some("out"), 1_000_000)
            .await
            .expect("read the outbox")
            .into_iter()
            .map(|r| r.alert)
            .collect()
    }
}

/// What a run of steps did, summed.
#[derive(Debug, Default)]
pub struct Totals {
    pub steps: usize,
    pub records: u64,
    pub already_seen: usize,
    pub inserted: usize,
    pub duplicates: usize,
}

impl Totals {
    pub fn add(&mut self, r: &StepReport) {
        self.steps += 1;
        self.records += r.stats.records;
        self.already_seen += r.already_seen;
        self.inserted += r.inserted;
        self.duplicates += r.duplicates;
    }
}

/// Steps until the source has nothing more for now (or a scan is done); panics on an error or
/// after `max_steps`.
pub async fn drain(driver: &mut SourceDriver<AwsCloudWatchSource>, max_steps: usize) -> Totals {
    let mut totals = Totals::default();
    for report in ingest::drain(driver, max_steps).await {
        totals.add(&report);
    }
    totals
}

//! Helpers of the `azure_monitor` tests: a configured source pointed at the fake, and the rows
//! Azure Monitor stores for an audit Event in each table style.

use std::sync::Arc;

use azure_core::http::RetryOptions;
use chrono::{DateTime, Duration as Span, Utc};
use nodeport_watch::config::SourceKind;
use nodeport_watch::config::sources::AzureMonitorSettings;
use nodeport_watch::sources::SourceContext;
use nodeport_watch::sources::azure_monitor::AzureMonitorSource;
use nodeport_watch::sources::rate_limit::{Budget, Limiter, RateLimits};
use serde_json::{Map, Value, json};

use super::azure_harness::{Harness, StaticToken, cluster_id};
use super::fake_log_analytics::{FakeLogAnalytics, FakeRow, TOKEN};

pub const WS: &str = "6b2f1d3e-0000-4c1a-9a3b-1f2e3d4c5b6a";
pub const WS2: &str = "7c3a2e4f-1111-4d2b-8b4c-2a3b4c5d6e7f";

pub fn harness(fake: &FakeLogAnalytics, extra: &str) -> Harness {
    harness_with(fake, &format!("workspace_id = \"{WS}\""), extra)
}

pub fn harness_with(fake: &FakeLogAnalytics, workspaces: &str, extra: &str) -> Harness {
    Harness::new(&format!(
        "[[sources]]\ntype = \"azure_monitor\"\nname = \"aks\"\n{workspaces}\n\
         endpoint = \"{}\"\ncredential = \"none\"\nlag = \"2m\"\noverlap = \"5m\"\n\
         max_span = \"1h\"\nlookback = \"1h\"\n{extra}",
        fake.url
    ))
}

pub fn settings(h: &Harness) -> AzureMonitorSettings {
    match h.kind() {
        SourceKind::AzureMonitor(s) => s.clone(),
        other => panic!("{other:?}"),
    }
}

/// The SDK retry policy production uses (none: the driver retries).
pub fn sdk_retry() -> RetryOptions {
    nodeport_watch::sources::azure::sdk_retry()
}

/// A limiter generous enough never to delay a test.
pub fn limiter() -> Arc<Limiter> {
    Arc::new(Limiter::new(Budget::per_second(
        std::num::NonZeroU32::new(1000).unwrap(),
    )))
}

pub fn source(h: &Harness, token: bool, retry: RetryOptions) -> AzureMonitorSource {
    source_with(h, token, retry, limiter())
}

pub fn source_with(
    h: &Harness,
    token: bool,
    retry: RetryOptions,
    limiter: Arc<Limiter>,
) -> AzureMonitorSource {
    let ctx = SourceContext::new("aks", Arc::new(h.clock.clone()), RateLimits::default());
    AzureMonitorSource::new(
        ctx,
        settings(h),
        token.then(|| Arc::new(StaticToken(TOKEN)) as _),
        limiter,
        retry,
    )
}

/// An `AKSAudit`/`AKSAuditAdmin` row made from an audit Event, as Azure Monitor stores it.
pub fn aks_row(
    table: &str,
    event: &Value,
    cluster: &str,
    generated: DateTime<Utc>,
    ingested: DateTime<Utc>,
) -> FakeRow {
    let mut c = Map::new();
    for (column, field) in [
        ("AuditId", "auditID"),
        ("Stage", "stage"),
        ("Verb", "verb"),
        ("RequestUri", "requestURI"),
        ("User", "user"),
        ("SourceIps", "sourceIPs"),
        ("UserAgent", "userAgent"),
        ("ObjectRef", "objectRef"),
        ("ResponseStatus", "responseStatus"),
        ("RequestObject", "requestObject"),
        ("ResponseObject", "responseObject"),
        ("Annotations", "annotations"),
        ("Level", "level"),
        ("StageReceivedTime", "stageTimestamp"),
        ("RequestReceivedTime", "requestReceivedTimestamp"),
    ] {
        if let Some(v) = event.get(field) {
            c.insert(column.into(), v.clone());
        }
    }
    c.insert("_ResourceId".into(), json!(cluster_id(cluster)));
    c.insert("Type".into(), json!(table));
    c.insert("SourceSystem".into(), json!("Azure"));
    FakeRow {
        workspace: WS.into(),
        table: table.into(),
        ingested,
        time_generated: generated,
        columns: c,
    }
}

/// An `AzureDiagnostics` row: the Event as text in `log_s` (possibly trimmed).
pub fn diagnostics_row(
    log: String,
    cluster: &str,
    generated: DateTime<Utc>,
    ingested: DateTime<Utc>,
) -> FakeRow {
    let mut c = Map::new();
    c.insert("Category".into(), json!("kube-audit-admin"));
    c.insert(
        "_ResourceId".into(),
        json!(cluster_id(cluster).to_uppercase()),
    );
    c.insert("log_s".into(), json!(log));
    FakeRow {
        workspace: WS.into(),
        table: "AzureDiagnostics".into(),
        ingested,
        time_generated: generated,
        columns: c,
    }
}

pub fn minutes(n: i64) -> Span {
    Span::minutes(n)
}

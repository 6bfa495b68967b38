//! The Prometheus exporter behind `/metrics`.
//!
//! The `metrics` facade has one global recorder per process; [`install`] sets ours once and
//! hands out the same handle afterwards (tests and scans may ask again). Gauges that describe
//! the present (lag, last success, outbox contents) are refreshed from the health registry and
//! the state store right before each render.

use std::sync::{Arc, Mutex, OnceLock};

use metrics::{describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use thiserror::Error;
use tracing::warn;

use super::Health;
use super::metrics::{self as m, CATALOG, MetricType};
use super::store_metrics::StoreReadings;
use crate::state::StateStore;

#[derive(Debug, Error)]
pub enum ExporterError {
    #[error("cannot install the Prometheus recorder: {0}")]
    Install(String),
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder (once per process) and describes every metric.
pub fn install() -> Result<PrometheusHandle, ExporterError> {
    // Two callers at once (parallel tests) must not both try to install a recorder.
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _installing = INSTALLING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(m::DELIVERY_LATENCY.to_owned()),
            m::DELIVERY_LATENCY_BUCKETS,
        )
        .map_err(|e| ExporterError::Install(e.to_string()))?
        .install_recorder()
        .map_err(|e| ExporterError::Install(e.to_string()))?;
    for (name, kind, help) in CATALOG {
        match kind {
            MetricType::Counter => describe_counter!(*name, *help),
            MetricType::Gauge => describe_gauge!(*name, *help),
            MetricType::Histogram => describe_histogram!(*name, *help),
        }
    }
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// Renders the Prometheus text after refreshing the present-state gauges. The totals read from
/// the store are appended only when `fleet` says this process exports them: replicas share one
/// outbox, and one of them (the holder of the `fleet/metrics` lease) exports its totals, so a
/// sum over replicas counts each alert once (see [`super::store_metrics`]).
pub async fn render(
    handle: &PrometheusHandle,
    health: &Health,
    store: &Arc<dyn StateStore>,
    fleet: bool,
) -> String {
    let now = health.now();
    for (source, h) in health.snapshot() {
        m::record_source_health(&source, &h, now);
    }
    handle.run_upkeep();
    let mut text = handle.render();
    if fleet {
        read_store(store).await.render_into(&mut text, now);
    }
    text
}

/// The outbox and exposure totals. A store that cannot answer must not break the scrape: the
/// other metrics still matter, and the missing families say it until the store answers.
async fn read_store(store: &Arc<dyn StateStore>) -> StoreReadings {
    let alerts = match store.alert_counts().await {
        Ok(counts) => counts
            .into_iter()
            .map(|a| (a.rule, a.source, a.count))
            .collect(),
        Err(e) => {
            warn!(error = %e, "cannot count outbox alerts for /metrics");
            Vec::new()
        }
    };
    let deliveries = match store.delivery_counts().await {
        Ok(counts) => counts
            .into_iter()
            .map(|(sink, state, n)| (sink, state.as_str(), n))
            .collect(),
        Err(e) => {
            warn!(error = %e, "cannot count outbox deliveries for /metrics");
            Vec::new()
        }
    };
    let exposures = match store.open_counts().await {
        Ok(groups) => groups
            .into_iter()
            .map(|g| (g.cluster, g.rule, g.count, g.oldest_opened_ms))
            .collect(),
        Err(e) => {
            warn!(error = %e, "cannot count open exposures for /metrics");
            Vec::new()
        }
    };
    StoreReadings {
        alerts,
        deliveries,
        exposures,
    }
}

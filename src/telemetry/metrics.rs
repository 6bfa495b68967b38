//! Metric names and recording helpers, in one place so names cannot drift apart.
//!
//! A leaf apart from `model`: sources record their API calls here, so it must import nothing
//! from the layers above them.
//!
//! Recording goes through the `metrics` facade: without an installed exporter it costs nothing,
//! and `[server]` installs the Prometheus one ([`super::exporter`]). Per-source gauges (lag,
//! last success) are computed when `/metrics` is scraped, from the health registry, and the
//! outbox and exposure totals are read from the state store then ([`super::store_metrics`]), so
//! they are never stale.

use chrono::{DateTime, Utc};

use metrics::{counter, gauge, histogram};

use crate::model::BatchStats;

pub const RECORDS: &str = "nodeport_watch_records_total";
pub const SKIPPED: &str = "nodeport_watch_records_skipped_total";
pub const DEGRADED: &str = "nodeport_watch_events_degraded_total";
pub const ALERTS: &str = "nodeport_watch_alerts_total";
pub const SUPPRESSED: &str = "nodeport_watch_alerts_suppressed_total";
pub const OUTBOX_DUPLICATES: &str = "nodeport_watch_alert_duplicates_total";
pub const ALREADY_SEEN: &str = "nodeport_watch_records_already_seen_total";
pub const THROTTLES: &str = "nodeport_watch_throttles_total";
pub const API_CALLS: &str = "nodeport_watch_api_calls_total";
pub const CHECKPOINT_LAG: &str = "nodeport_watch_checkpoint_lag_seconds";
pub const LAST_SUCCESS: &str = "nodeport_watch_last_success_timestamp_seconds";
pub const DELIVERIES: &str = "nodeport_watch_deliveries_total";
pub const DELIVERY_RETRIES: &str = "nodeport_watch_delivery_retries_total";
pub const DEAD_LETTERS: &str = "nodeport_watch_dead_letters_total";
pub const SOURCE_FAILURES: &str = "nodeport_watch_source_consecutive_failures";
pub const OUTBOX_ALERTS: &str = "nodeport_watch_outbox_alerts_total";
pub const OUTBOX_DELIVERIES: &str = "nodeport_watch_outbox_deliveries";
pub const SCAN_RUNS: &str = "nodeport_watch_scan_runs_total";
pub const AUDIT_ID_REUSE: &str = "nodeport_watch_audit_id_reuse_total";
pub const EXCEPTION_MATCHES: &str = "nodeport_watch_exception_matches_total";
pub const UNRECORDED_DELIVERIES: &str = "nodeport_watch_deliveries_unrecorded";
pub const OPEN_EXPOSURES: &str = "nodeport_watch_exposures_open";
pub const OLDEST_OPEN_EXPOSURE: &str = "nodeport_watch_exposure_oldest_open_age_seconds";
pub const TASK_RESTARTS: &str = "nodeport_watch_task_restarts_total";
pub const COMMITS_REFUSED: &str = "nodeport_watch_commits_refused_total";
pub const DETECTIONS: &str = "nodeport_watch_detections_total";
pub const DELIVERY_LATENCY: &str = "nodeport_watch_delivery_latency_seconds";
pub const CLOCK_SKEW: &str = "nodeport_watch_clock_skew_seconds";

/// Every metric with its type and help text, for the exporter's `# HELP` lines and the README.
pub const CATALOG: &[(&str, MetricType, &str)] = &[
    (
        DETECTIONS,
        MetricType::Counter,
        "Exposing writes detected (before the outbox drops an alert it already holds), by rule and cluster.",
    ),
    (
        DELIVERY_LATENCY,
        MetricType::Histogram,
        "Seconds from detection to the sink accepting the alert, by sink.",
    ),
    (
        COMMITS_REFUSED,
        MetricType::Counter,
        "Commits refused because another replica took the source's lease, by source.",
    ),
    (
        RECORDS,
        MetricType::Counter,
        "Audit records fetched, by source.",
    ),
    (
        API_CALLS,
        MetricType::Counter,
        "Requests to provider log APIs, by source and API.",
    ),
    (
        THROTTLES,
        MetricType::Counter,
        "Provider API calls answered with a throttling error, by source.",
    ),
    (
        SKIPPED,
        MetricType::Counter,
        "Records that could not be read, by source and reason.",
    ),
    (
        DEGRADED,
        MetricType::Counter,
        "Audit events read only in part, by source.",
    ),
    (
        ALREADY_SEEN,
        MetricType::Counter,
        "Records dropped because an overlapping poll window already read them, by source.",
    ),
    (
        ALERTS,
        MetricType::Counter,
        "Alerts new to the outbox since this process started, by source.",
    ),
    (
        OUTBOX_ALERTS,
        MetricType::Counter,
        "Alerts ever written to the outbox (counted from the state database, so kept across restarts), by rule and source.",
    ),
    (
        SUPPRESSED,
        MetricType::Counter,
        "Detections silenced by an exception, by source.",
    ),
    (
        OUTBOX_DUPLICATES,
        MetricType::Counter,
        "Alerts whose id was already in the outbox (other stages, re-reads, scans), by source.",
    ),
    (
        DELIVERIES,
        MetricType::Counter,
        "Alerts that left a sink's queue, by sink and outcome (delivered, dead).",
    ),
    (
        DELIVERY_RETRIES,
        MetricType::Counter,
        "Failed delivery attempts that will be retried, by sink.",
    ),
    (
        DEAD_LETTERS,
        MetricType::Counter,
        "Alerts dead-lettered (rejected by the receiver or out of attempts), by sink.",
    ),
    (
        UNRECORDED_DELIVERIES,
        MetricType::Gauge,
        "Alerts a sink confirmed that the state store could not yet mark delivered (held in memory and retried), by sink.",
    ),
    (
        OUTBOX_DELIVERIES,
        MetricType::Gauge,
        "Deliveries in the outbox, by sink and state (pending, delivered, dead).",
    ),
    (
        CHECKPOINT_LAG,
        MetricType::Gauge,
        "Seconds between now and how far the source has read (sources with a time axis), by source.",
    ),
    (
        LAST_SUCCESS,
        MetricType::Gauge,
        "Unix time of the source's last successful poll, by source.",
    ),
    (
        SOURCE_FAILURES,
        MetricType::Gauge,
        "Failed polls in a row, by source.",
    ),
    (
        CLOCK_SKEW,
        MetricType::Gauge,
        "Seconds the local clock is behind the time a source had already read up to, beyond the tolerance (a clock jump); 0 when none, by source.",
    ),
    (
        SCAN_RUNS,
        MetricType::Counter,
        "Scheduled scan runs, by scan and outcome (finished, failed, skipped).",
    ),
    (
        AUDIT_ID_REUSE,
        MetricType::Counter,
        "Audit IDs found on two different requests within one batch (a client-chosen Audit-ID header reused), by source.",
    ),
    (
        EXCEPTION_MATCHES,
        MetricType::Counter,
        "Detections silenced, by source and exception (its index in detection.exceptions).",
    ),
    (
        OPEN_EXPOSURES,
        MetricType::Gauge,
        "Services exposed now, by cluster and rule (from the exposures table).",
    ),
    (
        OLDEST_OPEN_EXPOSURE,
        MetricType::Gauge,
        "Age of the oldest open exposure, by cluster and rule (0 when none is open).",
    ),
    (
        TASK_RESTARTS,
        MetricType::Counter,
        "Supervised tasks restarted after a panic, by task (deliverer, scan) and name.",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
}

/// Buckets of [`DELIVERY_LATENCY`]: from a webhook answering at once to a sink that was down
/// for an hour.
pub const DELIVERY_LATENCY_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0,
];

pub fn record_batch(source: &str, stats: &BatchStats) {
    let source = source.to_owned();
    counter!(RECORDS, "source" => source.clone()).increment(stats.records);
    for (reason, n) in &stats.skipped {
        counter!(SKIPPED, "source" => source.clone(), "reason" => reason.as_str()).increment(*n);
    }
    counter!(DEGRADED, "source" => source.clone()).increment(stats.degraded);
    counter!(SUPPRESSED, "source" => source).increment(stats.suppressed);
}

pub fn record_audit_id_reuse(source: &str) {
    counter!(AUDIT_ID_REUSE, "source" => source.to_owned()).increment(1);
}

/// `exception` is the exception's index in the configuration, never text from a record.
pub fn record_exception_match(source: &str, exception: usize) {
    counter!(EXCEPTION_MATCHES, "source" => source.to_owned(), "exception" => exception.to_string())
        .increment(1);
}

/// A record dropped before normalization (by a reader's framing or a transport check).
pub fn record_skip(source: &str, reason: &'static str) {
    counter!(SKIPPED, "source" => source.to_owned(), "reason" => reason).increment(1);
}

pub fn record_commit(source: &str, inserted: usize, duplicates: usize, already_seen: usize) {
    let source = source.to_owned();
    counter!(ALERTS, "source" => source.clone()).increment(inserted as u64);
    counter!(OUTBOX_DUPLICATES, "source" => source.clone()).increment(duplicates as u64);
    counter!(ALREADY_SEEN, "source" => source).increment(already_seen as u64);
}

pub fn record_throttle(source: &str) {
    counter!(THROTTLES, "source" => source.to_owned()).increment(1);
}

/// One request to a provider API (successful or not).
pub fn record_api_call(source: &str, api: &'static str) {
    counter!(API_CALLS, "source" => source.to_owned(), "api" => api).increment(1);
}

pub fn record_position(source: &str, position: DateTime<Utc>, now: DateTime<Utc>) {
    let lag = (now - position).num_milliseconds().max(0) as f64 / 1000.0;
    gauge!(CHECKPOINT_LAG, "source" => source.to_owned()).set(lag);
}

/// Alerts a batch produced, `(rule, cluster)` each; counted before the outbox's dedupe.
pub fn record_detections<'a>(alerts: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) {
    for (rule, cluster) in alerts {
        let cluster = cluster.unwrap_or("").to_owned();
        counter!(DETECTIONS, "rule" => rule.to_owned(), "cluster" => cluster).increment(1);
    }
}

/// A delivery the sink accepted `seconds` after the alert was detected.
pub fn record_delivery_latency(sink: &str, seconds: f64) {
    histogram!(DELIVERY_LATENCY, "sink" => sink.to_owned()).record(seconds.max(0.0));
}

pub fn record_delivery(sink: &str, outcome: &'static str) {
    counter!(DELIVERIES, "sink" => sink.to_owned(), "outcome" => outcome).increment(1);
}

pub fn record_delivery_retry(sink: &str) {
    counter!(DELIVERY_RETRIES, "sink" => sink.to_owned()).increment(1);
}

pub fn record_dead_letter(sink: &str) {
    counter!(DEAD_LETTERS, "sink" => sink.to_owned()).increment(1);
}

pub fn record_unrecorded_deliveries(sink: &str, held: usize) {
    gauge!(UNRECORDED_DELIVERIES, "sink" => sink.to_owned()).set(held as f64);
}

pub fn record_task_restart(task: &'static str, name: &str) {
    counter!(TASK_RESTARTS, "task" => task, "name" => name.to_owned()).increment(1);
}

pub fn record_scan_run(scan: &str, outcome: &'static str) {
    counter!(SCAN_RUNS, "scan" => scan.to_owned(), "outcome" => outcome).increment(1);
}

/// Per-source gauges, from the health registry at scrape time.
pub fn record_source_health(
    source: &str,
    health: &super::health::SourceHealth,
    now: DateTime<Utc>,
) {
    if let Some(position) = health.position {
        record_position(source, position, now);
    }
    if let Some(at) = health.last_success {
        gauge!(LAST_SUCCESS, "source" => source.to_owned())
            .set(at.timestamp_millis() as f64 / 1000.0);
    }
    gauge!(SOURCE_FAILURES, "source" => source.to_owned()).set(health.consecutive_failures);
    let skew = health.clock_skew.map_or(0.0, |s| s.as_secs_f64());
    gauge!(CLOCK_SKEW, "source" => source.to_owned()).set(skew);
}

/// Exposures, from the state store at scrape time: `(cluster, rule, open now, oldest opening
/// in ms)` for every cluster and rule that ever had one, so a gauge falls to 0 when the last
/// exposure of its group closes.
/// A commit refused because the source's lease moved on to another replica.
pub fn record_commit_refused(source: &str) {
    counter!(COMMITS_REFUSED, "source" => source.to_owned()).increment(1);
}

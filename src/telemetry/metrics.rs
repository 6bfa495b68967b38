//! Metric names and recording helpers, in one place so names cannot drift apart.
//!
//! Recording goes through the `metrics` facade: without an installed exporter it costs nothing,
//! and `[server]` installs the Prometheus one.

use chrono::{DateTime, Utc};
use metrics::{counter, gauge};

use crate::pipeline::BatchStats;

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

pub fn record_batch(source: &str, stats: &BatchStats) {
    let source = source.to_owned();
    counter!(RECORDS, "source" => source.clone()).increment(stats.records);
    for (reason, n) in &stats.skipped {
        counter!(SKIPPED, "source" => source.clone(), "reason" => reason.as_str()).increment(*n);
    }
    counter!(DEGRADED, "source" => source.clone()).increment(stats.degraded);
    counter!(SUPPRESSED, "source" => source).increment(stats.suppressed);
}

/// A record dropped before normalization (by a reader's framing or a transport check).
pub fn record_skip(source: &str, reason: &'static str) {
    counter!(SKIPPED, "source" => source.to_owned(), "reason" => reason).increment(1);
}

pub fn record_commit(source: &str, inserted: usize, duplicates: usize, already_seen: usize) {
    let source = source.to_owned();
    counter!(ALERTS, "source" => source.clone()).increment(inserted as u64);
    counter!(OUTBOX_DUPLICATES, "source" => source.clone()).increment(duplicates as u64);
    counter!(ALREADY_SEEN, "source" => source.clone()).increment(already_seen as u64);
    gauge!(LAST_SUCCESS, "source" => source).set(Utc::now().timestamp() as f64);
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

pub fn record_delivery(sink: &str, outcome: &'static str) {
    counter!(DELIVERIES, "sink" => sink.to_owned(), "outcome" => outcome).increment(1);
}

pub fn record_delivery_retry(sink: &str) {
    counter!(DELIVERY_RETRIES, "sink" => sink.to_owned()).increment(1);
}

pub fn record_dead_letter(sink: &str) {
    counter!(DEAD_LETTERS, "sink" => sink.to_owned()).increment(1);
}

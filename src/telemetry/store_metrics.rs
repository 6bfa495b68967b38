//! The series read from the shared state store at each scrape (outbox totals, open exposures),
//! written straight into that scrape's text rather than through the `metrics` registry.
//!
//! The registry keeps every series it has ever seen and a counter cannot go back down: a
//! replica that handed the `fleet/metrics` lease on would keep exporting its last totals, and a
//! `sum()` over replicas would count them twice. Written per scrape, they appear on the current
//! holder only and leave the others at once. The text format comes from the exporter crate's
//! own `formatting` functions, so the escaping is the registry's.

use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::formatting::{
    sanitize_label_value, write_help_line, write_metric_line, write_type_line,
};

use super::metrics::{
    CATALOG, OLDEST_OPEN_EXPOSURE, OPEN_EXPOSURES, OUTBOX_ALERTS, OUTBOX_DELIVERIES,
};

/// What the store said at this scrape; each list may be empty (a store that did not answer).
#[derive(Debug, Default)]
pub struct StoreReadings {
    /// `(rule, source, alerts ever written)`.
    pub alerts: Vec<(String, String, u64)>,
    /// `(sink, delivery state, alerts)`.
    pub deliveries: Vec<(String, &'static str, u64)>,
    /// `(cluster, rule, open exposures, when the oldest open one opened)`.
    pub exposures: Vec<(String, String, u64, Option<i64>)>,
}

impl StoreReadings {
    /// Appends the readings to `text` in the Prometheus exposition format.
    pub fn render_into(&self, text: &mut String, now: DateTime<Utc>) {
        family(
            text,
            OUTBOX_ALERTS,
            "counter",
            self.alerts.iter().map(|(rule, source, n)| {
                (labels(&[("rule", rule), ("source", source)]), *n as f64)
            }),
        );
        family(
            text,
            OUTBOX_DELIVERIES,
            "gauge",
            self.deliveries
                .iter()
                .map(|(sink, state, n)| (labels(&[("sink", sink), ("state", state)]), *n as f64)),
        );
        let by_group = |(cluster, rule, _, _): &(String, String, u64, Option<i64>)| {
            labels(&[("cluster", cluster), ("rule", rule)])
        };
        family(
            text,
            OPEN_EXPOSURES,
            "gauge",
            self.exposures.iter().map(|g| (by_group(g), g.2 as f64)),
        );
        family(
            text,
            OLDEST_OPEN_EXPOSURE,
            "gauge",
            self.exposures.iter().map(|g| {
                let age_ms =
                    g.3.map_or(0, |opened| (now.timestamp_millis() - opened).max(0));
                (by_group(g), age_ms as f64 / 1000.0)
            }),
        );
    }
}

/// One metric family: its help and type lines, then a line per series (nothing without series,
/// as the registry does).
fn family(
    text: &mut String,
    name: &str,
    kind: &str,
    series: impl Iterator<Item = (Vec<String>, f64)>,
) {
    let mut series = series.peekable();
    if series.peek().is_none() {
        return;
    }
    if let Some((_, _, help)) = CATALOG.iter().find(|(n, _, _)| *n == name) {
        write_help_line(text, name, help);
    }
    write_type_line(text, name, kind);
    for (labels, value) in series {
        write_metric_line::<&str, f64>(text, name, None, &labels, None, value, None);
    }
    text.push('\n');
}

/// `key="value"` pairs, the values escaped (rule, source, sink and cluster names come from the
/// configuration and from audit records).
fn labels(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .map(|(key, value)| format!("{key}=\"{}\"", sanitize_label_value(value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_render_as_prometheus_families_with_escaped_labels() {
        let readings = StoreReadings {
            alerts: vec![("NPW-001".into(), "eks".into(), 3)],
            deliveries: vec![("hook".into(), "pending", 2)],
            exposures: vec![("prod\"\n".into(), "NPW-001".into(), 1, Some(1_000))],
        };
        let mut text = String::new();
        let now = DateTime::from_timestamp_millis(61_000).unwrap_or_default();
        readings.render_into(&mut text, now);
        assert!(
            text.contains("# TYPE nodeport_watch_outbox_alerts_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "nodeport_watch_outbox_alerts_total{rule=\"NPW-001\",source=\"eks\"} 3\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("nodeport_watch_outbox_deliveries{sink=\"hook\",state=\"pending\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "nodeport_watch_exposure_oldest_open_age_seconds{cluster=\"prod\\\"\\n\",rule=\"NPW-001\"} 60\n"
            ),
            "a forged quote and line break stay inside the label: {text}"
        );
        assert!(
            text.contains("# HELP nodeport_watch_exposures_open "),
            "{text}"
        );
    }

    #[test]
    fn nothing_is_written_for_empty_readings() {
        let mut text = String::new();
        StoreReadings::default().render_into(&mut text, Utc::now());
        assert_eq!(text, "");
    }
}

//! The KQL the `azure_monitor` source sends: Service writes in one time window.
//!
//! Live windows select rows by **ingestion time** (`ingestion_time()`), because AKS rows reach
//! Log Analytics minutes after their `TimeGenerated`: a window over `TimeGenerated` that has
//! passed would never see them. A wider `TimeGenerated` bound (no row is ingested more than
//! `max_ingestion_delay` after its `TimeGenerated`, nor stamped more than a day ahead) lets the
//! service skip old partitions without losing a row. Scans select by `TimeGenerated` instead:
//! they ask what happened in a past range, whenever it was ingested.
//!
//! Everything user-provided (cluster IDs and names) is a KQL string literal built by
//! [`literal`]; table names come from a closed enum.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use super::config::{ClusterFilter, LogTable};

/// The column the queries add: the row's ingestion time (seen ids are keyed on it).
pub const INGESTION_COLUMN: &str = "IngestionTime";

/// How far ahead of its ingestion a `TimeGenerated` can be (Azure Monitor replaces anything
/// later by the receive time).
const MAX_FUTURE_SKEW: Duration = Duration::from_secs(24 * 3600);

/// The time axis a window is laid on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    Ingestion,
    TimeGenerated,
}

/// One window's query.
#[derive(Clone, Copy, Debug)]
pub struct WindowQuery<'a> {
    pub table: LogTable,
    pub clusters: &'a [ClusterFilter],
    pub axis: Axis,
    /// `[start_ms, end_ms)` on the axis.
    pub start_ms: i64,
    pub end_ms: i64,
    pub max_ingestion_delay: Duration,
    pub max_rows: u32,
}

/// A KQL string literal: backslashes and quotes escaped, control characters as `\uXXXX`.
pub fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn instant(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A KQL `datetime` literal.
pub fn datetime(ms: i64) -> String {
    format!("datetime({})", instant(ms))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl WindowQuery<'_> {
    /// The `TimeGenerated` range the window can hold, `[start, end)`.
    pub fn time_generated_bounds(&self) -> (i64, i64) {
        match self.axis {
            Axis::TimeGenerated => (self.start_ms, self.end_ms),
            Axis::Ingestion => (
                self.start_ms
                    .saturating_sub(millis(self.max_ingestion_delay)),
                self.end_ms.saturating_add(millis(MAX_FUTURE_SKEW)),
            ),
        }
    }

    /// The request's `timespan`: an ISO 8601 interval the service intersects with the query.
    pub fn timespan(&self) -> String {
        let (start, end) = self.time_generated_bounds();
        format!("{}/{}", instant(start), instant(end))
    }

    pub fn text(&self) -> String {
        let mut q = String::new();
        let table = self.table.as_str();
        q.push_str(table);
        if self.axis == Axis::Ingestion {
            let _ = write!(
                q,
                "\n| where ingestion_time() >= {} and ingestion_time() < {}",
                datetime(self.start_ms),
                datetime(self.end_ms)
            );
        }
        let (tg_start, tg_end) = self.time_generated_bounds();
        let _ = write!(
            q,
            "\n| where TimeGenerated >= {} and TimeGenerated < {}",
            datetime(tg_start),
            datetime(tg_end)
        );
        match self.table {
            LogTable::AzureDiagnostics => {
                q.push_str("\n| where Category in (\"kube-audit\", \"kube-audit-admin\")")
            }
            LogTable::AksAudit | LogTable::AksAuditAdmin => {}
        }
        if let Some(filter) = cluster_filter(self.clusters) {
            let _ = write!(q, "\n| where {filter}");
        }
        q.push_str(match self.table {
            LogTable::AksAudit | LogTable::AksAuditAdmin => SERVICE_WRITES_TYPED,
            LogTable::AzureDiagnostics => SERVICE_WRITES_LOG_S,
        });
        let _ = write!(q, "\n| extend {INGESTION_COLUMN} = ingestion_time()");
        if self.table == LogTable::AzureDiagnostics {
            let _ = write!(
                q,
                "\n| project TimeGenerated, {INGESTION_COLUMN}, Category, _ResourceId, AuditId, Stage, log_s"
            );
        }
        let _ = write!(q, "\n| take {}", self.max_rows);
        q
    }
}

/// Service writes in the resource-specific tables, and the deletes that end an exposure (of a
/// Service or a namespace; namespace writes that end nothing are dropped by detection).
/// `ObjectRef` is `dynamic`; going through `tostring` and `parse_json` reads it whether it
/// holds an object or a JSON-encoded string.
const SERVICE_WRITES_TYPED: &str = "\n| where Verb in (\"create\", \"update\", \"patch\", \"delete\")\
\n| where tostring(parse_json(tostring(ObjectRef)).resource) in (\"services\", \"namespaces\")";

/// Service writes in `AzureDiagnostics`, matched in the text of `log_s`: a `log_s` trimmed at
/// 32,766 bytes is not valid JSON, and `parse_json` would lose it, while `objectRef` and `verb`
/// come early in the Event and survive the cut. `AuditId` and `Stage` are read the same way
/// for deduplication.
const SERVICE_WRITES_LOG_S: &str = "\n| extend log_s = tostring(column_ifexists(\"log_s\", \"\"))\
\n| where log_s has_any (\"services\", \"namespaces\")\
\n| where log_s matches regex @'\"resource\"\\s*:\\s*\"(services|namespaces)\"'\
\n| where log_s matches regex @'\"verb\"\\s*:\\s*\"(create|update|patch|delete)\"'\
\n| extend AuditId = extract(@'\"auditID\"\\s*:\\s*\"([^\"]+)\"', 1, log_s), Stage = extract(@'\"stage\"\\s*:\\s*\"([^\"]+)\"', 1, log_s)";

/// `_ResourceId` matching any configured cluster (KQL `in~` and `endswith` ignore case, as
/// ARM does).
fn cluster_filter(clusters: &[ClusterFilter]) -> Option<String> {
    if clusters.is_empty() {
        return None;
    }
    let ids: Vec<String> = clusters
        .iter()
        .filter_map(|c| match c {
            ClusterFilter::ResourceId(id) => Some(literal(id)),
            ClusterFilter::Name(_) => None,
        })
        .collect();
    let mut terms = Vec::new();
    if !ids.is_empty() {
        terms.push(format!("_ResourceId in~ ({})", ids.join(", ")));
    }
    for c in clusters {
        if let ClusterFilter::Name(name) = c {
            terms.push(format!(
                "_ResourceId endswith {}",
                literal(&format!("/managedClusters/{name}"))
            ));
        }
    }
    Some(terms.join(" or "))
}

/// The query `validate --connect` runs: proves access to the workspace and that the table
/// exists there (it does not when the diagnostic setting writes to the other mode's table).
pub fn healthcheck(table: LogTable) -> String {
    format!("{} | take 1 | count", table.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z

    fn query(table: LogTable, axis: Axis, clusters: &[ClusterFilter]) -> String {
        WindowQuery {
            table,
            clusters,
            axis,
            start_ms: T0,
            end_ms: T0 + 300_000,
            max_ingestion_delay: Duration::from_secs(2 * 24 * 3600),
            max_rows: 1000,
        }
        .text()
    }

    #[test]
    fn resource_specific_table_by_ingestion_time() {
        assert_eq!(
            query(LogTable::AksAuditAdmin, Axis::Ingestion, &[]),
            "AKSAuditAdmin\n\
             | where ingestion_time() >= datetime(2024-01-01T00:00:00.000Z) and ingestion_time() < datetime(2024-01-01T00:05:00.000Z)\n\
             | where TimeGenerated >= datetime(2023-12-30T00:00:00.000Z) and TimeGenerated < datetime(2024-01-02T00:05:00.000Z)\n\
             | where Verb in (\"create\", \"update\", \"patch\", \"delete\")\n\
             | where tostring(parse_json(tostring(ObjectRef)).resource) in (\"services\", \"namespaces\")\n\
             | extend IngestionTime = ingestion_time()\n\
             | take 1000"
        );
        assert!(query(LogTable::AksAudit, Axis::Ingestion, &[]).starts_with("AKSAudit\n"));
    }

    #[test]
    fn azure_diagnostics_matches_the_log_text() {
        assert_eq!(
            query(LogTable::AzureDiagnostics, Axis::Ingestion, &[]),
            "AzureDiagnostics\n\
             | where ingestion_time() >= datetime(2024-01-01T00:00:00.000Z) and ingestion_time() < datetime(2024-01-01T00:05:00.000Z)\n\
             | where TimeGenerated >= datetime(2023-12-30T00:00:00.000Z) and TimeGenerated < datetime(2024-01-02T00:05:00.000Z)\n\
             | where Category in (\"kube-audit\", \"kube-audit-admin\")\n\
             | extend log_s = tostring(column_ifexists(\"log_s\", \"\"))\n\
             | where log_s has_any (\"services\", \"namespaces\")\n\
             | where log_s matches regex @'\"resource\"\\s*:\\s*\"(services|namespaces)\"'\n\
             | where log_s matches regex @'\"verb\"\\s*:\\s*\"(create|update|patch|delete)\"'\n\
             | extend AuditId = extract(@'\"auditID\"\\s*:\\s*\"([^\"]+)\"', 1, log_s), Stage = extract(@'\"stage\"\\s*:\\s*\"([^\"]+)\"', 1, log_s)\n\
             | extend IngestionTime = ingestion_time()\n\
             | project TimeGenerated, IngestionTime, Category, _ResourceId, AuditId, Stage, log_s\n\
             | take 1000"
        );
    }

    #[test]
    fn scans_select_by_time_generated_only() {
        let q = query(LogTable::AksAudit, Axis::TimeGenerated, &[]);
        assert!(!q.contains("ingestion_time() >="), "{q}");
        assert!(q.contains("| where TimeGenerated >= datetime(2024-01-01T00:00:00.000Z) and TimeGenerated < datetime(2024-01-01T00:05:00.000Z)"), "{q}");
    }

    #[test]
    fn clusters_are_escaped_literals() {
        let clusters = [
            ClusterFilter::ResourceId("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a".into()),
            ClusterFilter::Name("b".into()),
            ClusterFilter::Name("c\" or true or \"".into()),
        ];
        let q = query(LogTable::AksAuditAdmin, Axis::Ingestion, &clusters);
        assert!(q.contains(
            "| where _ResourceId in~ (\"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a\") \
             or _ResourceId endswith \"/managedClusters/b\" \
             or _ResourceId endswith \"/managedClusters/c\\\" or true or \\\"\""
        ), "{q}");
    }

    #[test]
    fn literal_escapes_everything_that_could_end_it() {
        assert_eq!(literal(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(literal("x\ny\u{1}"), "\"x\\ny\\u0001\"");
    }

    #[test]
    fn timespan_covers_the_time_generated_bound() {
        let q = WindowQuery {
            table: LogTable::AksAudit,
            clusters: &[],
            axis: Axis::Ingestion,
            start_ms: T0,
            end_ms: T0 + 1,
            max_ingestion_delay: Duration::from_secs(3600),
            max_rows: 1,
        };
        assert_eq!(
            q.timespan(),
            "2023-12-31T23:00:00.000Z/2024-01-02T00:00:00.001Z"
        );
        assert_eq!(
            healthcheck(LogTable::AksAuditAdmin),
            "AKSAuditAdmin | take 1 | count"
        );
    }
}

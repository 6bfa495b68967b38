//! How `detect` prints what it found: JSON lines as alerts come (for pipes and programs), an
//! aligned table (for a person at a terminal), or `--summary` counts by rule, cluster and
//! namespace.
//!
//! JSON stays the default whenever standard output is not a terminal, so `detect … | jq` and
//! every script written before tables existed read the same lines as before.

use std::collections::BTreeMap;

use serde::Serialize;

use super::output::Output;
use super::table::{OutputArg, Table};
use crate::model::Alert;

/// Where alerts go while `detect` reads.
pub enum Report {
    /// One JSON object per alert, written as soon as it is found.
    Lines,
    /// Alerts kept to be printed aligned at the end.
    Table(Vec<Alert>),
    /// Only counts, by rule, cluster and namespace.
    Summary(BTreeMap<SummaryKey, u64>),
}

/// One line of `--summary`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SummaryKey {
    pub rule: String,
    pub cluster: Option<String>,
    pub namespace: Option<String>,
}

impl Report {
    pub fn new(output: OutputArg, summary: bool) -> Self {
        match (summary, output) {
            (true, _) => Report::Summary(BTreeMap::new()),
            (false, OutputArg::Table) => Report::Table(Vec::new()),
            (false, OutputArg::Json) => Report::Lines,
        }
    }

    pub fn alert(&mut self, alert: &Alert, out: &mut Output) -> anyhow::Result<()> {
        match self {
            Report::Lines => out.json(alert),
            Report::Table(alerts) => {
                alerts.push(alert.clone());
                Ok(())
            }
            Report::Summary(counts) => {
                let key = SummaryKey {
                    rule: alert.rule.to_string(),
                    cluster: alert.cluster.clone(),
                    namespace: alert.namespace.clone(),
                };
                *counts.entry(key).or_default() += 1;
                Ok(())
            }
        }
    }

    /// Prints what was kept; `json` prints the summary as JSON lines.
    pub fn finish(self, json: bool, out: &mut Output) -> anyhow::Result<()> {
        match self {
            Report::Lines => Ok(()),
            Report::Table(alerts) => alert_table(&alerts).print(out),
            Report::Summary(counts) if json => {
                for (key, alerts) in counts {
                    out.json(&serde_json::json!({
                        "rule": key.rule,
                        "cluster": key.cluster,
                        "namespace": key.namespace,
                        "alerts": alerts,
                    }))?;
                }
                Ok(())
            }
            Report::Summary(counts) => {
                let mut table = Table::new(&["RULE", "CLUSTER", "NAMESPACE", "ALERTS"]);
                let total: u64 = counts.values().sum();
                for (key, alerts) in counts {
                    table.row([
                        key.rule,
                        key.cluster.unwrap_or_default(),
                        key.namespace.unwrap_or_default(),
                        alerts.to_string(),
                    ]);
                }
                table.print(out)?;
                out.line(format_args!("total: {total} alert(s)"))
            }
        }
    }
}

/// The columns a person needs to act: when, how bad, which Service, how it is exposed, who.
fn alert_table(alerts: &[Alert]) -> Table {
    let mut table = Table::new(&[
        "TIME",
        "SEVERITY",
        "RULE",
        "CLUSTER",
        "NAMESPACE",
        "SERVICE",
        "TYPE",
        "PORTS",
        "USER",
    ]);
    for a in alerts {
        let ports: Vec<String> = a
            .ports
            .iter()
            .filter_map(|p| p.node_port)
            .map(|n| n.to_string())
            .chain(a.external_ips.iter().cloned())
            .collect();
        table.row([
            a.event_time
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default(),
            a.severity.to_string(),
            a.rule.to_string(),
            a.cluster.clone().unwrap_or_default(),
            a.namespace.clone().unwrap_or_default(),
            a.service.clone().unwrap_or_default(),
            a.service_type.clone().unwrap_or_default(),
            ports.join(","),
            a.user.username.clone().unwrap_or_default(),
        ]);
    }
    table
}

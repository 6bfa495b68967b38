//! `nodeport-watch exposures`: what is exposed right now (or was), per cluster, read from the
//! state store the daemon writes (`[state]`, opened to inspect: never created nor migrated).
//!
//! The default is an aligned table for people; `--output json` prints one object per line for
//! tools.
//! Service names, users and clusters come from audit records an attacker may have written:
//! control characters are shown escaped, so a name cannot forge a row or drive the terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::alerts::open_existing;
use super::output::Output;
use super::table::{OutputArg, Table, age, timestamp};
use crate::exposure::{Actor, Exposure, ExposureFilter, Showing};

#[derive(Debug, clap::Args)]
pub struct ExposuresArgs {
    /// The configuration file (its `[state]` names the store: `path` or `url`).
    #[arg(long, short, env = "NODEPORT_WATCH_CONFIG")]
    config: Option<PathBuf>,
    /// Open this state database directly (takes precedence over `--config`).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Only this cluster.
    #[arg(long)]
    cluster: Option<String>,
    /// Only this namespace.
    #[arg(long)]
    namespace: Option<String>,
    /// Exposures open now (the default).
    #[arg(long, group = "which")]
    open: bool,
    /// Exposures that were closed.
    #[arg(long, group = "which")]
    closed: bool,
    /// Open and closed.
    #[arg(long, group = "which")]
    all: bool,
    /// At most this many rows, the most recently opened first.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// An aligned table (the default) or one JSON object per line.
    #[arg(long, value_enum)]
    output: Option<OutputArg>,
    /// The same as `--output json`.
    #[arg(long)]
    json: bool,
}

pub async fn exposures(args: ExposuresArgs) -> anyhow::Result<ExitCode> {
    let store = open_existing(args.db.as_deref(), args.config.as_deref()).await?;
    let showing = match (args.closed, args.all) {
        (true, _) => Showing::Closed,
        (_, true) => Showing::All,
        _ => Showing::Open,
    };
    let filter = ExposureFilter {
        cluster: args.cluster,
        namespace: args.namespace,
        showing,
    };
    let rows = store.exposures(&filter, args.limit).await?;
    let mut out = Output::stdout();
    if OutputArg::chosen(args.output, args.json, OutputArg::Table) == OutputArg::Json {
        for row in &rows {
            out.json(&ExposureView::of(row))?;
        }
    } else if rows.is_empty() {
        out.line("no matching exposures")?;
    } else {
        table(&rows, Utc::now()).print(&mut out)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// One exposure as `--json` (and `detect --exposures`) prints it.
#[derive(Debug, Serialize)]
pub struct ExposureView<'a> {
    pub exposure_id: &'a str,
    pub status: &'static str,
    pub cluster: &'a str,
    pub namespace: &'a str,
    pub service: &'a str,
    pub rule: &'static str,
    pub service_type: Option<&'a str>,
    pub node_ports: &'a [i64],
    pub external_ips: &'a [String],
    pub opened: Option<&'a Actor>,
    pub updated: Option<&'a Actor>,
    pub closed: Option<&'a Actor>,
    pub alert_id: Option<&'a str>,
}

impl<'a> ExposureView<'a> {
    pub fn of(e: &'a Exposure) -> Self {
        let s = &e.key.service;
        ExposureView {
            exposure_id: &e.id,
            status: e.status.as_str(),
            cluster: &s.cluster,
            namespace: &s.namespace,
            service: &s.service,
            rule: e.key.rule.as_str(),
            service_type: e.snapshot.service_type.as_deref(),
            node_ports: &e.snapshot.node_ports,
            external_ips: &e.snapshot.external_ips,
            opened: e.opened.as_ref(),
            updated: e.updated.as_ref(),
            closed: e.closed.as_ref(),
            alert_id: e.alert_id.as_deref(),
        }
    }
}

const HEADER: [&str; 10] = [
    "CLUSTER",
    "NAMESPACE",
    "SERVICE",
    "TYPE",
    "NODE PORTS",
    "OPENED BY",
    "OPENED AT",
    "AGE",
    "CLOSED BY",
    "CLOSED AT",
];

/// The table; cells are escaped by [`Table`] (names come from audit records).
fn table(rows: &[Exposure], now: DateTime<Utc>) -> Table {
    let mut table = Table::new(&HEADER);
    for row in rows {
        table.row(cells(row, now));
    }
    table
}

fn cells(r: &Exposure, now: DateTime<Utc>) -> [String; 10] {
    let s = &r.key.service;
    let by = |a: &Option<Actor>| a.as_ref().and_then(|a| a.user.clone()).unwrap_or_default();
    let at = |t: Option<DateTime<Utc>>| t.map(timestamp).unwrap_or_default();
    let ports: Vec<String> = r.snapshot.node_ports.iter().map(i64::to_string).collect();
    let end = r.closed_at().unwrap_or(now);
    [
        s.cluster.clone(),
        s.namespace.clone(),
        s.service.clone(),
        r.snapshot.service_type.clone().unwrap_or_default(),
        ports.join(","),
        by(&r.opened),
        at(r.opened_at()),
        r.opened_at().map(|t| age(end - t)).unwrap_or_default(),
        by(&r.closed),
        at(r.closed_at()),
    ]
}

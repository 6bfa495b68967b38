//! `nodeport-watch exposures`: what is exposed right now (or was), per cluster, read from the
//! state store the daemon writes (`[state]`, opened to inspect: never created nor migrated).
//!
//! The default is an aligned table for people; `--json` prints one object per line for tools.
//! Service names, users and clusters come from audit records an attacker may have written:
//! control characters are shown escaped, so a name cannot forge a row or drive the terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde::Serialize;
use unicode_width::UnicodeWidthStr;

use super::alerts::open_existing;
use super::output::Output;
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
    /// One JSON object per line instead of a table.
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
    if args.json {
        for row in &rows {
            out.json(&ExposureView::of(row))?;
        }
    } else if rows.is_empty() {
        out.line("no matching exposures")?;
    } else {
        for line in table(&rows, Utc::now()) {
            out.line(line)?;
        }
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

/// The table, columns padded to their widest cell (as a terminal shows it).
fn table(rows: &[Exposure], now: DateTime<Utc>) -> Vec<String> {
    let cells: Vec<[String; 10]> = rows.iter().map(|r| cells(r, now)).collect();
    let mut widths = HEADER.map(UnicodeWidthStr::width);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let line = |row: &[String]| {
        let mut out = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                out.push_str(&" ".repeat(w - cell.width() + 2));
            }
        }
        out
    };
    let mut out = vec![line(&HEADER.map(str::to_owned))];
    out.extend(cells.iter().map(|r| line(r)));
    out
}

fn cells(r: &Exposure, now: DateTime<Utc>) -> [String; 10] {
    let s = &r.key.service;
    let dash = || "-".to_owned();
    let by = |a: &Option<Actor>| {
        a.as_ref()
            .and_then(|a| a.user.as_deref())
            .map_or_else(dash, shown)
    };
    let at = |t: Option<DateTime<Utc>>| {
        t.map_or_else(dash, |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    };
    let ports: Vec<String> = r.snapshot.node_ports.iter().map(i64::to_string).collect();
    let end = r.closed_at().unwrap_or(now);
    [
        if s.cluster.is_empty() {
            dash()
        } else {
            shown(&s.cluster)
        },
        shown(&s.namespace),
        shown(&s.service),
        r.snapshot.service_type.as_deref().map_or_else(dash, shown),
        if ports.is_empty() {
            dash()
        } else {
            ports.join(",")
        },
        by(&r.opened),
        at(r.opened_at()),
        r.opened_at().map_or_else(dash, |t| age(end - t)),
        by(&r.closed),
        at(r.closed_at()),
    ]
}

/// Text from audit records: control characters (and only they) escaped, so names in other
/// scripts stay readable while a line break or terminal escape cannot act.
fn shown(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.escape_debug().to_string()
    } else {
        text.to_owned()
    }
}

/// How long it has been (or was) open: `42s`, `3m`, `5h`, `12d`.
fn age(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_other_scripts_kept() {
        assert_eq!(shown("web\n\u{1b}[31mfake"), "web\\n\\u{1b}[31mfake");
        assert_eq!(shown("サービス"), "サービス");
    }

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(age(chrono::Duration::seconds(59)), "59s");
        assert_eq!(age(chrono::Duration::hours(49)), "2d");
    }
}

//! `nodeport-watch alerts`: what is waiting in the outbox, what was dead-lettered, and
//! re-queueing dead letters once the cause is fixed.
//!
//! It opens the same state database as the daemon (SQLite in WAL mode lets both work at once);
//! a running daemon picks re-queued alerts up within `delivery.poll_interval`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use clap::ValueEnum;

use super::output::Output;
use super::table::{OutputArg, Table};
use crate::clock::SystemClock;
use crate::config;
use crate::state::{
    self, Access, DeliveryRecord, DeliveryState, StatePath, StateSettings, StateStore,
};

#[derive(Debug, clap::Args)]
pub struct AlertsArgs {
    /// The configuration file (its `[state]` names the store: `path` or `url`).
    #[arg(long, short, env = "NODEPORT_WATCH_CONFIG")]
    config: Option<PathBuf>,
    /// Open this state database directly (takes precedence over `--config`).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Which deliveries to list (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "pending,dead"
    )]
    status: Vec<StatusArg>,
    /// Only this sink.
    #[arg(long)]
    sink: Option<String>,
    /// Only this alert id (with `--requeue`).
    #[arg(long)]
    id: Option<String>,
    /// At most this many rows, newest first.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Aligned columns (the default) or one JSON object per line.
    #[arg(long, value_enum)]
    output: Option<OutputArg>,
    /// The same as `--output json`.
    #[arg(long)]
    json: bool,
    /// Move dead letters (of `--sink`, or of alert `--id`, or all) back to pending.
    #[arg(long)]
    requeue: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum StatusArg {
    Pending,
    Dead,
    Delivered,
    All,
}

fn states(args: &[StatusArg]) -> Vec<DeliveryState> {
    let mut out = Vec::new();
    for s in args {
        match s {
            StatusArg::Pending => out.push(DeliveryState::Pending),
            StatusArg::Dead => out.push(DeliveryState::Dead),
            StatusArg::Delivered => out.push(DeliveryState::Delivered),
            StatusArg::All => out.extend([
                DeliveryState::Pending,
                DeliveryState::Dead,
                DeliveryState::Delivered,
            ]),
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Opens an existing store to read and repair, through the same factory as the daemon. Only
/// `[state]` is read from the configuration, so a sink secret missing from this shell does not
/// stop `alerts` or `status`.
pub(super) async fn open_existing(
    db: Option<&Path>,
    config: Option<&Path>,
) -> anyhow::Result<Arc<dyn StateStore>> {
    let settings = match (db, config) {
        (Some(db), _) => StateSettings::Sqlite(StatePath::File(db.to_owned())),
        (None, Some(config)) => config::load_state(config)?,
        (None, None) => bail!("give --config FILE or --db STATE_DATABASE"),
    };
    Ok(state::open(&settings, Access::Inspect, Arc::new(SystemClock)).await?)
}

pub async fn alerts(args: AlertsArgs) -> anyhow::Result<ExitCode> {
    let store = open_existing(args.db.as_deref(), args.config.as_deref()).await?;
    let mut out = Output::stdout();
    if args.requeue {
        let n = store
            .requeue_dead(args.sink.as_deref(), args.id.as_deref())
            .await?;
        out.line(format_args!(
            "re-queued {n} dead letter(s); a running daemon delivers them within its \
             delivery.poll_interval, otherwise the next `run` does"
        ))?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }

    let mut rows = store
        .deliveries(&states(&args.status), args.sink.as_deref(), args.limit)
        .await?;
    if let Some(id) = &args.id {
        rows.retain(|r| &r.alert.id == id);
    }
    if OutputArg::chosen(args.output, args.json, OutputArg::Table) == OutputArg::Json {
        for row in &rows {
            out.json(&json_row(row))?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    for (sink, counts) in summary(&store.delivery_counts().await?) {
        out.line(format_args!("{sink}: {counts}"))?;
    }
    if rows.is_empty() {
        out.line("no matching deliveries")?;
    } else {
        out.line("")?;
        table(&rows).print(&mut out)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn summary(counts: &[(String, DeliveryState, u64)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (sink, state, n) in counts {
        let part = format!("{n} {}", state.as_str());
        match out.last_mut() {
            Some((s, text)) if s == sink => {
                text.push_str(", ");
                text.push_str(&part);
            }
            _ => out.push((sink.clone(), part)),
        }
    }
    out
}

fn json_row(r: &DeliveryRecord) -> serde_json::Value {
    serde_json::json!({
        "seq": r.seq,
        "sink": r.sink,
        "state": r.state.as_str(),
        "attempts": r.attempts,
        "last_error": r.last_error,
        "updated_at": r.updated_at.to_rfc3339(),
        "alert": r.alert,
    })
}

/// One row per delivery, newest first, as people read it.
fn table(rows: &[DeliveryRecord]) -> Table {
    let mut table = Table::new(&[
        "SINK",
        "STATE",
        "ATTEMPTS",
        "UPDATED",
        "SEVERITY",
        "RULE",
        "ALERT ID",
        "CLUSTER",
        "SERVICE",
        "LAST ERROR",
    ]);
    for r in rows {
        let a = &r.alert;
        let service = match (&a.namespace, &a.service) {
            (Some(ns), Some(s)) => format!("{ns}/{s}"),
            (None, Some(s)) => s.clone(),
            _ => String::new(),
        };
        table.row([
            r.sink.clone(),
            r.state.as_str().to_owned(),
            r.attempts.to_string(),
            r.updated_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            a.severity.to_string(),
            a.rule.to_string(),
            a.id.clone(),
            a.cluster.clone().unwrap_or_default(),
            service,
            r.last_error.clone().unwrap_or_default(),
        ]);
    }
    table
}

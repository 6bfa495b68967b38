//! `nodeport-watch status`: what the state store says about the daemon's progress — each
//! cursor's position on the time axis and its lag behind now (what
//! `nodeport_watch_checkpoint_lag_seconds` exports live) and when it last moved, the outbox per
//! sink and state, and on a shared (PostgreSQL) store the replicas and who holds which lease.
//!
//! It reads only `[state]` (like `alerts`) and never writes. Aligned tables by default (names
//! escaped: they come from the configuration and from other replicas), one JSON object per
//! line with `--output json` (each with a `"kind"`), for scripts.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::alerts::open_existing;
use super::output::Output;
use super::table::{OutputArg, Table, age, timestamp};
use crate::sources::committed::committed_position;
use crate::state::{CursorStatus, DeliveryState, Fleet, LeaseStatus, ReplicaStatus};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The configuration file (its `[state]` names the store: `path` or `url`).
    #[arg(long, short, env = "NODEPORT_WATCH_CONFIG")]
    config: Option<PathBuf>,
    /// Open this SQLite state database directly (takes precedence over `--config`).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Aligned tables (the default) or one JSON object per line.
    #[arg(long, value_enum)]
    output: Option<OutputArg>,
    /// The same as `--output json`.
    #[arg(long)]
    json: bool,
}

pub async fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let store = open_existing(args.db.as_deref(), args.config.as_deref()).await?;
    let cursors = store.cursors().await?;
    let counts = store.delivery_counts().await?;
    let fleet = store.fleet().await?;
    let now = Utc::now();
    let mut out = Output::stdout();
    if OutputArg::chosen(args.output, args.json, OutputArg::Table) == OutputArg::Json {
        for c in &cursors {
            let position = committed_position(&c.cursor);
            out.json(&json!({
                "kind": "cursor",
                "cursor": c.key,
                "format": c.cursor.kind,
                "position": position.map(|p| p.to_rfc3339()),
                "lag_seconds": position.map(|p| (now - p).num_seconds().max(0)),
                "updated_at": c.updated_at.to_rfc3339(),
                "age_seconds": (now - c.updated_at).num_seconds(),
            }))?;
        }
        for (sink, state, n) in &counts {
            out.json(
                &json!({"kind": "outbox", "sink": sink, "state": state.as_str(), "count": n}),
            )?;
        }
        if let Some(fleet) = &fleet {
            json_fleet(&mut out, fleet, now)?;
        }
    } else {
        text_cursors(&mut out, &cursors, now)?;
        text_outbox(&mut out, &counts)?;
        match &fleet {
            Some(fleet) => text_fleet(&mut out, fleet, now)?,
            None => out.line("\nsingle-writer store (SQLite): no replicas or leases")?,
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn json_fleet(out: &mut Output, fleet: &Fleet, now: DateTime<Utc>) -> anyhow::Result<()> {
    for r in &fleet.replicas {
        out.json(&json!({
            "kind": "replica",
            "id": r.id,
            "host": r.host,
            "started_at": r.started_at.to_rfc3339(),
            "heartbeat_at": r.heartbeat_at.to_rfc3339(),
            "heartbeat_age_seconds": (now - r.heartbeat_at).num_seconds(),
        }))?;
    }
    for l in &fleet.leases {
        out.json(&json!({
            "kind": "lease",
            "lease": l.name,
            "owner": l.owner,
            "epoch": l.epoch,
            "since": l.since.to_rfc3339(),
            "expires_at": l.expires_at.to_rfc3339(),
            "live": l.live,
        }))?;
    }
    Ok(())
}

fn text_cursors(
    out: &mut Output,
    cursors: &[CursorStatus],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut table = Table::new(&["CURSOR", "FORMAT", "POSITION", "LAG", "MOVED", "AGE"]);
    for c in cursors {
        let position = committed_position(&c.cursor);
        table.row([
            c.key.clone(),
            c.cursor.kind.clone(),
            position.map_or_else(|| "-".to_owned(), timestamp),
            position.map_or_else(|| "-".to_owned(), |p| age(now - p)),
            timestamp(c.updated_at),
            age(now - c.updated_at),
        ]);
    }
    table.print(out)?;
    if cursors.is_empty() {
        out.line("(no cursor yet: no source has committed)")?;
    }
    Ok(())
}

fn text_outbox(out: &mut Output, counts: &[(String, DeliveryState, u64)]) -> anyhow::Result<()> {
    out.line("")?;
    let mut sinks: Vec<&str> = counts.iter().map(|(s, _, _)| s.as_str()).collect();
    sinks.dedup();
    let mut table = Table::new(&["SINK", "PENDING", "DELIVERED", "DEAD"]);
    for sink in &sinks {
        let n = |state: DeliveryState| {
            counts
                .iter()
                .filter(|(s, st, _)| s == sink && *st == state)
                .map(|(_, _, n)| n)
                .sum::<u64>()
                .to_string()
        };
        table.row([
            (*sink).to_owned(),
            n(DeliveryState::Pending),
            n(DeliveryState::Delivered),
            n(DeliveryState::Dead),
        ]);
    }
    table.print(out)?;
    if sinks.is_empty() {
        out.line("(the outbox is empty)")?;
    }
    Ok(())
}

fn text_fleet(out: &mut Output, fleet: &Fleet, now: DateTime<Utc>) -> anyhow::Result<()> {
    out.line("")?;
    let mut replicas = Table::new(&["REPLICA", "HOST", "STARTED", "LAST HEARTBEAT", "AGE"]);
    for ReplicaStatus {
        id,
        host,
        started_at,
        heartbeat_at,
    } in &fleet.replicas
    {
        replicas.row([
            id.clone(),
            host.clone(),
            timestamp(*started_at),
            timestamp(*heartbeat_at),
            age(now - *heartbeat_at),
        ]);
    }
    replicas.print(out)?;
    if fleet.replicas.is_empty() {
        out.line("(no replica registered)")?;
    }
    out.line("")?;
    let mut leases = Table::new(&["LEASE", "OWNER", "EPOCH", "SINCE", "EXPIRES", "LIVE"]);
    for LeaseStatus {
        name,
        owner,
        epoch,
        since,
        expires_at,
        live,
    } in &fleet.leases
    {
        leases.row([
            name.clone(),
            owner.clone(),
            epoch.to_string(),
            timestamp(*since),
            timestamp(*expires_at),
            if *live { "yes" } else { "no" }.to_owned(),
        ]);
    }
    leases.print(out)?;
    if fleet.leases.is_empty() {
        out.line("(no lease taken)")?;
    }
    Ok(())
}

//! `nodeport-watch status`: what the state store says about the daemon's progress — each
//! cursor and how long ago it moved, the outbox per sink and state, and on a shared
//! (PostgreSQL) store the replicas and who holds which lease.
//!
//! It reads only `[state]` (like `alerts`) and never writes. Tab-separated tables by default,
//! one JSON object per line with `--json` (each with a `"kind"`), for scripts.

use std::fmt::Display;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::alerts::open_existing;
use super::output::Output;
use crate::state::{CursorStatus, DeliveryState, Fleet, LeaseStatus, ReplicaStatus};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The configuration file (its `[state]` names the store: `path` or `url`).
    #[arg(long, short, env = "NODEPORT_WATCH_CONFIG")]
    config: Option<PathBuf>,
    /// Open this SQLite state database directly (takes precedence over `--config`).
    #[arg(long)]
    db: Option<PathBuf>,
    /// One JSON object per line instead of tables.
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
    if args.json {
        for c in &cursors {
            out.json(&json!({
                "kind": "cursor",
                "cursor": c.key,
                "format": c.kind,
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
    out.line("CURSOR\tFORMAT\tUPDATED\tAGE")?;
    if cursors.is_empty() {
        out.line("(no cursor yet: no source has committed)")?;
    }
    for c in cursors {
        out.line(format_args!(
            "{}\t{}\t{}\t{}",
            shown(&c.key),
            shown(&c.kind),
            time(c.updated_at),
            age(now, c.updated_at)
        ))?;
    }
    Ok(())
}

fn text_outbox(out: &mut Output, counts: &[(String, DeliveryState, u64)]) -> anyhow::Result<()> {
    out.line("\nSINK\tPENDING\tDELIVERED\tDEAD")?;
    let mut sinks: Vec<&str> = counts.iter().map(|(s, _, _)| s.as_str()).collect();
    sinks.dedup();
    if sinks.is_empty() {
        out.line("(the outbox is empty)")?;
    }
    for sink in sinks {
        let n = |state: DeliveryState| {
            counts
                .iter()
                .filter(|(s, st, _)| s == sink && *st == state)
                .map(|(_, _, n)| n)
                .sum::<u64>()
        };
        out.line(format_args!(
            "{}\t{}\t{}\t{}",
            shown(sink),
            n(DeliveryState::Pending),
            n(DeliveryState::Delivered),
            n(DeliveryState::Dead)
        ))?;
    }
    Ok(())
}

fn text_fleet(out: &mut Output, fleet: &Fleet, now: DateTime<Utc>) -> anyhow::Result<()> {
    out.line("\nREPLICA\tHOST\tSTARTED\tLAST HEARTBEAT\tAGE")?;
    if fleet.replicas.is_empty() {
        out.line("(no replica registered)")?;
    }
    for ReplicaStatus {
        id,
        host,
        started_at,
        heartbeat_at,
    } in &fleet.replicas
    {
        out.line(format_args!(
            "{}\t{}\t{}\t{}\t{}",
            shown(id),
            shown(host),
            time(*started_at),
            time(*heartbeat_at),
            age(now, *heartbeat_at)
        ))?;
    }
    out.line("\nLEASE\tOWNER\tEPOCH\tSINCE\tEXPIRES\tLIVE")?;
    if fleet.leases.is_empty() {
        out.line("(no lease taken)")?;
    }
    for LeaseStatus {
        name,
        owner,
        epoch,
        since,
        expires_at,
        live,
    } in &fleet.leases
    {
        out.line(format_args!(
            "{}\t{}\t{epoch}\t{}\t{}\t{}",
            shown(name),
            shown(owner),
            time(*since),
            time(*expires_at),
            if *live { "yes" } else { "no" }
        ))?;
    }
    Ok(())
}

/// Names come from the configuration and from other replicas: control characters (a forged
/// line break or terminal escape) are shown escaped, never interpreted.
fn shown(text: &str) -> impl Display + '_ {
    text.escape_debug()
}

fn time(at: DateTime<Utc>) -> impl Display {
    at.format("%Y-%m-%dT%H:%M:%SZ")
}

/// `42s`, `3m`, `5h`, `2d`: enough to see a stalled source at a glance.
fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn ages_and_names_read_at_a_glance() {
        let now = Utc::now();
        assert_eq!(age(now, now - Duration::seconds(42)), "42s");
        assert_eq!(age(now, now - Duration::minutes(3)), "3m");
        assert_eq!(age(now, now - Duration::hours(5)), "5h");
        assert_eq!(age(now, now - Duration::days(2)), "2d");
        assert_eq!(age(now, now + Duration::seconds(5)), "0s", "a clock ahead");
        assert_eq!(shown("evil\n\u{1b}[2J").to_string(), "evil\\n\\u{1b}[2J");
    }
}

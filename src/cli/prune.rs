//! `nodeport-watch prune --orphans`: removes the cursors (and their seen ids) of sources the
//! configuration no longer has — renamed or removed sources, and unfinished scans of them —
//! which the daemon warns about at start. Only `[state]` and the source names are read, so a
//! secret missing from this shell does not matter; safe beside a running daemon, which never
//! reads those cursors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

use super::alerts::open_existing;
use super::output::Output;
use crate::config;
use crate::ingest::orphans::{orphan_cursors, prune_orphan_cursors};

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// The configuration file: its `[state]` names the store, its `[[sources]]` what to keep.
    #[arg(long, short, env = "NODEPORT_WATCH_CONFIG")]
    config: PathBuf,
    /// Remove the cursors of sources that are not configured.
    #[arg(long)]
    orphans: bool,
    /// Only list what would be removed.
    #[arg(long)]
    dry_run: bool,
}

pub async fn prune(args: PruneArgs) -> anyhow::Result<ExitCode> {
    if !args.orphans {
        bail!(
            "say what to prune: `--orphans` (delivered alerts are pruned by the daemon itself, see `[state] retention`)"
        );
    }
    let raw = config::load_raw(&args.config)?;
    let sources: Vec<&str> = raw.sources.iter().map(|s| s.name()).collect();
    let store = open_existing(None, Some(&args.config)).await?;
    let keys: Vec<String> = if args.dry_run {
        let orphans = orphan_cursors(store.as_ref(), &sources).await?;
        orphans.into_iter().map(|c| c.key).collect()
    } else {
        prune_orphan_cursors(store.as_ref(), &sources).await?
    };
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let mut out = Output::stdout();
    for key in &keys {
        // A key comes from the store, which anyone with write access may have filled.
        out.line(format_args!("{verb} cursor {}", key.escape_debug()))?;
    }
    out.line(format_args!("{verb} {} orphaned cursor(s)", keys.len()))?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

//! `nodeport-watch scan --config FILE --since TIME [--until TIME] [--source NAME]
//! [--inventory-only]`

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::ConfigArg;
use super::time_arg::parse_time;
use crate::alert::Router;
use crate::config::Settings;
use crate::ingest::Services;
use crate::runtime::{scan, shutdown};
use crate::sources::TimeRange;
use crate::state::{Access, StateError};

/// A replica heard from within this long counts as running (the longest lease time).
const LIVE_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);
use crate::telemetry::logging::LogFormat;

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Start of the range: RFC 3339, or a duration meaning that long ago (`24h`).
    #[arg(long)]
    since: String,
    /// End of the range (default: now).
    #[arg(long)]
    until: Option<String>,
    /// Scan only this source (repeatable); default: every source.
    #[arg(long = "source")]
    sources: Vec<String>,
    /// Seed the exposure inventory only: exposures open and close as the records say, but no
    /// alert is routed to any sink and nothing is delivered (backfill before the first run).
    #[arg(long)]
    inventory_only: bool,
}

pub async fn scan(args: ScanArgs, log_format: Option<LogFormat>) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let since = parse_time(&args.since, now)
        .map_err(anyhow::Error::msg)
        .context("--since")?;
    let until = match &args.until {
        Some(u) => parse_time(u, now)
            .map_err(anyhow::Error::msg)
            .context("--until")?,
        None => now,
    };
    if since >= until {
        bail!("--since ({since}) must be before --until ({until})");
    }
    let settings = args.config.load(log_format)?;
    let (mut services, mut deliver) = open_store(&settings).await?;
    if args.inventory_only {
        // Routed nowhere: the alerts are recorded (so a later read of the same records does
        // not send them either) with no delivery, and the exposures they open notify no sink.
        services.router = Arc::new(Router::default());
        deliver = false;
    }
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        shutdown::signal().await;
        warn!("interrupted: finishing the batches in hand");
        on_signal.cancel();
    });
    let totals = scan::scan(
        &settings,
        &services,
        TimeRange { since, until },
        &args.sources,
        deliver,
        cancel,
    )
    .await?;
    if args.inventory_only {
        eprintln!(
            "scan --inventory-only: records={} alerts found={} (none queued for any sink); `nodeport-watch exposures` lists the inventory",
            totals.records, totals.alerts_found
        );
    } else {
        eprintln!(
            "scan: records={} alerts found={} newly queued={} already in the outbox (queued or delivered before)={}",
            totals.records, totals.alerts_found, totals.alerts_queued, totals.alerts_known
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the store to deliver, or, when a daemon already delivers from it, only to queue: the
/// scan's alerts then go through the outbox and the daemon sends them, so nothing is sent twice.
/// On a store shared by replicas (PostgreSQL) a scan never delivers: only the holder of a
/// sink's lease does, so a scan cannot race a replica, even one that starts after it.
/// Returns whether this scan delivers.
async fn open_store(settings: &Settings) -> anyhow::Result<(Services, bool)> {
    match Services::open(settings, Access::Deliver).await {
        Ok(services) if services.store.shared() => {
            let live = services
                .store
                .live_replicas(LIVE_WITHIN)
                .await
                .map(|r| r.len())
                .unwrap_or(0);
            if live > 0 {
                info!(
                    replicas = live,
                    "replicas of the daemon deliver from this state database: this scan only queues its alerts, and they deliver them"
                );
            } else {
                warn!(
                    "no daemon replica is running on this state database: this scan only queues its alerts, and the first replica to start delivers them"
                );
            }
            Ok((services, false))
        }
        Ok(services) => Ok((services, true)),
        Err(StateError::Locked { holder, .. }) => {
            info!(
                %holder,
                "a daemon delivers from this state database: this scan only queues its alerts, and the daemon delivers them"
            );
            let services = Services::open(settings, Access::Write)
                .await
                .context("opening the state store")?;
            Ok((services, false))
        }
        Err(e) => Err(e).context("opening the state store"),
    }
}

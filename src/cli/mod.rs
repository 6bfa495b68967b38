//! The command line: one file per subcommand. This is the only layer that uses `anyhow`.

mod alerts;
mod conventions;
mod detect;
mod detect_report;
mod explain;
mod exposures;
mod health;
pub mod output;
mod prune;
mod run;
mod scan;
mod status;
mod table;
mod time_arg;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Settings};
use crate::telemetry::logging::{self, LogFormat};

/// The version with the commit it was built from (see build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("NODEPORT_WATCH_COMMIT"),
    ")"
);

/// Watches EKS, GKE and AKS audit logs for Services exposed through a NodePort.
#[derive(Debug, Parser)]
#[command(name = "nodeport-watch", version = VERSION, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format; overrides `[log] format` in the configuration.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormatArg>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Finds exposures in audit log files (or stdin) and prints one alert JSON per line.
    Detect(detect::DetectArgs),
    /// Runs the daemon: polls every configured source and feeds every sink.
    Run(run::RunArgs),
    /// Catches up over a past time range without moving the live checkpoints.
    Scan(scan::ScanArgs),
    /// Checks a configuration file and reports every problem with its key.
    Validate(validate::ValidateArgs),
    /// Lists pending and dead-lettered alerts; re-queues dead letters.
    Alerts(alerts::AlertsArgs),
    /// Lists the exposures the daemon follows: open now (default), closed, or all.
    Exposures(exposures::ExposuresArgs),
    /// Asks a running daemon's `/healthz` (or `/readyz`): exit 0 when it answers 200.
    Health(health::HealthArgs),
    /// Shows the store's view of the daemon: cursors and their age, the outbox per sink, and
    /// on PostgreSQL the replicas and leases.
    Status(status::StatusArgs),
    /// Removes what the store keeps for nothing: `--orphans`, the cursors of sources that are
    /// no longer configured.
    Prune(prune::PruneArgs),
    /// Prints a shell completion script (`completions bash > /etc/bash_completion.d/nodeport-watch`).
    Completions(conventions::CompletionsArgs),
    /// Prints the manual page, nodeport-watch(1), in roff (`man > nodeport-watch.1`).
    Man(conventions::ManArgs),
    /// Prints the configuration file's JSON Schema, for editors (`config-schema > npw.schema.json`).
    ConfigSchema(conventions::ConfigSchemaArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(f: LogFormatArg) -> Self {
        match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let log_format = cli.log_format.map(LogFormat::from);
    output::finish(match cli.command {
        Command::Detect(args) => detect::detect(args, log_format).await,
        Command::Run(args) => run::run(args, log_format).await,
        Command::Scan(args) => scan::scan(args, log_format).await,
        Command::Validate(args) => validate::validate(args, log_format).await,
        Command::Alerts(args) => alerts::alerts(args).await,
        Command::Exposures(args) => exposures::exposures(args).await,
        Command::Health(args) => health::health(args).await,
        Command::Status(args) => status::status(args).await,
        Command::Prune(args) => prune::prune(args).await,
        Command::Completions(args) => conventions::completions(args),
        Command::Man(args) => conventions::man(args),
        Command::ConfigSchema(args) => conventions::config_schema(args),
    })
}

/// Loads the configuration and starts logging as it asks (unless the command line overrides).
fn load_and_log(path: &Path, log_format: Option<LogFormat>) -> anyhow::Result<Settings> {
    let settings = config::load(path)?;
    logging::init(
        log_format.unwrap_or(settings.log_format),
        &settings.log_level,
    );
    Ok(settings)
}

/// The `--config` argument shared by daemon commands.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// The configuration file (TOML).
    #[arg(long, short, env = "NODEPORT_WATCH_CONFIG")]
    pub config: PathBuf,
}

impl ConfigArg {
    /// The error already names the file and every problem: no context is added, so it is
    /// printed once.
    fn load(&self, log_format: Option<LogFormat>) -> anyhow::Result<Settings> {
        load_and_log(&self.config, log_format)
    }
}

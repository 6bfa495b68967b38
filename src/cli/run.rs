//! `nodeport-watch run --config FILE`

use std::process::ExitCode;

use anyhow::Context;

use super::ConfigArg;
use crate::ingest::Services;
use crate::runtime::{daemon, shutdown};
use crate::state::Access;
use crate::telemetry::logging::LogFormat;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    config: ConfigArg,
}

pub async fn run(args: RunArgs, log_format: Option<LogFormat>) -> anyhow::Result<ExitCode> {
    let settings = args.config.load(log_format)?;
    let services = Services::open(&settings, Access::Deliver)
        .await
        .context("opening the state store")?;
    daemon::run(&settings, &services, shutdown::signal()).await?;
    Ok(ExitCode::SUCCESS)
}

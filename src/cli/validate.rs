//! `nodeport-watch validate --config FILE [--connect]`

use std::process::ExitCode;

use crate::config::{self, ConfigError};
use crate::runtime::Services;
use crate::runtime::launch::{build_sink, check_source};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The configuration file (TOML).
    #[arg(long, short, env = "NODEPORT_WATCH_CONFIG")]
    config: std::path::PathBuf,
    /// Also make one real call to every source and sink (credentials, permissions, reachability).
    #[arg(long)]
    connect: bool,
}

pub async fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let settings = match config::load(&args.config) {
        Ok(settings) => settings,
        Err(ConfigError::Invalid { path, problems }) => {
            eprintln!("{path}: {} problem(s)", problems.len());
            for p in problems {
                eprintln!("  {p}");
            }
            return Ok(ExitCode::from(1));
        }
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    println!(
        "{}: ok ({} sources, {} sinks, rules: {})",
        args.config.display(),
        settings.sources.len(),
        settings.sinks.len(),
        settings
            .detection
            .rules
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Warnings only: a risky exception is still a valid one.
    for warning in crate::detect::Exceptions::new(settings.detection.exceptions.clone())
        .warnings(chrono::Utc::now())
    {
        eprintln!("warning: {warning}");
    }
    if let Some(server) = &settings.server {
        println!("server: {} (/healthz, /readyz, /metrics)", server.listen);
    }
    for scan in &settings.scans {
        println!(
            "scan {}: lookback {}, sources: {}",
            scan.name,
            humantime::format_duration(scan.lookback),
            if scan.sources.is_empty() {
                "all".to_owned()
            } else {
                scan.sources.join(", ")
            }
        );
    }
    if !args.connect {
        return Ok(ExitCode::SUCCESS);
    }
    let services = Services::open(&settings)?;
    let mut failures = 0;
    for source in &settings.sources {
        match check_source(source, &services).await {
            Ok(()) => println!("source {}: ok", source.name),
            Err(e) => {
                failures += 1;
                println!("source {}: FAILED: {e}", source.name);
            }
        }
    }
    for sink in &settings.sinks {
        let result = match build_sink(sink) {
            Ok(built) => built.healthcheck().await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => println!("sink {}: ok", sink.name),
            Err(e) => {
                failures += 1;
                println!("sink {}: FAILED: {e}", sink.name);
            }
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

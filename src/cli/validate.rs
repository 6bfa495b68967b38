//! `nodeport-watch validate --config FILE [--connect]`
//!
//! Exit status 0 when the configuration is valid (and, with `--connect`, every source and sink
//! answered), 1 otherwise; the last line of `--connect` says which.

use std::process::ExitCode;

use super::output::{Output, complain};
use crate::config;
use crate::ingest::Services;
use crate::ingest::launch::check_source;
use crate::runtime::launch::build_sink;
use crate::state::Access;
use crate::telemetry::logging::LogFormat;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The configuration file (TOML).
    #[arg(long, short, env = "NODEPORT_WATCH_CONFIG")]
    config: std::path::PathBuf,
    /// Also make one real call to every source and sink (credentials, permissions, reachability).
    #[arg(long)]
    connect: bool,
}

pub async fn validate(
    args: ValidateArgs,
    log_format: Option<LogFormat>,
) -> anyhow::Result<ExitCode> {
    let json = log_format == Some(LogFormat::Json);
    let mut out = Output::stdout().messages_as_json(json);
    let settings = match config::load(&args.config) {
        Ok(settings) => settings,
        Err(e) => {
            complain(json, "error", e);
            return Ok(ExitCode::from(1));
        }
    };
    out.say(
        "info",
        format_args!(
            "{}: configuration valid ({} sources, {} sinks, rules: {})",
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
        ),
    )?;
    // Warnings only: a risky exception is still a valid one.
    for warning in crate::detect::Exceptions::new(settings.detection.exceptions.clone())
        .warnings(chrono::Utc::now())
    {
        complain(json, "warn", format_args!("warning: {warning}"));
    }
    if let Some(server) = &settings.server {
        out.say(
            "info",
            format_args!("server: {} (/healthz, /readyz, /metrics)", server.listen),
        )?;
    }
    for scan in &settings.scans {
        out.say(
            "info",
            format_args!(
                "scan {}: lookback {}, sources: {}",
                scan.name,
                humantime::format_duration(scan.lookback),
                if scan.sources.is_empty() {
                    "all".to_owned()
                } else {
                    scan.sources.join(", ")
                }
            ),
        )?;
    }
    if !args.connect {
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let services = Services::open(&settings, Access::Write).await?;
    let mut report = ConnectReport::default();
    for source in &settings.sources {
        let result = check_source(source, &services)
            .await
            .map_err(|e| e.to_string());
        report.record(&mut out, "source", &source.name, result)?;
    }
    for sink in &settings.sinks {
        let result = match build_sink(sink) {
            Ok(built) => built.healthcheck().await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        report.record(&mut out, "sink", &sink.name, result)?;
    }
    let level = if report.failed.is_empty() {
        "info"
    } else {
        "error"
    };
    out.say(level, report.summary())?;
    out.flush()?;
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The verdicts of `--connect`: one line per source and sink as it is checked, then a summary
/// that agrees with the exit status.
#[derive(Debug, Default)]
struct ConnectReport {
    checked: usize,
    failed: Vec<String>,
}

impl ConnectReport {
    fn record(
        &mut self,
        out: &mut Output,
        kind: &str,
        name: &str,
        result: Result<(), String>,
    ) -> anyhow::Result<()> {
        self.checked += 1;
        match result {
            Ok(()) => out.say("info", format_args!("{kind} {name}: ok")),
            Err(e) => {
                self.failed.push(format!("{kind} {name}"));
                out.say("error", format_args!("{kind} {name}: FAILED: {e}"))
            }
        }
    }

    fn summary(&self) -> String {
        if self.failed.is_empty() {
            format!("connect: ok, all {} checks passed", self.checked)
        } else {
            format!(
                "connect: FAILED, {} of {} checks failed ({})",
                self.failed.len(),
                self.checked,
                self.failed.join(", ")
            )
        }
    }
}

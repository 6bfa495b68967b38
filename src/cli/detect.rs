//! `nodeport-watch detect [--format F] [--rules LIST] [FILE ...]`: offline detection.
//!
//! Reads exported logs (JSON Lines or pretty-printed documents, any provider shape), prints one
//! alert JSON per line on stdout and a one-line summary on stderr. Exit status: 0 when it ran,
//! even if some records were skipped; 2 on usage errors or unreadable files.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::alert::Router;
use crate::clock::SystemClock;
use crate::config;
use crate::detect::{Detector, Exceptions};
use crate::model::{Format, RuleId};
use crate::normalize::{Frame, RecordContext, RecordReader, SkipReason};
use crate::pipeline::{BatchOutcome, BatchStats, Pipeline, RecordLabel};
use crate::telemetry::logging::{self, LogFormat};

/// Records longer than this are skipped (and counted) rather than buffered.
const MAX_RECORD: usize = 64 * 1024 * 1024;

#[derive(Debug, clap::Args)]
pub struct DetectArgs {
    /// Record shape: detected per record (`auto`) or forced.
    #[arg(long, default_value = "auto")]
    format: Format,
    /// Rules to run, comma-separated (default: nodeport,external-ips).
    #[arg(long, value_delimiter = ',')]
    rules: Option<Vec<String>>,
    /// Cluster name for events whose record does not carry it (EKS exports).
    #[arg(long)]
    cluster: Option<String>,
    /// Take rules and exceptions from this configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Attach the normalized event to each alert.
    #[arg(long)]
    include_raw: bool,
    /// Files to read; none or `-` reads standard input.
    files: Vec<PathBuf>,
}

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("nodeport-watch detect: {message}");
    ExitCode::from(2)
}

pub async fn detect(args: DetectArgs, log_format: Option<LogFormat>) -> anyhow::Result<ExitCode> {
    logging::init(log_format.unwrap_or_default(), "warn");
    let setup = match DetectionSetup::from_args(&args) {
        Ok(setup) => setup,
        Err(message) => return Ok(usage_error(message)),
    };
    // Open everything first: an unreadable file is a usage error, reported before any output.
    let mut inputs: Vec<(String, Box<dyn BufRead + Send>)> = Vec::new();
    let files = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    for path in &files {
        if path.as_os_str() == "-" {
            inputs.push(("-".to_owned(), Box::new(BufReader::new(io::stdin()))));
            continue;
        }
        match File::open(path) {
            Ok(f) => inputs.push((path.display().to_string(), Box::new(BufReader::new(f)))),
            Err(e) => return Ok(usage_error(format!("cannot read {}: {e}", path.display()))),
        }
    }

    let format = args.format;
    let cluster = args.cluster.clone();
    let include_raw = args.include_raw || setup.include_raw;
    let stats = tokio::task::spawn_blocking(move || {
        let pipeline = Pipeline::new(
            "detect",
            Arc::new(setup.detector),
            Arc::new(Router::default()),
            include_raw,
            Arc::new(SystemClock),
        );
        let ctx = RecordContext {
            format,
            cluster: cluster.as_deref(),
            ..RecordContext::default()
        };
        run_inputs(&pipeline, &ctx, inputs)
    })
    .await??;

    eprintln!("{}", summary(&stats));
    Ok(ExitCode::SUCCESS)
}

/// What the command line and an optional configuration ask detection to be.
struct DetectionSetup {
    detector: Detector,
    include_raw: bool,
}

impl DetectionSetup {
    fn from_args(args: &DetectArgs) -> Result<Self, String> {
        let (mut rules, exceptions, include_raw) = match &args.config {
            Some(path) => {
                let settings = config::load(path).map_err(|e| e.to_string())?;
                let d = settings.detection;
                (d.rules, Exceptions::new(d.exceptions), d.include_raw)
            }
            None => (Detector::default_rules(), Exceptions::default(), false),
        };
        if let Some(list) = &args.rules {
            rules = list
                .iter()
                .map(|name| {
                    RuleId::parse(name.trim()).ok_or_else(|| {
                        format!(
                            "unknown rule `{name}` (known: {})",
                            RuleId::ALL.map(RuleId::as_str).join(", ")
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        Ok(DetectionSetup {
            detector: Detector::new(rules, exceptions),
            include_raw,
        })
    }
}

fn run_inputs(
    pipeline: &Pipeline,
    ctx: &RecordContext<'_>,
    inputs: Vec<(String, Box<dyn BufRead + Send>)>,
) -> io::Result<BatchStats> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    // One outcome for the whole run: its id set drops other stages of a request even when
    // they sit in different files.
    let mut outcome = BatchOutcome::default();
    for (name, input) in inputs {
        for frame in RecordReader::new(input, MAX_RECORD) {
            let label = RecordLabel {
                stream: &name,
                record_id: None,
            };
            match frame? {
                Frame::Record(bytes) => pipeline.process_bytes(&bytes, ctx, label, &mut outcome),
                Frame::Oversized => skip(&mut outcome.stats, SkipReason::Oversized),
                Frame::Invalid => skip(&mut outcome.stats, SkipReason::InvalidJson),
            }
            for routed in outcome.alerts.drain(..) {
                serde_json::to_writer(&mut out, &routed.alert)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    Ok(outcome.stats)
}

fn skip(stats: &mut BatchStats, reason: SkipReason) {
    stats.records += 1;
    *stats.skipped.entry(reason).or_default() += 1;
}

fn summary(s: &BatchStats) -> String {
    let reasons: Vec<String> = s
        .skipped
        .iter()
        .map(|(reason, n)| format!("{reason}={n}"))
        .collect();
    let skipped = if reasons.is_empty() {
        String::new()
    } else {
        format!(" ({})", reasons.join(", "))
    };
    format!(
        "records={} events={} irrelevant={} skipped={}{skipped} degraded={} suppressed={} alerts={}",
        s.records,
        s.events,
        s.irrelevant,
        s.skipped_total(),
        s.degraded,
        s.suppressed,
        s.alerts
    )
}

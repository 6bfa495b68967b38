//! `nodeport-watch detect [--format F] [--rules LIST] [--exposures] [FILE ...]`: offline
//! detection.
//!
//! Reads exported logs (JSON Lines or pretty-printed documents, any provider shape, plain or
//! gzipped), prints the alerts on stdout (JSON lines, or a table on a terminal: see
//! `detect_report`) and a one-line summary on stderr; with `--exposures`, the exposures still
//! open at the end of the input instead of the alerts. A folder
//! is read as the `file` source reads it: the files in it, not hidden ones, in name order.
//! Exit status: 0 when it ran, even if some records were skipped (and when stdout's reader
//! went away early); 2 on usage errors or unreadable files.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use crate::alert::Router;
use crate::clock::SystemClock;
use crate::config;
use crate::detect::{Detector, Exceptions};
use crate::model::{Format, RuleId};
use crate::normalize::content::{self, Opened, Unreadable};
use crate::normalize::{Frame, RecordContext, RecordReader, SkipReason};
use crate::pipeline::{BatchOutcome, BatchStats, Pipeline, RecordLabel};
use clap::builder::{PossibleValuesParser, TypedValueParser};

use super::detect_report::Report;
use super::explain;
use super::exposures::ExposureView;
use super::output::Output;
use super::table::OutputArg;
use crate::exposure::Inventory;
use crate::telemetry::logging::{self, LogFormat};

/// Records longer than this are skipped (and counted) rather than buffered.
const MAX_RECORD: usize = 64 * 1024 * 1024;

#[derive(Debug, clap::Args)]
pub struct DetectArgs {
    /// Record shape: detected per record (`auto`) or forced.
    #[arg(
        long,
        default_value = "auto",
        value_parser = PossibleValuesParser::new(["auto", "k8s", "eks", "gke", "aks"])
            .try_map(|s| s.parse::<Format>())
    )]
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
    /// Say on stderr, for every event, why it did or did not alert.
    #[arg(long)]
    explain: bool,
    /// JSON lines (the default when standard output is not a terminal) or an aligned table
    /// (the default on a terminal).
    #[arg(long, value_enum)]
    output: Option<OutputArg>,
    /// Print only the number of alerts by rule, cluster and namespace.
    #[arg(long)]
    summary: bool,
    /// Print the exposures still open at the end of the input (one JSON per line, in the order
    /// they were opened) instead of the alerts.
    #[arg(long)]
    exposures: bool,
    /// Files or folders to read (gzip is read transparently); none or `-` reads standard input.
    files: Vec<PathBuf>,
}

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("nodeport-watch detect: {message}");
    ExitCode::from(2)
}

type Input = (String, Box<dyn BufRead + Send>);

pub async fn detect(args: DetectArgs, log_format: Option<LogFormat>) -> anyhow::Result<ExitCode> {
    logging::init(log_format.unwrap_or_default(), "warn");
    let setup = match DetectionSetup::from_args(&args) {
        Ok(setup) => setup,
        Err(message) => return Ok(usage_error(message)),
    };
    // Open everything first: an unreadable file is a usage error, reported before any output.
    let inputs = match open_inputs(&args.files) {
        Ok(inputs) => inputs,
        Err(message) => return Ok(usage_error(message)),
    };

    let format = args.format;
    let cluster = args.cluster.clone();
    let include_raw = args.include_raw || setup.include_raw;
    let explain = args.explain;
    let terminal = if io::stdout().is_terminal() {
        OutputArg::Table
    } else {
        OutputArg::Json
    };
    let output = OutputArg::chosen(args.output, false, terminal);
    let report = Report::new(output, args.summary);
    let exposures = args.exposures;
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
        run_inputs(&pipeline, &ctx, inputs, explain, report, output, exposures)
    })
    .await??;

    eprintln!("{}", explain::summary(&stats));
    if let Some(warning) = explain::audit_level_warning(&stats) {
        tracing::warn!("{warning}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens every named input; a folder stands for the files in it.
fn open_inputs(files: &[PathBuf]) -> Result<Vec<Input>, String> {
    let mut inputs: Vec<Input> = Vec::new();
    let stdin_only = [PathBuf::from("-")];
    let files = if files.is_empty() {
        &stdin_only[..]
    } else {
        files
    };
    for path in files {
        if path.as_os_str() == "-" {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                eprintln!(
                    "nodeport-watch detect: reading audit records from the terminal; \
                     give a file (or pipe one in), end with Ctrl-D"
                );
            }
            inputs.push(("-".to_owned(), Box::new(BufReader::new(stdin))));
        } else if path.is_dir() {
            for file in folder_files(path)? {
                inputs.push(open_file(&file)?);
            }
        } else {
            inputs.push(open_file(path)?);
        }
    }
    Ok(inputs)
}

fn open_file(path: &Path) -> Result<Input, String> {
    match File::open(path) {
        Ok(f) => Ok((path.display().to_string(), Box::new(BufReader::new(f)))),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The files of a folder, as the `file` source takes them: not hidden, not in subfolders.
fn folder_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read folder {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("folder {} holds no files", dir.display()));
    }
    Ok(files)
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
    inputs: Vec<Input>,
    explain: bool,
    mut report: Report,
    output: OutputArg,
    exposures: bool,
) -> anyhow::Result<BatchStats> {
    let mut out = Output::stdout();
    let mut inventory = Inventory::default();
    // One outcome for the whole run: its id set drops other stages of a request even when
    // they sit in different files.
    let mut outcome = if explain {
        BatchOutcome::explaining()
    } else {
        BatchOutcome::default()
    };
    for (name, input) in inputs {
        let opened = match content::open(input)? {
            Ok(opened) => opened,
            Err(refused) => {
                refuse(&mut outcome.stats, &refused, explain, &name);
                continue;
            }
        };
        let Opened {
            reader,
            compression,
        } = opened;
        for (index, frame) in RecordReader::new(reader, MAX_RECORD).enumerate() {
            let number = (index + 1).to_string();
            let label = RecordLabel {
                stream: &name,
                record_id: Some(&number),
            };
            match frame {
                Ok(Frame::Record(bytes)) => {
                    pipeline.process_bytes(&bytes, ctx, label, &mut outcome)
                }
                Ok(Frame::Oversized) => {
                    let place = format!("{name}:{number}");
                    skip(&mut outcome.stats, SkipReason::Oversized, explain, &place);
                }
                Ok(Frame::Invalid) => {
                    let place = format!("{name}:{number}");
                    skip(&mut outcome.stats, SkipReason::InvalidJson, explain, &place);
                }
                // A damaged compressed stream: what came before the damage was read.
                Err(e) if compression.is_some() => {
                    refuse(&mut outcome.stats, &content::corrupt(&e), explain, &name);
                    break;
                }
                Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {name}"))),
            }
            // Alerts carry the exposure they opened or updated, as the daemon's do.
            let mut exposure_of_alert = HashMap::new();
            for observation in outcome.exposures.drain(..) {
                exposure_of_alert.extend(inventory.apply(&observation).alert_exposures);
            }
            for mut routed in outcome.alerts.drain(..) {
                routed.alert.exposure_id = exposure_of_alert.remove(&routed.alert.id);
                if !exposures {
                    report.alert(&routed.alert, &mut out)?;
                }
            }
            if let Some(explained) = &mut outcome.explained {
                for line in explained.drain(..) {
                    eprintln!("{}", explain::line(&line));
                }
            }
        }
    }
    if exposures {
        for open in inventory.open() {
            out.json(&ExposureView::of(open))?;
        }
    } else {
        report.finish(output == OutputArg::Json, &mut out)?;
    }
    out.flush()?;
    Ok(outcome.stats)
}

/// Counts a record read as nothing (and explains it when asked).
fn skip(stats: &mut BatchStats, reason: SkipReason, explain: bool, place: &str) {
    stats.records += 1;
    *stats.skipped.entry(reason).or_default() += 1;
    explain::skipped_input(explain, place, reason);
}

/// An input, or the rest of it, that gives no records: counted as one skipped record, warned.
fn refuse(stats: &mut BatchStats, refused: &Unreadable, explain: bool, name: &str) {
    skip(stats, refused.reason, explain, name);
    tracing::warn!(file = %name, reason = %refused.reason, "{}", refused.detail);
}

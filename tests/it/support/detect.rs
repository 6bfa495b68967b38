//! Runs records through detection, both in-process and through the `detect` command.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use nodeport_watch::alert::Router;
use nodeport_watch::clock::ManualClock;
use nodeport_watch::detect::{Detector, Exceptions};
use nodeport_watch::model::{Alert, RuleId};
use nodeport_watch::normalize::RecordContext;
use nodeport_watch::pipeline::{BatchOutcome, BatchStats, Pipeline, RecordLabel};

use super::binary;

/// A fixed detection time, so alerts compare equal across runs.
pub fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

pub fn all_rules() -> BTreeSet<RuleId> {
    RuleId::ALL.into_iter().collect()
}

pub struct Detected {
    pub alerts: Vec<Alert>,
    pub stats: BatchStats,
}

/// Normalizes and inspects `records` in-process with `detector`.
pub fn run_library(records: &[String], detector: Detector) -> Detected {
    let pipeline = Pipeline::new(
        "test",
        Arc::new(detector),
        Arc::new(Router::default()),
        false,
        Arc::new(ManualClock::new(fixed_now())),
    );
    let mut out = BatchOutcome::default();
    for record in records {
        let label = RecordLabel {
            stream: "test",
            record_id: None,
        };
        pipeline.process_bytes(
            record.as_bytes(),
            &RecordContext::default(),
            label,
            &mut out,
        );
    }
    Detected {
        alerts: out.alerts.into_iter().map(|r| r.alert).collect(),
        stats: out.stats,
    }
}

pub fn with_rules(rules: BTreeSet<RuleId>) -> Detector {
    Detector::new(rules, Exceptions::default())
}

/// What `nodeport-watch detect ARGS` prints for `input` on stdin.
pub struct CliRun {
    pub alerts: Vec<Alert>,
    pub stderr: String,
    pub code: Option<i32>,
}

pub fn run_cli(args: &[&str], input: &[u8]) -> CliRun {
    let mut child = Command::new(binary())
        .arg("detect")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nodeport-watch");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("run nodeport-watch");
    let alerts = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("an alert per line"))
        .collect();
    CliRun {
        alerts,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
    }
}

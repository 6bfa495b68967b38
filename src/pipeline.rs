//! One batch of records through normalize → detect → alert, ready for the outbox.
//!
//! The pipeline is synchronous and pure apart from logging and metrics: sources call it between
//! fetching a batch and committing it, so a batch's alerts and the cursor past it are written
//! together.

mod audit_id_reuse;

use std::collections::HashSet;
use std::sync::Arc;

use tracing::{debug, info, warn};

use crate::alert::{self, AlertContext, Router};
use crate::clock::Clock;
use crate::detect::{Detector, Quiet, ServiceChange, Verdict};
use crate::exposure::{self, Observation, Opening, Resolution};
use crate::model::{AuditEvent, Record, RuleId, TimeRange};
use crate::normalize::{Normalized, RecordContext, SkipReason, normalize};
use crate::state::RoutedAlert;
use crate::telemetry::metrics;

pub use crate::model::BatchStats;

/// Why a record, or one event of it, gave or did not give an alert (`detect --explain`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    Alert(RuleId),
    /// Rejected by the prefilter: the text cannot be a Service write.
    Irrelevant,
    Skipped(SkipReason),
    OutOfRange,
    Quiet(Quiet),
    Excepted(RuleId, Option<String>),
    /// Only rules that are not enabled fired.
    RulesOff(Vec<RuleId>),
    /// Another stage of the same request already gave this alert.
    DuplicateStage(RuleId),
}

/// One line of `detect --explain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explained {
    pub stream: String,
    pub record_id: Option<String>,
    /// `verb resource namespace/name`, when the record held an event.
    pub event: Option<String>,
    pub reason: Reason,
}

fn describe(event: &AuditEvent) -> String {
    let o = &event.object;
    let or_dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".to_owned());
    format!(
        "{} {} {}/{}",
        or_dash(&event.verb),
        or_dash(&o.resource),
        or_dash(&o.namespace),
        or_dash(&o.name)
    )
}

#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub alerts: Vec<RoutedAlert>,
    pub stats: BatchStats,
    ids: HashSet<String>,
    audit_ids: audit_id_reuse::AuditIdReuse,
    /// Collected only when asked for (`detect --explain`).
    pub explained: Option<Vec<Explained>>,
    /// What the batch's writes did to exposures, in batch order (committed with the alerts).
    pub exposures: Vec<Observation>,
}

impl BatchOutcome {
    /// An outcome that also records why each record did or did not alert.
    pub fn explaining() -> Self {
        BatchOutcome {
            explained: Some(Vec::new()),
            ..BatchOutcome::default()
        }
    }

    fn explain(&mut self, label: RecordLabel<'_>, event: Option<&AuditEvent>, reason: Reason) {
        if let Some(list) = &mut self.explained {
            list.push(Explained {
                stream: label.stream.to_owned(),
                record_id: label.record_id.map(str::to_owned),
                event: event.map(describe),
                reason,
            });
        }
    }
}

/// Where a record came from, for log lines about it.
#[derive(Clone, Copy, Debug)]
pub struct RecordLabel<'a> {
    pub stream: &'a str,
    pub record_id: Option<&'a str>,
}

/// What normalize needs to know about a record beyond its bytes.
fn record_context(record: &Record) -> RecordContext<'_> {
    RecordContext {
        format: record.origin.format,
        provider: record.origin.provider,
        cluster: record.origin.cluster.as_deref(),
        account: record.origin.account.as_deref(),
        region: record.origin.region.as_deref(),
        record_id: record.record_id.as_deref(),
        record_time: record.record_time,
    }
}

pub struct Pipeline {
    source: String,
    detector: Arc<Detector>,
    router: Arc<Router>,
    include_raw: bool,
    clock: Arc<dyn Clock>,
    /// For scans: only events inside this range are inspected.
    event_window: Option<TimeRange>,
}

impl Pipeline {
    pub fn new(
        source: impl Into<String>,
        detector: Arc<Detector>,
        router: Arc<Router>,
        include_raw: bool,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Pipeline {
            source: source.into(),
            detector,
            router,
            include_raw,
            clock,
            event_window: None,
        }
    }

    /// Inspects only events whose time falls in `range` (events without a time are kept: a
    /// record that cannot be placed must not be dropped unseen).
    pub fn with_event_window(mut self, range: TimeRange) -> Self {
        self.event_window = Some(range);
        self
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn process(&self, records: &[Record]) -> BatchOutcome {
        let mut out = BatchOutcome::default();
        for record in records {
            let label = RecordLabel {
                stream: &record.origin.stream,
                record_id: record.record_id.as_deref(),
            };
            self.process_bytes(&record.text, &record_context(record), label, &mut out);
        }
        metrics::record_batch(&self.source, &out.stats);
        out
    }

    /// Adds one record's alerts and counts to `out`; alerts whose id is already in `out` (other
    /// stages of the same request) are dropped.
    pub fn process_bytes(
        &self,
        bytes: &[u8],
        ctx: &RecordContext<'_>,
        label: RecordLabel<'_>,
        out: &mut BatchOutcome,
    ) {
        out.stats.records += 1;
        normalize(bytes, ctx, &mut |n| self.handle(n, label, out));
    }

    fn handle(&self, n: Normalized, label: RecordLabel<'_>, out: &mut BatchOutcome) {
        let event = match n {
            Normalized::Irrelevant => {
                out.stats.irrelevant += 1;
                out.explain(label, None, Reason::Irrelevant);
                return;
            }
            Normalized::Skipped(reason) => {
                *out.stats.skipped.entry(reason).or_default() += 1;
                warn!(
                    source = %self.source,
                    stream = label.stream,
                    record_id = label.record_id.unwrap_or("-"),
                    reason = %reason,
                    "record skipped"
                );
                out.explain(label, None, Reason::Skipped(reason));
                return;
            }
            Normalized::Event(event) => event,
        };
        out.stats.events += 1;
        if let (Some(range), Some(at)) = (self.event_window, event.event_time)
            && (at < range.since || at > range.until)
        {
            out.stats.out_of_range += 1;
            out.explain(label, Some(&event), Reason::OutOfRange);
            return;
        }
        if let Some(reuse) = out.audit_ids.observe(&event) {
            metrics::record_audit_id_reuse(&self.source);
            // Debug formatting escapes what the client chose (quotes, newlines, controls), so
            // a crafted name cannot forge log lines.
            warn!(
                source = %self.source,
                audit_id = ?reuse.audit_id,
                user = ?reuse.second.user.as_deref().unwrap_or("-"),
                first_user = ?reuse.first.user.as_deref().unwrap_or("-"),
                first_service = ?reuse.first.service,
                second_service = ?reuse.second.service,
                "one Audit-ID on two different requests: a client reused the Audit-ID header; both requests are inspected"
            );
        }
        if event.is_degraded() {
            out.stats.degraded += 1;
            debug!(
                source = %self.source,
                stream = label.stream,
                record_id = label.record_id.unwrap_or("-"),
                degraded = ?event.degraded,
                "event read in part"
            );
        }
        // Read the clock only for the few records that reach the detector.
        let now = self.clock.now();
        let verdict = self.detector.inspect(&event, now);
        out.stats.suppressed += verdict.suppressed.len() as u64;
        for s in &verdict.suppressed {
            metrics::record_exception_match(&self.source, s.exception);
            info!(
                source = %self.source,
                cluster = ?event.origin.cluster.as_deref().unwrap_or("-"),
                namespace = ?event.object.namespace.as_deref().unwrap_or("-"),
                service = ?event.object.name.as_deref().unwrap_or("-"),
                rule = %s.rule,
                exception = s.exception,
                reason = ?s.reason.as_deref().unwrap_or("-"),
                "alert suppressed by an exception"
            );
            out.explain(
                label,
                Some(&event),
                Reason::Excepted(s.rule, s.reason.clone()),
            );
        }
        if let Some(quiet) = verdict.quiet {
            *out.stats.quiet.entry(quiet).or_default() += 1;
            out.explain(label, Some(&event), Reason::Quiet(quiet));
        } else if verdict.detections.is_empty() && verdict.suppressed.is_empty() {
            out.stats.rules_off += 1;
            if let (Some(change), Some(_)) = (&verdict.change, &out.explained) {
                let fired = crate::detect::rules::candidates(&event, change);
                let rules = fired.into_iter().map(|c| c.rule).collect();
                out.explain(label, Some(&event), Reason::RulesOff(rules));
            }
        }
        let ctx = AlertContext {
            source: &self.source,
            detected_at: now,
            include_raw: self.include_raw,
        };
        let Some(change) = verdict.change.as_ref() else {
            self.observe(&event, &verdict, &ctx, Vec::new(), out);
            return;
        };
        let mut openings = Vec::new();
        for detection in &verdict.detections {
            let alert = alert::build(&event, change, detection, &ctx);
            let sinks = self.router.route(&alert);
            openings.push(Opening {
                rule: detection.rule,
                alert_id: alert.id.clone(),
                severity: alert.severity,
                sinks: sinks.clone(),
            });
            if !out.ids.insert(alert.id.clone()) {
                out.stats.duplicate_stages += 1;
                out.explain(label, Some(&event), Reason::DuplicateStage(detection.rule));
                continue;
            }
            out.stats.alerts += 1;
            out.explain(label, Some(&event), Reason::Alert(detection.rule));
            out.alerts.push(RoutedAlert { alert, sinks });
        }
        self.observe(&event, &verdict, &ctx, openings, out);
    }

    /// Adds what the event does to exposures, with the resolution a close would send.
    fn observe(
        &self,
        event: &AuditEvent,
        verdict: &Verdict,
        ctx: &AlertContext<'_>,
        openings: Vec<Opening>,
        out: &mut BatchOutcome,
    ) {
        let deleted;
        let change = match &verdict.change {
            Some(change) => Some(change),
            // A delete's stored object still tells its resourceVersion.
            None if event.verb.as_deref() == Some("delete") => {
                deleted = ServiceChange::of(event);
                Some(&deleted)
            }
            None => None,
        };
        let Some(mut observation) = exposure::observe(event, change, &openings) else {
            return;
        };
        if observation.ends_something() {
            observation.resolution = Some(Resolution {
                template: alert::resolution_template(event, ctx),
                notify: self.router.notify_closed(),
            });
        }
        out.exposures.push(observation);
    }
}

//! Decides whether an audit event exposes a Service, and how badly.
//!
//! [`Detector::inspect`] is pure: it reads the event (parsing bodies only for Service writes),
//! applies the enabled rules and the exceptions, and returns what fired. Building the alert
//! document is the job of [`crate::alert`].

pub mod exceptions;
pub mod risk;
pub mod rules;
pub mod service_change;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

pub use exceptions::{Exception, ExceptionWarning, Exceptions, Patterns, Subject};
pub use rules::Quiet;
pub use service_change::{ServiceChange, TypeSource};

use crate::model::{AuditEvent, RiskFactor, RuleId, Severity};

/// A rule that fired and was not excepted.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    pub rule: RuleId,
    pub severity: Severity,
    pub risk_factors: Vec<RiskFactor>,
}

/// A rule that fired but an exception silenced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    pub rule: RuleId,
    /// The exception's index in `detection.exceptions`.
    pub exception: usize,
    pub reason: Option<String>,
}

/// Everything the detector concluded about one event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verdict {
    pub detections: Vec<Detection>,
    pub suppressed: Vec<Suppression>,
    /// The parsed change, present when a rule looked at the bodies.
    pub change: Option<ServiceChange>,
    /// Why no rule fired at all (before enablement and exceptions), for `detect --explain`.
    pub quiet: Option<Quiet>,
}

#[derive(Clone, Debug)]
pub struct Detector {
    rules: BTreeSet<RuleId>,
    exceptions: Exceptions,
}

impl Default for Detector {
    fn default() -> Self {
        Detector::new(Self::default_rules(), Exceptions::default())
    }
}

impl Detector {
    pub fn new(rules: BTreeSet<RuleId>, exceptions: Exceptions) -> Self {
        Detector { rules, exceptions }
    }

    pub fn default_rules() -> BTreeSet<RuleId> {
        RuleId::ALL
            .into_iter()
            .filter(|r| r.enabled_by_default())
            .collect()
    }

    pub fn rules(&self) -> &BTreeSet<RuleId> {
        &self.rules
    }

    pub fn inspect(&self, event: &AuditEvent, now: DateTime<Utc>) -> Verdict {
        if !rules::is_service_write(event) {
            return Verdict {
                quiet: Some(Quiet::NotServiceWrite),
                ..Verdict::default()
            };
        }
        let change = ServiceChange::of(event);
        let assessment = rules::assess(event, &change);
        let mut verdict = Verdict {
            quiet: assessment.quiet,
            ..Verdict::default()
        };
        for candidate in assessment.fired {
            if !self.rules.contains(&candidate.rule) {
                continue;
            }
            let subject = Subject {
                rule: candidate.rule,
                event,
                labels: &change.labels,
            };
            if let Some((index, exception)) = self.exceptions.find(&subject, now) {
                verdict.suppressed.push(Suppression {
                    rule: candidate.rule,
                    exception: index,
                    reason: exception.reason.clone(),
                });
                continue;
            }
            verdict.detections.push(Detection {
                rule: candidate.rule,
                severity: candidate.severity,
                risk_factors: risk::risk_factors(&change),
            });
        }
        verdict.change = Some(change);
        verdict
    }
}

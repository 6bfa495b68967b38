//! Decides which sinks an alert goes to, from each sink's rule and severity filters.
//!
//! Routing happens when the alert enters the outbox, so each sink gets its own delivery row and
//! a sink added later does not receive old alerts.

use std::collections::BTreeSet;

use crate::model::{Alert, RuleId, Severity};

#[derive(Clone, Debug)]
pub struct SinkRoute {
    pub sink: String,
    /// `None` accepts every rule.
    pub rules: Option<BTreeSet<RuleId>>,
    pub min_severity: Severity,
}

impl SinkRoute {
    pub fn accepts(&self, alert: &Alert) -> bool {
        alert.severity >= self.min_severity
            && self.rules.as_ref().is_none_or(|r| r.contains(&alert.rule))
    }
}

#[derive(Clone, Debug, Default)]
pub struct Router {
    routes: Vec<SinkRoute>,
}

impl Router {
    pub fn new(routes: Vec<SinkRoute>) -> Self {
        Router { routes }
    }

    /// Every sink that accepts everything.
    pub fn to_all<I: IntoIterator<Item = String>>(sinks: I) -> Self {
        Router::new(
            sinks
                .into_iter()
                .map(|sink| SinkRoute {
                    sink,
                    rules: None,
                    min_severity: Severity::Info,
                })
                .collect(),
        )
    }

    pub fn route(&self, alert: &Alert) -> Vec<String> {
        self.routes
            .iter()
            .filter(|r| r.accepts(alert))
            .map(|r| r.sink.clone())
            .collect()
    }
}

//! Decides which sinks an alert goes to, from each sink's rule and severity filters.
//!
//! Routing happens when the alert enters the outbox, so each sink gets its own delivery row and
//! a sink added later does not receive old alerts.
//!
//! A degraded exposure alert (a Service write whose body was cut or dropped) says `medium`,
//! because the body that would prove the exposure is gone. But padding a Service is how an
//! attacker gets its body dropped, so the router filters such an alert at the rule's full
//! severity: it reaches every sink that would have received the complete alert, while the
//! alert itself still says `medium` and `degraded`.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::detect::rules::full_severity;
use crate::model::{Alert, RuleId, Severity};

/// The severity sinks' `min_severity` is compared with.
pub fn routing_severity(alert: &Alert) -> Severity {
    let exposure = matches!(
        alert.rule,
        RuleId::NodePort | RuleId::ExternalIps | RuleId::LoadBalancer
    );
    if exposure && !alert.degraded.is_empty() {
        alert.severity.max(full_severity(alert.rule))
    } else {
        alert.severity
    }
}

#[derive(Clone, Debug)]
pub struct SinkRoute {
    pub sink: String,
    /// `None` accepts every rule.
    pub rules: Option<BTreeSet<RuleId>>,
    pub min_severity: Severity,
    /// Receives the resolution of an exposure it was alerted about.
    pub notify_closed: bool,
    /// Receives a still-open exposure again, once, after this long.
    pub remind_after: Option<Duration>,
}

impl SinkRoute {
    pub fn accepts(&self, alert: &Alert) -> bool {
        routing_severity(alert) >= self.min_severity
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
                    notify_closed: true,
                    remind_after: None,
                })
                .collect(),
        )
    }

    pub fn routes(&self) -> &[SinkRoute] {
        &self.routes
    }

    /// The sinks that want resolutions (`notify_closed`).
    pub fn notify_closed(&self) -> Vec<String> {
        self.routes
            .iter()
            .filter(|r| r.notify_closed)
            .map(|r| r.sink.clone())
            .collect()
    }

    /// The sinks that want still-open reminders, and after how long.
    pub fn reminders(&self) -> Vec<(String, Duration)> {
        self.routes
            .iter()
            .filter_map(|r| r.remind_after.map(|after| (r.sink.clone(), after)))
            .collect()
    }

    pub fn route(&self, alert: &Alert) -> Vec<String> {
        self.routes
            .iter()
            .filter(|r| r.accepts(alert))
            .map(|r| r.sink.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::alert::{AlertContext, build};
    use crate::detect::Detector;
    use crate::model::{AuditEvent, Degradation, Origin, Provider};

    /// A successful NodePort-or-not Service create whose body was cut away.
    fn body_lost_create() -> Alert {
        let mut e = AuditEvent::new(Provider::Eks, Origin::default());
        e.verb = Some("create".into());
        e.object.resource = Some("services".into());
        e.object.name = Some("padded".into());
        e.outcome.http_code = Some(201);
        e.mark_degraded(Degradation::Truncated);
        let verdict = Detector::default().inspect(&e, Utc::now());
        let (Some(change), [detection]) = (verdict.change.as_ref(), verdict.detections.as_slice())
        else {
            panic!("one detection expected: {verdict:?}");
        };
        let ctx = AlertContext {
            source: "test",
            detected_at: Utc::now(),
            include_raw: false,
        };
        build(&e, change, detection, &ctx)
    }

    fn route(sink: &str, min_severity: Severity, rules: Option<&[RuleId]>) -> SinkRoute {
        SinkRoute {
            sink: sink.into(),
            rules: rules.map(|r| r.iter().copied().collect()),
            min_severity,
            notify_closed: true,
            remind_after: None,
        }
    }

    #[test]
    fn a_degraded_exposure_reaches_the_sinks_of_its_full_severity() {
        let alert = body_lost_create();
        assert_eq!(
            alert.severity,
            Severity::Medium,
            "the alert keeps its own severity"
        );
        assert!(!alert.degraded.is_empty());
        let router = Router::new(vec![
            route("high", Severity::High, None),
            route("critical", Severity::Critical, None),
            route("other-rule", Severity::Info, Some(&[RuleId::ExternalIps])),
        ]);
        assert_eq!(router.route(&alert), ["high"]);
    }

    #[test]
    fn complete_and_denied_alerts_route_at_their_own_severity() {
        let mut alert = body_lost_create();
        alert.degraded.clear();
        let router = Router::new(vec![route("high", Severity::High, None)]);
        assert!(router.route(&alert).is_empty());
        let mut denied = body_lost_create();
        denied.rule = RuleId::DeniedAttempts;
        denied.severity = Severity::Low;
        assert_eq!(routing_severity(&denied), Severity::Low);
    }
}

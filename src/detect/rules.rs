//! The detection rules of DETECTION.md, applied to one audit event.
//!
//! Every rule is about a Service `create`, `update` or `patch` (any client: apply, edit, expose,
//! patch). The exposure rules need the request to have taken effect: allowed, answered with 2xx
//! (or gRPC OK on GKE), not a dry run, and past the `RequestReceived` stage, which is logged
//! before the outcome is known. `denied-attempts` reports the same writes that were refused.

use crate::detect::service_change::{LOAD_BALANCER, NODE_PORT, ServiceChange};
use crate::model::{AuditEvent, Decision, Degradation, RuleId, Severity, Stage};

pub use crate::model::Quiet;

/// What became of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestResult {
    Succeeded,
    /// Refused by authentication or authorization.
    Denied,
    /// Allowed, then rejected (admission, validation, conflict) or failed.
    Failed,
    /// Logged before the response (`RequestReceived`): the outcome is in a later stage's record.
    Pending,
}

pub fn request_result(event: &AuditEvent) -> RequestResult {
    if event.authorization == Decision::Forbid {
        return RequestResult::Denied;
    }
    match event.outcome.http_code {
        Some(401 | 403) => return RequestResult::Denied,
        Some(200..=299) => {}
        Some(_) => return RequestResult::Failed,
        None if event.stage == Some(Stage::RequestReceived) => return RequestResult::Pending,
        None => {}
    }
    match event.outcome.rpc_code {
        None | Some(0) => RequestResult::Succeeded,
        // PERMISSION_DENIED, UNAUTHENTICATED
        Some(7 | 16) => RequestResult::Denied,
        Some(_) => RequestResult::Failed,
    }
}

/// A Service write: `create`, `update` or `patch` of the Service itself (not `services/status`).
pub fn is_service_write(event: &AuditEvent) -> bool {
    let object = &event.object;
    object.resource.as_deref() == Some("services")
        && object.subresource.as_deref().is_none_or(str::is_empty)
        && matches!(event.verb.as_deref(), Some("create" | "update" | "patch"))
}

/// The severity of a rule when the event is fully read. An exposure whose body was lost fires
/// lower (it may not be an exposure at all), but is routed at this severity
/// ([`crate::alert::Router`]), so padding a Service cannot take it below a sink's threshold.
pub fn full_severity(rule: RuleId) -> Severity {
    match rule {
        RuleId::NodePort | RuleId::ExternalIps => Severity::High,
        RuleId::LoadBalancer => Severity::Medium,
        RuleId::DeniedAttempts => Severity::Low,
    }
}

/// A rule that fired, before exceptions and enablement are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub rule: RuleId,
    pub severity: Severity,
}

/// What the rules concluded about one event: the rules that fired, or why none did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assessment {
    pub fired: Vec<Candidate>,
    pub quiet: Option<Quiet>,
}

/// Every rule that fires on the event, whether enabled or not.
pub fn candidates(event: &AuditEvent, change: &ServiceChange) -> Vec<Candidate> {
    assess(event, change).fired
}

/// The rules that fire on the event, or the reason none does.
pub fn assess(event: &AuditEvent, change: &ServiceChange) -> Assessment {
    let quiet = |reason| Assessment {
        fired: Vec::new(),
        quiet: Some(reason),
    };
    if !is_service_write(event) {
        return quiet(Quiet::NotServiceWrite);
    }
    if event.dry_run {
        return quiet(Quiet::DryRun);
    }
    let mut fired = Vec::new();
    let mut fire = |rule, severity| fired.push(Candidate { rule, severity });
    let full = full_severity;
    let result = request_result(event);
    match result {
        RequestResult::Succeeded => {
            match change.effective_type() {
                Some(NODE_PORT) => fire(RuleId::NodePort, full(RuleId::NodePort)),
                Some(LOAD_BALANCER) => fire(RuleId::LoadBalancer, full(RuleId::LoadBalancer)),
                // A patch that sets a node port without the stored object to tell the type:
                // node ports exist only on NodePort and LoadBalancer Services.
                None if change.sets_node_port => fire(RuleId::NodePort, full(RuleId::NodePort)),
                // The body that would tell was lost (AKS truncation, too big to log): report
                // the write, at lower severity, rather than let it pass unseen.
                None if body_lost(event) => fire(RuleId::NodePort, Severity::Medium),
                _ => {}
            }
            if !change.external_ips.is_empty() {
                fire(RuleId::ExternalIps, full(RuleId::ExternalIps));
            }
        }
        RequestResult::Denied | RequestResult::Failed => {
            let attempted = matches!(change.requested_type.as_deref(), Some(NODE_PORT))
                || change.sets_node_port
                || !change.external_ips.is_empty();
            if attempted {
                fire(RuleId::DeniedAttempts, full(RuleId::DeniedAttempts));
            }
        }
        RequestResult::Pending => {}
    }
    let quiet = fired.is_empty().then(|| match result {
        RequestResult::Pending => Quiet::RequestReceived,
        RequestResult::Denied => Quiet::Denied,
        RequestResult::Failed => Quiet::Failed,
        RequestResult::Succeeded if change.effective_type().is_some() => Quiet::NotExposed,
        RequestResult::Succeeded
            if event.request_object.is_none() && event.response_object.is_none() =>
        {
            Quiet::NoBody
        }
        RequestResult::Succeeded => Quiet::TypeUnchanged,
    });
    Assessment { fired, quiet }
}

fn body_lost(event: &AuditEvent) -> bool {
    event.degraded.iter().any(|d| {
        matches!(
            d,
            Degradation::Truncated | Degradation::RequestOmitted | Degradation::ResponseOmitted
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, Provider};

    fn write(verb: &str) -> AuditEvent {
        let mut e = AuditEvent::new(Provider::K8s, Origin::default());
        e.verb = Some(verb.into());
        e.object.resource = Some("services".into());
        e
    }

    #[test]
    fn outcomes() {
        let mut e = write("create");
        assert_eq!(request_result(&e), RequestResult::Succeeded);
        e.outcome.http_code = Some(422);
        assert_eq!(request_result(&e), RequestResult::Failed);
        e.outcome.http_code = Some(403);
        assert_eq!(request_result(&e), RequestResult::Denied);
        e.outcome.http_code = Some(201);
        e.authorization = Decision::Forbid;
        assert_eq!(request_result(&e), RequestResult::Denied);
        let mut e = write("create");
        e.outcome.rpc_code = Some(10);
        assert_eq!(request_result(&e), RequestResult::Failed);
        let mut e = write("create");
        e.stage = Some(Stage::RequestReceived);
        assert_eq!(request_result(&e), RequestResult::Pending);
    }

    #[test]
    fn only_service_writes_count() {
        assert!(is_service_write(&write("patch")));
        assert!(!is_service_write(&write("get")));
        let mut e = write("update");
        e.object.subresource = Some("status".into());
        assert!(!is_service_write(&e));
    }
}

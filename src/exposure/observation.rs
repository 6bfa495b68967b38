//! What one audit event says about the exposures of a Service: for each rule, whether the
//! write opens (or keeps open) an exposure, keeps it without alerting, or ends it.
//!
//! Only writes that took effect count: a successful, non-dry-run `create`, `update` or `patch` of
//! the Service (its effective type and `externalIPs` afterwards, read by [`ServiceChange`]), a
//! successful `delete` of the Service, or of its namespace. A refused, failed, dry-run or
//! not-yet-answered (`RequestReceived`) request changes nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::key::{EXPOSURE_RULES, ServiceRef};
use super::order::OrderKey;
use super::resolution::Resolution;
use crate::alert::request_key;
use crate::detect::ServiceChange;
use crate::detect::rules::{RequestResult, is_service_write, request_result};
use crate::detect::service_change::{LOAD_BALANCER, NODE_PORT};
use crate::model::{AuditEvent, RuleId, Severity};

/// Who made a write, and when.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user: Option<String>,
    pub at: Option<DateTime<Utc>>,
    pub audit_id: Option<String>,
    pub verb: String,
}

/// What the write was about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Service(ServiceRef),
    /// Every Service of the namespace (the namespace was deleted).
    Namespace {
        cluster: String,
        namespace: String,
    },
}

/// The Service as the write left it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub service_type: Option<String>,
    pub node_ports: Vec<i64>,
    pub external_ips: Vec<String>,
}

/// An alert of an exposure rule raised by the write, and where it was routed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opening {
    pub rule: RuleId,
    pub alert_id: String,
    pub severity: Severity,
    pub sinks: Vec<String>,
}

/// What the write does to one rule's exposure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The write alerted: it opens the exposure, or updates an open one.
    Open(Opening),
    /// Still exposed, without an alert of this rule (an exception matched, or the nodeport
    /// rule's Service became a LoadBalancer, which keeps its node ports): updates an open one.
    Keep,
    /// No longer exposed under this rule: closes an open one.
    End,
}

#[derive(Clone, Debug)]
pub struct Observation {
    pub target: Target,
    pub order: OrderKey,
    pub actor: Actor,
    pub snapshot: Snapshot,
    pub effects: Vec<(RuleId, Effect)>,
    /// The resolution a close caused by this write sends, before it is tied to the exposure
    /// it closes; set by the pipeline when some effect ends an exposure.
    pub resolution: Option<Resolution>,
}

impl Observation {
    pub fn ends_something(&self) -> bool {
        self.effects.iter().any(|(_, e)| *e == Effect::End)
    }
}

/// The write's target and what it ended, before any alert of it is known: `None` when the
/// event changes no exposure. `change` is the detector's reading of a Service write.
pub fn observe(
    event: &AuditEvent,
    change: Option<&ServiceChange>,
    openings: &[Opening],
) -> Option<Observation> {
    if event.dry_run || request_result(event) != RequestResult::Succeeded {
        return None;
    }
    let cluster = event.origin.cluster.clone().unwrap_or_default();
    let object = &event.object;
    let resource = object.resource.as_deref();
    let whole = object.subresource.as_deref().is_none_or(str::is_empty);
    let verb = event.verb.as_deref();
    let (target, snapshot, effects) = if is_service_write(event) {
        let change = change?;
        let target = Target::Service(service_ref(event, cluster)?);
        let effects = EXPOSURE_RULES
            .into_iter()
            .filter_map(|rule| effect(rule, change, openings).map(|e| (rule, e)))
            .collect();
        (target, snapshot(change), effects)
    } else if verb == Some("delete") && resource == Some("services") && whole {
        let target = Target::Service(service_ref(event, cluster)?);
        (target, Snapshot::default(), ended())
    } else if verb == Some("delete") && resource == Some("namespaces") && whole {
        // A namespace's own name; GKE's resourceName leaves `namespace` empty for it.
        let namespace = object.name.clone().or_else(|| object.namespace.clone())?;
        (
            Target::Namespace { cluster, namespace },
            Snapshot::default(),
            ended(),
        )
    } else {
        return None;
    };
    if effects.is_empty() {
        return None;
    }
    Some(Observation {
        target,
        order: OrderKey {
            at: event.request_received.or(event.event_time),
            resource_version: change.and_then(|c| c.resource_version),
            request: request_key(event),
        },
        actor: Actor {
            user: event.user.username.clone(),
            at: event.request_received.or(event.event_time),
            audit_id: event.audit_id.clone(),
            verb: verb.unwrap_or_default().to_owned(),
        },
        snapshot,
        effects,
        resolution: None,
    })
}

fn service_ref(event: &AuditEvent, cluster: String) -> Option<ServiceRef> {
    Some(ServiceRef {
        cluster,
        namespace: event.object.namespace.clone()?,
        service: event.object.name.clone()?,
    })
}

fn ended() -> Vec<(RuleId, Effect)> {
    EXPOSURE_RULES
        .into_iter()
        .map(|r| (r, Effect::End))
        .collect()
}

fn snapshot(change: &ServiceChange) -> Snapshot {
    Snapshot {
        service_type: change.effective_type().map(str::to_owned),
        node_ports: change.ports.iter().filter_map(|p| p.node_port).collect(),
        external_ips: change.external_ips.clone(),
    }
}

/// One rule's effect of a successful Service write; `None` when the write does not tell
/// (a patch that leaves the type or the external IPs alone).
fn effect(rule: RuleId, change: &ServiceChange, openings: &[Opening]) -> Option<Effect> {
    if let Some(opening) = openings.iter().find(|o| o.rule == rule) {
        return Some(Effect::Open(opening.clone()));
    }
    let kind = change.effective_type();
    match rule {
        RuleId::NodePort => match kind {
            // A LoadBalancer keeps its node ports (NodePort → LoadBalancer is an update).
            Some(NODE_PORT | LOAD_BALANCER) => Some(Effect::Keep),
            Some(_) => Some(Effect::End),
            None if change.sets_node_port => Some(Effect::Keep),
            None => None,
        },
        RuleId::LoadBalancer => match kind {
            Some(LOAD_BALANCER) => Some(Effect::Keep),
            Some(_) => Some(Effect::End),
            None => None,
        },
        RuleId::ExternalIps if !change.external_ips.is_empty() => Some(Effect::Keep),
        RuleId::ExternalIps if change.external_ips_known => Some(Effect::End),
        RuleId::ExternalIps | RuleId::DeniedAttempts => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Decision, Origin, Payload, Provider, Stage};
    use serde_json::value::RawValue;

    fn event(verb: &str, resource: &str, request: Option<&str>) -> AuditEvent {
        let mut e = AuditEvent::new(
            Provider::K8s,
            Origin {
                cluster: Some("c".into()),
                ..Origin::default()
            },
        );
        e.verb = Some(verb.into());
        e.stage = Some(Stage::ResponseComplete);
        e.object.resource = Some(resource.into());
        e.object.namespace = Some("n".into());
        e.object.name = Some("web".into());
        e.outcome.http_code = Some(200);
        e.request_object =
            request.map(|r| Payload::Json(RawValue::from_string(r.to_owned()).unwrap()));
        e
    }

    fn effects(e: &AuditEvent) -> Vec<(RuleId, Effect)> {
        let change = ServiceChange::of(e);
        observe(e, Some(&change), &[])
            .map(|o| o.effects)
            .unwrap_or_default()
    }

    #[test]
    fn a_patch_to_cluster_ip_ends_the_type_rules_only() {
        let e = event(
            "patch",
            "services",
            Some(r#"{"spec":{"type":"ClusterIP"}}"#),
        );
        assert_eq!(
            effects(&e),
            [
                (RuleId::NodePort, Effect::End),
                (RuleId::LoadBalancer, Effect::End)
            ]
        );
    }

    #[test]
    fn a_json_patch_removing_the_type_ends_it() {
        let e = event(
            "patch",
            "services",
            Some(r#"[{"op":"remove","path":"/spec/type"}]"#),
        );
        assert!(effects(&e).contains(&(RuleId::NodePort, Effect::End)));
    }

    #[test]
    fn a_load_balancer_keeps_the_node_ports_open() {
        let e = event(
            "patch",
            "services",
            Some(r#"{"spec":{"type":"LoadBalancer"}}"#),
        );
        assert!(effects(&e).contains(&(RuleId::NodePort, Effect::Keep)));
    }

    #[test]
    fn emptied_external_ips_end_that_rule() {
        let e = event("patch", "services", Some(r#"{"spec":{"externalIPs":[]}}"#));
        assert_eq!(effects(&e), [(RuleId::ExternalIps, Effect::End)]);
    }

    #[test]
    fn an_alert_opens() {
        let e = event(
            "create",
            "services",
            Some(r#"{"kind":"Service","spec":{"type":"NodePort"}}"#),
        );
        let change = ServiceChange::of(&e);
        let opening = Opening {
            rule: RuleId::NodePort,
            alert_id: "a".into(),
            severity: Severity::High,
            sinks: vec!["s".into()],
        };
        let o = observe(&e, Some(&change), std::slice::from_ref(&opening)).unwrap();
        assert_eq!(o.effects[0], (RuleId::NodePort, Effect::Open(opening)));
        assert_eq!(o.effects[1], (RuleId::ExternalIps, Effect::End));
        assert_eq!(o.snapshot.service_type.as_deref(), Some("NodePort"));
    }

    #[test]
    fn deletes_end_every_rule() {
        let o = observe(&event("delete", "services", None), None, &[]).unwrap();
        assert_eq!(o.effects.len(), 3);
        assert!(o.effects.iter().all(|(_, e)| *e == Effect::End));
        let mut ns = event("delete", "namespaces", None);
        ns.object.namespace = None;
        ns.object.name = Some("team".into());
        let o = observe(&ns, None, &[]).unwrap();
        assert_eq!(
            o.target,
            Target::Namespace {
                cluster: "c".into(),
                namespace: "team".into()
            }
        );
    }

    #[test]
    fn writes_that_did_not_happen_change_nothing() {
        let mut dry = event("delete", "services", None);
        dry.dry_run = true;
        assert!(observe(&dry, None, &[]).is_none());
        let mut forbidden = event("delete", "services", None);
        forbidden.outcome.http_code = Some(403);
        assert!(observe(&forbidden, None, &[]).is_none());
        let mut denied = event("delete", "services", None);
        denied.authorization = Decision::Forbid;
        assert!(observe(&denied, None, &[]).is_none());
        let mut received = event("delete", "services", None);
        received.outcome.http_code = None;
        received.stage = Some(Stage::RequestReceived);
        assert!(observe(&received, None, &[]).is_none());
        let mut failed = event("delete", "services", None);
        failed.outcome.rpc_code = Some(5);
        assert!(observe(&failed, None, &[]).is_none());
        let mut status = event("delete", "services", None);
        status.object.subresource = Some("status".into());
        assert!(observe(&status, None, &[]).is_none());
    }
}

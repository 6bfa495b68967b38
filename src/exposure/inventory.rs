//! Exposures kept in memory, for `detect --exposures`: the same plan the store applies, over a
//! map instead of a table.

use std::collections::BTreeMap;

use super::key::ExposureKey;
use super::observation::{Observation, Target};
use super::plan::{Plan, plan};
use super::transition::{Exposure, Status, Transition};

#[derive(Debug, Default)]
pub struct Inventory {
    rows: BTreeMap<ExposureKey, Exposure>,
    /// When each open episode was opened, in input order.
    opened_seq: BTreeMap<ExposureKey, u64>,
    next: u64,
}

impl Inventory {
    pub fn apply(&mut self, observation: &Observation) -> Plan {
        let current: Vec<Exposure> = self
            .rows
            .values()
            .filter(|r| covers(&observation.target, r))
            .cloned()
            .collect();
        let planned = plan(observation, &current);
        for t in &planned.transitions {
            if let Transition::Open(row) = t {
                self.opened_seq.insert(row.key.clone(), self.next);
                self.next += 1;
            }
            if let Some(row) = t.row() {
                self.rows.insert(row.key.clone(), row.clone());
            }
        }
        planned
    }

    /// The exposures open now, in the order their opening writes were read.
    pub fn open(&self) -> Vec<&Exposure> {
        let mut open: Vec<(u64, &Exposure)> = self
            .rows
            .values()
            .filter(|r| r.status == Status::Open)
            .map(|r| (self.opened_seq.get(&r.key).copied().unwrap_or(u64::MAX), r))
            .collect();
        open.sort_by_key(|(seq, _)| *seq);
        open.into_iter().map(|(_, r)| r).collect()
    }
}

/// Whether a row belongs to what the write is about.
pub fn covers(target: &Target, row: &Exposure) -> bool {
    let s = &row.key.service;
    match target {
        Target::Service(service) => s == service,
        Target::Namespace { cluster, namespace } => {
            &s.cluster == cluster && &s.namespace == namespace
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertContext, resolution_template};
    use crate::detect::ServiceChange;
    use crate::exposure::observation::{Opening, observe};
    use crate::exposure::resolution::Resolution;
    use crate::model::{
        AlertStatus, AuditEvent, Origin, Payload, Provider, RuleId, Severity, Stage,
    };
    use chrono::DateTime;
    use serde_json::value::RawValue;

    fn write(
        secs: i64,
        id: &str,
        verb: &str,
        resource: &str,
        name: &str,
        body: Option<&str>,
    ) -> AuditEvent {
        let mut e = AuditEvent::new(
            Provider::K8s,
            Origin {
                cluster: Some("c".into()),
                ..Origin::default()
            },
        );
        e.audit_id = Some(id.into());
        e.request_received = DateTime::from_timestamp(secs, 0);
        e.verb = Some(verb.into());
        e.stage = Some(Stage::ResponseComplete);
        e.object.resource = Some(resource.into());
        e.object.namespace = Some("n".into()).filter(|_| resource != "namespaces");
        e.object.name = Some(name.into());
        e.user.username = Some(format!("user-{id}"));
        e.request_object = body.map(|b| Payload::Json(RawValue::from_string(b.into()).unwrap()));
        e
    }

    fn feed(inventory: &mut Inventory, e: &AuditEvent) -> Plan {
        let change = ServiceChange::of(e);
        let opens = change.effective_type() == Some("NodePort");
        let openings: Vec<Opening> = opens
            .then(|| Opening {
                rule: RuleId::NodePort,
                alert_id: format!("alert-{}", e.audit_id.as_deref().unwrap_or_default()),
                severity: Severity::High,
                sinks: vec!["pager".into(), "quiet".into()],
            })
            .into_iter()
            .collect();
        let Some(mut o) = observe(e, Some(&change), &openings) else {
            return Plan::default();
        };
        let ctx = AlertContext {
            source: "test",
            detected_at: chrono::Utc::now(),
            include_raw: false,
        };
        o.resolution = Some(Resolution {
            template: resolution_template(e, &ctx),
            notify: vec!["pager".into()],
        });
        inventory.apply(&o)
    }

    const NODE_PORT: &str = r#"{"kind":"Service","spec":{"type":"NodePort"}}"#;

    #[test]
    fn a_namespace_delete_closes_its_services_and_notifies_the_open_alerts_sinks() {
        let mut inv = Inventory::default();
        feed(
            &mut inv,
            &write(1, "a", "create", "services", "web", Some(NODE_PORT)),
        );
        feed(
            &mut inv,
            &write(2, "b", "create", "services", "api", Some(NODE_PORT)),
        );
        assert_eq!(inv.open().len(), 2);
        assert_eq!(inv.open()[0].key.service.service, "web");
        let plan = feed(&mut inv, &write(3, "c", "delete", "namespaces", "n", None));
        assert!(inv.open().is_empty());
        assert_eq!(plan.notices.len(), 2);
        let notice = &plan.notices[0];
        assert_eq!(notice.sinks, ["pager"]);
        assert_eq!(notice.alert.status, AlertStatus::Closed);
        assert_eq!(notice.alert.user.username.as_deref(), Some("user-c"));
        assert_eq!(notice.alert.audit_id.as_deref(), Some("c"));
        let opened = inv
            .rows
            .values()
            .find(|r| r.id == notice.alert.exposure_id.clone().unwrap());
        assert!(opened.is_some());
    }

    #[test]
    fn alerts_are_tied_to_their_exposure() {
        let mut inv = Inventory::default();
        let first = feed(
            &mut inv,
            &write(1, "a", "create", "services", "web", Some(NODE_PORT)),
        );
        let second = feed(
            &mut inv,
            &write(
                2,
                "b",
                "patch",
                "services",
                "web",
                Some(r#"{"spec":{"type":"NodePort","ports":[{"nodePort":30002}]}}"#),
            ),
        );
        assert_eq!(first.alert_exposures[0].1, second.alert_exposures[0].1);
        assert_eq!(second.alert_exposures[0].0, "alert-b");
    }

    #[test]
    fn a_dry_run_delete_closes_nothing() {
        let mut inv = Inventory::default();
        feed(
            &mut inv,
            &write(1, "a", "create", "services", "web", Some(NODE_PORT)),
        );
        let mut dry = write(2, "b", "delete", "services", "web", None);
        dry.dry_run = true;
        feed(&mut inv, &dry);
        let mut forbidden = write(3, "c", "delete", "services", "web", None);
        forbidden.outcome.http_code = Some(403);
        feed(&mut inv, &forbidden);
        assert_eq!(inv.open().len(), 1);
        feed(&mut inv, &write(4, "d", "delete", "services", "web", None));
        assert!(inv.open().is_empty());
    }
}

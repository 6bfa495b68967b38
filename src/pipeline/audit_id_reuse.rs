//! Notices one `auditID` on two different requests.
//!
//! The API server takes the ID from the client's `Audit-ID` header as sent, so two requests
//! sharing it is not a coincidence: someone chose to reuse it, and the usual reason is to have a
//! later request deduplicated away as a repeat of an earlier one. Alert ids no longer depend on
//! the ID alone ([`crate::alert::fingerprint`]), so nothing is lost; this module makes the
//! attempt itself visible.
//!
//! The window is one batch: the records of one poll of one source (or one `detect` input). A
//! reuse spread over two polls is not reported, which keeps memory bounded by the batch; the
//! alerts themselves are unaffected either way.

use std::collections::HashMap;

use crate::alert::request_key;
use crate::model::AuditEvent;

/// The first request seen with an `auditID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    key: String,
    pub user: Option<String>,
    pub service: String,
}

/// One `auditID` on a second, different request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reuse {
    pub audit_id: String,
    pub first: SeenRequest,
    pub second: SeenRequest,
}

#[derive(Debug, Default)]
pub struct AuditIdReuse {
    by_id: HashMap<String, Vec<SeenRequest>>,
}

impl AuditIdReuse {
    /// Records `event`; returns the reuse when its ID was first seen on another request. Each
    /// distinct request sharing an ID is reported once.
    pub fn observe(&mut self, event: &AuditEvent) -> Option<Reuse> {
        let id = event.audit_id.as_ref()?;
        let request = SeenRequest {
            key: request_key(event),
            user: event.user.username.clone(),
            service: service_name(event),
        };
        let seen = self.by_id.entry(id.clone()).or_default();
        if seen.iter().any(|s| s.key == request.key) {
            return None;
        }
        let first = seen.first().cloned();
        seen.push(request.clone());
        first.map(|first| Reuse {
            audit_id: id.clone(),
            first,
            second: request,
        })
    }
}

fn service_name(event: &AuditEvent) -> String {
    format!(
        "{}/{}",
        event.object.namespace.as_deref().unwrap_or("-"),
        event.object.name.as_deref().unwrap_or("-")
    )
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::{Origin, Provider, Stage};

    fn create(name: &str, second: u32) -> AuditEvent {
        let mut e = AuditEvent::new(Provider::K8s, Origin::default());
        e.audit_id = Some("fixed".into());
        e.verb = Some("create".into());
        e.object.resource = Some("services".into());
        e.object.namespace = Some("web".into());
        e.object.name = Some(name.into());
        e.user.username = Some("mallory".into());
        e.request_received = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, second).single();
        e
    }

    #[test]
    fn stages_are_not_reuse_but_other_requests_are() {
        let mut t = AuditIdReuse::default();
        let mut received = create("decoy", 0);
        received.stage = Some(Stage::RequestReceived);
        assert_eq!(t.observe(&received), None);
        assert_eq!(t.observe(&create("decoy", 0)), None, "a later stage");
        let reuse = t.observe(&create("shop", 1)).expect("reuse");
        assert_eq!(reuse.audit_id, "fixed");
        assert_eq!(reuse.first.service, "web/decoy");
        assert_eq!(reuse.second.service, "web/shop");
        assert_eq!(reuse.second.user.as_deref(), Some("mallory"));
        assert_eq!(t.observe(&create("shop", 1)), None, "reported once");
        assert!(t.observe(&create("db", 2)).is_some());
    }

    #[test]
    fn events_without_an_id_are_ignored() {
        let mut t = AuditIdReuse::default();
        let mut e = create("a", 0);
        e.audit_id = None;
        assert_eq!(t.observe(&e), None);
        assert_eq!(t.observe(&e), None);
    }
}

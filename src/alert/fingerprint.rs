//! The alert id: a fingerprint of the audit event and the rule.
//!
//! It must be the same for every stage of one request, for every re-read of the same record
//! (poll overlaps, restarts, catch-up scans) and for every replica, because the outbox and the
//! sinks' idempotency keys deduplicate on it. So it hashes only what identifies the request:
//! the `auditID` where there is one, else the provider's record id, else the request's content.

use sha2::{Digest, Sha256};

use crate::model::{AuditEvent, Payload, RuleId};

/// Bumped only if the inputs change, which would re-send every alert once.
const VERSION: &str = "v1";

pub fn fingerprint(rule: RuleId, event: &AuditEvent) -> String {
    let mut h = Sha256::new();
    let mut field = |value: &str| {
        h.update(value.as_bytes());
        h.update([0]);
    };
    field(VERSION);
    field(rule.as_str());
    field(event.provider.as_str());
    field(event.origin.cluster.as_deref().unwrap_or_default());
    if let Some(id) = &event.audit_id {
        field("audit");
        field(id);
    } else if let Some(id) = &event.record_id {
        field("record");
        field(id);
    } else {
        field("content");
        field(event.verb.as_deref().unwrap_or_default());
        field(event.object.namespace.as_deref().unwrap_or_default());
        field(event.object.name.as_deref().unwrap_or_default());
        field(event.user.username.as_deref().unwrap_or_default());
        field(&event.event_time.map(|t| t.to_rfc3339()).unwrap_or_default());
        if let Some(Payload::Json(body)) = &event.request_object {
            field(body.get());
        }
    }
    let digest = h.finalize();
    // 128 bits are plenty against collisions and keep ids readable in chat and tickets.
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, Provider, Stage};

    fn event() -> AuditEvent {
        let mut e = AuditEvent::new(
            Provider::Eks,
            Origin {
                cluster: Some("prod".into()),
                ..Origin::default()
            },
        );
        e.audit_id = Some("a-1".into());
        e
    }

    #[test]
    fn stages_of_one_request_share_an_id() {
        let mut received = event();
        received.stage = Some(Stage::RequestReceived);
        received.record_id = Some("1".into());
        let mut complete = event();
        complete.stage = Some(Stage::ResponseComplete);
        complete.record_id = Some("2".into());
        assert_eq!(
            fingerprint(RuleId::NodePort, &received),
            fingerprint(RuleId::NodePort, &complete)
        );
    }

    #[test]
    fn rule_cluster_and_request_tell_ids_apart() {
        let base = fingerprint(RuleId::NodePort, &event());
        assert_eq!(base.len(), 32);
        assert_ne!(base, fingerprint(RuleId::ExternalIps, &event()));
        let mut other = event();
        other.origin.cluster = Some("dev".into());
        assert_ne!(base, fingerprint(RuleId::NodePort, &other));
        let mut other = event();
        other.audit_id = Some("a-2".into());
        assert_ne!(base, fingerprint(RuleId::NodePort, &other));
    }
}

//! The alert id: a fingerprint of the request and the rule.
//!
//! It must be the same for every stage of one request, for every re-read of the same record
//! (poll overlaps, restarts, catch-up scans) and for every replica, because the outbox and the
//! sinks' idempotency keys deduplicate on it. So it hashes only what identifies the request.
//!
//! The `auditID` alone does not: kube-apiserver takes it from the client's `Audit-ID` header as
//! sent, so an attacker can give every request the ID of one harmless request and have the
//! outbox drop all later alerts as repeats. The ID is therefore hashed together with what the
//! API server itself sets and keeps equal across the stages of one request: the time it received
//! the request, the verb and the object (resource, namespace, name, subresource), and the
//! cluster. Two requests sharing all of these are the same request.

use chrono::SecondsFormat;
use sha2::{Digest, Sha256};

use crate::model::{AuditEvent, Payload, RuleId};

/// Bumped when the inputs change, which re-sends the alerts still inside a poll overlap once.
const VERSION: &str = "v2";

pub fn fingerprint(rule: RuleId, event: &AuditEvent) -> String {
    let mut h = Sha256::new();
    field(&mut h, VERSION);
    field(&mut h, rule.as_str());
    hash_request(&mut h, event);
    let digest = h.finalize();
    // 128 bits are plenty against collisions and keep ids readable in chat and tickets.
    hex::encode(&digest[..16])
}

/// What identifies one request, whatever its stage and whoever read it: equal for two events
/// exactly when they are (stages of) the same request.
pub fn request_key(event: &AuditEvent) -> String {
    let mut h = Sha256::new();
    hash_request(&mut h, event);
    hex::encode(&h.finalize()[..16])
}

fn field(h: &mut Sha256, value: &str) {
    h.update(value.as_bytes());
    h.update([0]);
}

fn hash_request(h: &mut Sha256, event: &AuditEvent) {
    field(h, event.provider.as_str());
    field(h, event.origin.cluster.as_deref().unwrap_or_default());
    if let Some(id) = &event.audit_id {
        field(h, "audit");
        field(h, id);
        field(
            h,
            &event
                .request_received
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true))
                .unwrap_or_default(),
        );
        field(h, event.verb.as_deref().unwrap_or_default());
        let object = &event.object;
        for part in [
            &object.resource,
            &object.namespace,
            &object.name,
            &object.subresource,
        ] {
            field(h, part.as_deref().unwrap_or_default());
        }
    } else if let Some(id) = &event.record_id {
        field(h, "record");
        field(h, id);
    } else {
        field(h, "content");
        field(h, event.verb.as_deref().unwrap_or_default());
        field(h, event.object.namespace.as_deref().unwrap_or_default());
        field(h, event.object.name.as_deref().unwrap_or_default());
        field(h, event.user.username.as_deref().unwrap_or_default());
        field(
            h,
            &event.event_time.map(|t| t.to_rfc3339()).unwrap_or_default(),
        );
        if let Some(Payload::Json(body)) = &event.request_object {
            field(h, body.get());
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

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
        e.verb = Some("create".into());
        e.object.resource = Some("services".into());
        e.object.namespace = Some("web".into());
        e.object.name = Some("shop".into());
        e.request_received = Utc.timestamp_opt(1_772_445_600, 123_456_000).single();
        e
    }

    #[test]
    fn stages_of_one_request_share_an_id() {
        let mut received = event();
        received.stage = Some(Stage::RequestReceived);
        received.record_id = Some("1".into());
        received.event_time = received.request_received;
        let mut complete = event();
        complete.stage = Some(Stage::ResponseComplete);
        complete.record_id = Some("2".into());
        complete.event_time = Utc.timestamp_opt(1_772_445_601, 0).single();
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

    #[test]
    fn a_reused_audit_id_does_not_merge_requests() {
        let base = fingerprint(RuleId::NodePort, &event());
        let variants: [fn(&mut AuditEvent); 6] = [
            |e| e.object.name = Some("other".into()),
            |e| e.object.namespace = Some("other".into()),
            |e| e.object.subresource = Some("status".into()),
            |e| e.verb = Some("patch".into()),
            |e| e.request_received = Utc.timestamp_opt(1_772_445_600, 123_457_000).single(),
            |e| e.request_received = None,
        ];
        for change in variants {
            let mut other = event();
            change(&mut other);
            assert_ne!(base, fingerprint(RuleId::NodePort, &other), "{other:?}");
            assert_ne!(request_key(&event()), request_key(&other));
        }
    }
}

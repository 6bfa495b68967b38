//! The Kubernetes audit `Event` (`audit.k8s.io/v1`), as the API server's log backend writes it.
//!
//! EKS ships this document as the CloudWatch `message` and AKS as `properties.log`, so those
//! normalizers unwrap their envelope and hand the text here.

use serde_json::value::RawValue;

use super::json::{Fields, Lenient, string_value, with_object};
use super::{RecordContext, SkipReason, time};
use crate::model::{
    AuditEvent, Decision, Degradation, OMITTED_BODY_MARKER, ObjectRef, Payload, Provider, Stage,
    UserInfo,
};

const DECISION_ANNOTATION: &str = "authorization.k8s.io/decision";

/// Reads one audit Event; a truncated one yields what its complete prefix holds, marked degraded.
/// `cut` says the transport already knows the text is a prefix (a CloudWatch cut marker).
pub(super) fn event(
    text: &str,
    provider: Provider,
    ctx: &RecordContext<'_>,
    cut: bool,
) -> Result<AuditEvent, SkipReason> {
    with_object(text, |fields, truncated| {
        let mut event = from_fields(fields, provider, ctx)?;
        if truncated || cut {
            if event.verb.is_none() && event.object.resource.is_none() {
                return Err(SkipReason::Truncated);
            }
            event.mark_degraded(Degradation::Truncated);
        }
        Ok(event)
    })
}

/// Whether an object is an audit Event rather than some other JSON that mentions services.
pub(super) fn looks_like_event(fields: &Fields<'_>) -> bool {
    ["verb", "objectRef", "auditID", "stage", "requestURI"]
        .iter()
        .any(|k| fields.contains(k))
        || fields
            .get("kind")
            .and_then(string_value)
            .is_some_and(|k| k == "Event")
}

pub(super) fn from_fields(
    f: &Fields<'_>,
    provider: Provider,
    ctx: &RecordContext<'_>,
) -> Result<AuditEvent, SkipReason> {
    if !looks_like_event(f) {
        return Err(SkipReason::NotAudit);
    }
    let mut event = AuditEvent::new(provider, ctx.origin());
    let mut degraded = Vec::new();
    let mut r = Lenient::new(&mut degraded);

    event.audit_id = r.string(f, "auditID", "auditID");
    event.stage = r.string(f, "stage", "stage").map(|s| Stage::parse(&s));
    event.verb = r.string(f, "verb", "verb");
    event.request_uri = r.string(f, "requestURI", "requestURI");
    event.dry_run = event.request_uri.as_deref().is_some_and(is_dry_run);
    if let Some(o) = r.object(f, "objectRef", "objectRef") {
        event.object = ObjectRef {
            resource: r.string(&o, "resource", "objectRef.resource"),
            subresource: r.string(&o, "subresource", "objectRef.subresource"),
            namespace: r.string(&o, "namespace", "objectRef.namespace"),
            name: r.string(&o, "name", "objectRef.name"),
            api_group: r.string(&o, "apiGroup", "objectRef.apiGroup"),
            api_version: r.string(&o, "apiVersion", "objectRef.apiVersion"),
        };
    }
    if let Some(u) = r.object(f, "user", "user") {
        event.user = user(&mut r, &u, "user");
    }
    if let Some(u) = r.object(f, "impersonatedUser", "impersonatedUser") {
        event.user.impersonated = Some(Box::new(user(&mut r, &u, "impersonatedUser")));
    }
    event.source_ips = r.strings(f, "sourceIPs", "sourceIPs");
    event.user_agent = r.string(f, "userAgent", "userAgent");
    if let Some(status) = r.object(f, "responseStatus", "responseStatus") {
        event.outcome.http_code = r
            .integer(&status, "code", "responseStatus.code")
            .and_then(|c| u16::try_from(c).ok());
        event.outcome.message = r.string(&status, "message", "responseStatus.message");
    }
    event.authorization = r
        .string_map(f, "annotations", "annotations")
        .into_iter()
        .find(|(k, _)| k == DECISION_ANNOTATION)
        .map_or(Decision::Unknown, |(_, v)| decision(&v));
    event.request_object = payload(&mut r, f, "requestObject", Degradation::RequestOmitted);
    event.response_object = payload(&mut r, f, "responseObject", Degradation::ResponseOmitted);
    event.request_received = r
        .string(f, "requestReceivedTimestamp", "requestReceivedTimestamp")
        .and_then(|s| time::parse_timestamp(&s));
    event.event_time = ["stageTimestamp", "requestReceivedTimestamp", "timestamp"]
        .iter()
        .find_map(|k| r.string(f, k, k).and_then(|s| time::parse_timestamp(&s)))
        .or(ctx.record_time);
    event.record_id = ctx.record_id.map(str::to_owned);
    event.degraded = degraded;
    Ok(event)
}

fn user(r: &mut Lenient<'_>, u: &Fields<'_>, path: &str) -> UserInfo {
    UserInfo {
        username: r.string(u, "username", path),
        groups: r.strings(u, "groups", path),
        impersonated: None,
    }
}

pub(super) fn decision(value: &str) -> Decision {
    match value {
        "allow" => Decision::Allow,
        "forbid" => Decision::Forbid,
        _ => Decision::Unknown,
    }
}

/// `dryRun` is a query parameter; any value asks for a dry run (`All` is the only valid one).
pub(crate) fn is_dry_run(request_uri: &str) -> bool {
    let Some((_, query)) = request_uri.split_once('?') else {
        return false;
    };
    query.split('&').any(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        key == "dryRun" && !value.is_empty()
    })
}

/// A request or response body, which AKS may replace by a marker or encode as a JSON string.
pub(super) fn payload(
    r: &mut Lenient<'_>,
    f: &Fields<'_>,
    key: &str,
    omitted: Degradation,
) -> Option<Payload> {
    let raw = f.get(key)?;
    payload_from_raw(r, raw, key, omitted)
}

pub(super) fn payload_from_raw(
    r: &mut Lenient<'_>,
    raw: &RawValue,
    path: &str,
    omitted: Degradation,
) -> Option<Payload> {
    let text = raw.get();
    if text.starts_with('{') || text.starts_with('[') {
        return Some(Payload::Json(raw.to_owned()));
    }
    if let Some(s) = string_value(raw) {
        if s == OMITTED_BODY_MARKER {
            r.note(omitted);
            return Some(Payload::Omitted);
        }
        let inner = s.trim();
        if (inner.starts_with('{') || inner.starts_with('['))
            && let Ok(value) = RawValue::from_string(inner.to_owned())
        {
            return Some(Payload::Json(value));
        }
    }
    r.note(Degradation::InvalidField(path.to_owned()));
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Decision;

    fn read(text: &str) -> AuditEvent {
        event(text, Provider::K8s, &RecordContext::default(), false).expect("an event")
    }

    #[test]
    fn reads_every_field() {
        let e = read(
            r#"{"kind":"Event","auditID":"a1","stage":"ResponseComplete","verb":"patch",
            "requestURI":"/api/v1/namespaces/ns/services/web?dryRun=All&fieldManager=kubectl",
            "user":{"username":"alice","groups":["dev"]},
            "impersonatedUser":{"username":"bob","groups":["ops"]},
            "sourceIPs":["10.0.0.1","1.2.3.4"],"userAgent":"kubectl/v1.30",
            "objectRef":{"resource":"services","namespace":"ns","name":"web","apiVersion":"v1"},
            "responseStatus":{"code":200},
            "requestObject":[{"op":"replace","path":"/spec/type","value":"NodePort"}],
            "stageTimestamp":"2024-01-01T00:00:01Z",
            "annotations":{"authorization.k8s.io/decision":"allow"}}"#,
        );
        assert_eq!(e.audit_id.as_deref(), Some("a1"));
        assert_eq!(e.stage, Some(Stage::ResponseComplete));
        assert_eq!(e.verb.as_deref(), Some("patch"));
        assert!(e.dry_run);
        assert_eq!(e.user.username.as_deref(), Some("alice"));
        assert_eq!(
            e.user.impersonated.as_ref().unwrap().username.as_deref(),
            Some("bob")
        );
        assert_eq!(e.source_ips, ["10.0.0.1", "1.2.3.4"]);
        assert_eq!(e.object.name.as_deref(), Some("web"));
        assert_eq!(e.outcome.http_code, Some(200));
        assert_eq!(e.authorization, Decision::Allow);
        assert!(matches!(e.request_object, Some(Payload::Json(_))));
        assert!(e.event_time.is_some());
        assert!(!e.is_degraded());
    }

    #[test]
    fn a_truncated_event_keeps_what_came_before_the_cut() {
        let e = read(
            r#"{"verb":"create","objectRef":{"resource":"services","name":"web"},"responseStatus":{"code":201},"requestObject":{"spec":{"ty"#,
        );
        assert_eq!(e.verb.as_deref(), Some("create"));
        assert_eq!(e.outcome.http_code, Some(201));
        assert_eq!(e.degraded, vec![Degradation::Truncated]);
    }

    #[test]
    fn omitted_bodies_and_string_encoded_bodies() {
        let e = read(
            r#"{"verb":"create","requestObject":"skipped-too-big-size-object","responseObject":"{\"spec\":{\"type\":\"NodePort\"}}"}"#,
        );
        assert!(matches!(e.request_object, Some(Payload::Omitted)));
        assert!(matches!(e.response_object, Some(Payload::Json(_))));
        assert_eq!(e.degraded, vec![Degradation::RequestOmitted]);
    }

    #[test]
    fn wrong_types_degrade_instead_of_failing() {
        let e = read(r#"{"verb":"create","userAgent":7,"sourceIPs":{"a":1}}"#);
        assert_eq!(e.verb.as_deref(), Some("create"));
        assert_eq!(e.user_agent, None);
        assert_eq!(e.degraded.len(), 2);
    }

    #[test]
    fn other_json_is_not_an_event() {
        let r = event(
            r#"{"services":1}"#,
            Provider::K8s,
            &RecordContext::default(),
            false,
        );
        assert_eq!(r.unwrap_err(), SkipReason::NotAudit);
        let r = event(
            r#"["services"]"#,
            Provider::K8s,
            &RecordContext::default(),
            false,
        );
        assert_eq!(r.unwrap_err(), SkipReason::WrongType);
        let r = event("services!", Provider::K8s, &RecordContext::default(), false);
        assert_eq!(r.unwrap_err(), SkipReason::InvalidJson);
    }

    #[test]
    fn dry_run_needs_the_parameter() {
        assert!(is_dry_run("/api/v1/services?dryRun=All"));
        assert!(!is_dry_run("/api/v1/services?fieldManager=dryRun"));
        assert!(!is_dry_run("/api/v1/services"));
    }
}

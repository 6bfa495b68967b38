//! GKE: Cloud Logging `LogEntry`s whose `protoPayload` is an AuditLog written by `k8s.io`.
//!
//! The AuditLog says less than a Kubernetes Event and says it differently: the verb is the last
//! segment of `methodName`, namespace and name are path segments of `resourceName`, failures are
//! `google.rpc.Code` values in `status.code` (never HTTP codes) and, for errors the API server
//! answered itself, a `core.k8s.io/v1.Status` in `response`.
//!
//! What the Event says in fields or annotations, GKE says in entry labels and `operation`:
//! - `command.gke.io/dryRun` (e.g. `All`) marks a server-side dry run (there is no `requestURI`);
//! - `audit.k8s.io/truncated: "true"` says the API server dropped the bodies of an oversized
//!   event, so the event is read as truncated (the detector falls back on what is left);
//! - `operation.id`, when `operation.producer` is `k8s.io`, is the request's audit ID.

use super::json::{Fields, Lenient, elements, string_value};
use super::{RecordContext, SkipReason, k8s, time};
use crate::model::{AuditEvent, Decision, Degradation, ObjectRef, Origin, Provider};

const DECISION_LABEL: &str = "authorization.k8s.io/decision";
const DRY_RUN_LABEL: &str = "command.gke.io/dryRun";
const TRUNCATED_LABEL: &str = "audit.k8s.io/truncated";

/// One `LogEntry`.
pub(super) fn log_entry(f: &Fields<'_>, ctx: &RecordContext<'_>) -> Result<AuditEvent, SkipReason> {
    let Some(payload) = f.get("protoPayload").and_then(Fields::of) else {
        return Err(SkipReason::WrongType);
    };
    let mut degraded = Vec::new();
    let mut r = Lenient::new(&mut degraded);

    let method = r.string(&payload, "methodName", "protoPayload.methodName");
    let service = r
        .string(&payload, "serviceName", "protoPayload.serviceName")
        .or_else(|| r.string(f, "serviceName", "serviceName"));
    let from_k8s = service.as_deref() == Some("k8s.io")
        || method.as_deref().is_some_and(|m| m.starts_with("io.k8s."));
    if !from_k8s {
        return Err(SkipReason::NotAudit);
    }

    let labels = r
        .object(f, "resource", "resource")
        .and_then(|res| r.object(&res, "labels", "resource.labels"));
    let label = |r: &mut Lenient<'_>, key: &str| {
        labels
            .as_ref()
            .and_then(|l| r.string(l, key, "resource.labels"))
    };
    let origin = Origin {
        cluster: label(&mut r, "cluster_name").or(ctx.cluster.map(str::to_owned)),
        account: label(&mut r, "project_id").or(ctx.account.map(str::to_owned)),
        region: label(&mut r, "location").or(ctx.region.map(str::to_owned)),
    };
    let mut event = AuditEvent::new(Provider::Gke, origin);

    // `resourceName` names the object; `methodName` always names the resource and any
    // subresource (`services.status.update`), even when `resourceName` leaves it out.
    let resource_name = r.string(&payload, "resourceName", "protoPayload.resourceName");
    let by_method = method.as_deref().and_then(parse_method);
    event.object = match (
        resource_name.as_deref().and_then(parse_resource_name),
        by_method,
    ) {
        (Some(mut object), Some(by_method)) => {
            object.subresource = object.subresource.or(by_method.subresource);
            object
        }
        (by_name, by_method) => by_name.or(by_method).unwrap_or_default(),
    };
    event.verb = method
        .as_deref()
        .and_then(|m| m.rsplit('.').next())
        .map(str::to_owned);

    if let Some(auth) = r.object(
        &payload,
        "authenticationInfo",
        "protoPayload.authenticationInfo",
    ) {
        event.user.username = r.string(&auth, "principalEmail", "protoPayload.authenticationInfo");
    }
    if let Some(meta) = r.object(&payload, "requestMetadata", "protoPayload.requestMetadata") {
        // Real entries spell it `callerIp`; some exports rewrite it as `callerIP`.
        event.source_ips = ["callerIp", "callerIP"]
            .iter()
            .find_map(|k| r.string(&meta, k, "protoPayload.requestMetadata.callerIp"))
            .into_iter()
            .collect();
        event.user_agent = r.string(
            &meta,
            "callerSuppliedUserAgent",
            "protoPayload.requestMetadata.callerSuppliedUserAgent",
        );
    }

    let entry_labels = r.string_map(f, "labels", "labels");
    let entry_label = |key: &str| {
        // A repeated key reads as its last value, as elsewhere.
        entry_labels
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    // Any value asks for a dry run, as `dryRun=` does in a request URI.
    event.dry_run = entry_label(DRY_RUN_LABEL).is_some_and(|v| !v.is_empty());
    let truncated = entry_label(TRUNCATED_LABEL).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    // A refused permission check wins over the decision label.
    let by_grant = granted(&mut r, &payload);
    let by_label = entry_label(DECISION_LABEL).map(k8s::decision);
    event.authorization = match (by_grant, by_label) {
        (Decision::Forbid, _) => Decision::Forbid,
        (_, Some(label)) if label != Decision::Unknown => label,
        (grant, _) => grant,
    };

    if let Some(status) = r.object(&payload, "status", "protoPayload.status") {
        // An empty `status: {}` is OK: proto3 JSON omits a zero code.
        event.outcome.rpc_code = Some(
            r.integer(&status, "code", "protoPayload.status.code")
                .and_then(|c| i32::try_from(c).ok())
                .unwrap_or(0),
        );
        event.outcome.message = r.string(&status, "message", "protoPayload.status.message");
    }
    event.request_object = k8s::payload(&mut r, &payload, "request", Degradation::RequestOmitted);
    event.response_object =
        k8s::payload(&mut r, &payload, "response", Degradation::ResponseOmitted);
    if let Some(status) = event.response_object.as_ref().and_then(failure_status) {
        event.outcome.http_code = Some(status);
    }

    // GKE writes one entry per request, stamped when the request arrived.
    event.request_received = r
        .string(f, "timestamp", "timestamp")
        .and_then(|s| time::parse_timestamp(&s));
    event.event_time = event.request_received.or(ctx.record_time);
    event.record_id = r
        .string(f, "insertId", "insertId")
        .or(ctx.record_id.map(str::to_owned));
    if let Some(operation) = r.object(f, "operation", "operation")
        && r.string(&operation, "producer", "operation.producer")
            .as_deref()
            == Some("k8s.io")
    {
        event.audit_id = r.string(&operation, "id", "operation.id");
    }
    event.degraded = degraded;
    if truncated {
        event.mark_degraded(Degradation::Truncated);
    }
    Ok(event)
}

/// `authorizationInfo[].granted`: denied if any check was refused, allowed if all passed.
fn granted(r: &mut Lenient<'_>, payload: &Fields<'_>) -> Decision {
    let Some(list) = payload.get("authorizationInfo").and_then(elements) else {
        return Decision::Unknown;
    };
    let mut decision = Decision::Unknown;
    for item in list.iter().filter_map(|raw| Fields::of(raw)) {
        match r.typed::<bool>(&item, "granted", "protoPayload.authorizationInfo.granted") {
            Some(false) => return Decision::Forbid,
            Some(true) => decision = Decision::Allow,
            None => {}
        }
    }
    decision
}

/// The HTTP code of a `Status` response (`{"kind":"Status","code":409,"status":"Failure"}`).
fn failure_status(payload: &crate::model::Payload) -> Option<u16> {
    let crate::model::Payload::Json(raw) = payload else {
        return None;
    };
    let f = Fields::of(raw)?;
    let kind = f.get("kind").and_then(string_value);
    let type_url = f.get("@type").and_then(string_value);
    let is_status = kind.as_deref() == Some("Status")
        || type_url
            .as_deref()
            .is_some_and(|t| t.ends_with("/v1.Status"));
    if !is_status {
        return None;
    }
    f.get("code")
        .and_then(|c| serde_json::from_str::<u16>(c.get()).ok())
}

/// `core/v1/namespaces/NS/services/NAME[/SUB]` or `GROUP/VERSION/RESOURCE/NAME` (cluster scope).
pub(crate) fn parse_resource_name(name: &str) -> Option<ObjectRef> {
    let parts: Vec<&str> = name.trim_start_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        [group, version, rest @ ..] if is_api_version(version) => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(*ns), rest),
        _ => (None, rest),
    };
    let [resource, tail @ ..] = rest else {
        return None;
    };
    let own = |s: &&str| (*s).to_owned();
    Some(ObjectRef {
        resource: Some((*resource).to_owned()),
        name: tail.first().map(own),
        subresource: tail.get(1).map(own),
        namespace: namespace.map(str::to_owned),
        api_group: Some(if group == "core" { "" } else { group }.to_owned()),
        api_version: Some(version.to_owned()),
    })
}

/// `io.k8s.GROUP.VERSION.RESOURCE[.SUBRESOURCE].VERB`, for entries without a `resourceName`.
fn parse_method(method: &str) -> Option<ObjectRef> {
    let rest = method.strip_prefix("io.k8s.")?;
    let segments: Vec<&str> = rest.split('.').collect();
    let v = segments.iter().position(|s| is_api_version(s))?;
    let group = segments[..v].join(".");
    let between = segments.get(v + 1..segments.len().saturating_sub(1))?;
    let (resource, subresource) = match between {
        [resource] => (*resource, None),
        [resource, sub] => (*resource, Some(*sub)),
        _ => return None,
    };
    Some(ObjectRef {
        resource: Some(resource.to_owned()),
        subresource: subresource.map(str::to_owned),
        api_group: Some(if group == "core" {
            String::new()
        } else {
            group
        }),
        api_version: Some(segments[v].to_owned()),
        ..ObjectRef::default()
    })
}

/// `v1`, `v2beta1`, `v1alpha3`.
fn is_api_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let tail = &rest[digits..];
    tail.is_empty()
        || ["alpha", "beta"].iter().any(|stage| {
            tail.strip_prefix(stage)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> Result<AuditEvent, SkipReason> {
        log_entry(&Fields::parse(text).unwrap(), &RecordContext::default())
    }

    #[test]
    fn parses_resource_names() {
        let o = parse_resource_name("core/v1/namespaces/default/services/web/status").unwrap();
        assert_eq!(o.resource.as_deref(), Some("services"));
        assert_eq!(o.namespace.as_deref(), Some("default"));
        assert_eq!(o.name.as_deref(), Some("web"));
        assert_eq!(o.subresource.as_deref(), Some("status"));
        assert_eq!(o.api_group.as_deref(), Some(""));
        let o = parse_resource_name("rbac.authorization.k8s.io/v1/clusterroles/admin").unwrap();
        assert_eq!(o.namespace, None);
        assert_eq!(o.name.as_deref(), Some("admin"));
        let o = parse_resource_name("core/v1/namespaces/kube-system").unwrap();
        assert_eq!(o.resource.as_deref(), Some("namespaces"));
        assert_eq!(o.name.as_deref(), Some("kube-system"));
        assert!(parse_resource_name("HNAP1").is_none());
    }

    #[test]
    fn parses_method_names() {
        let o = parse_method("io.k8s.core.v1.services.status.update").unwrap();
        assert_eq!(o.resource.as_deref(), Some("services"));
        assert_eq!(o.subresource.as_deref(), Some("status"));
        let o = parse_method("io.k8s.networking.k8s.io.v1.ingresses.create").unwrap();
        assert_eq!(o.api_group.as_deref(), Some("networking.k8s.io"));
        assert!(parse_method("io.k8s.get").is_none());
    }

    #[test]
    fn reads_grpc_failures_and_status_responses() {
        let e = entry(
            r#"{"insertId":"i","protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.services.create",
            "resourceName":"core/v1/namespaces/d/services/s","status":{"code":10,"message":"exists"},
            "response":{"@type":"core.k8s.io/v1.Status","code":409,"status":"Failure"}},
            "resource":{"type":"k8s_cluster","labels":{"cluster_name":"c","project_id":"p","location":"l"}}}"#,
        )
        .unwrap();
        assert_eq!(e.verb.as_deref(), Some("create"));
        assert_eq!(e.outcome.rpc_code, Some(10));
        assert_eq!(e.outcome.http_code, Some(409));
        assert_eq!(e.origin.cluster.as_deref(), Some("c"));
        assert_eq!(e.record_id.as_deref(), Some("i"));
    }

    #[test]
    fn the_method_tells_a_subresource_the_resource_name_omits() {
        let e = entry(
            r#"{"protoPayload":{"methodName":"io.k8s.core.v1.services.status.update",
            "resourceName":"core/v1/namespaces/d/services/s"}}"#,
        )
        .unwrap();
        assert_eq!(e.object.name.as_deref(), Some("s"));
        assert_eq!(e.object.subresource.as_deref(), Some("status"));
    }

    #[test]
    fn one_refused_check_means_forbidden() {
        let e = entry(
            r#"{"protoPayload":{"methodName":"io.k8s.core.v1.services.create",
            "authorizationInfo":[{"granted":true},{"granted":false}],"status":{}}}"#,
        )
        .unwrap();
        assert_eq!(e.authorization, Decision::Forbid);
        assert_eq!(e.outcome.rpc_code, Some(0));
    }

    const WRITE: &str = r#""protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.services.create",
        "resourceName":"core/v1/namespaces/d/services/s","status":{}},
        "operation":{"id":"aud-1","producer":"k8s.io","first":true,"last":true},
        "timestamp":"2026-03-02T10:00:00.123456Z""#;

    #[test]
    fn labels_mark_dry_runs_and_truncation() {
        let e = entry(&format!(
            r#"{{{WRITE},"labels":{{"command.gke.io/dryRun":"All"}}}}"#
        ))
        .unwrap();
        assert!(e.dry_run);
        assert!(!e.is_degraded());
        let e = entry(&format!(
            r#"{{{WRITE},"labels":{{"audit.k8s.io/truncated":"true"}}}}"#
        ))
        .unwrap();
        assert!(!e.dry_run);
        assert_eq!(e.degraded, vec![Degradation::Truncated]);
        let e = entry(&format!(
            r#"{{{WRITE},"labels":{{"audit.k8s.io/truncated":"false"}}}}"#
        ))
        .unwrap();
        assert!(!e.is_degraded());
    }

    #[test]
    fn the_operation_of_k8s_io_is_the_audit_id() {
        let e = entry(&format!("{{{WRITE}}}")).unwrap();
        assert_eq!(e.audit_id.as_deref(), Some("aud-1"));
        assert_eq!(
            e.request_received.map(|t| t.timestamp_micros()),
            Some(1_772_445_600_123_456)
        );
        let other = WRITE.replace(r#""producer":"k8s.io""#, r#""producer":"other""#);
        assert_eq!(entry(&format!("{{{other}}}")).unwrap().audit_id, None);
    }

    #[test]
    fn other_services_are_not_kubernetes_audit() {
        let r = entry(
            r#"{"protoPayload":{"serviceName":"compute.googleapis.com","methodName":"v1.compute.instances.insert"}}"#,
        );
        assert_eq!(r.unwrap_err(), SkipReason::NotAudit);
    }
}

//! AKS: `kube-audit` / `kube-audit-admin` diagnostic records in all the shapes Azure delivers.
//!
//! - a diagnostic record (Event Hub, storage `PT1H.json` line) with the audit Event in
//!   `properties.log`, as a JSON string or, in some pipelines, an object;
//! - the `{"records": [...]}` envelope of Event Hub messages and storage exports;
//! - a Log Analytics `AzureDiagnostics` row, the Event as a string in `log_s`;
//! - a Log Analytics `AKSAudit` / `AKSAuditAdmin` row with typed columns, whose `dynamic`
//!   values may arrive as objects or as JSON-encoded strings.
//!
//! The cluster is the last segment of the ARM resource ID. Exports upper-case resource IDs while
//! Log Analytics keeps the original case, so names and subscriptions are lower-cased to compare
//! equal whichever path an event took (ARM names are case-insensitive).

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::json::{Fields, Lenient, elements, string_value};
use super::{Normalized, RecordContext, SkipReason, k8s, prefilter, time};
use crate::model::Provider;

const AUDIT_CATEGORIES: [&str; 2] = ["kube-audit", "kube-audit-admin"];

/// The cluster and subscription named by a managed-cluster resource ID.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ClusterId {
    pub subscription: Option<String>,
    pub cluster: Option<String>,
}

pub(crate) fn parse_resource_id(id: &str) -> ClusterId {
    let parts: Vec<&str> = id.split('/').filter(|p| !p.is_empty()).collect();
    let after = |key: &str| {
        parts
            .iter()
            .position(|p| p.eq_ignore_ascii_case(key))
            .and_then(|i| parts.get(i + 1))
            .map(|s| s.to_ascii_lowercase())
    };
    ClusterId {
        subscription: after("subscriptions"),
        cluster: after("managedclusters"),
    }
}

fn is_audit_category(category: Option<&str>) -> bool {
    category.is_none_or(|c| AUDIT_CATEGORIES.iter().any(|a| a.eq_ignore_ascii_case(c)))
}

/// Reads the Event embedded in a record, with the record's cluster and time as context.
fn embedded_event(
    log: &RawValue,
    resource_id: Option<&str>,
    record_time: Option<&str>,
    ctx: &RecordContext<'_>,
) -> Normalized {
    let id = resource_id.map(parse_resource_id).unwrap_or_default();
    let ctx = RecordContext {
        provider: Some(Provider::Aks),
        cluster: id.cluster.as_deref().or(ctx.cluster),
        account: id.subscription.as_deref().or(ctx.account),
        record_time: record_time
            .and_then(time::parse_timestamp)
            .or(ctx.record_time),
        ..*ctx
    };
    let result = match string_value(log) {
        Some(text) => k8s::event(&text, Provider::Aks, &ctx, false),
        None if log.get().starts_with('{') => k8s::event(log.get(), Provider::Aks, &ctx, false),
        None => Err(SkipReason::WrongType),
    };
    match result {
        Ok(event) => Normalized::Event(Box::new(event)),
        Err(reason) => Normalized::Skipped(reason),
    }
}

/// A diagnostic record: `{category, properties: {log}, resourceId, time}`.
pub(super) fn diagnostic_record(f: &Fields<'_>, ctx: &RecordContext<'_>) -> Normalized {
    let mut ignored = Vec::new();
    let mut r = Lenient::new(&mut ignored);
    if !is_audit_category(r.string(f, "category", "category").as_deref()) {
        return Normalized::Skipped(SkipReason::NotAudit);
    }
    let Some(log) = r
        .object(f, "properties", "properties")
        .and_then(|p| p.get("log"))
    else {
        return Normalized::Skipped(SkipReason::WrongType);
    };
    let resource_id = r.string(f, "resourceId", "resourceId");
    let record_time = r.string(f, "time", "time");
    embedded_event(log, resource_id.as_deref(), record_time.as_deref(), ctx)
}

/// `{"records": [...]}`.
pub(super) fn envelope(
    records: &RawValue,
    ctx: &RecordContext<'_>,
    emit: &mut dyn FnMut(Normalized),
) {
    let Some(records) = elements(records) else {
        emit(Normalized::Skipped(SkipReason::WrongType));
        return;
    };
    for raw in records {
        if !prefilter::may_be_service_write(raw.get().as_bytes()) {
            emit(Normalized::Irrelevant);
            continue;
        }
        emit(match Fields::of(raw) {
            Some(f) if f.contains("log_s") => azure_diagnostics_row(&f, ctx),
            Some(f) => diagnostic_record(&f, ctx),
            None => Normalized::Skipped(SkipReason::WrongType),
        });
    }
}

/// An `AzureDiagnostics` row: the Event as a string in `log_s`.
pub(super) fn azure_diagnostics_row(f: &Fields<'_>, ctx: &RecordContext<'_>) -> Normalized {
    let mut ignored = Vec::new();
    let mut r = Lenient::new(&mut ignored);
    if !is_audit_category(r.string(f, "Category", "Category").as_deref()) {
        return Normalized::Skipped(SkipReason::NotAudit);
    }
    let Some(log) = f.get("log_s") else {
        return Normalized::Skipped(SkipReason::WrongType);
    };
    let resource_id = ["_ResourceId", "ResourceId", "resourceId"]
        .iter()
        .find_map(|k| r.string(f, k, k));
    let record_time = r.string(f, "TimeGenerated", "TimeGenerated");
    embedded_event(log, resource_id.as_deref(), record_time.as_deref(), ctx)
}

/// Typed columns of `AKSAudit` / `AKSAuditAdmin` and the Event fields they hold.
const COLUMNS: [(&str, &str); 13] = [
    ("AuditId", "auditID"),
    ("Stage", "stage"),
    ("Verb", "verb"),
    ("RequestUri", "requestURI"),
    ("User", "user"),
    ("ImpersonatedUser", "impersonatedUser"),
    ("SourceIps", "sourceIPs"),
    ("UserAgent", "userAgent"),
    ("ObjectRef", "objectRef"),
    ("ResponseStatus", "responseStatus"),
    ("Annotations", "annotations"),
    ("StageReceivedTime", "stageTimestamp"),
    ("RequestReceivedTime", "requestReceivedTimestamp"),
];

/// Bodies stay as they came: the Event reader knows the too-big marker and string encodings.
const BODY_COLUMNS: [(&str, &str); 2] = [
    ("RequestObject", "requestObject"),
    ("ResponseObject", "responseObject"),
];

/// Whether an object is a row of the resource-specific tables.
pub(super) fn is_aks_audit_row(f: &Fields<'_>) -> bool {
    ["AuditId", "Verb", "ObjectRef"]
        .iter()
        .any(|k| f.contains(k))
}

/// An `AKSAudit` / `AKSAuditAdmin` row, rebuilt as the Event it was made from.
pub(super) fn aks_audit_row(f: &Fields<'_>, ctx: &RecordContext<'_>) -> Normalized {
    let mut event = Map::new();
    for (column, field) in COLUMNS {
        if let Some(raw) = f.get(column) {
            event.insert(field.to_owned(), dynamic(raw));
        }
    }
    for (column, field) in BODY_COLUMNS {
        if let Some(raw) = f.get(column)
            && let Ok(value) = serde_json::from_str::<Value>(raw.get())
        {
            event.insert(field.to_owned(), value);
        }
    }
    let mut ignored = Vec::new();
    let mut r = Lenient::new(&mut ignored);
    let resource_id = ["_ResourceId", "ResourceId"]
        .iter()
        .find_map(|k| r.string(f, k, k));
    let id = resource_id
        .as_deref()
        .map(parse_resource_id)
        .unwrap_or_default();
    let subscription = r
        .string(f, "_SubscriptionId", "_SubscriptionId")
        .map(|s| s.to_ascii_lowercase());
    let ctx = RecordContext {
        provider: Some(Provider::Aks),
        cluster: id.cluster.as_deref().or(ctx.cluster),
        account: id
            .subscription
            .as_deref()
            .or(subscription.as_deref())
            .or(ctx.account),
        record_time: r
            .string(f, "TimeGenerated", "TimeGenerated")
            .and_then(|s| time::parse_timestamp(&s))
            .or(ctx.record_time),
        ..*ctx
    };
    let text = Value::Object(event).to_string();
    match k8s::event(&text, Provider::Aks, &ctx, false) {
        Ok(event) => Normalized::Event(Box::new(event)),
        Err(reason) => Normalized::Skipped(reason),
    }
}

/// A `dynamic` column: an object or list, possibly sent as a JSON-encoded string.
fn dynamic(raw: &RawValue) -> Value {
    let value: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
    match &value {
        Value::String(s) if s.trim_start().starts_with(['{', '[']) => {
            serde_json::from_str(s).unwrap_or(value)
        }
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::super::normalize_to_vec;
    use super::*;
    use crate::model::{AuditEvent, Degradation, Payload};

    fn one(record: &str) -> Normalized {
        let mut out = normalize_to_vec(record.as_bytes(), &RecordContext::default());
        assert_eq!(out.len(), 1, "{out:?}");
        out.remove(0)
    }

    fn event(n: Normalized) -> AuditEvent {
        match n {
            Normalized::Event(e) => *e,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    const LOG: &str = r#"{\"kind\":\"Event\",\"auditID\":\"a\",\"verb\":\"create\",\"objectRef\":{\"resource\":\"services\",\"name\":\"s\"}}"#;
    const RESOURCE: &str = "/SUBSCRIPTIONS/AB-12/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD-AKS";

    #[test]
    fn reads_the_cluster_from_the_resource_id() {
        assert_eq!(
            parse_resource_id(RESOURCE),
            ClusterId {
                subscription: Some("ab-12".into()),
                cluster: Some("prod-aks".into())
            }
        );
    }

    #[test]
    fn diagnostic_record_with_string_log() {
        let e = event(one(&format!(
            r#"{{"category":"kube-audit","properties":{{"log":"{LOG}"}},"resourceId":"{RESOURCE}","time":"2024-01-01T00:00:00Z"}}"#
        )));
        assert_eq!(e.provider, Provider::Aks);
        assert_eq!(e.origin.cluster.as_deref(), Some("prod-aks"));
        assert_eq!(e.origin.account.as_deref(), Some("ab-12"));
        assert!(e.event_time.is_some());
    }

    #[test]
    fn records_envelope_and_other_categories() {
        let out = normalize_to_vec(
            format!(
                r#"{{"records":[{{"category":"kube-audit-admin","properties":{{"log":"{LOG}"}}}},
                {{"category":"kube-apiserver","properties":{{"log":"I0101 services update sync"}}}}]}}"#
            )
            .as_bytes(),
            &RecordContext::default(),
        );
        assert!(matches!(out[0], Normalized::Event(_)));
        assert!(matches!(out[1], Normalized::Skipped(SkipReason::NotAudit)));
    }

    #[test]
    fn azure_diagnostics_row_with_trimmed_log() {
        let e = event(one(&format!(
            r#"{{"Category":"kube-audit","log_s":"{}","_ResourceId":"{RESOURCE}"}}"#,
            &LOG[..LOG.len() - 12]
        )));
        assert_eq!(e.verb.as_deref(), Some("create"));
        assert_eq!(e.degraded, vec![Degradation::Truncated]);
    }

    #[test]
    fn aks_audit_row_with_string_dynamics_and_omitted_body() {
        let e = event(one(&format!(
            r#"{{"AuditId":"a","Stage":"ResponseComplete","Verb":"create",
            "ObjectRef":"{{\"resource\":\"services\",\"namespace\":\"n\",\"name\":\"s\"}}",
            "User":{{"username":"u","groups":["g"]}},"SourceIps":"[\"1.2.3.4\"]",
            "ResponseStatus":"{{\"code\":201}}","RequestObject":"skipped-too-big-size-object",
            "ResponseObject":{{"spec":{{"type":"NodePort"}}}},
            "Annotations":{{"authorization.k8s.io/decision":"allow"}},
            "_ResourceId":"{RESOURCE}","TimeGenerated":"2024-01-01T00:00:00Z"}}"#
        )));
        assert_eq!(e.object.namespace.as_deref(), Some("n"));
        assert_eq!(e.source_ips, ["1.2.3.4"]);
        assert_eq!(e.outcome.http_code, Some(201));
        assert!(matches!(e.request_object, Some(Payload::Omitted)));
        assert!(matches!(e.response_object, Some(Payload::Json(_))));
        assert_eq!(e.degraded, vec![Degradation::RequestOmitted]);
    }
}

//! What a Service write did to the Service, read from the bodies of its audit event.
//!
//! The effective type is taken, in order of trust, from the stored object (`responseObject`,
//! logged at RequestResponse level), then from the request body (a full object, or a merge or
//! strategic-merge patch), then from a JSON patch (`application/json-patch+json`), whose body is an
//! array of operations with no `spec` field at all. A create or update whose full object omits
//! `spec.type` gets the API default, `ClusterIP`; a patch that does not touch the type leaves it
//! unknown.

use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::model::{AuditEvent, Degradation, Payload, ServicePort};
use crate::normalize::json::{Fields, elements, string_value};

pub const NODE_PORT: &str = "NodePort";
pub const LOAD_BALANCER: &str = "LoadBalancer";
const DEFAULT_TYPE: &str = "ClusterIP";

/// Where the effective type was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeSource {
    Response,
    Request,
    JsonPatch,
    /// A full object without `spec.type`: the API server defaults it to ClusterIP.
    Default,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceChange {
    pub effective_type: Option<(String, TypeSource)>,
    /// The type the request asked for, whatever the server did with it.
    pub requested_type: Option<String>,
    /// Ports of the resulting object when logged, else of the request.
    pub ports: Vec<ServicePort>,
    /// Ports as the request wrote them (before defaulting and allocation).
    pub requested_ports: Vec<ServicePort>,
    /// The request carried the whole Service (create, update), so a field it omits is really
    /// absent rather than left unchanged as in a patch.
    pub request_is_full_object: bool,
    pub external_ips: Vec<String>,
    /// The write says what `externalIPs` is afterwards (the stored object, a full object, or a
    /// patch that sets, empties or removes it), so an empty `external_ips` means "none".
    pub external_ips_known: bool,
    /// `metadata.resourceVersion` of the stored object, when logged and numeric (etcd's
    /// revision): it orders two writes of one Service logged at the same instant.
    pub resource_version: Option<u64>,
    /// The request explicitly sets `spec.ports[*].nodePort`.
    pub sets_node_port: bool,
    /// `Some(false)` for a full object without selector; `None` when the body does not tell.
    pub has_selector: Option<bool>,
    pub labels: BTreeMap<String, String>,
}

impl ServiceChange {
    pub fn effective_type(&self) -> Option<&str> {
        self.effective_type.as_ref().map(|(t, _)| t.as_str())
    }

    pub fn of(event: &AuditEvent) -> ServiceChange {
        let response = event.response_object.as_ref().and_then(Body::parse);
        let request = event.request_object.as_ref().and_then(Body::parse);
        let verb = event.verb.as_deref().unwrap_or_default();
        // A body cut short lacks the fields after the cut: their absence proves nothing.
        let complete = !event.degraded.contains(&Degradation::Truncated);
        let mut change = ServiceChange::default();

        let mut requested = Spec::default();
        match &request {
            Some(Body::Object(object)) => {
                requested = Spec::of_object(object);
                change.request_is_full_object =
                    complete && matches!(verb, "create" | "update") && object.contains("spec");
                if requested.service_type.is_none() && change.request_is_full_object {
                    change.effective_type = Some((DEFAULT_TYPE.to_owned(), TypeSource::Default));
                }
            }
            Some(Body::JsonPatch(ops)) => requested = Spec::of_json_patch(ops),
            None => {}
        }
        if let Some(t) = &requested.service_type {
            let source = match request {
                Some(Body::JsonPatch(_)) => TypeSource::JsonPatch,
                _ => TypeSource::Request,
            };
            change.effective_type = Some((t.clone(), source));
        }
        change.requested_type = requested.service_type.clone();
        change.sets_node_port = requested.ports.iter().any(|p| p.node_port.is_some());
        change.requested_ports = requested.ports.clone();

        // A stored Service always has a `spec`; a response without one was cut before it (AKS
        // truncation) and says nothing about the type, so the request decides.
        let stored = match &response {
            Some(Body::Object(object)) if is_service(object) && object.contains("spec") => {
                Some(Spec::of_object(object))
            }
            _ => None,
        };
        match stored {
            Some(stored) => {
                let t = stored
                    .service_type
                    .unwrap_or_else(|| DEFAULT_TYPE.to_owned());
                change.effective_type = Some((t, TypeSource::Response));
                change.ports = stored.ports;
                change.external_ips = stored.external_ips;
                change.external_ips_known = complete;
                change.resource_version = stored.resource_version;
                change.has_selector = stored.has_selector.filter(|_| complete);
                change.labels = stored.labels;
            }
            None => {
                change.ports = requested.ports;
                change.external_ips = requested.external_ips;
                change.external_ips_known =
                    requested.external_ips_touched || change.request_is_full_object;
                change.has_selector = requested.has_selector.filter(|_| complete);
                change.labels = requested.labels;
            }
        }
        change
    }
}

/// A body in the form the rules care about, read lazily: only the members the rules need are
/// ever parsed, so a large `metadata.managedFields` or `status` costs one skip, not a tree.
enum Body<'a> {
    Object(Fields<'a>),
    JsonPatch(Vec<&'a RawValue>),
}

impl<'a> Body<'a> {
    fn parse(payload: &'a Payload) -> Option<Body<'a>> {
        let Payload::Json(raw) = payload else {
            return None;
        };
        if let Some(ops) = elements(raw) {
            return Some(Body::JsonPatch(ops));
        }
        Fields::of(raw)
            .filter(|object| !is_status(object))
            .map(Body::Object)
    }
}

/// A `Status` (an error the API server answered with) rather than an object.
fn is_status(object: &Fields<'_>) -> bool {
    string(object, "kind").as_deref() == Some("Status")
        || string(object, "@type").is_some_and(|t| t.ends_with("/v1.Status"))
}

fn is_service(object: &Fields<'_>) -> bool {
    match string(object, "kind") {
        Some(kind) => kind == "Service",
        // The body was parsed whole, so a value opening with `{` is a valid object: no need to
        // parse the spec a second time just to learn that.
        None => object.get("spec").is_some_and(|s| s.get().starts_with('{')),
    }
}

/// The fields of a Service spec that a body sets.
#[derive(Debug, Default)]
struct Spec {
    service_type: Option<String>,
    ports: Vec<ServicePort>,
    external_ips: Vec<String>,
    /// The body sets, empties or removes `externalIPs`.
    external_ips_touched: bool,
    has_selector: Option<bool>,
    labels: BTreeMap<String, String>,
    resource_version: Option<u64>,
}

impl Spec {
    fn of_object(object: &Fields<'_>) -> Spec {
        let metadata = nested(object, "metadata");
        let mut spec = Spec {
            labels: metadata
                .as_ref()
                .and_then(|m| nested(m, "labels"))
                .map(|labels| string_map(&labels))
                .unwrap_or_default(),
            resource_version: metadata
                .as_ref()
                .and_then(|m| string(m, "resourceVersion"))
                .and_then(|v| v.parse().ok()),
            ..Spec::default()
        };
        if let Some(s) = nested(object, "spec") {
            spec.apply_spec(&s);
            // Only a full object says that a selector is absent; a patch just does not touch it.
            if string(object, "kind").as_deref() == Some("Service") {
                spec.has_selector =
                    Some(nested(&s, "selector").is_some_and(|m| m.iter().next().is_some()));
            }
        }
        spec
    }

    fn apply_spec(&mut self, s: &Fields<'_>) {
        if let Some(t) = string(s, "type") {
            self.service_type = Some(t);
        }
        if let Some(ports) = s.get("ports").and_then(elements) {
            self.ports = ports.into_iter().filter_map(port).collect();
        }
        // `null` (which `get` reads as absent) or `[]` in a merge patch empties the list.
        let ips = s
            .iter()
            .filter(|(k, _)| *k == "externalIPs")
            .map(|(_, v)| v)
            .last();
        if let Some(ips) = ips {
            self.external_ips = elements(ips).map(|v| strings(&v)).unwrap_or_default();
            self.external_ips_touched = true;
        }
    }

    /// RFC 6902 operations on the Service; only `add` and `replace` can set a value, and a
    /// `remove` of the type or of the external IPs puts back the API default (ClusterIP, none).
    fn of_json_patch(ops: &[&RawValue]) -> Spec {
        let mut spec = Spec::default();
        for op in ops.iter().filter_map(|op| Fields::of(op)) {
            let kind = string(&op, "op");
            if kind.as_deref() == Some("remove") {
                match string(&op, "path").as_deref() {
                    Some("/spec/type") => spec.service_type = Some(DEFAULT_TYPE.to_owned()),
                    Some("/spec/externalIPs") => {
                        spec.external_ips.clear();
                        spec.external_ips_touched = true;
                    }
                    _ => {}
                }
                continue;
            }
            if !matches!(kind.as_deref(), Some("add" | "replace")) {
                continue;
            }
            let (Some(path), Some(value)) = (string(&op, "path"), op.get("value")) else {
                continue;
            };
            let segments: Vec<&str> = path.split('/').skip(1).collect();
            match segments.as_slice() {
                [] | [""] => {
                    if let Some(object) = Fields::of(value) {
                        spec = Spec::of_object(&object);
                    }
                }
                ["spec"] => {
                    if let Some(s) = Fields::of(value) {
                        spec.apply_spec(&s);
                    }
                }
                ["spec", "type"] => spec.service_type = string_value(value),
                ["spec", "ports"] => {
                    if let Some(ports) = elements(value) {
                        spec.ports = ports.into_iter().filter_map(port).collect();
                    }
                }
                ["spec", "ports", _] => spec.ports.extend(port(value)),
                ["spec", "ports", _, "nodePort"] => spec.ports.push(ServicePort {
                    node_port: integer(value),
                    ..ServicePort::default()
                }),
                ["spec", "externalIPs"] => {
                    spec.external_ips = elements(value).map(|v| strings(&v)).unwrap_or_default();
                    spec.external_ips_touched = true;
                }
                ["spec", "externalIPs", _] => {
                    spec.external_ips.extend(string_value(value));
                    spec.external_ips_touched = true;
                }
                _ => {}
            }
        }
        spec
    }
}

fn port(value: &RawValue) -> Option<ServicePort> {
    let p = Fields::of(value)?;
    Some(ServicePort {
        name: string(&p, "name"),
        port: p.get("port").and_then(integer),
        target_port: p
            .get("targetPort")
            .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
            .filter(|v| v.is_number() || v.is_string()),
        node_port: p.get("nodePort").and_then(integer).filter(|n| *n != 0),
        protocol: string(&p, "protocol"),
    })
}

/// The string member `key`; absent, null or another type gives `None`.
fn string(object: &Fields<'_>, key: &str) -> Option<String> {
    object.get(key).and_then(string_value)
}

/// The object member `key`; absent, null or another type gives `None`.
fn nested<'a>(object: &Fields<'a>, key: &str) -> Option<Fields<'a>> {
    object.get(key).and_then(Fields::of)
}

fn integer(raw: &RawValue) -> Option<i64> {
    serde_json::from_str(raw.get()).ok()
}

fn strings(values: &[&RawValue]) -> Vec<String> {
    values.iter().filter_map(|v| string_value(v)).collect()
}

fn string_map(map: &Fields<'_>) -> BTreeMap<String, String> {
    map.iter()
        .filter_map(|(k, v)| string_value(v).map(|v| (k.to_owned(), v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, Provider};

    fn event(verb: &str, request: Option<&str>, response: Option<&str>) -> AuditEvent {
        let mut e = AuditEvent::new(Provider::K8s, Origin::default());
        e.verb = Some(verb.to_owned());
        let body = |s: &str| Payload::Json(RawValue::from_string(s.to_owned()).unwrap());
        e.request_object = request.map(body);
        e.response_object = response.map(body);
        e
    }

    #[test]
    fn the_stored_object_wins_over_the_request() {
        let c = ServiceChange::of(&event(
            "update",
            Some(r#"{"kind":"Service","spec":{"type":"ClusterIP"}}"#),
            Some(
                r#"{"kind":"Service","spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30001}]}}"#,
            ),
        ));
        assert_eq!(
            c.effective_type,
            Some(("NodePort".into(), TypeSource::Response))
        );
        assert_eq!(c.ports[0].node_port, Some(30001));
        assert_eq!(c.requested_type.as_deref(), Some("ClusterIP"));
    }

    #[test]
    fn a_response_cut_before_its_spec_leaves_the_request_to_decide() {
        let c = ServiceChange::of(&event(
            "create",
            Some(r#"{"kind":"Service","spec":{"type":"NodePort","ports":[{"port":80}]}}"#),
            Some(r#"{"apiVersion":"v1","kind":"Service","metadata":{"annotations":{}}}"#),
        ));
        assert_eq!(
            c.effective_type,
            Some(("NodePort".into(), TypeSource::Request))
        );
    }

    #[test]
    fn a_json_patch_sets_the_type() {
        let c = ServiceChange::of(&event(
            "patch",
            Some(
                r#"[{"op":"replace","path":"/spec/type","value":"NodePort"},{"op":"add","path":"/spec/ports/0/nodePort","value":30080}]"#,
            ),
            None,
        ));
        assert_eq!(
            c.effective_type,
            Some(("NodePort".into(), TypeSource::JsonPatch))
        );
        assert!(c.sets_node_port);
    }

    #[test]
    fn a_merge_patch_without_type_leaves_it_unknown() {
        let c = ServiceChange::of(&event(
            "patch",
            Some(r#"{"spec":{"ports":[{"port":80,"nodePort":31000}]}}"#),
            None,
        ));
        assert_eq!(c.effective_type, None);
        assert!(c.sets_node_port);
    }

    #[test]
    fn a_full_object_without_type_is_cluster_ip() {
        let c = ServiceChange::of(&event(
            "create",
            Some(r#"{"kind":"Service","spec":{"ports":[{"port":80}]}}"#),
            None,
        ));
        assert_eq!(
            c.effective_type,
            Some(("ClusterIP".into(), TypeSource::Default))
        );
        assert_eq!(c.has_selector, Some(false));
    }

    #[test]
    fn a_status_response_is_ignored() {
        let c = ServiceChange::of(&event(
            "create",
            Some(r#"{"kind":"Service","spec":{"type":"NodePort"}}"#),
            Some(r#"{"kind":"Status","code":409,"status":"Failure"}"#),
        ));
        assert_eq!(
            c.effective_type,
            Some(("NodePort".into(), TypeSource::Request))
        );
    }

    #[test]
    fn a_repeated_key_reads_as_the_api_server_reads_it() {
        // Go's decoder keeps the last value; reading the first would hide the exposure.
        let c = ServiceChange::of(&event(
            "create",
            Some(r#"{"kind":"Service","spec":{"type":"ClusterIP","type":"NodePort"}}"#),
            None,
        ));
        assert_eq!(
            c.effective_type,
            Some(("NodePort".into(), TypeSource::Request))
        );
    }

    #[test]
    fn external_ips_from_every_body_form() {
        let c = ServiceChange::of(&event(
            "patch",
            Some(r#"[{"op":"add","path":"/spec/externalIPs/-","value":"203.0.113.7"}]"#),
            None,
        ));
        assert_eq!(c.external_ips, ["203.0.113.7"]);
        let c = ServiceChange::of(&event(
            "create",
            Some(r#"{"kind":"Service","spec":{"externalIPs":["198.51.100.1"]}}"#),
            None,
        ));
        assert_eq!(c.external_ips, ["198.51.100.1"]);
    }

    #[test]
    fn removals_restore_the_defaults() {
        let c = ServiceChange::of(&event(
            "patch",
            Some(
                r#"[{"op":"remove","path":"/spec/type"},{"op":"remove","path":"/spec/externalIPs"}]"#,
            ),
            None,
        ));
        assert_eq!(c.effective_type(), Some("ClusterIP"));
        assert!(c.external_ips.is_empty() && c.external_ips_known);
        let c = ServiceChange::of(&event(
            "patch",
            Some(r#"{"spec":{"externalIPs":null}}"#),
            None,
        ));
        assert!(c.external_ips.is_empty() && c.external_ips_known);
        let c = ServiceChange::of(&event("patch", Some(r#"{"spec":{"ports":[]}}"#), None));
        assert!(!c.external_ips_known);
    }

    #[test]
    fn the_stored_resource_version_is_read() {
        let c = ServiceChange::of(&event(
            "patch",
            None,
            Some(r#"{"kind":"Service","metadata":{"resourceVersion":"4711"},"spec":{}}"#),
        ));
        assert_eq!(c.resource_version, Some(4711));
        assert!(c.external_ips_known);
    }
}

//! Wraps Kubernetes audit Events into every record shape a provider delivers them in, the way
//! the provider does: EKS puts the Event in a CloudWatch `message`, AKS in `properties.log` or in
//! Log Analytics columns, GKE rewrites it as a Cloud Logging AuditLog entry.

use serde_json::{Value, json};

pub const AKS_RESOURCE_ID: &str = "/SUBSCRIPTIONS/0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-FIXTURE";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    K8sLine,
    EksLogEvent,
    EksFilterOutput,
    GkeLogEntry,
    AksRecordLogString,
    AksRecordLogObject,
    AksRecordsEnvelope,
    AksAuditRow,
    AzureDiagnosticsRow,
}

impl Shape {
    pub const ALL: [Shape; 9] = [
        Shape::K8sLine,
        Shape::EksLogEvent,
        Shape::EksFilterOutput,
        Shape::GkeLogEntry,
        Shape::AksRecordLogString,
        Shape::AksRecordLogObject,
        Shape::AksRecordsEnvelope,
        Shape::AksAuditRow,
        Shape::AzureDiagnosticsRow,
    ];
}

/// The records (one per line) that carry `events` in `shape`.
pub fn wrap(shape: Shape, events: &[Value]) -> Vec<String> {
    let each = |f: fn(usize, &Value) -> Value| -> Vec<String> {
        events
            .iter()
            .enumerate()
            .map(|(i, e)| f(i, e).to_string())
            .collect()
    };
    match shape {
        Shape::K8sLine => each(|_, e| e.clone()),
        Shape::EksLogEvent => each(cloudwatch_event),
        Shape::EksFilterOutput => {
            let events: Vec<Value> = events
                .iter()
                .enumerate()
                .map(|(i, e)| cloudwatch_event(i, e))
                .collect();
            vec![json!({"events": events, "searchedLogStreams": []}).to_string()]
        }
        // GKE logs one entry per request: the final stage.
        Shape::GkeLogEntry => events
            .last()
            .map(|e| vec![gke_entry(e).to_string()])
            .unwrap_or_default(),
        Shape::AksRecordLogString => each(|_, e| aks_record(Value::String(e.to_string()))),
        Shape::AksRecordLogObject => each(|_, e| aks_record(e.clone())),
        Shape::AksRecordsEnvelope => {
            let records: Vec<Value> = events
                .iter()
                .map(|e| aks_record(Value::String(e.to_string())))
                .collect();
            vec![json!({ "records": records }).to_string()]
        }
        Shape::AksAuditRow => each(|_, e| aks_audit_row(e)),
        Shape::AzureDiagnosticsRow => each(|_, e| {
            json!({
                "TimeGenerated": "2026-03-02T10:00:01Z",
                "Category": "kube-audit",
                "log_s": e.to_string(),
                "pod_s": "kube-apiserver-7d9f8c6b5-abcde",
                "_ResourceId": AKS_RESOURCE_ID.to_lowercase(),
                "Type": "AzureDiagnostics",
            })
        }),
    }
}

fn cloudwatch_event(i: usize, e: &Value) -> Value {
    json!({
        "logStreamName": "kube-apiserver-audit-5c2a9e0f7d3b4a1c8e6f0a2b4c6d8e0f",
        "timestamp": 1_772_445_600_000_i64 + i as i64,
        "message": e.to_string(),
        "ingestionTime": 1_772_445_601_000_i64 + i as i64,
        "eventId": format!("3777{i:052}"),
    })
}

fn aks_record(log: Value) -> Value {
    json!({
        "category": "kube-audit",
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "properties": {"log": log, "pod": "kube-apiserver-7d9f8c6b5-abcde", "stream": "stdout"},
        "resourceId": AKS_RESOURCE_ID,
        "time": "2026-03-02T10:00:00.1234567Z",
    })
}

fn aks_audit_row(e: &Value) -> Value {
    let mut row = json!({
        "TimeGenerated": "2026-03-02T10:00:01.000Z",
        "Type": "AKSAuditAdmin",
        "_ResourceId": AKS_RESOURCE_ID.to_lowercase(),
        "PodName": "kube-apiserver-7d9f8c6b5-abcde",
    });
    let columns = [
        ("auditID", "AuditId"),
        ("stage", "Stage"),
        ("level", "Level"),
        ("requestURI", "RequestUri"),
        ("verb", "Verb"),
        ("user", "User"),
        ("sourceIPs", "SourceIps"),
        ("userAgent", "UserAgent"),
        ("objectRef", "ObjectRef"),
        ("responseStatus", "ResponseStatus"),
        ("requestObject", "RequestObject"),
        ("responseObject", "ResponseObject"),
        ("annotations", "Annotations"),
        ("requestReceivedTimestamp", "RequestReceivedTime"),
        ("stageTimestamp", "StageReceivedTime"),
    ];
    for (field, column) in columns {
        if let Some(v) = e.get(field) {
            row[column] = v.clone();
        }
    }
    row
}

/// `google.rpc.Code` for an HTTP status, as the API server's gRPC mapping gives it.
fn grpc_code(http: u64) -> u64 {
    match http {
        200..=299 => 0,
        400 | 422 => 3,
        401 => 16,
        403 => 7,
        404 => 5,
        409 => 6,
        429 => 8,
        503 => 14,
        504 => 4,
        _ => 13,
    }
}

/// The Cloud Logging entry GKE writes for the request an Event describes.
fn gke_entry(e: &Value) -> Value {
    let object = &e["objectRef"];
    let verb = e["verb"].as_str().unwrap_or_default();
    let sub = object["subresource"].as_str();
    let kind = object["resource"].as_str().unwrap_or("services");
    let method = match sub {
        Some(sub) => format!("io.k8s.core.v1.{kind}.{sub}.{verb}"),
        None => format!("io.k8s.core.v1.{kind}.{verb}"),
    };
    let name = object["name"].as_str().unwrap_or_default();
    let mut resource = match kind {
        // A namespace is cluster-scoped: its own name is the last segment.
        "namespaces" => format!("core/v1/namespaces/{name}"),
        _ => format!(
            "core/v1/namespaces/{}/{kind}/{name}",
            object["namespace"].as_str().unwrap_or_default()
        ),
    };
    if let Some(sub) = sub {
        resource.push('/');
        resource.push_str(sub);
    }
    let decision = e["annotations"]["authorization.k8s.io/decision"]
        .as_str()
        .unwrap_or("allow");
    let code = e["responseStatus"]["code"].as_u64();
    let mut payload = json!({
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "authenticationInfo": {"principalEmail": e["user"]["username"]},
        "authorizationInfo": [{"granted": decision != "forbid", "permission": method, "resource": resource}],
        "methodName": method,
        "requestMetadata": {"callerIp": e["sourceIPs"][0], "callerSuppliedUserAgent": e["userAgent"]},
        "resourceName": resource,
        "serviceName": "k8s.io",
    });
    match code {
        Some(200..=299) => payload["status"] = json!({}),
        Some(c) => {
            payload["status"] = json!({"code": grpc_code(c), "message": "failed"});
            payload["response"] = json!({
                "@type": "core.k8s.io/v1.Status", "apiVersion": "v1", "kind": "Status",
                "code": c, "status": "Failure", "metadata": {}
            });
        }
        None => {}
    }
    if let Some(request) = e.get("requestObject") {
        let mut request = request.clone();
        if let Some(obj) = request.as_object_mut() {
            let type_url = if verb == "patch" {
                "k8s.io/Patch"
            } else {
                "core.k8s.io/v1.Service"
            };
            obj.insert("@type".into(), json!(type_url));
        }
        payload["request"] = request;
    }
    if let (Some(response), Some(200..=299)) = (e.get("responseObject"), code) {
        let mut response = response.clone();
        if let Some(obj) = response.as_object_mut() {
            obj.insert("@type".into(), json!("core.k8s.io/v1.Service"));
        }
        payload["response"] = response;
    }
    let id = e["auditID"].as_str().unwrap_or("entry");
    let mut labels =
        json!({"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": ""});
    // GKE has no request URI: a dry run is told by a label.
    if e["requestURI"]
        .as_str()
        .is_some_and(|u| u.contains("dryRun="))
    {
        labels["command.gke.io/dryRun"] = json!("All");
    }
    json!({
        "insertId": id,
        "labels": labels,
        "logName": "projects/fixture/logs/cloudaudit.googleapis.com%2Factivity",
        "operation": {"first": true, "id": id, "last": true, "producer": "k8s.io"},
        "protoPayload": payload,
        "receiveTimestamp": "2026-03-02T10:00:12.000000000Z",
        "resource": {"type": "k8s_cluster", "labels": {"cluster_name": "gke-fixture", "location": "us-central1", "project_id": "fixture"}},
        "severity": "NOTICE",
        "timestamp": e["stageTimestamp"],
    })
}

/// A Kubernetes audit Event writing a Service: the one builder the tests start from, before
/// [`wrap`] puts it in a provider's record shape. The defaults are a NodePort Service created
/// by a person with kubectl, allowed, at a fixed time; each setter changes one thing.
#[derive(Clone, Debug)]
pub struct ServiceEvent {
    audit_id: String,
    name: String,
    verb: String,
    stage: String,
    service_type: String,
    code: u16,
    /// The node port the API server assigned (in the response); `None` leaves it out.
    node_port: Option<u16>,
    selector: bool,
    name_in_uri: bool,
    namespace_in_response: bool,
    user: String,
    groups: Vec<String>,
    user_agent: String,
    authorization_reason: Option<String>,
    received: String,
    staged: String,
}

impl ServiceEvent {
    pub fn new(audit_id: &str, name: &str) -> ServiceEvent {
        ServiceEvent {
            audit_id: audit_id.to_owned(),
            name: name.to_owned(),
            verb: "create".to_owned(),
            stage: "ResponseComplete".to_owned(),
            service_type: "NodePort".to_owned(),
            code: 201,
            node_port: Some(31080),
            selector: true,
            name_in_uri: true,
            namespace_in_response: true,
            user: "alice@example.com".to_owned(),
            groups: vec!["system:authenticated".to_owned()],
            user_agent: "kubectl/v1.30.0".to_owned(),
            authorization_reason: None,
            received: "2024-05-01T11:00:00.000000Z".to_owned(),
            staged: "2024-05-01T11:00:00.100000Z".to_owned(),
        }
    }

    pub fn verb(mut self, verb: &str) -> Self {
        self.verb = verb.to_owned();
        self
    }

    pub fn stage(mut self, stage: &str) -> Self {
        self.stage = stage.to_owned();
        self
    }

    pub fn service_type(mut self, service_type: &str) -> Self {
        self.service_type = service_type.to_owned();
        self
    }

    /// The response status code.
    pub fn code(mut self, code: u16) -> Self {
        self.code = code;
        self
    }

    pub fn node_port(mut self, node_port: Option<u16>) -> Self {
        self.node_port = node_port;
        self
    }

    /// A Service without a pod selector (its endpoints are managed by hand).
    pub fn without_selector(mut self) -> Self {
        self.selector = false;
        self
    }

    /// The request went to the collection URI (`…/services`), as a `create` does.
    pub fn collection_uri(mut self) -> Self {
        self.name_in_uri = false;
        self
    }

    pub fn without_namespace_in_response(mut self) -> Self {
        self.namespace_in_response = false;
        self
    }

    pub fn user(mut self, user: &str, groups: &[&str]) -> Self {
        self.user = user.to_owned();
        self.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    pub fn user_agent(mut self, user_agent: &str) -> Self {
        self.user_agent = user_agent.to_owned();
        self
    }

    pub fn authorization_reason(mut self, reason: &str) -> Self {
        self.authorization_reason = Some(reason.to_owned());
        self
    }

    /// Both timestamps, as they are written (RFC 3339, or a placeholder a test substitutes).
    pub fn at_text(mut self, time: &str) -> Self {
        self.received = time.to_owned();
        self.staged = time.to_owned();
        self
    }

    pub fn at(self, time: chrono::DateTime<chrono::Utc>) -> Self {
        self.at_text(&time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    }

    pub fn build(&self) -> Value {
        let mut ports = json!([{"port": 80, "targetPort": 8080, "protocol": "TCP"}]);
        let mut spec = json!({"type": self.service_type, "ports": ports.clone()});
        if self.selector {
            spec["selector"] = json!({"app": self.name});
        }
        let mut response_spec = spec.clone();
        if let Some(node_port) = self.node_port {
            ports[0]["nodePort"] = json!(node_port);
        }
        response_spec["ports"] = ports;
        let mut response_metadata = json!({"name": self.name});
        if self.namespace_in_response {
            response_metadata["namespace"] = json!("default");
        }
        let mut annotations = json!({"authorization.k8s.io/decision": "allow"});
        if let Some(reason) = &self.authorization_reason {
            annotations["authorization.k8s.io/reason"] = json!(reason);
        }
        let uri = if self.name_in_uri {
            format!("/api/v1/namespaces/default/services/{}", self.name)
        } else {
            "/api/v1/namespaces/default/services".to_owned()
        };
        json!({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
            "auditID": self.audit_id, "stage": self.stage, "verb": self.verb,
            "requestURI": uri,
            "user": {"username": self.user, "groups": self.groups},
            "sourceIPs": ["203.0.113.7"], "userAgent": self.user_agent,
            "objectRef": {"resource": "services", "namespace": "default", "name": self.name, "apiVersion": "v1"},
            "responseStatus": {"metadata": {}, "code": self.code},
            "requestObject": {"kind": "Service", "apiVersion": "v1", "metadata": {"name": self.name}, "spec": spec},
            "responseObject": {"kind": "Service", "apiVersion": "v1", "metadata": response_metadata, "spec": response_spec},
            "annotations": annotations,
            "requestReceivedTimestamp": self.received,
            "stageTimestamp": self.staged
        })
    }
}

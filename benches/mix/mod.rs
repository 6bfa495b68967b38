//! A generated, realistic audit-log mix for the throughput benchmark.
//!
//! Per 10,000 events: 6,500 reads (get/list/watch; 1,100 of them on Services, as kube-proxy,
//! CoreDNS and GitOps controllers read them), 3,400 writes that are not Service writes (lease
//! renewals, node heartbeats, events), 100 Service creates (1%), 5 of which are NodePort.

use serde_json::{Value, json};

/// Which provider shape the events are wrapped in.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    K8s,
    Eks,
    Gke,
    Aks,
}

impl Shape {
    pub const ALL: [Shape; 4] = [Shape::K8s, Shape::Eks, Shape::Gke, Shape::Aks];

    /// EKS and AKS carry the audit Event as a JSON string inside the record.
    pub fn embeds_event(self) -> bool {
        matches!(self, Shape::Eks | Shape::Aks)
    }

    pub fn name(self) -> &'static str {
        match self {
            Shape::K8s => "k8s",
            Shape::Eks => "eks",
            Shape::Gke => "gke",
            Shape::Aks => "aks",
        }
    }
}

/// A small deterministic generator (xorshift), so every run measures the same mix.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy)]
enum Kind {
    LeaseUpdate,
    LeaseGet,
    NodeStatusPatch,
    PodGet,
    ConfigMapList,
    EndpointSliceList,
    ServiceWatch,
    ServiceGet,
    EventCreate,
    ServiceWriteClusterIp,
    ServiceWriteNodePort,
}

fn pick(rng: &mut Rng) -> Kind {
    // Per 10,000 events.
    match rng.below(10_000) {
        0..=1_999 => Kind::LeaseUpdate,
        2_000..=3_499 => Kind::LeaseGet,
        3_500..=4_299 => Kind::NodeStatusPatch,
        4_300..=6_299 => Kind::PodGet,
        6_300..=7_299 => Kind::ConfigMapList,
        7_300..=8_199 => Kind::EndpointSliceList,
        8_200..=8_699 => Kind::ServiceWatch,
        8_700..=9_299 => Kind::ServiceGet,
        9_300..=9_899 => Kind::EventCreate,
        9_900..=9_994 => Kind::ServiceWriteClusterIp,
        _ => Kind::ServiceWriteNodePort,
    }
}

fn event(rng: &mut Rng, i: u64) -> Value {
    let kind = pick(rng);
    let ts = format!(
        "2026-11-20T{:02}:{:02}:{:02}.{:06}Z",
        (i / 3600) % 24,
        (i / 60) % 60,
        i % 60,
        rng.below(1_000_000)
    );
    let (verb, resource, ns, name, user, level) = match kind {
        Kind::LeaseUpdate => (
            "update",
            "leases",
            "kube-node-lease",
            format!("ip-10-0-{}-{}", i % 200, i % 250),
            format!("system:node:ip-10-0-{}-{}", i % 200, i % 250),
            "Metadata",
        ),
        Kind::LeaseGet => (
            "get",
            "leases",
            "kube-system",
            "kube-controller-manager".to_owned(),
            "system:kube-controller-manager".to_owned(),
            "Metadata",
        ),
        Kind::NodeStatusPatch => (
            "patch",
            "nodes",
            "",
            format!("ip-10-0-{}-{}", i % 200, i % 250),
            format!("system:node:ip-10-0-{}-{}", i % 200, i % 250),
            "Metadata",
        ),
        Kind::PodGet => (
            "get",
            "pods",
            "payments",
            format!("api-{}", i % 97),
            "system:serviceaccount:payments:api".to_owned(),
            "Request",
        ),
        Kind::ConfigMapList => (
            "list",
            "configmaps",
            "kube-system",
            String::new(),
            "system:kube-controller-manager".to_owned(),
            "Request",
        ),
        Kind::EndpointSliceList => (
            "list",
            "endpointslices",
            "",
            String::new(),
            "system:serviceaccount:kube-system:coredns".to_owned(),
            "Request",
        ),
        Kind::ServiceWatch => (
            "watch",
            "services",
            "",
            String::new(),
            "system:serviceaccount:kube-system:kube-proxy".to_owned(),
            "Request",
        ),
        Kind::ServiceGet => (
            "get",
            "services",
            "payments",
            format!("svc-{}", i % 53),
            "system:serviceaccount:argocd:argocd-application-controller".to_owned(),
            "Request",
        ),
        Kind::EventCreate => (
            "create",
            "events",
            "payments",
            format!("api-{}.{:x}", i % 97, i),
            "system:serviceaccount:kube-system:replicaset-controller".to_owned(),
            "Metadata",
        ),
        Kind::ServiceWriteClusterIp | Kind::ServiceWriteNodePort => (
            "create",
            "services",
            "payments",
            format!("svc-{i}"),
            "jane@example.com".to_owned(),
            "RequestResponse",
        ),
    };
    let mut e = json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level,
        "auditID": format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", rng.next() as u32, rng.below(65536), rng.below(4096), rng.below(4096), rng.below(1 << 48)),
        "stage": "ResponseComplete",
        "requestURI": format!("/api/v1/namespaces/{ns}/{resource}/{name}"),
        "verb": verb,
        "user": {"username": user, "groups": ["system:authenticated"]},
        "sourceIPs": [format!("10.0.{}.{}", i % 200, i % 250)],
        "userAgent": "kubelet/v1.30.4 (linux/amd64) kubernetes/ad6c9cb",
        "objectRef": {"resource": resource, "namespace": ns, "name": name, "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": ts, "stageTimestamp": ts,
        "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC: allowed by ClusterRoleBinding \"system:node\" of ClusterRole \"system:node\" to Group \"system:nodes\""},
    });
    if let Kind::ServiceWriteClusterIp | Kind::ServiceWriteNodePort = kind {
        let t = if matches!(kind, Kind::ServiceWriteNodePort) {
            "NodePort"
        } else {
            "ClusterIP"
        };
        let spec = json!({"type": t, "selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]});
        e["responseStatus"]["code"] = json!(201);
        e["requestObject"] = json!({"kind": "Service", "apiVersion": "v1", "metadata": {"name": name, "namespace": ns}, "spec": spec});
        e["responseObject"] = json!({"kind": "Service", "apiVersion": "v1", "metadata": {"name": name, "namespace": ns, "uid": "6c0a", "resourceVersion": "123"}, "spec": spec});
    }
    e
}

fn wrap(shape: Shape, e: &Value, i: u64) -> String {
    match shape {
        Shape::K8s => e.to_string(),
        Shape::Eks => json!({
            "logStreamName": "kube-apiserver-audit-3f9a1c22e0b84d6e9d1a6c0f2b7e5a41",
            "timestamp": 1_763_629_800_000_u64 + i, "message": e.to_string(),
            "ingestionTime": 1_763_629_801_000_u64 + i, "eventId": format!("3771234567890123456789012345678901234567890123456{i:07}"),
        }).to_string(),
        Shape::Aks => json!({
            "category": "kube-audit", "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
            "properties": {"log": e.to_string(), "containerID": "f3c1a2b4c5d6e7f8", "stream": "stdout", "pod": "kube-apiserver-6c9d8f7b5-xk2lp"},
            "resourceId": "/SUBSCRIPTIONS/5C4B3A29-1D0E-4F6A-8B7C-9D0E1F2A3B4C/RESOURCEGROUPS/RG-PROD/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-PROD-WEU",
            "serviceBuild": "na", "time": e["stageTimestamp"],
        }).to_string(),
        Shape::Gke => gke(e),
    }
}

fn gke(e: &Value) -> String {
    let o = &e["objectRef"];
    let method = format!(
        "io.k8s.core.v1.{}.{}",
        o["resource"].as_str().unwrap_or_default(),
        e["verb"].as_str().unwrap_or_default()
    );
    let resource = format!(
        "core/v1/namespaces/{}/{}/{}",
        o["namespace"].as_str().unwrap_or_default(),
        o["resource"].as_str().unwrap_or_default(),
        o["name"].as_str().unwrap_or_default()
    );
    let write = matches!(e["verb"].as_str(), Some("create" | "update" | "patch"));
    let mut payload = json!({
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "authenticationInfo": {"principalEmail": e["user"]["username"]},
        "authorizationInfo": [{"granted": true, "permission": method, "resource": resource}],
        "methodName": method, "resourceName": resource, "serviceName": "k8s.io",
        "requestMetadata": {"callerIp": e["sourceIPs"][0], "callerSuppliedUserAgent": e["userAgent"]},
        "status": {},
    });
    if let Some(r) = e.get("requestObject") {
        payload["request"] = r.clone();
    }
    if let Some(r) = e.get("responseObject") {
        payload["response"] = r.clone();
    }
    let log = if write { "activity" } else { "data_access" };
    json!({
        "insertId": e["auditID"], "labels": {"authorization.k8s.io/decision": "allow"},
        "logName": format!("projects/acme-prod/logs/cloudaudit.googleapis.com%2F{log}"),
        "operation": {"first": true, "id": e["auditID"], "last": true, "producer": "k8s.io"},
        "protoPayload": payload, "receiveTimestamp": e["stageTimestamp"],
        "resource": {"labels": {"cluster_name": "prod-eu", "location": "europe-west1", "project_id": "acme-prod"}, "type": "k8s_cluster"},
        "severity": "INFO", "timestamp": e["stageTimestamp"],
    }).to_string()
}

/// `n` records of the mix in `shape`, one JSON document each.
pub fn records(shape: Shape, n: u64) -> Vec<String> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|i| wrap(shape, &event(&mut rng, i), i))
        .collect()
}

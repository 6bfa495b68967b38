//! The exposure lifecycle (issue 14) through the library, in every provider shape, and through
//! `detect --exposures`: what opens, updates and closes an exposure, and what never does
//! (dry runs, forbidden requests, older writes read late, repeated stages and re-reads).
//! The daemon, the store and the sinks are in `exposures_daemon`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use nodeport_watch::alert::Router;
use nodeport_watch::clock::ManualClock;
use nodeport_watch::detect::Detector;
use nodeport_watch::exposure::{Exposure, Inventory, Transition};
use nodeport_watch::model::RuleId;
use nodeport_watch::normalize::RecordContext;
use nodeport_watch::pipeline::{BatchOutcome, Pipeline, RecordLabel};
use serde_json::{Value, json};

use crate::support::binary;
use crate::support::detect::fixed_now;
use crate::support::shapes::{Shape, wrap};

/// Shapes that carry a Kubernetes audit Event, one of each provider's transports.
const SHAPES: [Shape; 6] = [
    Shape::K8sLine,
    Shape::EksLogEvent,
    Shape::GkeLogEntry,
    Shape::AksRecordLogString,
    Shape::AksAuditRow,
    Shape::AzureDiagnosticsRow,
];

/// One audit Event: `verb` on a Service `default/NAME` (or the namespace `NAME`) at second `at`.
#[derive(Clone)]
pub struct ServiceWrite {
    id: String,
    at: u32,
    verb: String,
    resource: String,
    name: String,
    stage: String,
    code: u16,
    uri_query: String,
    request: Option<Value>,
    response: Option<Value>,
}

pub fn service(id: &str, at: u32, verb: &str, name: &str) -> ServiceWrite {
    ServiceWrite {
        id: id.into(),
        at,
        verb: verb.into(),
        resource: "services".into(),
        name: name.into(),
        stage: "ResponseComplete".into(),
        code: 200,
        uri_query: String::new(),
        request: None,
        response: None,
    }
}

/// A NodePort Service created with node port `port`.
pub fn create_node_port(id: &str, at: u32, name: &str, port: u16) -> ServiceWrite {
    service(id, at, "create", name).response(json!({
        "kind": "Service", "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": "NodePort", "selector": {"app": name},
                 "ports": [{"port": 80, "targetPort": 8080, "nodePort": port}]}
    }))
}

pub fn delete_namespace(id: &str, at: u32, name: &str) -> ServiceWrite {
    ServiceWrite {
        resource: "namespaces".into(),
        ..service(id, at, "delete", name)
    }
}

impl ServiceWrite {
    pub fn request(mut self, body: Value) -> Self {
        self.request = Some(body);
        self
    }
    pub fn response(mut self, body: Value) -> Self {
        self.response = Some(body);
        self
    }
    pub fn code(mut self, code: u16) -> Self {
        self.code = code;
        self
    }
    pub fn stage(mut self, stage: &str) -> Self {
        self.stage = stage.into();
        self
    }
    pub fn dry_run(mut self) -> Self {
        self.uri_query = "?dryRun=All".into();
        self
    }

    pub fn build(&self) -> Value {
        let namespaced = self.resource != "namespaces";
        let uri = if namespaced {
            format!(
                "/api/v1/namespaces/default/services/{}{}",
                self.name, self.uri_query
            )
        } else {
            format!("/api/v1/namespaces/{}{}", self.name, self.uri_query)
        };
        let time = format!("2026-03-02T10:00:{:02}.000000Z", self.at);
        let mut object = json!({"resource": self.resource, "name": self.name, "apiVersion": "v1"});
        if namespaced {
            object["namespace"] = json!("default");
        }
        let mut e = json!({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
            "auditID": self.id, "stage": self.stage, "verb": self.verb, "requestURI": uri,
            "user": {"username": format!("user-{}", self.id), "groups": ["system:authenticated"]},
            "sourceIPs": ["203.0.113.7"], "userAgent": "kubectl/v1.31.0",
            "objectRef": object,
            "annotations": {"authorization.k8s.io/decision": if self.code == 403 { "forbid" } else { "allow" }},
            "requestReceivedTimestamp": time, "stageTimestamp": time,
        });
        if self.stage != "RequestReceived" {
            e["responseStatus"] = json!({"metadata": {}, "code": self.code});
        }
        if let Some(r) = &self.request {
            e["requestObject"] = r.clone();
        }
        if let Some(r) = &self.response {
            e["responseObject"] = r.clone();
        }
        e
    }
}

/// What following `writes` (each its own record, in this order) leaves.
pub struct Followed {
    pub open: Vec<Exposure>,
    pub opened: usize,
    pub updated: usize,
    pub closed: usize,
}

pub fn follow(shape: Shape, writes: &[ServiceWrite]) -> Followed {
    let pipeline = Pipeline::new(
        "test",
        Arc::new(Detector::default()),
        Arc::new(Router::default()),
        false,
        Arc::new(ManualClock::new(fixed_now())),
    );
    let mut inventory = Inventory::default();
    let mut out = Followed {
        open: Vec::new(),
        opened: 0,
        updated: 0,
        closed: 0,
    };
    for w in writes {
        let mut batch = BatchOutcome::default();
        for record in wrap(shape, &[w.build()]) {
            let label = RecordLabel {
                stream: "test",
                record_id: None,
            };
            pipeline.process_bytes(
                record.as_bytes(),
                &RecordContext::default(),
                label,
                &mut batch,
            );
        }
        for observation in &batch.exposures {
            for t in inventory.apply(observation).transitions {
                match t {
                    Transition::Open(_) => out.opened += 1,
                    Transition::Update(_) => out.updated += 1,
                    Transition::Close(_) => out.closed += 1,
                    _ => {}
                }
            }
        }
    }
    out.open = inventory.open().into_iter().cloned().collect();
    out
}

/// Checks `writes` in every shape: `(opened, closed, still open)`.
fn in_every_shape(shapes: &[Shape], writes: &[ServiceWrite], expected: (usize, usize, usize)) {
    for &shape in shapes {
        let f = follow(shape, writes);
        assert_eq!((f.opened, f.closed, f.open.len()), expected, "{shape:?}");
    }
}

#[test]
fn open_then_closed_by_a_delete() {
    let writes = [
        create_node_port("a", 1, "web", 30080),
        service("b", 2, "delete", "web"),
    ];
    in_every_shape(&SHAPES, &writes, (1, 1, 0));
}

#[test]
fn closed_by_a_patch_to_cluster_ip() {
    let patch = service("b", 2, "patch", "web").request(json!({"spec": {"type": "ClusterIP"}}));
    in_every_shape(
        &SHAPES,
        &[create_node_port("a", 1, "web", 30080), patch],
        (1, 1, 0),
    );
}

#[test]
fn closed_by_a_json_patch_removing_or_setting_the_type() {
    let remove =
        service("b", 2, "patch", "web").request(json!([{"op": "remove", "path": "/spec/type"}]));
    let replace = service("b", 2, "patch", "web")
        .request(json!([{"op": "replace", "path": "/spec/type", "value": "ClusterIP"}]));
    for patch in [remove, replace] {
        in_every_shape(
            &SHAPES,
            &[create_node_port("a", 1, "web", 30080), patch],
            (1, 1, 0),
        );
    }
}

#[test]
fn external_ips_removed_closes_that_exposure_only() {
    let open = service("a", 1, "create", "web").request(json!({
        "kind": "Service", "spec": {"type": "ClusterIP", "externalIPs": ["198.51.100.9"],
                                    "ports": [{"port": 80, "targetPort": 80}]}
    }));
    let removed = service("b", 2, "patch", "web").request(json!({"spec": {"externalIPs": null}}));
    for shape in SHAPES {
        let f = follow(shape, &[open.clone(), removed.clone()]);
        assert_eq!((f.opened, f.closed, f.open.len()), (1, 1, 0), "{shape:?}");
        let f = follow(shape, std::slice::from_ref(&open));
        assert_eq!(f.open[0].key.rule, RuleId::ExternalIps, "{shape:?}");
        assert_eq!(
            f.open[0].snapshot.external_ips,
            ["198.51.100.9"],
            "{shape:?}"
        );
    }
}

#[test]
fn a_changed_node_port_keeps_it_open_and_updated() {
    let changed = service("b", 2, "patch", "web")
        .request(json!({"spec": {"ports": [{"port": 80, "nodePort": 31999}]}}));
    for shape in SHAPES {
        let f = follow(
            shape,
            &[create_node_port("a", 1, "web", 30080), changed.clone()],
        );
        assert_eq!((f.opened, f.updated, f.closed), (1, 1, 0), "{shape:?}");
        let open = &f.open[0];
        assert_eq!(open.snapshot.node_ports, [31999], "{shape:?}");
        assert_eq!(
            open.opened.as_ref().unwrap().user.as_deref(),
            Some("user-a")
        );
        assert_eq!(
            open.updated.as_ref().unwrap().user.as_deref(),
            Some("user-b")
        );
    }
}

#[test]
fn closed_then_reopened() {
    let writes = [
        create_node_port("a", 1, "web", 30080),
        service("b", 2, "delete", "web"),
        create_node_port("c", 3, "web", 30081),
    ];
    for shape in SHAPES {
        let f = follow(shape, &writes);
        assert_eq!((f.opened, f.closed, f.open.len()), (2, 1, 1), "{shape:?}");
        assert_eq!(
            f.open[0].opened.as_ref().unwrap().user.as_deref(),
            Some("user-c")
        );
    }
}

#[test]
fn a_deleted_namespace_closes_its_services() {
    let writes = [
        create_node_port("a", 1, "web", 30080),
        create_node_port("b", 2, "api", 30081),
        delete_namespace("c", 3, "default"),
    ];
    in_every_shape(&SHAPES, &writes, (2, 2, 0));
}

#[test]
fn stages_and_re_reads_neither_open_nor_close_twice() {
    let open = create_node_port("a", 1, "web", 30080);
    let received = open.clone().stage("RequestReceived");
    let delete = service("b", 2, "delete", "web");
    let writes = [received, open.clone(), open, delete.clone(), delete];
    in_every_shape(&SHAPES, &writes, (1, 1, 0));
}

#[test]
fn a_late_event_older_than_the_close_changes_nothing() {
    let writes = [
        service("b", 5, "delete", "web"),
        create_node_port("a", 1, "web", 30080),
    ];
    in_every_shape(&SHAPES, &writes, (0, 0, 0));
    let reopened = [
        create_node_port("a", 1, "web", 30080),
        create_node_port("c", 9, "web", 30080),
        service("b", 5, "delete", "web"),
    ];
    in_every_shape(&SHAPES, &reopened, (1, 0, 1));
}

#[test]
fn dry_run_and_forbidden_deletes_close_nothing() {
    let open = create_node_port("a", 1, "web", 30080);
    let dry = service("b", 2, "delete", "web").dry_run();
    let forbidden = service("c", 3, "delete", "web").code(403);
    let failed = service("d", 4, "delete", "web").code(404);
    in_every_shape(&SHAPES, &[open, dry, forbidden, failed], (1, 0, 1));
}

/// `detect --exposures` over files: the exposures still open at the end, in input order.
#[test]
fn detect_prints_the_exposures_still_open_in_input_order() {
    let writes = [
        create_node_port("a", 1, "zeta", 30080),
        create_node_port("b", 2, "alpha", 30081),
        create_node_port("c", 3, "gone", 30082),
        service("d", 4, "delete", "gone"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = writes.iter().map(|w| w.build().to_string()).collect();
    let (first, second) = lines.split_at(2);
    std::fs::write(dir.path().join("1.jsonl"), first.join("\n")).unwrap();
    std::fs::write(dir.path().join("2.jsonl"), second.join("\n")).unwrap();
    let out = Command::new(binary())
        .args(["detect", "--exposures", "--cluster", "prod"])
        .arg(dir.path().join("1.jsonl"))
        .arg(dir.path().join("2.jsonl"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["service"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["zeta", "alpha"]);
    assert_eq!(rows[0]["cluster"], "prod");
    assert_eq!(rows[0]["status"], "open");
    assert_eq!(rows[0]["rule"], "nodeport");
    assert_eq!(rows[0]["node_ports"], json!([30080]));
    assert_eq!(rows[0]["opened"]["user"], "user-a");
    assert_eq!(rows[0]["exposure_id"].as_str().unwrap().len(), 32);

    // Without the flag, the same input prints alerts, as before.
    let mut child = Command::new(binary())
        .args(["detect", "--cluster", "prod"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.join("\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let alerts: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 3);
    assert!(alerts.iter().all(|a| a["status"] == "open"));
    let zeta = alerts.iter().find(|a| a["service"] == "zeta").unwrap();
    assert_eq!(zeta["exposure_id"], rows[0]["exposure_id"]);
}

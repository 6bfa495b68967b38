//! A strict stand-in for Elasticsearch's `_bulk` API on the loopback receiver: the request is
//! checked as Elasticsearch parses it (NDJSON `application/x-ndjson`, an action line then a
//! source line, each ending in `\n`, a `create` action naming `_index` and `_id`), and each
//! document's ECS fields are checked against their ECS types as a `logs-*-*` data stream maps
//! them (a wrong type is the item's `mapper_parsing_exception`, as the real index answers).
//! Documents are kept by `_id`: a second `create` of the same id gets the item-level 409
//! `version_conflict_engine_exception`. The next item status can be forced (429, 400…).

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::receiver::{Captured, Receiver, Reply};

/// ECS 8.11 allowed values.
const KINDS: &[&str] = &[
    "alert",
    "asset",
    "enrichment",
    "event",
    "metric",
    "state",
    "pipeline_error",
    "signal",
];
const CATEGORIES: &[&str] = &[
    "api",
    "authentication",
    "configuration",
    "database",
    "driver",
    "email",
    "file",
    "host",
    "iam",
    "intrusion_detection",
    "library",
    "malware",
    "network",
    "package",
    "process",
    "registry",
    "session",
    "threat",
    "vulnerability",
    "web",
];
const TYPES: &[&str] = &[
    "access",
    "admin",
    "allowed",
    "change",
    "connection",
    "creation",
    "deletion",
    "denied",
    "end",
    "error",
    "group",
    "indicator",
    "info",
    "installation",
    "protocol",
    "start",
    "user",
];

#[derive(Default)]
struct State {
    docs: BTreeMap<String, Value>,
    forced: VecDeque<(u16, &'static str)>,
    problems: Vec<String>,
}

pub struct Elasticsearch {
    pub receiver: Receiver,
    state: Arc<Mutex<State>>,
}

impl Elasticsearch {
    pub async fn start() -> Elasticsearch {
        let receiver = Receiver::start().await;
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        receiver.script(move |req| answer(&mut shared.lock().unwrap(), req));
        Elasticsearch { receiver, state }
    }

    /// The next documents' items answer `status` with error `kind` instead of being stored.
    pub fn force_item(&self, status: u16, kind: &'static str) {
        self.state.lock().unwrap().forced.push_back((status, kind));
    }

    pub fn docs(&self) -> BTreeMap<String, Value> {
        self.state.lock().unwrap().docs.clone()
    }

    pub fn problems(&self) -> Vec<String> {
        self.state.lock().unwrap().problems.clone()
    }
}

fn answer(state: &mut State, req: &Captured) -> Reply {
    if req.method == "GET" && req.path.ends_with('/') {
        return Reply::Json(200, json!({"version": {"number": "8.15.0"}}).to_string());
    }
    if req.method != "POST" || !req.path.ends_with("/_bulk") {
        return Reply::Status(404);
    }
    let pairs = match parse_bulk(req) {
        Ok(pairs) => pairs,
        Err(problem) => {
            state.problems.push(problem.clone());
            let error = json!({"error": {"type": "illegal_argument_exception", "reason": problem}, "status": 400});
            return Reply::Json(400, error.to_string());
        }
    };
    let mut items = Vec::new();
    for (index, id, doc) in pairs {
        let type_problems = ecs_problems(&doc);
        let (status, error) = if let Some((status, kind)) = state.forced.pop_front() {
            (status, Some(kind.to_owned()))
        } else if !type_problems.is_empty() {
            state.problems.extend(type_problems);
            (400, Some("mapper_parsing_exception".to_owned()))
        } else if state.docs.contains_key(&id) {
            (409, Some("version_conflict_engine_exception".to_owned()))
        } else {
            state.docs.insert(id.clone(), doc);
            (201, None)
        };
        let mut item =
            json!({"_index": format!(".ds-{index}-000001"), "_id": id, "status": status});
        if let Some(kind) = error {
            item["error"] = json!({"type": kind, "reason": format!("[{id}]: {kind}")});
        }
        items.push(json!({"create": item}));
    }
    let errors = items
        .iter()
        .any(|i| i["create"]["status"].as_u64() >= Some(300));
    Reply::Json(
        200,
        json!({"took": 3, "errors": errors, "items": items}).to_string(),
    )
}

/// `(index, id, document)` per action, or what makes the request malformed.
fn parse_bulk(req: &Captured) -> Result<Vec<(String, String, Value)>, String> {
    if req.header("content-type") != Some("application/x-ndjson") {
        return Err(format!("content-type {:?}", req.header("content-type")));
    }
    let text = std::str::from_utf8(&req.body).map_err(|_| "body is not UTF-8".to_owned())?;
    if !text.ends_with('\n') {
        return Err("The bulk request must be terminated by a newline [\\n]".to_owned());
    }
    let lines: Vec<&str> = text[..text.len() - 1].split('\n').collect();
    if !lines.len().is_multiple_of(2) {
        return Err("an action line without its source line".to_owned());
    }
    let mut out = Vec::new();
    for pair in lines.chunks(2) {
        let action: Value = serde_json::from_str(pair[0]).map_err(|e| format!("action: {e}"))?;
        let obj = action.as_object().filter(|o| o.len() == 1);
        let Some(create) = obj.and_then(|o| o.get("create")) else {
            return Err(format!("expected one `create` action, got {action}"));
        };
        let field = |k: &str| create.get(k).and_then(Value::as_str).map(str::to_owned);
        let (Some(index), Some(id)) = (field("_index"), field("_id")) else {
            return Err("a `create` needs `_index` and `_id`".to_owned());
        };
        let doc: Value = serde_json::from_str(pair[1]).map_err(|e| format!("source: {e}"))?;
        if !doc.is_object() {
            return Err("the source line must be an object".to_owned());
        }
        out.push((index, id, doc));
    }
    Ok(out)
}

fn in_list(v: &Value, list: &[&str]) -> bool {
    v.as_str().is_some_and(|s| list.contains(&s))
}

fn at<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |v, k| v.get(k))
}

/// ECS field types of the fields the sink writes; a data stream must receive them so.
pub fn ecs_problems(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut expect = |path: &str, ok: fn(&Value) -> bool, required: bool| match at(doc, path) {
        Some(v) if !ok(v) => out.push(format!("`{path}` has the wrong type: {v}")),
        None if required => out.push(format!("`{path}` is missing")),
        _ => {}
    };
    let date = |v: &Value| {
        v.as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
    };
    let keyword = |v: &Value| v.is_string();
    let ip = |v: &Value| v.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok());
    let ips = |v: &Value| {
        v.as_array().is_some_and(|a| {
            a.iter()
                .all(|i| i.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()))
        })
    };
    let keywords = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    expect("@timestamp", date, true);
    expect("event.kind", |v| in_list(v, KINDS), true);
    expect(
        "event.category",
        |v| {
            v.as_array()
                .is_some_and(|a| a.iter().all(|c| in_list(c, CATEGORIES)))
        },
        true,
    );
    expect(
        "event.type",
        |v| {
            v.as_array()
                .is_some_and(|a| a.iter().all(|c| in_list(c, TYPES)))
        },
        false,
    );
    expect("event.created", date, false);
    expect("event.severity", |v| v.is_i64() || v.is_u64(), false);
    expect("event.risk_score", Value::is_number, false);
    expect("ecs.version", keyword, true);
    expect("rule.name", keyword, true);
    expect("rule.id", keyword, true);
    for path in [
        "message",
        "event.id",
        "event.action",
        "orchestrator.type",
        "orchestrator.cluster.name",
        "orchestrator.namespace",
        "orchestrator.resource.name",
        "orchestrator.resource.type",
        "cloud.provider",
        "cloud.account.id",
        "cloud.region",
        "user.name",
        "user.effective.name",
        "user_agent.original",
        "threat.framework",
    ] {
        expect(path, keyword, false);
    }
    expect("source.ip", ip, false);
    expect("related.ip", ips, false);
    for path in [
        "tags",
        "related.user",
        "threat.tactic.id",
        "threat.technique.id",
    ] {
        expect(path, keywords, false);
    }
    out
}

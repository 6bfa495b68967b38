//! A strict stand-in for falcosidekick's input on the loopback receiver: `POST /` with a Falco
//! event, checked field by field as falcosidekick decodes it into its `FalcoPayload` (`output`,
//! `priority` among Falco's priorities, `rule`, `time` as RFC 3339, `output_fields` as a map of
//! scalars; `source`, `tags`, `hostname`, `uuid` optional and typed). Stricter than
//! falcosidekick on one point: an unknown top-level key is refused (falcosidekick would drop
//! it silently, which would hide a misspelt field). A valid event gets 200, anything else 400
//! and the problems are kept for the test to read.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::receiver::{Captured, Receiver, Reply};

const KEYS: &[&str] = &[
    "uuid",
    "output",
    "priority",
    "rule",
    "time",
    "output_fields",
    "source",
    "tags",
    "hostname",
];

/// falcosidekick's `PriorityType` names (compared case-insensitively, as it does).
const PRIORITIES: &[&str] = &[
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "info",
    "debug",
];

pub struct Falcosidekick {
    pub receiver: Receiver,
    problems: Arc<Mutex<Vec<String>>>,
}

impl Falcosidekick {
    pub async fn start() -> Falcosidekick {
        let receiver = Receiver::start().await;
        let problems: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = problems.clone();
        receiver.script(move |req| {
            if req.method != "POST" || req.path != "/" {
                return Reply::Status(404);
            }
            let found = request_problems(req);
            let status = if found.is_empty() { 200 } else { 400 };
            seen.lock().unwrap().extend(found);
            Reply::Status(status)
        });
        Falcosidekick { receiver, problems }
    }

    pub fn problems(&self) -> Vec<String> {
        self.problems.lock().unwrap().clone()
    }
}

pub fn request_problems(req: &Captured) -> Vec<String> {
    if req.header("content-type") != Some("application/json") {
        return vec![format!("content-type {:?}", req.header("content-type"))];
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(event) => event_problems(&event),
        Err(e) => vec![format!("not JSON: {e}")],
    }
}

pub fn event_problems(event: &Value) -> Vec<String> {
    let Some(obj) = event.as_object() else {
        return vec!["a Falco event is an object".to_owned()];
    };
    let mut out = Vec::new();
    for key in obj.keys() {
        if !KEYS.contains(&key.as_str()) {
            out.push(format!("unknown key `{key}`"));
        }
    }
    let string = |key: &str, required: bool, out: &mut Vec<String>| match obj.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        None if !required => None,
        other => {
            out.push(format!("`{key}` must be a string, got {other:?}"));
            None
        }
    };
    if string("output", true, &mut out).is_some_and(|s| s.is_empty()) {
        out.push("`output` is empty".to_owned());
    }
    if let Some(p) = string("priority", true, &mut out)
        && !PRIORITIES.contains(&p.to_lowercase().as_str())
    {
        out.push(format!("`priority` {p:?} is not a Falco priority"));
    }
    string("rule", true, &mut out);
    if let Some(t) = string("time", true, &mut out)
        && chrono::DateTime::parse_from_rfc3339(&t).is_err()
    {
        out.push(format!("`time` {t:?} is not RFC 3339"));
    }
    string("source", false, &mut out);
    string("hostname", false, &mut out);
    string("uuid", false, &mut out);
    if let Some(tags) = obj.get("tags") {
        let ok = tags
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string));
        if !ok {
            out.push("`tags` must be an array of strings".to_owned());
        }
    }
    match obj.get("output_fields") {
        Some(Value::Object(fields)) => {
            for (name, value) in fields {
                if value.is_object() || value.is_array() {
                    out.push(format!("output field `{name}` is not a scalar"));
                }
            }
        }
        other => out.push(format!("`output_fields` must be an object, got {other:?}")),
    }
    out
}

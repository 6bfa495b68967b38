//! A strict stand-in for Alertmanager's API v2 on the loopback receiver: `POST /api/v2/alerts`
//! is checked against the `postableAlerts` schema of Alertmanager's OpenAPI document
//! (`api/v2/openapi.yaml`) and the checks the server adds after decoding (a non-empty label
//! set with valid names, `endsAt` not before `startsAt`); a valid request gets 200, anything
//! else 400 and the problems are kept for the test to read. `GET /api/v2/status` answers 200.
//!
//! No Alertmanager binary is available here, so this is the documented format, strictly.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::receiver::{Captured, Receiver, Reply};

/// The properties of `postableAlert` (`alert` + `startsAt`, `endsAt`, `annotations`).
const ALERT_KEYS: &[&str] = &[
    "labels",
    "annotations",
    "startsAt",
    "endsAt",
    "generatorURL",
];

pub struct Alertmanager {
    pub receiver: Receiver,
    problems: Arc<Mutex<Vec<String>>>,
}

impl Alertmanager {
    pub async fn start() -> Alertmanager {
        let receiver = Receiver::start().await;
        let problems: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = problems.clone();
        receiver.script(move |req| match (req.method.as_str(), req.path.as_str()) {
            ("GET", p) if p.ends_with("/api/v2/status") => Reply::Status(200),
            ("POST", p) if p.ends_with("/api/v2/alerts") => {
                let found = request_problems(req);
                let status = if found.is_empty() { 200 } else { 400 };
                seen.lock().unwrap().extend(found);
                Reply::Status(status)
            }
            _ => Reply::Status(404),
        });
        Alertmanager { receiver, problems }
    }

    pub fn problems(&self) -> Vec<String> {
        self.problems.lock().unwrap().clone()
    }
}

/// Everything wrong with one `POST /api/v2/alerts`.
pub fn request_problems(req: &Captured) -> Vec<String> {
    let mut out = Vec::new();
    if req.header("content-type") != Some("application/json") {
        out.push(format!("content-type {:?}", req.header("content-type")));
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Array(alerts)) => {
            for (i, alert) in alerts.iter().enumerate() {
                out.extend(
                    alert_problems(alert)
                        .into_iter()
                        .map(|p| format!("[{i}] {p}")),
                );
            }
        }
        Ok(_) => out.push("postableAlerts must be an array".to_owned()),
        Err(e) => out.push(format!("not JSON: {e}")),
    }
    out
}

pub fn alert_problems(alert: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(obj) = alert.as_object() else {
        return vec!["postableAlert must be an object".to_owned()];
    };
    for key in obj.keys() {
        if !ALERT_KEYS.contains(&key.as_str()) {
            out.push(format!("unknown property `{key}`"));
        }
    }
    match obj.get("labels") {
        None => out.push("`labels` is required".to_owned()),
        Some(labels) => {
            out.extend(label_set_problems("labels", labels));
            if labels.as_object().is_some_and(|m| m.is_empty()) {
                out.push("at least one label pair required".to_owned());
            }
        }
    }
    if let Some(annotations) = obj.get("annotations") {
        out.extend(label_set_problems("annotations", annotations));
    }
    let time = |key: &str, out: &mut Vec<String>| {
        let value = obj.get(key)?;
        let parsed = value
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
        if parsed.is_none() {
            out.push(format!(
                "`{key}` must be an RFC 3339 date-time, got {value}"
            ));
        }
        parsed
    };
    let starts = time("startsAt", &mut out);
    let ends = time("endsAt", &mut out);
    if let (Some(s), Some(e)) = (starts, ends)
        && e < s
    {
        out.push("start time must be before end time".to_owned());
    }
    if let Some(g) = obj.get("generatorURL") {
        let ok = g.as_str().is_some_and(|s| url::Url::parse(s).is_ok());
        if !ok {
            out.push(format!("`generatorURL` must be a URI, got {g}"));
        }
    }
    out
}

/// A `labelSet`: an object of string values under valid label names.
fn label_set_problems(what: &str, set: &Value) -> Vec<String> {
    let Some(map) = set.as_object() else {
        return vec![format!("`{what}` must be an object")];
    };
    let mut out = Vec::new();
    for (name, value) in map {
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            out.push(format!("invalid label name `{name}` in `{what}`"));
        }
        if !value.is_string() {
            out.push(format!("`{what}.{name}` must be a string, got {value}"));
        }
    }
    out
}

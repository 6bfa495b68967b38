//! The fake's table schemas and how a stored row is rendered in a response.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::FakeRow;

pub fn resource_id(r: &FakeRow) -> String {
    r.columns
        .get("_ResourceId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

pub fn is_service_write(r: &FakeRow) -> bool {
    if let Some(log) = r.columns.get("log_s").and_then(Value::as_str) {
        let compact: String = log.chars().filter(|c| !c.is_whitespace()).collect();
        let category = r
            .columns
            .get("Category")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return category.starts_with("kube-audit")
            && RESOURCES
                .iter()
                .any(|r| compact.contains(&format!("\"resource\":\"{r}\"")))
            && VERBS
                .iter()
                .any(|v| compact.contains(&format!("\"verb\":\"{v}\"")));
    }
    let verb = r
        .columns
        .get("Verb")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let resource = r
        .columns
        .get("ObjectRef")
        .and_then(|o| o.get("resource"))
        .and_then(Value::as_str);
    VERBS.contains(&verb) && resource.is_some_and(|r| RESOURCES.contains(&r))
}

/// What the source's query selects: Service writes and deletes, and namespace writes.
const VERBS: [&str; 4] = ["create", "update", "patch", "delete"];
const RESOURCES: [&str; 2] = ["services", "namespaces"];

const AKS_COLUMNS: [(&str, &str); 22] = [
    ("Annotations", "dynamic"),
    ("AuditId", "string"),
    ("Level", "string"),
    ("ObjectRef", "dynamic"),
    ("PodName", "string"),
    ("RequestObject", "dynamic"),
    ("RequestReceivedTime", "datetime"),
    ("RequestUri", "string"),
    ("ResponseObject", "dynamic"),
    ("ResponseStatus", "dynamic"),
    ("SourceIps", "dynamic"),
    ("SourceSystem", "string"),
    ("Stage", "string"),
    ("StageReceivedTime", "datetime"),
    ("TenantId", "string"),
    ("TimeGenerated", "datetime"),
    ("Type", "string"),
    ("User", "dynamic"),
    ("UserAgent", "string"),
    ("Verb", "string"),
    ("_ResourceId", "string"),
    ("_SubscriptionId", "string"),
];

const DIAGNOSTICS_COLUMNS: [(&str, &str); 6] = [
    ("TimeGenerated", "datetime"),
    ("Category", "string"),
    ("_ResourceId", "string"),
    ("AuditId", "string"),
    ("Stage", "string"),
    ("log_s", "string"),
];

/// The result's columns: the table's schema plus the source's `IngestionTime`.
pub fn columns(table: &str) -> Vec<Value> {
    let schema: &[(&str, &str)] = if table == "AzureDiagnostics" {
        &DIAGNOSTICS_COLUMNS
    } else {
        &AKS_COLUMNS
    };
    schema
        .iter()
        .chain([("IngestionTime", "datetime")].iter())
        .map(|(name, kind)| json!({"name": name, "type": kind}))
        .collect()
}

fn kusto_time(t: DateTime<Utc>) -> Value {
    Value::String(
        t.to_rfc3339_opts(SecondsFormat::Nanos, true)
            .replace("00Z", "Z"),
    )
}

pub fn render(r: &FakeRow, columns: &[Value], dynamic_as_objects: bool) -> Value {
    let mut values = Vec::new();
    for col in columns {
        let name = col["name"].as_str().unwrap_or_default();
        let kind = col["type"].as_str().unwrap_or_default();
        let value = match name {
            "IngestionTime" => kusto_time(r.ingested),
            "TimeGenerated" => kusto_time(r.time_generated),
            "AuditId" | "Stage" if r.table == "AzureDiagnostics" => extract(r, name),
            _ => r.columns.get(name).cloned().unwrap_or(Value::Null),
        };
        let value = match value {
            v @ (Value::Object(_) | Value::Array(_))
                if kind == "dynamic" && !dynamic_as_objects =>
            {
                Value::String(v.to_string())
            }
            v => v,
        };
        values.push(value);
    }
    Value::Array(values)
}

/// `extract('"auditID":"([^"]+)"', 1, log_s)` as the query asks.
fn extract(r: &FakeRow, column: &str) -> Value {
    let field = if column == "AuditId" {
        "\"auditID\":\""
    } else {
        "\"stage\":\""
    };
    let log = r
        .columns
        .get("log_s")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match log
        .find(field)
        .and_then(|i| log[i + field.len()..].split('"').next())
    {
        Some(v) => Value::String(v.to_owned()),
        None => Value::String(String::new()),
    }
}

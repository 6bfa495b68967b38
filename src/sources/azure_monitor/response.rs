//! Reads a Log Analytics query response: `{"tables": [{"name", "columns", "rows"}], "error"?}`.
//!
//! Each row becomes one JSON object `{column name: value}` — the shape the AKS normalizer reads
//! for `AKSAudit`/`AKSAuditAdmin` and `AzureDiagnostics` rows. Values are kept as the service
//! sent them (a `dynamic` column may be an object or a JSON-encoded string; the normalizer reads
//! both), so a row is never re-encoded on the way.
//!
//! A `200` can still carry a top-level `error` (`PartialError`): the rows may be incomplete.
//! When the error says the result was cut at the service's size or row limit, the caller
//! splits the window; any other partial error makes it retry the window.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::normalize::parse_timestamp;

use super::kql::INGESTION_COLUMN;

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(default, borrow)]
    tables: Vec<Table<'a>>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Table<'a> {
    #[serde(default)]
    name: String,
    columns: Vec<Column>,
    #[serde(borrow)]
    rows: Vec<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct Column {
    name: String,
}

/// One row, as a JSON object, with the fields the source itself needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub json: String,
    pub audit_id: Option<String>,
    pub stage: Option<String>,
    pub time_generated: Option<DateTime<Utc>>,
    pub ingestion_time: Option<DateTime<Utc>>,
}

/// A `200` response's rows and its partial error, if any.
#[derive(Debug, Default)]
pub struct QueryResult {
    pub rows: Vec<Row>,
    /// The top-level `error` of a partial success.
    pub partial_error: Option<Value>,
}

impl QueryResult {
    /// Whether the partial error says the result was cut at the service's row or size limit.
    pub fn truncated_by_service(&self) -> bool {
        self.partial_error
            .as_ref()
            .is_some_and(mentions_result_limit)
    }

    /// A one-line summary of the partial error for logs.
    pub fn partial_error_summary(&self) -> Option<String> {
        let e = self.partial_error.as_ref()?;
        let code = e.get("code").and_then(Value::as_str).unwrap_or("error");
        let message = e.get("message").and_then(Value::as_str).unwrap_or("");
        let details: Vec<&str> = e
            .get("details")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| d.get("message").and_then(Value::as_str))
            .collect();
        Some(
            format!("{code}: {message} {}", details.join("; "))
                .trim()
                .to_owned(),
        )
    }
}

/// Kusto reports both limits (500,000 rows, ~64 MB) as `E_QUERY_RESULT_SET_TOO_LARGE`.
fn mentions_result_limit(v: &Value) -> bool {
    match v {
        Value::String(s) => {
            s.contains("E_QUERY_RESULT_SET_TOO_LARGE")
                || s.to_ascii_lowercase().contains("result set has exceeded")
        }
        Value::Array(items) => items.iter().any(mentions_result_limit),
        Value::Object(map) => map.values().any(mentions_result_limit),
        _ => false,
    }
}

/// The service's error body of a failed request: `{"error": {"code", "message"}}`.
pub fn error_code_and_message(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return (None, None);
    };
    let e = v.get("error").unwrap_or(&v);
    let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
    (text("code"), text("message"))
}

/// Parses a `200` body (an empty body, as a `204` has, holds no rows).
pub fn parse(body: &[u8]) -> Result<QueryResult, serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(QueryResult::default());
    }
    let parsed: Body<'_> = serde_json::from_slice(body)?;
    let table = parsed
        .tables
        .iter()
        .find(|t| t.name == "PrimaryResult")
        .or(parsed.tables.first());
    let rows = table.map(rows).unwrap_or_default();
    Ok(QueryResult {
        rows,
        partial_error: parsed.error,
    })
}

fn rows(table: &Table<'_>) -> Vec<Row> {
    let names: Vec<String> = table
        .columns
        .iter()
        .map(|c| serde_json::to_string(&c.name).unwrap_or_else(|_| "\"?\"".to_owned()))
        .collect();
    let index = |name: &str| table.columns.iter().position(|c| c.name == name);
    let (audit, stage, generated, ingested) = (
        index("AuditId"),
        index("Stage"),
        index("TimeGenerated"),
        index(INGESTION_COLUMN),
    );
    table
        .rows
        .iter()
        .map(|values| {
            let mut json = String::from("{");
            for (i, (name, value)) in names.iter().zip(values).enumerate() {
                if i > 0 {
                    json.push(',');
                }
                json.push_str(name);
                json.push(':');
                json.push_str(value.get());
            }
            json.push('}');
            let text = |i: Option<usize>| {
                i.and_then(|i| values.get(i))
                    .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
                    .filter(|s| !s.is_empty())
            };
            let time = |i| text(i).and_then(|s| parse_timestamp(&s));
            Row {
                json,
                audit_id: text(audit),
                stage: text(stage),
                time_generated: time(generated),
                ingestion_time: time(ingested),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_objects_with_values_as_sent() {
        let body = br#"{"tables":[{"name":"PrimaryResult","columns":[
            {"name":"AuditId","type":"string"},{"name":"Stage","type":"string"},
            {"name":"ObjectRef","type":"dynamic"},{"name":"TimeGenerated","type":"datetime"},
            {"name":"IngestionTime","type":"datetime"},{"name":"Level","type":"long"}],
            "rows":[["a-1","ResponseComplete","{\"resource\":\"services\"}","2024-01-01T00:00:00.1234567Z","2024-01-01T00:03:00Z",3],
                    [null,"",{"resource":"services"},null,null,null]]}]}"#;
        let r = parse(body).unwrap();
        assert_eq!(r.rows.len(), 2);
        let row = &r.rows[0];
        assert_eq!(row.audit_id.as_deref(), Some("a-1"));
        assert_eq!(row.stage.as_deref(), Some("ResponseComplete"));
        assert_eq!(
            row.ingestion_time.unwrap().to_rfc3339(),
            "2024-01-01T00:03:00+00:00"
        );
        let v: Value = serde_json::from_str(&row.json).unwrap();
        assert_eq!(
            v["ObjectRef"],
            Value::String("{\"resource\":\"services\"}".into())
        );
        assert_eq!(v["Level"], 3);
        let v: Value = serde_json::from_str(&r.rows[1].json).unwrap();
        assert_eq!(v["ObjectRef"]["resource"], "services");
        assert_eq!(r.rows[1].audit_id, None);
        assert_eq!(r.rows[1].stage, None);
        assert!(r.partial_error.is_none());
    }

    #[test]
    fn partial_errors_and_the_result_limit() {
        let body = br#"{"tables":[{"name":"PrimaryResult","columns":[],"rows":[]}],
            "error":{"code":"PartialError","message":"There were some errors when processing your query.",
            "details":[{"code":"EngineError","message":"Something went wrong processing your query on the server.",
            "innererror":{"code":"-2133196797","message":"Query result set has exceeded the internal record count limit 500000 (E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)"}}]}}"#;
        let r = parse(body).unwrap();
        assert!(r.truncated_by_service());
        assert!(
            r.partial_error_summary()
                .unwrap()
                .starts_with("PartialError")
        );
        let other = br#"{"tables":[],"error":{"code":"PartialError","message":"a workspace was unavailable"}}"#;
        let r = parse(other).unwrap();
        assert!(r.partial_error.is_some() && !r.truncated_by_service());
    }

    #[test]
    fn empty_bodies_and_errors() {
        assert!(parse(b"").unwrap().rows.is_empty());
        assert!(parse(b"{\"tables\": 3}").is_err());
        assert_eq!(
            error_code_and_message(br#"{"error":{"code":"AuthenticationFailed","message":"no"}}"#),
            (Some("AuthenticationFailed".into()), Some("no".into()))
        );
        assert_eq!(error_code_and_message(b"<html>"), (None, None));
    }
}

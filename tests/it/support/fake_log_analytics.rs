//! A local Log Analytics query API, faithful to the documented contract
//! (`shared/API-CONTRACTS.md` section c), for the `azure_monitor` tests.
//!
//! - `POST /v1/workspaces/{id}/query` with `{"query", "timespan"}`; a bearer token is required
//!   (401 `AuthenticationFailed` otherwise); a request without a JSON content type gets an
//!   empty 200, as the service does.
//! - Rows are stored with their ingestion time. The fake reads the window the query asks for
//!   from the query text (`ingestion_time() >= datetime(…) and ingestion_time() < datetime(…)`,
//!   the `TimeGenerated` bounds, `_ResourceId` filters, `take N`) and intersects it with the
//!   request's `timespan`, so a row ingested after a window was read is only returned by a
//!   later window.
//! - Responses are `{"tables":[{"name":"PrimaryResult","columns":[{name,type}],"rows":[[…]]}]}`;
//!   `dynamic` columns are JSON-encoded strings by default (as the service sends them).
//! - Scripted failures: 429 with `Retry-After`, any 5xx, a `PartialError`; a row cap that cuts
//!   the result and reports `E_QUERY_RESULT_SET_TOO_LARGE` as the service does.

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

pub const TOKEN: &str = "fake-token";

/// One stored row of a table.
#[derive(Clone, Debug)]
pub struct FakeRow {
    pub workspace: String,
    pub table: String,
    pub ingested: DateTime<Utc>,
    pub time_generated: DateTime<Utc>,
    /// Column values as typed JSON (objects for `dynamic`).
    pub columns: Map<String, Value>,
}

/// A failure to answer the next query with.
#[derive(Clone, Debug)]
pub enum Failure {
    Throttle {
        retry_after_secs: u64,
    },
    Status(u16),
    /// A `200` with a top-level `PartialError` that is not about the result size.
    Partial,
}

/// What the fake understood of a query it answered.
#[derive(Clone, Debug)]
pub struct SeenQuery {
    pub workspace: String,
    pub table: String,
    pub ingestion: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub status: u16,
    pub rows: usize,
    pub text: String,
}

#[derive(Default)]
struct Inner {
    rows: Vec<FakeRow>,
    tables: BTreeSet<(String, String)>,
    row_cap: Option<usize>,
    dynamic_as_objects: bool,
    failures: VecDeque<Failure>,
    seen: Vec<SeenQuery>,
}

#[derive(Clone)]
pub struct FakeLogAnalytics {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeLogAnalytics {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v1/workspaces/{workspace}/query", post(query))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeLogAnalytics {
            url: format!("http://{addr}"),
            inner,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    pub fn add(&self, row: FakeRow) {
        let mut inner = self.lock();
        inner
            .tables
            .insert((row.workspace.clone(), row.table.clone()));
        inner.rows.push(row);
    }

    /// Declares a table that exists in a workspace even without rows.
    pub fn create_table(&self, workspace: &str, table: &str) {
        self.lock()
            .tables
            .insert((workspace.to_owned(), table.to_owned()));
    }

    /// The service's cap on rows per result (500,000 for real).
    pub fn set_row_cap(&self, cap: usize) {
        self.lock().row_cap = Some(cap);
    }

    /// Sends `dynamic` values as JSON objects instead of JSON-encoded strings.
    pub fn send_dynamic_as_objects(&self) {
        self.lock().dynamic_as_objects = true;
    }

    pub fn fail_next(&self, failure: Failure) {
        self.lock().failures.push_back(failure);
    }

    pub fn seen(&self) -> Vec<SeenQuery> {
        self.lock().seen.clone()
    }
}

fn error_body(code: &str, message: &str) -> String {
    json!({"error": {"code": code, "message": message, "details": []}}).to_string()
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn query(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"));
    if !authorized {
        return json_response(
            StatusCode::UNAUTHORIZED,
            error_body(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            ),
        );
    }
    let json_content = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let Some(request) = json_content
        .then(|| serde_json::from_slice::<Value>(&body).ok())
        .flatten()
    else {
        return (StatusCode::OK, "").into_response();
    };
    let text = request["query"].as_str().unwrap_or_default().to_owned();
    let timespan = request["timespan"].as_str().map(str::to_owned);
    let mut inner = inner.lock().unwrap();
    let table = text
        .split(|c: char| c.is_whitespace() || c == '|')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut seen = SeenQuery {
        workspace: workspace.clone(),
        table: table.clone(),
        ingestion: bounds(&text, "ingestion_time()"),
        status: 200,
        rows: 0,
        text: text.clone(),
    };
    let response = answer(
        &mut inner,
        &workspace,
        &table,
        &text,
        timespan.as_deref(),
        &mut seen,
    );
    seen.status = response.status().as_u16();
    inner.seen.push(seen);
    response
}

fn answer(
    inner: &mut Inner,
    workspace: &str,
    table: &str,
    text: &str,
    timespan: Option<&str>,
    seen: &mut SeenQuery,
) -> Response {
    if let Some(failure) = inner.failures.pop_front() {
        return match failure {
            Failure::Throttle { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    (header::RETRY_AFTER, retry_after_secs.to_string()),
                    (header::CONTENT_TYPE, "application/json".to_owned()),
                ],
                error_body("ThrottledError", "Too many requests; retry later."),
            )
                .into_response(),
            Failure::Status(code) => json_response(
                StatusCode::from_u16(code).unwrap(),
                error_body("ServiceError", "The service had a problem."),
            ),
            Failure::Partial => json_response(
                StatusCode::OK,
                json!({
                    "tables": [{"name": "PrimaryResult", "columns": columns(table), "rows": []}],
                    "error": {"code": "PartialError", "message": "There were some errors when processing your query.",
                              "details": [{"code": "EngineError", "message": "A data source was unavailable."}]}
                })
                .to_string(),
            ),
        };
    }
    if !inner
        .tables
        .contains(&(workspace.to_owned(), table.to_owned()))
    {
        return json_response(
            StatusCode::BAD_REQUEST,
            error_body(
                "BadArgumentError",
                &format!(
                    "'{table}' operator: Failed to resolve table or column expression named '{table}'"
                ),
            ),
        );
    }
    if text.contains("| count") {
        let n = inner
            .rows
            .iter()
            .filter(|r| r.workspace == workspace && r.table == table)
            .count();
        return json_response(
            StatusCode::OK,
            json!({"tables": [{"name": "PrimaryResult", "columns": [{"name": "Count", "type": "long"}], "rows": [[n.min(1)]]}]}).to_string(),
        );
    }
    let ingestion = bounds(text, "ingestion_time()");
    let generated = bounds(text, "TimeGenerated");
    let span = timespan.and_then(|t| {
        let (a, b) = t.split_once('/')?;
        Some((parse(a)?, parse(b)?))
    });
    let clusters = cluster_terms(text);
    let services_only = text.contains("\"services\"");
    let mut matching: Vec<&FakeRow> = inner
        .rows
        .iter()
        .filter(|r| r.workspace == workspace && r.table == table)
        .filter(|r| ingestion.is_none_or(|(a, b)| r.ingested >= a && r.ingested < b))
        .filter(|r| generated.is_none_or(|(a, b)| r.time_generated >= a && r.time_generated < b))
        .filter(|r| span.is_none_or(|(a, b)| r.time_generated >= a && r.time_generated <= b))
        .filter(|r| clusters.is_empty() || clusters.iter().any(|c| c.matches(&resource_id(r))))
        .filter(|r| !services_only || is_service_write(r))
        .collect();
    if let Some(take) = after(text, "| take ").and_then(|t| t.trim().parse::<usize>().ok()) {
        matching.truncate(take);
    }
    let mut error = None;
    if let Some(cap) = inner.row_cap
        && matching.len() > cap
    {
        matching.truncate(cap);
        error = Some(json!({
            "code": "PartialError",
            "message": "There were some errors when processing your query.",
            "details": [{"code": "EngineError", "message": "Something went wrong processing your query on the server.",
                "innererror": {"code": "-2133196797", "message": format!("Query result set has exceeded the internal record count limit {cap} (E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)")}}]
        }));
    }
    seen.rows = matching.len();
    let cols = columns(table);
    let rows: Vec<Value> = matching
        .iter()
        .map(|r| render(r, &cols, inner.dynamic_as_objects))
        .collect();
    let mut body = json!({"tables": [{"name": "PrimaryResult", "columns": cols, "rows": rows}]});
    if let Some(error) = error {
        body["error"] = error;
    }
    json_response(StatusCode::OK, body.to_string())
}

fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|i| &text[i + marker.len()..])
}

/// `<column> >= datetime(A) and <column> < datetime(B)`.
fn bounds(text: &str, column: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let lower = after(text, &format!("{column} >= datetime("))?;
    let upper = after(text, &format!("{column} < datetime("))?;
    let take = |s: &str| s.split(')').next().and_then(parse);
    Some((take(lower)?, take(upper)?))
}

enum ClusterTerm {
    Exact(String),
    Suffix(String),
}

impl ClusterTerm {
    fn matches(&self, id: &str) -> bool {
        let id = id.to_ascii_lowercase();
        match self {
            ClusterTerm::Exact(e) => id == e.to_ascii_lowercase(),
            ClusterTerm::Suffix(s) => id.ends_with(&s.to_ascii_lowercase()),
        }
    }
}

/// Reads KQL string literals (with `\"` and `\\` escapes) from the `_ResourceId` filter line.
fn cluster_terms(text: &str) -> Vec<ClusterTerm> {
    let Some(line) = text
        .lines()
        .find(|l| l.contains("_ResourceId in~") || l.contains("_ResourceId endswith"))
    else {
        return Vec::new();
    };
    let mut terms = Vec::new();
    let mut rest = line;
    while let Some(q) = rest.find('"') {
        let before = &rest[..q];
        let mut value = String::new();
        let mut chars = rest[q + 1..].char_indices();
        let mut end = rest.len() - q - 1;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        value.push(e);
                    }
                }
                '"' => {
                    end = i;
                    break;
                }
                c => value.push(c),
            }
        }
        let suffix = before.trim_end().ends_with("endswith");
        terms.push(if suffix {
            ClusterTerm::Suffix(value)
        } else {
            ClusterTerm::Exact(value)
        });
        rest = &rest[q + 1 + end + 1..];
    }
    terms
}

fn resource_id(r: &FakeRow) -> String {
    r.columns
        .get("_ResourceId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn is_service_write(r: &FakeRow) -> bool {
    if let Some(log) = r.columns.get("log_s").and_then(Value::as_str) {
        let compact: String = log.chars().filter(|c| !c.is_whitespace()).collect();
        let category = r
            .columns
            .get("Category")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return category.starts_with("kube-audit")
            && compact.contains("\"resource\":\"services\"")
            && ["create", "update", "patch"]
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
    ["create", "update", "patch"].contains(&verb) && resource == Some("services")
}

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
fn columns(table: &str) -> Vec<Value> {
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

fn render(r: &FakeRow, columns: &[Value], dynamic_as_objects: bool) -> Value {
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
    match after(log, field).and_then(|rest| rest.split('"').next()) {
        Some(v) => Value::String(v.to_owned()),
        None => Value::String(String::new()),
    }
}

//! A local Log Analytics query API, faithful to the documented contract
//! (`shared/API-CONTRACTS.md` section c), for the `azure_monitor` tests.
//!
//! - `POST /v1/workspaces/{id}/query` with `{"query", "timespan"}`; a bearer token is required
//!   (401 `AuthenticationFailed` otherwise); a request without a JSON content type gets an
//!   empty 200, as the service does.
//! - Rows are stored with their ingestion time. The fake parses the query strictly (see
//!   [`query`]: the time bounds, `_ResourceId` filters, Service-write filters, `take N`,
//!   `count`) and intersects it with the request's `timespan`, so a row ingested after a window
//!   was read is only returned by a later window. KQL it cannot parse gets the service's 400
//!   (`BadArgumentError` with a `SyntaxError` detail), never a loose match of every row.
//! - Responses are `{"tables":[{"name":"PrimaryResult","columns":[{name,type}],"rows":[[…]]}]}`;
//!   `dynamic` columns are JSON-encoded strings by default (as the service sends them).
//! - Scripted failures: 429 with `Retry-After`, any 5xx, a `PartialError`; a row cap that cuts
//!   the result and reports `E_QUERY_RESULT_SET_TOO_LARGE` as the service does.

mod query;
mod tables;

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use self::query::{Query, parse, parse_query};
use self::tables::{columns, is_service_write, render, resource_id};

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
    /// When it arrived, for requests per minute per workspace.
    pub at: std::time::Instant,
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
    let parsed = parse_query(&text);
    let mut seen = SeenQuery {
        workspace: workspace.clone(),
        table: parsed.as_ref().map(|q| q.table.clone()).unwrap_or_default(),
        ingestion: parsed.as_ref().ok().and_then(|q| q.ingestion),
        status: 200,
        rows: 0,
        text: text.clone(),
        at: std::time::Instant::now(),
    };
    let response = answer(
        &mut inner,
        &workspace,
        parsed,
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
    parsed: Result<Query, String>,
    timespan: Option<&str>,
    seen: &mut SeenQuery,
) -> Response {
    let table = match &parsed {
        Ok(q) => q.table.as_str(),
        Err(_) => "",
    };
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
    let query = match parsed {
        Ok(query) => query,
        // The service's answer to KQL it cannot parse (API-CONTRACTS.md c, "Documented errors").
        Err(reason) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": {
                    "code": "BadArgumentError",
                    "message": "The request had some invalid properties",
                    "details": [{"code": "SyntaxError", "message": reason}],
                }})
                .to_string(),
            );
        }
    };
    let table = query.table.as_str();
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
    if query.count {
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
    let Query {
        ingestion,
        generated,
        clusters,
        services_only,
        take,
        ..
    } = query;
    let span = timespan.and_then(|t| {
        let (a, b) = t.split_once('/')?;
        Some((parse(a)?, parse(b)?))
    });
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
    if let Some(take) = take {
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

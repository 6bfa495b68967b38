//! A local Cloud Logging `entries.list` server, faithful to the documented contract.
//!
//! `POST /v2/entries:list` with a `ListLogEntriesRequest` body: `resourceNames` (required,
//! `projects/P`, at most 100), `filter` (see [`super::fake_filter`]; unknown terms are a 400),
//! `orderBy` (`timestamp asc` or `desc`, ties by `insertId`), `pageSize` (default 50, negative or
//! over 1000 refused), `pageToken` (opaque, valid only with identical other parameters). Errors
//! use Google's JSON shape. On demand it answers 429 RESOURCE_EXHAUSTED or 500, enforces a
//! per-project quota, and returns empty pages that still carry a token. Every request is logged
//! with the time on tokio's clock, so a paused-clock test measures rates in simulated time.
//!
//! It runs on the test's own runtime: while the poller waits for an answer, the server task has
//! work to do, so tokio never auto-advances a paused clock in the middle of a request.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::fake_filter::{Filter, TEXT_FIELDS};

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    /// Since the fake started, on tokio's clock.
    pub at: Duration,
    pub projects: Vec<String>,
    pub filter: String,
    pub page_token: String,
    pub status: u16,
    pub returned: usize,
}

/// An entry kept as its JSON text (a day of entries must fit in memory for the measurement),
/// with the fields the filter can name read once.
struct Stored {
    time: DateTime<Utc>,
    insert_id: String,
    project: String,
    fields: [Option<String>; TEXT_FIELDS.len()],
    text: String,
}

impl Stored {
    fn field(&self, name: &str) -> Option<&str> {
        let i = TEXT_FIELDS.iter().position(|f| *f == name)?;
        self.fields[i].as_deref()
    }
}

struct TokenState {
    query: (Vec<String>, String, String),
    /// The sort key of the last entry returned.
    after: Option<(DateTime<Utc>, String)>,
}

#[derive(Default)]
struct Inner {
    entries: Vec<Stored>,
    tokens: HashMap<String, TokenState>,
    next_token: u64,
    requests: Vec<SeenRequest>,
    forced: VecDeque<u16>,
    empty_page_every: Option<usize>,
    answered: usize,
    quota_per_minute: Option<usize>,
}

#[derive(Clone)]
pub struct FakeLogging {
    inner: Arc<Mutex<Inner>>,
    started: Instant,
    addr: std::net::SocketAddr,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListRequest {
    #[serde(default)]
    resource_names: Vec<String>,
    #[serde(default)]
    filter: String,
    #[serde(default)]
    order_by: String,
    #[serde(default)]
    page_size: i64,
    #[serde(default)]
    page_token: String,
}

/// axum is built without its `json` feature; the body is written by hand.
fn text_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        body,
    )
        .into_response()
}

fn google_error(code: u16, status: &str, message: &str) -> Response {
    let http = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error": {"code": code, "message": message, "status": status}});
    text_response(http, body.to_string())
}

fn time_of(entry: &Value) -> Option<DateTime<Utc>> {
    let text = entry.get("timestamp")?.as_str()?;
    Some(DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc))
}

impl FakeLogging {
    /// Starts on 127.0.0.1, on the current runtime.
    pub async fn start() -> FakeLogging {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeLogging {
            inner: Arc::default(),
            started: Instant::now(),
            addr: listener.local_addr().unwrap(),
        };
        let app = axum::Router::new()
            .route("/v2/entries:list", post(list))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores an entry as Cloud Logging would serve it (it needs `logName` and `timestamp`).
    pub fn insert(&self, entry: Value) {
        let time = time_of(&entry).expect("entries need an RFC 3339 timestamp");
        let log_name = entry["logName"].as_str().expect("entries need a logName");
        let project = log_name
            .strip_prefix("projects/")
            .and_then(|r| r.split('/').next())
            .expect("logName is projects/P/logs/L")
            .to_owned();
        let insert_id = entry["insertId"].as_str().unwrap_or_default().to_owned();
        let fields = TEXT_FIELDS.map(|path| {
            path.split('.')
                .try_fold(&entry, |v, key| v.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let text = entry.to_string();
        let mut inner = self.lock();
        let key = (time, insert_id.clone());
        let at = inner
            .entries
            .partition_point(|e| (e.time, e.insert_id.as_str()) <= (key.0, key.1.as_str()));
        inner.entries.insert(
            at,
            Stored {
                time,
                insert_id,
                project,
                fields,
                text,
            },
        );
    }

    /// The next `times` requests get HTTP `status` (429, 401, 403 or 5xx) instead of an answer.
    pub fn fail_next(&self, status: u16, times: usize) {
        self.lock()
            .forced
            .extend(std::iter::repeat_n(status, times));
    }

    /// Answers `pass` requests normally, then one with HTTP `status`.
    pub fn fail_after(&self, pass: usize, status: u16) {
        let mut inner = self.lock();
        inner.forced.extend(std::iter::repeat_n(0, pass));
        inner.forced.push_back(status);
    }

    /// Every `n`th answer is an empty page that still carries a token.
    pub fn empty_page_every(&self, n: Option<usize>) {
        self.lock().empty_page_every = n;
    }

    /// Refuses with 429 a request that would make any of its projects exceed `n` requests in
    /// the last 60 s, like the real per-project quota.
    pub fn quota_per_minute(&self, n: Option<usize>) {
        self.lock().quota_per_minute = n;
    }

    /// Forgets every page token, as if they had outlived their 24 hours.
    pub fn expire_tokens(&self) {
        self.lock().tokens.clear();
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.lock().requests.clone()
    }

    /// The most requests carrying `project` that fall in any 60-second span.
    pub fn max_requests_in_a_minute(&self, project: &str) -> usize {
        let times: Vec<Duration> = self
            .requests()
            .into_iter()
            .filter(|r| r.projects.iter().any(|p| p == project))
            .map(|r| r.at)
            .collect();
        times
            .iter()
            .enumerate()
            .map(|(i, t)| {
                times[i..]
                    .iter()
                    .take_while(|u| **u < *t + Duration::from_secs(60))
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    fn answer(&self, req: ListRequest) -> Response {
        let now = self.started.elapsed();
        let mut inner = self.lock();
        let projects: Vec<String> = req
            .resource_names
            .iter()
            .filter_map(|r| r.strip_prefix("projects/").map(str::to_owned))
            .collect();
        let mut seen = SeenRequest {
            at: now,
            projects: projects.clone(),
            filter: req.filter.clone(),
            page_token: req.page_token.clone(),
            status: 200,
            returned: 0,
        };
        let refuse = |inner: &mut Inner, mut seen: SeenRequest, code, status, message: &str| {
            seen.status = code;
            inner.requests.push(seen);
            google_error(code, status, message)
        };
        if let Some(code) = inner.forced.pop_front().filter(|c| *c != 0) {
            // The status and message Google sends with each code.
            let (status, message) = match code {
                429 => (
                    "RESOURCE_EXHAUSTED",
                    "Quota exceeded (injected by the test).",
                ),
                401 => (
                    "UNAUTHENTICATED",
                    "Request had invalid authentication credentials.",
                ),
                403 => ("PERMISSION_DENIED", "The caller does not have permission"),
                _ => ("INTERNAL", "failure injected by the test"),
            };
            return refuse(&mut inner, seen, code, status, message);
        }
        if req.resource_names.is_empty()
            || req.resource_names.len() > 100
            || projects.len() != req.resource_names.len()
        {
            return refuse(
                &mut inner,
                seen,
                400,
                "INVALID_ARGUMENT",
                "resourceNames: 1 to 100 names of the form projects/P",
            );
        }
        if !(0..=1000).contains(&req.page_size) {
            return refuse(
                &mut inner,
                seen,
                400,
                "INVALID_ARGUMENT",
                "pageSize must be 0 to 1000",
            );
        }
        let descending = match req.order_by.as_str() {
            "" | "timestamp asc" => false,
            "timestamp desc" => true,
            _ => return refuse(&mut inner, seen, 400, "INVALID_ARGUMENT", "orderBy"),
        };
        let filter = match Filter::parse(&req.filter) {
            Ok(f) => f,
            Err(e) => return refuse(&mut inner, seen, 400, "INVALID_ARGUMENT", &e),
        };
        let query = (
            req.resource_names.clone(),
            req.filter.clone(),
            req.order_by.clone(),
        );
        let after = if req.page_token.is_empty() {
            None
        } else {
            match inner.tokens.get(&req.page_token) {
                Some(t) if t.query == query => t.after.clone(),
                _ => {
                    return refuse(
                        &mut inner,
                        seen,
                        400,
                        "INVALID_ARGUMENT",
                        "page token invalid or used with other parameters",
                    );
                }
            }
        };
        if let Some(limit) = inner.quota_per_minute {
            let over = projects.iter().any(|p| {
                inner
                    .requests
                    .iter()
                    .filter(|r| {
                        r.status == 200 && now.saturating_sub(r.at) < Duration::from_secs(60)
                    })
                    .filter(|r| r.projects.contains(p))
                    .count()
                    >= limit
            });
            if over {
                return refuse(
                    &mut inner,
                    seen,
                    429,
                    "RESOURCE_EXHAUSTED",
                    "Quota exceeded for quota metric 'Read requests' of service 'logging.googleapis.com'",
                );
            }
        }
        let page_size = if req.page_size == 0 {
            50
        } else {
            req.page_size as usize
        };
        inner.answered += 1;
        let empty = inner
            .empty_page_every
            .is_some_and(|n| inner.answered.is_multiple_of(n));
        let (lower, upper) = filter.time_bounds();
        let from = lower.map_or(0, |t| inner.entries.partition_point(|e| e.time < t));
        let to = upper.map_or(inner.entries.len(), |t| {
            inner.entries.partition_point(|e| e.time <= t)
        });
        let mut matching: Vec<&Stored> = inner.entries[from..to.max(from)]
            .iter()
            .filter(|e| projects.contains(&e.project) && filter.matches(|f| e.field(f), e.time))
            .collect();
        if descending {
            matching.reverse();
        }
        let start = after.as_ref().map_or(0, |(time, id)| {
            matching.partition_point(|e| {
                let k = (e.time, e.insert_id.as_str());
                if descending {
                    k >= (*time, id.as_str())
                } else {
                    k <= (*time, id.as_str())
                }
            })
        });
        let take = if empty { 0 } else { page_size };
        let page: Vec<&str> = matching[start..]
            .iter()
            .take(take)
            .map(|e| e.text.as_str())
            .collect();
        let last = if page.is_empty() {
            after
        } else {
            matching
                .get(start + page.len() - 1)
                .map(|e| (e.time, e.insert_id.clone()))
        };
        let more = start + page.len() < matching.len() || (empty && start < matching.len());
        let mut body = format!("{{\"entries\":[{}]", page.join(","));
        let returned = page.len();
        seen.returned = returned;
        inner.requests.push(seen);
        if more || empty {
            inner.next_token += 1;
            let token = format!("tok-{:08x}", inner.next_token.wrapping_mul(0x9E37_79B9));
            inner
                .tokens
                .insert(token.clone(), TokenState { query, after: last });
            body.push_str(&format!(",\"nextPageToken\":\"{token}\""));
        }
        body.push('}');
        text_response(StatusCode::OK, body)
    }
}

async fn list(State(fake): State<FakeLogging>, body: String) -> Response {
    match serde_json::from_str::<ListRequest>(&body) {
        Ok(req) => fake.answer(req),
        Err(e) => google_error(400, "INVALID_ARGUMENT", &format!("invalid body: {e}")),
    }
}

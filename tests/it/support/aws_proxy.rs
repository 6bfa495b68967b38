//! A small HTTP proxy in front of moto that plays the parts of CloudWatch Logs moto cannot:
//! - throttling and server errors: the n-th FilterLogEvents calls can be answered with
//!   `ThrottlingException` (HTTP 400, AWS JSON 1.1 error body) or a 5xx instead of being forwarded;
//! - filter patterns: moto returns every event whatever the JSON pattern, and misreads a text
//!   pattern of several quoted terms; with `evaluate_patterns` the proxy rewrites a text pattern
//!   into the bare words moto reads as "every word occurs", and drops the events of a
//!   FilterLogEvents answer that our model of the pattern (JSON, or text terms) rejects, as AWS
//!   would (the page token is moto's, so pagination is unchanged).
//!
//! It also counts FilterLogEvents calls (with each call's log group and arrival) and the bytes
//! of their answers.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use nodeport_watch::sources::aws_cloudwatch::cut_pattern::TextPattern;
use nodeport_watch::sources::aws_cloudwatch::filter_pattern::FilterPattern;
use serde_json::Value;
use tokio::task::JoinHandle;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Throttle,
    ServerError,
}

#[derive(Default)]
pub struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    /// FilterLogEvents call number (0-based) → the fault answered instead of forwarding.
    faults: Mutex<BTreeMap<u64, Fault>>,
    /// Log groups whose FilterLogEvents calls are answered `AccessDeniedException`.
    denied_groups: Mutex<Vec<String>>,
    pub evaluate_patterns: std::sync::atomic::AtomicBool,
    pub filter_calls: AtomicU64,
    pub faults_answered: AtomicU64,
    pub response_bytes: AtomicU64,
    /// Time spent applying patterns (simulating AWS's server-side filter), in nanoseconds.
    pub pattern_nanos: AtomicU64,
    /// STS actions seen (`AssumeRole`, `GetCallerIdentity`), in order.
    pub sts_actions: Mutex<Vec<String>>,
    /// Each FilterLogEvents call's log group and arrival, for requests per minute per quota key.
    filter_log: Mutex<Vec<(String, std::time::Instant)>>,
}

pub struct Proxy {
    pub endpoint: String,
    pub state: Arc<ProxyState>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let state = Arc::new(ProxyState {
            upstream: upstream.to_owned(),
            ..ProxyState::default()
        });
        let app = Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            state,
            task,
        }
    }

    /// Answers FilterLogEvents calls `first..first + count` (counted from 0) with `fault`.
    pub fn fail_calls(&self, first: u64, count: u64, fault: Fault) {
        let mut faults = self.state.faults.lock().unwrap();
        for n in first..first + count {
            faults.insert(n, fault);
        }
    }

    /// Answers every FilterLogEvents call on `group` with `AccessDeniedException`.
    pub fn deny_group(&self, group: &str) {
        self.state
            .denied_groups
            .lock()
            .unwrap()
            .push(group.to_owned());
    }

    pub fn evaluate_patterns(&self, on: bool) {
        self.state.evaluate_patterns.store(on, Ordering::SeqCst);
    }

    pub fn filter_calls(&self) -> u64 {
        self.state.filter_calls.load(Ordering::SeqCst)
    }

    pub fn faults_answered(&self) -> u64 {
        self.state.faults_answered.load(Ordering::SeqCst)
    }

    pub fn sts_actions(&self) -> Vec<String> {
        self.state.sts_actions.lock().unwrap().clone()
    }

    pub fn pattern_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.state.pattern_nanos.load(Ordering::SeqCst))
    }

    /// The log group and arrival time of every FilterLogEvents call, in order.
    pub fn filter_log(&self) -> Vec<(String, std::time::Instant)> {
        self.state.filter_log.lock().unwrap().clone()
    }

    pub fn response_bytes(&self) -> u64 {
        self.state.response_bytes.load(Ordering::SeqCst)
    }
}

async fn forward(
    State(state): State<Arc<ProxyState>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let is_filter = target == "Logs_20140328.FilterLogEvents";
    if let Some(action) = std::str::from_utf8(&body).ok().and_then(|b| {
        b.split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .map(str::to_owned)
    }) {
        state.sts_actions.lock().unwrap().push(action);
    }
    if is_filter {
        let call = state.filter_calls.fetch_add(1, Ordering::SeqCst);
        let group = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|r| r.get("logGroupName")?.as_str().map(str::to_owned));
        state
            .filter_log
            .lock()
            .unwrap()
            .push((group.clone().unwrap_or_default(), std::time::Instant::now()));
        let fault = state.faults.lock().unwrap().get(&call).copied();
        if let Some(fault) = fault {
            state.faults_answered.fetch_add(1, Ordering::SeqCst);
            return fault_response(fault);
        }
        if group.is_some_and(|g| state.denied_groups.lock().unwrap().contains(&g)) {
            return Response::builder()
                .status(StatusCode::BAD_REQUEST)
                .header("content-type", "application/x-amz-json-1.1")
                .body(Body::from(
                    r#"{"__type":"AccessDeniedException","message":"not authorized to perform: logs:FilterLogEvents"}"#,
                ))
                .unwrap();
        }
    }
    // moto reads a pattern that starts with `"` as one quoted term (quotes and all), so it would
    // answer a multi-term text pattern with nothing: the proxy rewrites it into the form moto
    // reads as "every word occurs" (a bare first word, words split on spaces).
    let forwarded = if is_filter && state.evaluate_patterns.load(Ordering::SeqCst) {
        text_pattern_for_moto(&body)
    } else {
        body.clone()
    };
    let mut request = state
        .client
        .request(method, &state.upstream)
        .body(forwarded);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let upstream = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Body::from(e.to_string()))
                .unwrap();
        }
    };
    let status = upstream.status();
    let content_type = upstream.headers().get("content-type").cloned();
    let mut answer = upstream.bytes().await.unwrap_or_default();
    if is_filter && status.is_success() && state.evaluate_patterns.load(Ordering::SeqCst) {
        let started = std::time::Instant::now();
        answer = apply_pattern(&body, answer);
        state
            .pattern_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::SeqCst);
    }
    if is_filter {
        state
            .response_bytes
            .fetch_add(answer.len() as u64, Ordering::SeqCst);
    }
    let mut response = Response::builder().status(status);
    if let Some(ct) = content_type {
        response = response.header("content-type", ct);
    }
    response.body(Body::from(answer)).unwrap()
}

/// The request with a text pattern of space-free terms rewritten as moto's bare words, the
/// word starting with a letter first; any other request unchanged.
fn text_pattern_for_moto(request: &Bytes) -> Bytes {
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(request) else {
        return request.clone();
    };
    let terms = fields
        .get("filterPattern")
        .and_then(Value::as_str)
        .filter(|p| FilterPattern::parse(p).is_err())
        .and_then(|p| TextPattern::parse(p).ok());
    let Some(terms) = terms else {
        return request.clone();
    };
    let mut words: Vec<&str> = terms.terms().iter().map(String::as_str).collect();
    assert!(
        words.iter().all(|w| !w.contains(' ')),
        "moto cannot read a term with a space: {words:?}"
    );
    words.sort_by_key(|w| !w.starts_with(|c: char| c.is_alphabetic()));
    fields.insert("filterPattern".into(), Value::String(words.join(" ")));
    Bytes::from(serde_json::to_vec(&Value::Object(fields)).unwrap())
}

/// Drops the events the request's pattern (JSON, or text terms) rejects, as AWS would have.
fn apply_pattern(request: &Bytes, answer: Bytes) -> Bytes {
    let pattern = serde_json::from_slice::<Value>(request)
        .ok()
        .and_then(|r| r.get("filterPattern")?.as_str().map(str::to_owned));
    let Some(text) = pattern else {
        return answer;
    };
    let pattern: Box<dyn Fn(&str) -> bool> = match FilterPattern::parse(&text) {
        Ok(json) => Box::new(move |m| json.matches(m)),
        Err(_) => match TextPattern::parse(&text) {
            Ok(terms) => Box::new(move |m| terms.matches(m)),
            Err(_) => return answer,
        },
    };
    let Ok(mut parsed) = serde_json::from_slice::<Value>(&answer) else {
        return answer;
    };
    if let Some(events) = parsed.get_mut("events").and_then(Value::as_array_mut) {
        events.retain(|e| {
            e.get("message")
                .and_then(Value::as_str)
                .is_some_and(&pattern)
        });
    }
    Bytes::from(serde_json::to_vec(&parsed).unwrap())
}

fn fault_response(fault: Fault) -> Response {
    let (status, body) = match fault {
        Fault::Throttle => (
            StatusCode::BAD_REQUEST,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        ),
        Fault::ServerError => (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"__type":"ServiceUnavailableException","message":"The service is unavailable"}"#,
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .body(Body::from(body))
        .unwrap()
}

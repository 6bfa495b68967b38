//! A scriptable HTTP receiver on loopback: records every request and answers what the test
//! says (a status, headers, or never).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

#[derive(Clone, Debug)]
pub struct Captured {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// tokio time (virtual under a paused clock).
    pub at: tokio::time::Instant,
}

impl Captured {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How to answer one request.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    /// A status with extra headers (`Retry-After`).
    With(u16, Vec<(&'static str, String)>),
    /// A status with a JSON body (a bulk API's per-item results).
    Json(u16, String),
    /// Never answer (the client times out or is killed).
    Hang,
}

type Script = Box<dyn FnMut(&Captured) -> Reply + Send>;

#[derive(Clone)]
struct Shared {
    requests: Arc<Mutex<Vec<Captured>>>,
    script: Arc<Mutex<Script>>,
    arrived: Arc<Notify>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Listens on a fresh loopback port, answering 200 until told otherwise.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::on(listener).await
    }

    /// Serves on an already bound listener (to take over a port that refused connections).
    pub async fn on(listener: tokio::net::TcpListener) -> Receiver {
        let addr = listener.local_addr().unwrap();
        let shared = Shared {
            requests: Arc::default(),
            script: Arc::new(Mutex::new(Box::new(|_: &Captured| Reply::Status(200)))),
            arrived: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, shared, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn script(&self, f: impl FnMut(&Captured) -> Reply + Send + 'static) {
        *self.shared.script.lock().unwrap() = Box::new(f);
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived (panics after `deadline`).
    pub async fn wait_for(&self, n: usize, deadline: std::time::Duration) -> Vec<Captured> {
        let wait = async {
            loop {
                let notified = self.shared.arrived.notified();
                let got = self.requests();
                if got.len() >= n {
                    return got;
                }
                notified.await;
            }
        };
        match tokio::time::timeout(deadline, wait).await {
            Ok(got) => got,
            Err(_) => panic!(
                "expected {n} requests within {deadline:?}, got {}",
                self.requests().len()
            ),
        }
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let captured = Captured {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
        at: tokio::time::Instant::now(),
    };
    let reply = (shared.script.lock().unwrap())(&captured);
    shared.requests.lock().unwrap().push(captured);
    shared.arrived.notify_waiters();
    match reply {
        Reply::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Reply::With(code, headers) => {
            let mut response = StatusCode::from_u16(code).unwrap().into_response();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
        Reply::Json(code, body) => {
            let mut response = (StatusCode::from_u16(code).unwrap(), body).into_response();
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            response
        }
        Reply::Hang => std::future::pending().await,
    }
}

//! A strict stand-in for Azure Monitor's Logs Ingestion API on the loopback receiver, as its
//! REST reference documents it: `POST /dataCollectionRules/{immutable id}/streams/{stream}`
//! with `api-version=2023-01-01`, `Content-Type: application/json`, a bearer token issued for
//! the Azure Monitor audience, and a JSON array of row objects of at most 1 MB, each with a
//! `TimeGenerated` date-time. A valid call gets 204 (as the service answers); a wrong path is
//! 404, a wrong token 401, a body too large 413, anything else 400, and the problems are kept.
//!
//! The token "audience" is checked through [`AudienceToken`]: the test credential issues
//! `token-for <scope>` and the receiver accepts only the Azure Monitor scope.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use serde_json::Value;

use super::receiver::{Captured, Receiver, Reply};

pub const MONITOR_SCOPE: &str = "https://monitor.azure.com//.default";
pub const LIMIT: usize = 1024 * 1024;

/// A credential whose token names the scope it was asked for.
#[derive(Debug, Default)]
pub struct AudienceToken {
    pub requests: Mutex<usize>,
}

#[async_trait]
impl TokenCredential for AudienceToken {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        *self.requests.lock().unwrap() += 1;
        Ok(AccessToken::new(
            format!("token-for {}", scopes.join(" ")),
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ))
    }
}

pub struct LogsIngestion {
    pub receiver: Receiver,
    problems: Arc<Mutex<Vec<String>>>,
}

impl LogsIngestion {
    /// Accepts rows for `dcr` / `stream` only.
    pub async fn start(dcr: &'static str, stream: &'static str) -> LogsIngestion {
        let receiver = Receiver::start().await;
        let problems: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = problems.clone();
        receiver.script(move |req| {
            let (status, found) = check(req, dcr, stream);
            seen.lock().unwrap().extend(found);
            Reply::Status(status)
        });
        LogsIngestion { receiver, problems }
    }

    pub fn problems(&self) -> Vec<String> {
        self.problems.lock().unwrap().clone()
    }
}

fn check(req: &Captured, dcr: &str, stream: &str) -> (u16, Vec<String>) {
    let path = format!("/dataCollectionRules/{dcr}/streams/{stream}");
    if req.method != "POST" || req.path != path {
        return (404, vec![format!("{} {}", req.method, req.path)]);
    }
    let expected = format!("Bearer token-for {MONITOR_SCOPE}");
    if req.header("authorization") != Some(expected.as_str()) {
        return (
            401,
            vec!["no token for the Azure Monitor audience".to_owned()],
        );
    }
    if req.body.len() > LIMIT {
        return (413, vec![format!("body of {} bytes", req.body.len())]);
    }
    let mut out = Vec::new();
    if req.query.as_deref() != Some("api-version=2023-01-01") {
        out.push(format!("query {:?}", req.query));
    }
    if req.header("content-type") != Some("application/json") {
        out.push(format!("content-type {:?}", req.header("content-type")));
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Array(rows)) if !rows.is_empty() => {
            for (i, row) in rows.iter().enumerate() {
                let time = row.get("TimeGenerated").and_then(Value::as_str);
                if !row.is_object() {
                    out.push(format!("row {i} is not an object"));
                } else if time.is_none_or(|t| chrono::DateTime::parse_from_rfc3339(t).is_err()) {
                    out.push(format!("row {i}: `TimeGenerated` is not a date-time"));
                }
            }
        }
        Ok(_) => out.push("the body must be a non-empty JSON array".to_owned()),
        Err(e) => out.push(format!("not JSON: {e}")),
    }
    (if out.is_empty() { 204 } else { 400 }, out)
}

//! The Log Analytics query API: `POST {endpoint}/v1/workspaces/{id}/query` with
//! `{"query", "timespan"}`, sent through an azure_core pipeline.
//!
//! No maintained crate covers this API, so the request is written here; the pipeline brings
//! request ids and the user agent. Its retries are off ([`crate::sources::azure::sdk_retry`]):
//! every attempt passes the limiter once, and a failed query (network, `5xx`, `429`) goes back
//! to the driver classified, with the service's `Retry-After`, where the wait can be cancelled
//! at shutdown and is logged once per burst.

use std::sync::Arc;
use std::time::Duration;

use azure_core::http::headers::{HeaderName, RETRY_AFTER};
use azure_core::http::policies::{Policy, RetryHeaders};
use azure_core::http::{
    ClientOptions, Context, Method, Pipeline, PipelineOptions, PipelineSendOptions, Request,
    RetryOptions, StatusCode, Url,
};
use serde_json::json;

use super::response::{self, QueryResult};
use crate::sources::SourceError;
use crate::sources::azure::failure::{self, AzureApi, HttpFailure};
use crate::sources::rate_limit::Limiter;
use crate::telemetry::metrics;

/// The service gives up on a query after 10 minutes; a little more covers the transfer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(11 * 60);
pub const ACCESS_HINT: &str = "the Log Analytics Reader role on the workspace";

pub struct LogAnalyticsClient {
    source: String,
    endpoint: Url,
    api: AzureApi,
    pipeline: Pipeline,
    limiter: Arc<Limiter>,
}

impl LogAnalyticsClient {
    /// `auth` is the per-try authorization policy (`None`: loopback without credentials).
    pub fn new(
        source: &str,
        endpoint: Url,
        auth: Option<Arc<dyn Policy>>,
        retry: RetryOptions,
        limiter: Arc<Limiter>,
    ) -> Self {
        let options = ClientOptions {
            retry,
            ..Default::default()
        };
        let pipeline_options = PipelineOptions {
            retry_headers: RetryHeaders {
                retry_headers: vec![
                    HeaderName::from_static("x-ms-retry-after-ms"),
                    HeaderName::from_static("retry-after-ms"),
                    RETRY_AFTER,
                ],
            },
            retry_status_codes: vec![
                StatusCode::RequestTimeout,
                StatusCode::InternalServerError,
                StatusCode::BadGateway,
                StatusCode::ServiceUnavailable,
                StatusCode::GatewayTimeout,
            ],
        };
        let pipeline = Pipeline::new(
            Some(env!("CARGO_PKG_NAME")),
            Some(env!("CARGO_PKG_VERSION")),
            options,
            Vec::new(),
            auth.into_iter().collect(),
            Some(pipeline_options),
        );
        LogAnalyticsClient {
            source: source.to_owned(),
            api: AzureApi {
                service: "Log Analytics",
                endpoint: endpoint.to_string(),
                access_hint: ACCESS_HINT,
                not_found_hint: "check `workspace_id` (the workspace's ID, not its name) and \
                                 `endpoint` (sovereign clouds have their own)",
            },
            endpoint,
            pipeline,
            limiter,
        }
    }

    fn query_url(&self, workspace: &str) -> Result<Url, SourceError> {
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| SourceError::fatal("the Log Analytics endpoint cannot hold a path"))?
            .pop_if_empty()
            .extend(["v1", "workspaces", workspace, "query"]);
        Ok(url)
    }

    /// Runs one query; a partial success is returned as such, every failure is classified.
    pub async fn query(
        &self,
        workspace: &str,
        query: &str,
        timespan: &str,
    ) -> Result<QueryResult, SourceError> {
        let what = format!("query of workspace {workspace}");
        let mut request = Request::new(self.query_url(workspace)?, Method::Post);
        request.insert_header("content-type", "application/json");
        request.insert_header("prefer", "wait=600");
        let body = json!({ "query": query, "timespan": timespan });
        request.set_body(body.to_string().into_bytes());

        self.limiter.acquire().await;
        metrics::record_api_call(&self.source, "loganalytics_query");
        let ctx = Context::new();
        let send = self.pipeline.send(
            &ctx,
            &mut request,
            Some(PipelineSendOptions {
                skip_checks: true,
                ..Default::default()
            }),
        );
        let response = match tokio::time::timeout(QUERY_TIMEOUT, send).await {
            Err(_) => {
                return Err(SourceError::transient(format!(
                    "{what}: no answer within {QUERY_TIMEOUT:?}"
                )));
            }
            Ok(Err(e)) => return Err(self.api.error(&e, &what)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let retry_after = failure::retry_after(response.headers());
        let body = response.into_body();
        match u16::from(status) {
            200 => response::parse(body.as_ref()).map_err(|e| {
                SourceError::transient(format!("{what}: the response is not a query result: {e}"))
            }),
            204 => Ok(QueryResult::default()),
            code => {
                let (error_code, message) = response::error_code_and_message(body.as_ref());
                Err(self.api.http_failure(
                    &what,
                    HttpFailure {
                        status: code,
                        code: error_code,
                        message,
                        retry_after,
                    },
                ))
            }
        }
    }
}

//! The Cloud Logging client: credentials, one `entries.list` page, and what its errors mean.
//!
//! The official client's own retry loop is switched off: every HTTP request must pass through
//! the quota limiter first, and the driver's backoff (with jitter) already retries a failed
//! poll without moving the checkpoint. Each attempt has a timeout so a stalled connection
//! cannot hold a source forever.

use std::path::Path;

use google_cloud_auth::credentials::{
    self, Credentials, anonymous, external_account, impersonated, service_account, user_account,
};
use google_cloud_gax::error::Error as ApiError;
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::retry_policy::NeverRetry;
use google_cloud_logging_v2::client::LoggingServiceV2;
use google_cloud_logging_v2::model::ListLogEntriesResponse;
use thiserror::Error;

use super::config::{self as gcp_logging, GcpCredentials, GcpLoggingSettings};
use crate::sources::SourceError;
use crate::sources::diagnosis::{Diagnosis, log_chain, transport_reason};

/// Read-only access to logs; enough for `entries.list`.
const LOGGING_READ_SCOPE: &str = "https://www.googleapis.com/auth/logging.read";

#[derive(Debug, Error)]
pub enum ClientError {
    #[error(
        "anonymous credentials are only allowed with a loopback endpoint, not `{0}`: they would \
         send unauthenticated requests to a remote server"
    )]
    AnonymousRemote(String),
    #[error("credentials file {path}: {message}")]
    CredentialsFile { path: String, message: String },
    #[error(
        "Google credentials: {0}; see docs/providers/gke.md for the Application Default Credentials"
    )]
    Credentials(String),
    #[error("Cloud Logging client: {0}")]
    Build(String),
}

impl From<ClientError> for SourceError {
    fn from(e: ClientError) -> Self {
        SourceError::fatal(e.to_string())
    }
}

/// One page request.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest<'a> {
    pub resource_names: &'a [String],
    pub filter: &'a str,
    pub page_size: u32,
    pub page_token: &'a str,
}

#[derive(Clone, Debug)]
pub struct LoggingApi {
    client: LoggingServiceV2,
    /// Where requests go, for error messages.
    endpoint: String,
}

/// Cloud Logging's public endpoint, used when `endpoint` is not set.
const DEFAULT_ENDPOINT: &str = "https://logging.googleapis.com";

impl LoggingApi {
    pub async fn connect(settings: &GcpLoggingSettings) -> Result<Self, ClientError> {
        let credentials = credentials(settings)?;
        let mut builder = LoggingServiceV2::builder()
            .with_credentials(credentials)
            .with_retry_policy(NeverRetry)
            .with_attempt_timeout(settings.request_timeout);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint.clone());
        }
        let client = builder
            .build()
            .await
            .map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(LoggingApi {
            client,
            endpoint: settings
                .endpoint
                .clone()
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned()),
        })
    }

    /// Fetches one page; the caller has already charged the quota.
    pub async fn list(&self, req: PageRequest<'_>) -> Result<ListLogEntriesResponse, ApiError> {
        self.client
            .list_log_entries()
            .set_resource_names(req.resource_names.iter().cloned())
            .set_filter(req.filter)
            .set_order_by("timestamp asc")
            .set_page_size(i32::try_from(req.page_size).unwrap_or(i32::MAX))
            .set_page_token(req.page_token)
            .send()
            .await
    }
}

fn credentials(settings: &GcpLoggingSettings) -> Result<Credentials, ClientError> {
    match &settings.credentials {
        GcpCredentials::Anonymous => {
            let endpoint = settings.endpoint.clone().unwrap_or_default();
            if !gcp_logging::is_loopback_endpoint(&endpoint) {
                return Err(ClientError::AnonymousRemote(endpoint));
            }
            Ok(anonymous::Builder::new().build())
        }
        GcpCredentials::ApplicationDefault => credentials::Builder::default()
            .with_scopes([LOGGING_READ_SCOPE])
            .build()
            .map_err(|e| ClientError::Credentials(e.to_string())),
        GcpCredentials::File(path) => from_file(path),
    }
}

/// The credential types `gcloud` and the IAM console write, by their `type` field.
fn from_file(path: &Path) -> Result<Credentials, ClientError> {
    let fail = |message: String| ClientError::CredentialsFile {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    // The error of a failed parse could quote the key material; report only where it failed.
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        fail(format!(
            "not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let kind = json
        .get("type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let built = match kind.as_str() {
        "service_account" => service_account::Builder::new(json)
            .with_access_specifier(service_account::AccessSpecifier::from_scopes([
                LOGGING_READ_SCOPE,
            ]))
            .build(),
        "authorized_user" => user_account::Builder::new(json)
            .with_scopes([LOGGING_READ_SCOPE])
            .build(),
        "external_account" => external_account::Builder::new(json)
            .with_scopes([LOGGING_READ_SCOPE])
            .build(),
        "impersonated_service_account" => impersonated::Builder::new(json)
            .with_scopes([LOGGING_READ_SCOPE])
            .build(),
        other => {
            return Err(fail(format!(
                "unsupported credential type `{other}`: use a service account key, gcloud user \
                 credentials (authorized_user), an external account (workload identity \
                 federation) or an impersonated service account"
            )));
        }
    };
    built.map_err(|e| fail(e.to_string()))
}

impl LoggingApi {
    /// How the driver should treat a failed request, said in one sentence (cause; what to
    /// check); the client's whole error goes to the debug log.
    pub fn classify(&self, error: &ApiError, projects: &[String]) -> SourceError {
        log_chain("entries.list", error);
        let code = error.status().map(|s| s.code);
        let http = error.http_status_code();
        let said = error
            .status()
            .map(|s| s.message.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| transport_reason(error));
        let projects = projects.join(", ");
        match (code, http) {
            (Some(Code::ResourceExhausted), _) | (_, Some(429)) => SourceError::throttled(
                format!("Cloud Logging quota exhausted (429 RESOURCE_EXHAUSTED): {said}"),
                None,
            ),
            (Some(Code::Unauthenticated), _) | (_, Some(401)) => fatal(Diagnosis::new(
                format!("Cloud Logging refused the credentials ({said})"),
                CREDENTIALS_CHECK,
            )),
            (Some(Code::PermissionDenied), _) | (_, Some(403)) => {
                fatal(Diagnosis::permission_denied(
                    "Cloud Logging",
                    &format!("reading the logs of {projects} ({said})"),
                    "grant roles/logging.viewer (and roles/logging.privateLogViewer for \
                     `data_access`) on each project",
                ))
            }
            (Some(Code::NotFound), _) | (_, Some(404)) => fatal(Diagnosis::new(
                format!("Cloud Logging does not know project {projects} ({said})"),
                "check `projects` (project IDs, not names or numbers) and that the Cloud \
                 Logging API is enabled there",
            )),
            (
                Some(
                    Code::Unavailable
                    | Code::Internal
                    | Code::Unknown
                    | Code::DeadlineExceeded
                    | Code::Aborted
                    | Code::Cancelled,
                ),
                _,
            ) => SourceError::transient(format!("Cloud Logging: {said}")),
            (_, Some(code)) if code >= 500 => {
                SourceError::transient(format!("Cloud Logging: HTTP {code} {said}"))
            }
            (Some(_), _) | (_, Some(_)) => SourceError::fatal(format!("Cloud Logging: {said}")),
            (None, None) if error.is_deserialization() => SourceError::fatal(format!(
                "Cloud Logging answered with entries the client cannot read ({said}); the \
                 checkpoint stays before them"
            )),
            (None, None) if error.is_authentication() => fatal(Diagnosis::new(
                format!("could not get a Google access token ({said})"),
                CREDENTIALS_CHECK,
            )),
            (None, None) => SourceError::transient(
                Diagnosis::unreachable("Cloud Logging", &self.endpoint, error).to_string(),
            ),
        }
    }
}

const CREDENTIALS_CHECK: &str = "check GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth \
     application-default login`, the attached service account (metadata server) or \
     `credentials_file`";

fn fatal(diagnosis: Diagnosis) -> SourceError {
    SourceError::fatal(diagnosis.to_string())
}

/// Whether Cloud Logging refused the request itself (a bad filter, an expired page token).
pub fn is_invalid_argument(error: &ApiError) -> bool {
    error
        .status()
        .is_some_and(|s| s.code == Code::InvalidArgument)
}

/// Whether the attempt ran out of time (counted apart: a paused test clock must never see one).
pub fn is_timeout(error: &ApiError) -> bool {
    error.is_timeout()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_credentials_never_go_to_a_remote_endpoint() {
        let mut s = GcpLoggingSettings::new(vec!["p".into()]);
        s.credentials = GcpCredentials::Anonymous;
        s.endpoint = Some("https://logging.googleapis.com".into());
        assert!(matches!(
            credentials(&s),
            Err(ClientError::AnonymousRemote(_))
        ));
        s.endpoint = None;
        assert!(matches!(
            credentials(&s),
            Err(ClientError::AnonymousRemote(_))
        ));
        s.endpoint = Some("http://127.0.0.1:1".into());
        assert!(credentials(&s).is_ok());
    }

    #[test]
    fn credential_files_are_checked_without_echoing_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        std::fs::write(&path, r#"{"type":"service_account","private_key":"SECRET"#).unwrap();
        let e = from_file(&path).err().unwrap().to_string();
        assert!(e.contains("not valid JSON"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
        std::fs::write(&path, r#"{"type":"gdch_service_account"}"#).unwrap();
        let e = from_file(&path).err().unwrap().to_string();
        assert!(e.contains("unsupported credential type"), "{e}");
        let e = from_file(&dir.path().join("missing.json"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("missing.json"), "{e}");
    }
}

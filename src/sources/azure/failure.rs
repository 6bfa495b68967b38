//! How an Azure request failure becomes a [`SourceError`]: the one retry classifier of both
//! Azure sources.
//!
//! Throttling (429) carries the service's `Retry-After` to the driver, which waits at least that
//! long, cancellably, and logs once per burst. Server errors and network trouble are transient.
//! Authentication, permission and not-found errors are fatal: retried slowly, but an operator
//! must act, so their message is one [`Diagnosis`] sentence: the cause and what to check.

use std::time::Duration;

use azure_core::error::ErrorKind;
use azure_core::http::headers::{HeaderName, Headers, RETRY_AFTER};
use azure_core::time::{OffsetDateTime, parse_rfc7231};

use crate::sources::diagnosis::{Diagnosis, log_chain, transport_reason};
use crate::sources::{SourceError, SourceErrorKind};

const RETRY_AFTER_MS: HeaderName = HeaderName::from_static("retry-after-ms");
const X_MS_RETRY_AFTER_MS: HeaderName = HeaderName::from_static("x-ms-retry-after-ms");

/// The Azure API a source calls, as its error sentences name it.
#[derive(Clone, Debug)]
pub struct AzureApi {
    /// `Log Analytics`, `Azure Blob Storage`.
    pub service: &'static str,
    /// Where requests go (without any SAS).
    pub endpoint: String,
    /// The role the identity needs (`the Log Analytics Reader role on the workspace`).
    pub access_hint: &'static str,
    /// What to check when the service says a resource does not exist.
    pub not_found_hint: &'static str,
}

/// What the service said about a failed request.
#[derive(Clone, Debug, Default)]
pub struct HttpFailure {
    pub status: u16,
    /// The service's error code (`AuthenticationFailed`, `ContainerNotFound`, …).
    pub code: Option<String>,
    pub message: Option<String>,
    pub retry_after: Option<Duration>,
}

impl AzureApi {
    /// Classifies an HTTP answer; `what` names the request (`query of workspace …`).
    pub fn http_failure(&self, what: &str, failure: HttpFailure) -> SourceError {
        let detail = match (&failure.code, &failure.message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.clone(),
            (None, Some(message)) => message.clone(),
            (None, None) => String::new(),
        };
        let said = format!("HTTP {} {detail}", failure.status)
            .trim_end()
            .to_owned();
        let service = self.service;
        let kind = SourceErrorKind::from_http_status(failure.status);
        let diagnosis = match failure.status {
            401 => Diagnosis::new(
                format!("{service} refused the credentials for the {what} ({said})"),
                "check `credential` and that the token is for the tenant of the resource",
            ),
            403 => Diagnosis::permission_denied(
                service,
                &format!("the {what} ({said})"),
                format!("grant the identity {}", self.access_hint),
            ),
            404 => Diagnosis::new(format!("{what}: {said}"), self.not_found_hint),
            _ => Diagnosis::new(format!("{what}: {said}"), ""),
        };
        SourceError {
            kind,
            message: scrub(&diagnosis.to_string()),
            retry_after: failure.retry_after,
        }
    }

    /// An error from azure_core (transport, credential, an HTTP status the SDK checked). The
    /// SDK's retry policy wraps the cause in its own words; the sentence says the cause.
    pub fn error(&self, e: &azure_core::Error, what: &str) -> SourceError {
        log_chain(what, e);
        let diagnosis = match e.kind() {
            ErrorKind::HttpResponse {
                status, error_code, ..
            } => {
                return self.http_failure(
                    what,
                    HttpFailure {
                        status: u16::from(*status),
                        code: error_code.clone(),
                        message: None,
                        retry_after: None,
                    },
                );
            }
            ErrorKind::Credential => {
                let cause = innermost_credential_message(e);
                let diagnosis = if cause.starts_with("no Azure credentials found") {
                    Diagnosis::new(cause, "")
                } else {
                    Diagnosis::new(
                        format!("could not get an Azure access token ({cause})"),
                        "check `credential` and the identity it names",
                    )
                };
                return SourceError::fatal(scrub(&diagnosis.to_string()));
            }
            ErrorKind::Io | ErrorKind::Connection => {
                Diagnosis::unreachable(self.service, &self.endpoint, e)
            }
            _ => Diagnosis::new(format!("{what}: {}", transport_reason(e)), ""),
        };
        SourceError::transient(scrub(&diagnosis.to_string()))
    }
}

/// The text of the deepest credential error in a chain (a retry policy's context hides it).
fn innermost_credential_message(e: &azure_core::Error) -> String {
    let mut found = e.to_string();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(azure) = err.downcast_ref::<azure_core::Error>()
            && matches!(azure.kind(), ErrorKind::Credential)
        {
            found = azure.to_string();
        }
        current = err.source();
    }
    found
}

/// The wait a response asks for: `retry-after-ms`, `x-ms-retry-after-ms`, or `Retry-After` in
/// seconds or as an HTTP date.
pub fn retry_after(headers: &Headers) -> Option<Duration> {
    for name in [X_MS_RETRY_AFTER_MS, RETRY_AFTER_MS] {
        if let Some(ms) = headers
            .get_optional_str(&name)
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = headers.get_optional_str(&RETRY_AFTER)?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = parse_rfc7231(value).ok()?;
    let wait = at - OffsetDateTime::now_utc();
    Some(Duration::from_millis(
        u64::try_from(wait.whole_milliseconds()).unwrap_or(0),
    ))
}

/// Removes SAS signatures from a message: transport errors quote the URL they failed on.
pub fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("sig=") {
        out.push_str(&rest[..i + 4]);
        out.push_str("<redacted>");
        let after = &rest[i + 4..];
        let end = after
            .find(|c: char| c == '&' || c == ')' || c == '"' || c.is_whitespace())
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, retry: Option<u64>) -> SourceError {
        let api = AzureApi {
            service: "Log Analytics",
            endpoint: "https://api.loganalytics.io".into(),
            access_hint: "the Log Analytics Reader role",
            not_found_hint: "check `workspace_id`",
        };
        api.http_failure(
            "query",
            HttpFailure {
                status,
                code: Some("Code".into()),
                message: Some("text".into()),
                retry_after: retry.map(Duration::from_secs),
            },
        )
    }

    #[test]
    fn classifies_statuses() {
        let e = failure(429, Some(7));
        assert_eq!(e.kind, SourceErrorKind::Throttled);
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(failure(503, None).kind, SourceErrorKind::Transient);
        assert_eq!(failure(500, None).kind, SourceErrorKind::Transient);
        let denied = failure(403, None);
        assert_eq!(denied.kind, SourceErrorKind::Fatal);
        assert!(denied.message.contains("Log Analytics Reader"), "{denied}");
        assert_eq!(failure(400, None).kind, SourceErrorKind::Fatal);
    }

    #[test]
    fn reads_retry_after_in_its_three_forms() {
        let mut h = Headers::new();
        h.insert(RETRY_AFTER, "12");
        assert_eq!(retry_after(&h), Some(Duration::from_secs(12)));
        h.insert(RETRY_AFTER_MS, "1500");
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
        let mut h = Headers::new();
        h.insert(RETRY_AFTER, "Mon, 01 Jan 2001 00:00:00 GMT");
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        assert_eq!(retry_after(&Headers::new()), None);
    }

    #[test]
    fn scrubs_sas_signatures() {
        let text = scrub("error sending request for url (https://a/c?sv=1&sig=abc%2Fdef&se=2)");
        assert_eq!(
            text,
            "error sending request for url (https://a/c?sv=1&sig=<redacted>&se=2)"
        );
        assert_eq!(scrub("sig=zzz"), "sig=<redacted>");
    }
}

//! Which AWS failures are worth retrying, and which concern one log group only.
//!
//! The SDK's own retries are turned off (see `client`), so every throttle reaches us: it is
//! counted, paced by the driver's backoff with jitter, and never stops the source. What is left is
//! deciding the kind: throttling (HTTP 429 or a throttling code in a 400), transient (5xx,
//! timeouts, connection errors), or fatal (credentials, permissions, bad requests), which is still
//! retried but means an operator must act. A missing log group and a rejected page token are told
//! apart because the poller handles them itself.

use std::error::Error as StdError;

use aws_config::meta::ProviderChainError;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_cloudwatchlogs::config::http::HttpResponse;
use aws_sdk_cloudwatchlogs::error::{ProvideErrorMetadata, SdkError};
use thiserror::Error;

use crate::sources::SourceError;
use crate::sources::diagnosis::{Diagnosis, log_chain, transport_reason};

/// Error codes AWS SDKs treat as throttling (the smithy standard retry classifier's list).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Error codes that go away by themselves.
const TRANSIENT_CODES: &[&str] = &[
    "ServiceUnavailableException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalServerError",
    "RequestTimeout",
    "RequestTimeoutException",
    "ExpiredToken",
    "ExpiredTokenException",
    "IDPCommunicationError",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    Throttled,
    Transient,
    Fatal,
    /// `ResourceNotFoundException`: the log group does not exist (yet).
    NotFound,
    /// `InvalidParameterException`: with a page token, the token was refused.
    InvalidParameter,
}

/// A failed AWS call, classified; the message is one sentence: the cause and what to check.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{message}")]
pub struct ApiError {
    pub failure: Failure,
    pub message: String,
}

impl ApiError {
    pub fn new(failure: Failure, message: impl Into<String>) -> Self {
        ApiError {
            failure,
            message: message.into(),
        }
    }

    /// Classifies an SDK error and says it in one sentence; `call` names the operation and
    /// `endpoint` where it was sent. The SDK's whole error goes to the debug log.
    pub fn from_sdk<E>(call: &str, endpoint: &str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        log_chain(call, &err);
        let service = match call.split_once(':') {
            Some(("sts", _)) => "AWS STS",
            Some(("events", _)) => "Amazon EventBridge",
            Some(("securityhub", _)) => "AWS Security Hub",
            _ => "CloudWatch Logs",
        };
        let (failure, diagnosis) = match &err {
            SdkError::DispatchFailure(d) => match credentials_error(&err) {
                Some(credentials) => (Failure::Fatal, credentials),
                None if d.is_io() || d.is_timeout() => (
                    Failure::Transient,
                    Diagnosis::unreachable(service, endpoint, &err),
                ),
                None => (
                    Failure::Fatal,
                    Diagnosis::new(
                        format!(
                            "{call} could not be sent to {endpoint} ({})",
                            transport_reason(&err)
                        ),
                        "check `endpoint`, `region` and the AWS configuration",
                    ),
                ),
            },
            SdkError::TimeoutError(_) => (
                Failure::Transient,
                Diagnosis::new(
                    format!("{call} to {endpoint} timed out"),
                    "check the network path to the endpoint",
                ),
            ),
            SdkError::ServiceError(service_error) => {
                let code = service_error.err().code();
                let status = service_error.raw().status().as_u16();
                let failure = classify(code, status);
                let detail = service_error.err().message().unwrap_or_default();
                (
                    failure,
                    service_diagnosis(call, service, code, status, detail),
                )
            }
            SdkError::ConstructionFailure(_) => (
                Failure::Fatal,
                Diagnosis::new(
                    format!(
                        "the {call} request could not be built ({})",
                        transport_reason(&err)
                    ),
                    "check `region` and `endpoint`",
                ),
            ),
            _ => (
                Failure::Transient,
                Diagnosis::new(
                    format!(
                        "{endpoint} sent an unreadable answer to {call} ({})",
                        transport_reason(&err)
                    ),
                    "check that `endpoint` points at AWS",
                ),
            ),
        };
        ApiError {
            failure,
            message: diagnosis.to_string(),
        }
    }
}

/// The credential providers of aws-config's default chain, in the words of the README.
fn provider_word(name: &str) -> String {
    match name {
        "Environment" => "environment".to_owned(),
        "Profile" => "profile".to_owned(),
        "WebIdentityToken" => "web identity".to_owned(),
        "EcsContainer" => "container".to_owned(),
        "Ec2InstanceMetadata" => "instance metadata".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

/// Credentials that could not be loaded surface as a dispatch failure whose source is a
/// `CredentialsError`; with the default chain it holds every provider's attempt.
fn credentials_error(err: &(dyn StdError + 'static)) -> Option<Diagnosis> {
    let mut current = err.source();
    while let Some(e) = current {
        if let Some(credentials) = e.downcast_ref::<CredentialsError>() {
            let chain = credentials
                .source()
                .and_then(|s| s.downcast_ref::<ProviderChainError<CredentialsError>>());
            return Some(match (credentials, chain) {
                (CredentialsError::CredentialsNotLoaded(_), Some(chain)) => {
                    let names: Vec<String> = chain
                        .attempts()
                        .iter()
                        .map(|a| provider_word(a.name()))
                        .collect();
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    Diagnosis::no_credentials("AWS", &names, NO_CREDENTIALS_CHECK)
                }
                (CredentialsError::CredentialsNotLoaded(_), None) => {
                    Diagnosis::new("no AWS credentials found", NO_CREDENTIALS_CHECK)
                }
                _ => Diagnosis::new(
                    format!(
                        "AWS credentials could not be loaded ({})",
                        transport_reason(credentials)
                    ),
                    "check the profile, `role_arn` (the base identity needs sts:AssumeRole on \
                     it) and the credential source",
                ),
            });
        }
        current = e.source();
    }
    None
}

const NO_CREDENTIALS_CHECK: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a \
     `profile`, or run with an IAM role (IRSA, EKS Pod Identity, instance profile)";

/// What an AWS service's refusal means to an operator.
fn service_diagnosis(
    call: &str,
    service: &str,
    code: Option<&str>,
    status: u16,
    detail: &str,
) -> Diagnosis {
    let said = match code {
        Some(code) if detail.is_empty() => code.to_owned(),
        Some(code) => format!("{code}: {detail}"),
        None => format!("HTTP {status} {detail}").trim_end().to_owned(),
    };
    let action = if call.contains(':') {
        call.to_owned()
    } else {
        format!("logs:{call}")
    };
    match (code.unwrap_or_default(), status) {
        // Security Hub's answer (a 401) when it is not enabled in the account and region.
        ("InvalidAccessException", _) => Diagnosis::new(
            format!("{service} refused {action} ({said})"),
            "enable Security Hub in the account the identity (or its `role_arn`) acts in, in \
             the configured `region`",
        ),
        // Checked before the status: STS answers an unknown key with a 403.
        (
            "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "IncompleteSignature",
            _,
        )
        | (_, 401) => Diagnosis::new(
            format!("{service} refused the credentials ({said})"),
            "check that the access key exists and is active, that it belongs to this partition \
             and region, and that the system clock is right",
        ),
        ("AccessDeniedException" | "AccessDenied", _) | (_, 403) => Diagnosis::permission_denied(
            service,
            &format!("{action} ({said})"),
            format!(
                "allow `{action}` on the {} to the identity (or its `role_arn`)",
                permission_resource(&action)
            ),
        ),
        ("ExpiredToken" | "ExpiredTokenException", _) => Diagnosis::new(
            "the AWS session token expired",
            "refresh the credentials (`aws sso login`, a new session token)",
        ),
        ("ResourceNotFoundException", _) => Diagnosis::new(
            format!("{call}: {said}"),
            "check `region` and the log group names",
        ),
        _ => Diagnosis::new(format!("{call} failed ({said})"), ""),
    }
}

/// What an action's permission is granted on, in the words of the IAM policy.
fn permission_resource(action: &str) -> &'static str {
    match action.split_once(':') {
        Some(("events", _)) => "event bus",
        Some(("securityhub", _)) => "hub and the account's default product",
        _ => "log groups",
    }
}

/// The kind of a service error, from its code and HTTP status.
pub fn classify(code: Option<&str>, status: u16) -> Failure {
    match code {
        Some("ResourceNotFoundException") => return Failure::NotFound,
        Some("InvalidParameterException") => return Failure::InvalidParameter,
        Some(c) if THROTTLING_CODES.contains(&c) => return Failure::Throttled,
        Some(c) if TRANSIENT_CODES.contains(&c) => return Failure::Transient,
        _ => {}
    }
    match status {
        429 => Failure::Throttled,
        500..=599 => Failure::Transient,
        _ => Failure::Fatal,
    }
}

impl From<ApiError> for SourceError {
    fn from(e: ApiError) -> Self {
        match e.failure {
            Failure::Throttled => SourceError::throttled(e.message, None),
            Failure::Transient => SourceError::transient(e.message),
            Failure::Fatal | Failure::NotFound | Failure::InvalidParameter => {
                SourceError::fatal(e.message)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_in_a_400_or_a_429_is_throttling() {
        assert_eq!(
            classify(Some("ThrottlingException"), 400),
            Failure::Throttled
        );
        assert_eq!(classify(Some("Throttling"), 400), Failure::Throttled);
        assert_eq!(classify(None, 429), Failure::Throttled);
        assert_eq!(classify(Some("SomethingNew"), 429), Failure::Throttled);
    }

    #[test]
    fn server_errors_are_transient_and_client_errors_fatal() {
        for status in [500, 502, 503, 504] {
            assert_eq!(classify(None, status), Failure::Transient);
        }
        assert_eq!(
            classify(Some("ServiceUnavailableException"), 400),
            Failure::Transient
        );
        assert_eq!(classify(Some("AccessDeniedException"), 400), Failure::Fatal);
        assert_eq!(
            classify(Some("UnrecognizedClientException"), 400),
            Failure::Fatal
        );
        assert_eq!(classify(None, 403), Failure::Fatal);
    }

    #[test]
    fn missing_groups_and_refused_tokens_are_told_apart() {
        assert_eq!(
            classify(Some("ResourceNotFoundException"), 400),
            Failure::NotFound
        );
        assert_eq!(
            classify(Some("InvalidParameterException"), 400),
            Failure::InvalidParameter
        );
    }

    #[test]
    fn refusals_say_what_to_check() {
        let denied = service_diagnosis(
            "FilterLogEvents",
            "CloudWatch Logs",
            Some("AccessDeniedException"),
            400,
            "not authorized",
        );
        assert_eq!(
            denied.to_string(),
            "CloudWatch Logs denied logs:FilterLogEvents (AccessDeniedException: not \
             authorized); allow `logs:FilterLogEvents` on the log groups to the identity (or \
             its `role_arn`)"
        );
        let refused = service_diagnosis(
            "sts:GetCallerIdentity",
            "AWS STS",
            Some("InvalidClientTokenId"),
            403,
            "",
        );
        assert!(
            refused
                .to_string()
                .starts_with("AWS STS refused the credentials (InvalidClientTokenId)"),
            "an unknown key is not a permission: {refused}"
        );
        let unknown = service_diagnosis("DescribeLogGroups", "CloudWatch Logs", None, 401, "");
        assert!(
            unknown
                .to_string()
                .starts_with("CloudWatch Logs refused the credentials (HTTP 401)")
        );
        assert_eq!(provider_word("WebIdentityToken"), "web identity");
        let not_enabled = service_diagnosis(
            "securityhub:BatchImportFindings",
            "AWS Security Hub",
            Some("InvalidAccessException"),
            401,
            "Account is not subscribed to AWS Security Hub",
        );
        assert!(
            not_enabled.to_string().contains("enable Security Hub"),
            "not enabled is not a credential problem: {not_enabled}"
        );
        let denied = service_diagnosis(
            "securityhub:BatchImportFindings",
            "AWS Security Hub",
            Some("AccessDeniedException"),
            403,
            "",
        );
        assert!(
            denied
                .to_string()
                .contains("on the hub and the account's default product"),
            "{denied}"
        );
    }

    #[test]
    fn source_errors_keep_the_kind() {
        use crate::sources::SourceErrorKind;
        let kind = |f| SourceError::from(ApiError::new(f, "x")).kind;
        assert_eq!(kind(Failure::Throttled), SourceErrorKind::Throttled);
        assert_eq!(kind(Failure::Transient), SourceErrorKind::Transient);
        assert_eq!(kind(Failure::Fatal), SourceErrorKind::Fatal);
        assert_eq!(kind(Failure::NotFound), SourceErrorKind::Fatal);
    }
}

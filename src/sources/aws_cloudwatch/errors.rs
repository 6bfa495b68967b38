//! Which AWS failures are worth retrying, and which concern one log group only.
//!
//! The SDK's own retries are turned off (see `client`), so every throttle reaches us: it is
//! counted, paced by the driver's backoff with jitter, and never stops the source. What is left is
//! deciding the kind: throttling (HTTP 429 or a throttling code in a 400), transient (5xx,
//! timeouts, connection errors), or fatal (credentials, permissions, bad requests), which is still
//! retried but means an operator must act. A missing log group and a rejected page token are told
//! apart because the poller handles them itself.

use std::error::Error as StdError;

use aws_sdk_cloudwatchlogs::config::http::HttpResponse;
use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use thiserror::Error;

use crate::sources::SourceError;

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

/// A failed AWS call, classified; the message names the call and carries the SDK's context.
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

    /// Classifies an SDK error; `call` names the operation in the message.
    pub fn from_sdk<E>(call: &str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let failure = match &err {
            SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Failure::Transient,
            SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => Failure::Transient,
            // Credentials that cannot be resolved surface here, as do invalid endpoints.
            SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => Failure::Fatal,
            SdkError::ServiceError(service) => {
                classify(service.err().code(), service.raw().status().as_u16())
            }
            _ => Failure::Transient,
        };
        ApiError {
            failure,
            message: format!("{call}: {}", DisplayErrorContext(&err)),
        }
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
    fn source_errors_keep_the_kind() {
        use crate::sources::SourceErrorKind;
        let kind = |f| SourceError::from(ApiError::new(f, "x")).kind;
        assert_eq!(kind(Failure::Throttled), SourceErrorKind::Throttled);
        assert_eq!(kind(Failure::Transient), SourceErrorKind::Transient);
        assert_eq!(kind(Failure::Fatal), SourceErrorKind::Fatal);
        assert_eq!(kind(Failure::NotFound), SourceErrorKind::Fatal);
    }
}

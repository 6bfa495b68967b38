//! What the two Azure sources share: credentials, request signing, and reading HTTP failures.
//!
//! Both `azure_monitor` (Log Analytics) and `azure_blob` (storage archives) authenticate the same
//! way: an Entra ID token from `azure_identity` (workload identity, managed identity, a client
//! secret, the Azure CLI) sent as a bearer token. Storage also accepts an account key (Shared Key
//! signing) or a SAS, which is what emulators use. Plain-http endpoints are accepted only on
//! loopback, so a token or a key never crosses a network unencrypted. The SDK never retries on
//! its own ([`sdk_retry`]).

pub mod bearer;
pub mod chain;
pub mod config;
pub mod connection_string;
pub mod credential;
pub mod failure;
pub mod shared_key;

use azure_core::http::RetryOptions;

/// The token scope of the Log Analytics query API.
pub const LOG_ANALYTICS_SCOPE: &str = "https://api.loganalytics.io/.default";
/// The token scope of Azure Storage.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// The azure_core pipeline's own retries are off, as the AWS and Google SDKs' are: a retry
/// inside the SDK would skip the source's rate limiter (the limiter is acquired once per call)
/// and second-guess the one classifier ([`failure`]) that decides throttle / transient / fatal.
/// The driver retries with its backoff instead, and every attempt passes the limiter.
pub fn sdk_retry() -> RetryOptions {
    RetryOptions::none()
}

/// The one rule for credentials in transit lives in the validation toolkit (sinks use it too).
pub use crate::validation::{is_loopback, may_carry_credentials};

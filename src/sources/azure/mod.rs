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
use url::{Host, Url};

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

/// Whether `url` points at this machine (tests, emulators, a local proxy).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether credentials may be sent to `url`: over TLS, or to this machine.
pub fn may_carry_credentials(url: &Url) -> bool {
    url.scheme() == "https" || is_loopback(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback(&url("http://127.0.0.1:8080/x")));
        assert!(is_loopback(&url("http://127.1.2.3/")));
        assert!(is_loopback(&url("http://[::1]:9/")));
        assert!(is_loopback(&url("http://LOCALHOST:9/")));
        assert!(!is_loopback(&url("http://10.0.0.1/")));
        assert!(!is_loopback(&url("https://api.loganalytics.azure.com/")));
        assert!(!is_loopback(&url("http://localhost.evil.example/")));
    }

    #[test]
    fn credentials_need_tls_or_loopback() {
        assert!(may_carry_credentials(&url(
            "https://x.blob.core.windows.net/"
        )));
        assert!(may_carry_credentials(&url("http://127.0.0.1:10000/")));
        assert!(!may_carry_credentials(&url(
            "http://x.blob.core.windows.net/"
        )));
    }
}

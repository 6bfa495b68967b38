//! The one sentence an operator reads when a cloud call fails: the cause, then what to check.
//!
//! Every cloud source (CloudWatch, Cloud Logging, Log Analytics, Blob Storage) maps its SDK's
//! errors to the same few causes: no credentials, credentials refused, endpoint unreachable,
//! permission denied, something not found (a wrong region, project or workspace). The SDKs'
//! own texts are debug dumps with nested sources; they are logged here, whole, at debug level,
//! and the sentence keeps only what helps (which endpoint, which role, which providers were
//! tried).

use std::error::Error as StdError;
use std::fmt;

use tracing::debug;

/// A failed call, said in one sentence: `<cause>; <what to check>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    pub cause: String,
    pub check: String,
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.check.is_empty() {
            f.write_str(&self.cause)
        } else {
            write!(f, "{}; {}", self.cause, self.check)
        }
    }
}

impl Diagnosis {
    pub fn new(cause: impl Into<String>, check: impl Into<String>) -> Self {
        Diagnosis {
            cause: cause.into(),
            check: check.into(),
        }
    }

    /// No credential provider of a chain produced credentials; `checked` lists them in order.
    pub fn no_credentials(cloud: &str, checked: &[&str], check: impl Into<String>) -> Self {
        Self::new(
            format!(
                "no {cloud} credentials found (checked: {})",
                checked.join(", ")
            ),
            check,
        )
    }

    /// The service could not be reached at all (no HTTP answer).
    pub fn unreachable(service: &str, endpoint: &str, error: &(dyn StdError + 'static)) -> Self {
        Self::new(
            format!(
                "cannot reach {service} at {endpoint} ({})",
                transport_reason(error)
            ),
            "check the endpoint, DNS, proxy settings and that outbound HTTPS is allowed",
        )
    }

    /// The identity is known but lacks a permission; `need` names the permission or role.
    pub fn permission_denied(service: &str, action: &str, need: impl Into<String>) -> Self {
        Self::new(format!("{service} denied {action}"), need)
    }
}

/// The short cause of a transport failure, from the innermost error that says something:
/// `connection refused`, `name not resolved`, `timed out`, a TLS failure, else the innermost text.
pub fn transport_reason(error: &(dyn StdError + 'static)) -> String {
    let mut innermost = error.to_string();
    let mut texts = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".to_owned(),
                std::io::ErrorKind::TimedOut => return "timed out".to_owned(),
                _ => {}
            }
        }
        let text = e.to_string();
        texts.push(text.to_ascii_lowercase());
        innermost = text;
        current = e.source();
    }
    let said = |needle: &str| texts.iter().any(|t| t.contains(needle));
    if said("connection refused") {
        "connection refused".to_owned()
    } else if said("dns error") || said("failed to lookup address") {
        "the host name does not resolve".to_owned()
    } else if said("timed out") || said("timeout") {
        "timed out".to_owned()
    } else if said("certificate") || said("tls") {
        format!("TLS failed: {innermost}")
    } else {
        innermost
    }
}

/// Logs an SDK error whole (its Display chain and its Debug form) at debug level: the sentence
/// shown elsewhere is short on purpose, and this is where the rest goes.
pub fn log_chain(context: &str, error: &(dyn StdError + 'static)) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let mut chain = error.to_string();
    let mut current = error.source();
    while let Some(e) = current {
        chain.push_str(": ");
        chain.push_str(&e.to_string());
        current = e.source();
    }
    debug!(call = %context, error = %chain, details = ?error, "cloud call failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapped(&'static str, Option<std::io::Error>);

    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Wrapped {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_ref().map(|e| e as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn names_the_transport_cause() {
        let refused = Wrapped(
            "client error (Connect)",
            Some(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        );
        assert_eq!(transport_reason(&refused), "connection refused");
        let dns = Wrapped("dns error: failed to lookup address information", None);
        assert_eq!(transport_reason(&dns), "the host name does not resolve");
        assert_eq!(transport_reason(&Wrapped("odd", None)), "odd");
    }

    #[test]
    fn one_sentence_cause_then_check() {
        let d = Diagnosis::no_credentials("AWS", &["environment", "profile"], "set AWS_PROFILE");
        assert_eq!(
            d.to_string(),
            "no AWS credentials found (checked: environment, profile); set AWS_PROFILE"
        );
        assert_eq!(Diagnosis::new("x", "").to_string(), "x");
    }
}

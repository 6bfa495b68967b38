//! Options shared by the HTTP sinks (request timeout, endpoint URLs, output format), checked
//! with the validation toolkit.

use std::time::Duration;

use url::Url;

use crate::sinks::OutputFormat;
use crate::validation::Secret;
use crate::validation::{Problems, duration, require_tls};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// The whole request, connection included; a timeout is retried like a network error.
    pub timeout: Duration,
}

pub fn http(p: &mut Problems, key: &str, timeout: Option<&str>) -> HttpSettings {
    let key = format!("{key}.timeout");
    let timeout = duration(p, &key, timeout).unwrap_or(DEFAULT_TIMEOUT);
    if timeout.is_zero() {
        p.push(key, "must be longer than zero");
    }
    HttpSettings { timeout }
}

/// Checks that a (possibly secret) URL is an absolute http(s) URL. The message never quotes
/// the URL: it may carry a token.
pub fn check_url(p: &mut Problems, key: &str, url: &Secret) -> Option<Url> {
    let parsed = match Url::parse(url.expose()) {
        Ok(u) => u,
        Err(e) => {
            p.push(key, format!("not a valid URL ({e})"));
            return None;
        }
    };
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
        p.push(key, "must be an http:// or https:// URL with a host");
        return None;
    }
    Some(parsed)
}

/// [`check_url`] for an endpoint that receives a credential (`what`: "the HEC token"): plain
/// http is refused unless the host is this machine.
pub fn check_credential_url(p: &mut Problems, key: &str, url: &Secret, what: &str) -> Option<Url> {
    let parsed = check_url(p, key, url)?;
    require_tls(p, key, &parsed, what).then_some(parsed)
}

pub fn output_format(p: &mut Problems, key: &str, value: Option<&str>) -> OutputFormat {
    match value {
        None | Some("native") => OutputFormat::Native,
        Some("ocsf") => OutputFormat::Ocsf,
        Some("falco") => OutputFormat::Falco,
        Some(other) => {
            p.push(
                format!("{key}.format"),
                format!("`{other}` is not `native`, `ocsf` or `falco`"),
            );
            OutputFormat::Native
        }
    }
}

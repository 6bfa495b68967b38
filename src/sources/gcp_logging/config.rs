//! `type = "gcp_logging"`: GKE audit entries read from Cloud Logging with `entries.list`.
//!
//! The raw table mirrors the file; [`build`] turns it into [`GcpLoggingSettings`] with every
//! limit of the API checked up front (60 requests/min/project, pages of at most 1,000 entries),
//! so a bad value is reported by `validate` with its key instead of failing at the first poll.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::sources::Validated;
use crate::sources::time_axis::{RawWindowSettings, WindowDefaults, WindowSettings};
use crate::validation::{Problems, duration, is_loopback, require_tls, size};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// The window keys' defaults for Cloud Logging (`docs/time-axis.md`): `receiveTimestamp`
/// trails `timestamp` by up to ~30 s in the entries we have seen.
pub const WINDOW_DEFAULTS: WindowDefaults = WindowDefaults {
    lag: Duration::from_secs(60),
    overlap: Duration::from_secs(300),
    max_span: Duration::from_secs(3600),
    lookback: Duration::ZERO,
};
/// Below the 60/min/project quota, leaving room for people running `gcloud logging read`.
const DEFAULT_REQUESTS_PER_MINUTE: u32 = 50;
pub const QUOTA_REQUESTS_PER_MINUTE: u32 = 60;
pub const MAX_PAGE_SIZE: u32 = 1000;
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_MAX_BATCH_ENTRIES: usize = 5000;
const DEFAULT_MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;
const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGcpLoggingSource {
    pub name: String,
    /// Project ids to read; one request carries up to 100 of them.
    pub projects: Vec<String>,
    /// Only these clusters (`resource.labels.cluster_name`); all when absent.
    pub clusters: Option<Vec<String>>,
    /// Only these locations (`resource.labels.location`); all when absent.
    pub locations: Option<Vec<String>>,
    /// Also read the Data Access log (`cloudaudit.googleapis.com%2Fdata_access`).
    pub data_access: Option<bool>,
    /// A credentials JSON file (service account key, authorized user, external account);
    /// Application Default Credentials when absent.
    pub credentials_file: Option<String>,
    /// Send no credentials at all: only with a loopback `endpoint` (a local fake).
    pub anonymous: Option<bool>,
    /// The Cloud Logging API root, e.g. `https://logging.googleapis.com`.
    pub endpoint: Option<String>,
    pub interval: Option<String>,
    /// `lag`, `overlap`, `max_span`, `lookback`, `max_catchup`.
    #[serde(flatten)]
    pub window: RawWindowSettings,
    pub requests_per_minute: Option<u32>,
    pub page_size: Option<u32>,
    pub request_timeout: Option<String>,
    pub max_batch_entries: Option<usize>,
    pub max_batch_size: Option<String>,
    pub progress_interval: Option<String>,
}

/// Where the access token comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GcpCredentials {
    /// Application Default Credentials: `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's user
    /// credentials, or the metadata server (GKE workload identity, GCE).
    ApplicationDefault,
    File(PathBuf),
    /// No `Authorization` header; only ever sent to a loopback endpoint.
    Anonymous,
}

#[derive(Clone, Debug)]
pub struct GcpLoggingSettings {
    pub projects: Vec<String>,
    pub clusters: Vec<String>,
    pub locations: Vec<String>,
    pub data_access: bool,
    pub credentials: GcpCredentials,
    pub endpoint: Option<String>,
    /// A source without a checkpoint starts `lookback` before `now - lag`.
    pub window: WindowSettings,
    pub requests_per_minute: NonZeroU32,
    pub page_size: u32,
    pub request_timeout: Duration,
    pub max_batch_entries: usize,
    pub max_batch_bytes: usize,
    pub progress_interval: Duration,
}

impl GcpLoggingSettings {
    /// Settings with every default, for `projects` (tests and measurements build on it).
    pub fn new(projects: Vec<String>) -> Self {
        GcpLoggingSettings {
            projects,
            clusters: Vec::new(),
            locations: Vec::new(),
            data_access: false,
            credentials: GcpCredentials::ApplicationDefault,
            endpoint: None,
            window: WindowSettings::defaults(WINDOW_DEFAULTS),
            requests_per_minute: NonZeroU32::new(DEFAULT_REQUESTS_PER_MINUTE)
                .unwrap_or(NonZeroU32::MIN),
            page_size: MAX_PAGE_SIZE,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_batch_entries: DEFAULT_MAX_BATCH_ENTRIES,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            progress_interval: DEFAULT_PROGRESS_INTERVAL,
        }
    }
}

/// Whether `endpoint` names this machine (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback_endpoint(endpoint: &str) -> bool {
    url::Url::parse(endpoint).is_ok_and(|url| is_loopback(&url))
}

/// Project ids: `my-project-123`, or the legacy domain-scoped `example.com:my-project`.
fn valid_project(id: &str) -> bool {
    id.len() <= 100
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | ':'))
}

/// Cluster and location names go into the filter between quotes: refuse anything that could
/// break out of them.
fn valid_label(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn names(p: &mut Problems, key: &str, list: &[String], valid: fn(&str) -> bool, what: &str) {
    let mut seen = std::collections::HashSet::new();
    for (i, value) in list.iter().enumerate() {
        if !valid(value) {
            p.push(format!("{key}[{i}]"), format!("`{value}` is not {what}"));
        } else if !seen.insert(value) {
            p.push(format!("{key}[{i}]"), format!("`{value}` is listed twice"));
        }
    }
}

pub(crate) fn build(
    raw: &RawGcpLoggingSource,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<Validated<GcpLoggingSettings>> {
    let k = |field: &str| format!("{key}.{field}");
    if raw.projects.is_empty() {
        p.push(k("projects"), "list at least one project id");
    }
    names(
        p,
        &k("projects"),
        &raw.projects,
        valid_project,
        "a project id (lowercase letters, digits and hyphens, starting with a letter)",
    );
    let clusters = raw.clusters.clone().unwrap_or_default();
    names(
        p,
        &k("clusters"),
        &clusters,
        valid_label,
        "a cluster name (letters, digits, `-`, `_`, `.`)",
    );
    let locations = raw.locations.clone().unwrap_or_default();
    names(
        p,
        &k("locations"),
        &locations,
        valid_label,
        "a location such as `europe-west1` or `us-central1-a`",
    );

    let endpoint = raw.endpoint.clone();
    let sends_credentials = !raw.anonymous.unwrap_or(false);
    if let Some(ep) = &endpoint {
        match url::Url::parse(ep) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {
                if sends_credentials {
                    require_tls(p, &k("endpoint"), &url, "the Google access token");
                }
            }
            _ => p.push(
                k("endpoint"),
                format!("`{ep}` is not an http(s) URL such as `https://logging.googleapis.com`"),
            ),
        }
    }
    let credentials = match (raw.anonymous.unwrap_or(false), &raw.credentials_file) {
        (true, Some(_)) => {
            p.push(
                k("anonymous"),
                "`anonymous = true` and `credentials_file` exclude each other",
            );
            GcpCredentials::Anonymous
        }
        (true, None) => {
            if !endpoint.as_deref().is_some_and(is_loopback_endpoint) {
                p.push(
                    k("anonymous"),
                    "anonymous credentials are only allowed with a loopback `endpoint` \
                     (http://127.0.0.1:PORT, a local fake); remove `anonymous` to use \
                     Application Default Credentials or set `credentials_file`",
                );
            }
            GcpCredentials::Anonymous
        }
        (false, Some(file)) => GcpCredentials::File(base.join(file)),
        (false, None) => GcpCredentials::ApplicationDefault,
    };

    let rpm = raw
        .requests_per_minute
        .unwrap_or(DEFAULT_REQUESTS_PER_MINUTE);
    let requests_per_minute = match NonZeroU32::new(rpm) {
        Some(n) if rpm <= QUOTA_REQUESTS_PER_MINUTE => n,
        _ => {
            p.push(
                k("requests_per_minute"),
                format!(
                    "`{rpm}` must be between 1 and {QUOTA_REQUESTS_PER_MINUTE}: Cloud Logging \
                     allows {QUOTA_REQUESTS_PER_MINUTE} entries.list requests per minute per project"
                ),
            );
            NonZeroU32::MIN
        }
    };
    let page_size = raw.page_size.unwrap_or(MAX_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        p.push(
            k("page_size"),
            format!("`{page_size}` must be between 1 and {MAX_PAGE_SIZE}"),
        );
    }
    let window = raw.window.build(key, WINDOW_DEFAULTS, p);
    let max_batch_entries = raw.max_batch_entries.unwrap_or(DEFAULT_MAX_BATCH_ENTRIES);
    if max_batch_entries == 0 {
        p.push(k("max_batch_entries"), "must be at least 1");
    }
    let request_timeout = duration(p, &k("request_timeout"), raw.request_timeout.as_deref())
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT);
    if request_timeout.is_zero() {
        p.push(k("request_timeout"), "must be longer than 0s");
    }

    let settings = GcpLoggingSettings {
        projects: raw.projects.clone(),
        clusters,
        locations,
        data_access: raw.data_access.unwrap_or(false),
        credentials,
        endpoint,
        window,
        requests_per_minute,
        page_size,
        request_timeout,
        max_batch_entries,
        max_batch_bytes: size(p, &k("max_batch_size"), raw.max_batch_size.as_deref())
            .unwrap_or(DEFAULT_MAX_BATCH_BYTES),
        progress_interval: duration(p, &k("progress_interval"), raw.progress_interval.as_deref())
            .unwrap_or(DEFAULT_PROGRESS_INTERVAL),
    };
    Some(Validated {
        interval: duration(p, &k("interval"), raw.interval.as_deref()).unwrap_or(DEFAULT_INTERVAL),
        max_catchup: window.max_catchup,
        settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(toml_text: &str) -> RawGcpLoggingSource {
        config::Config::builder()
            .add_source(config::File::from_str(toml_text, config::FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap()
    }

    fn problems(r: &RawGcpLoggingSource) -> Vec<String> {
        let mut p = Problems::default();
        build(r, "sources[0]", Path::new("/etc/npw"), &mut p);
        p.into_vec().into_iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn loopback_endpoints_are_told_apart() {
        assert!(is_loopback_endpoint("http://127.0.0.1:8080"));
        assert!(is_loopback_endpoint("http://127.3.2.1"));
        assert!(is_loopback_endpoint("http://[::1]:9000"));
        assert!(is_loopback_endpoint("http://localhost:9000"));
        assert!(!is_loopback_endpoint("https://logging.googleapis.com"));
        assert!(!is_loopback_endpoint("http://10.0.0.1"));
        assert!(!is_loopback_endpoint("http://127.0.0.1.evil.example"));
        assert!(!is_loopback_endpoint("not a url"));
    }

    #[test]
    fn credentials_never_go_to_a_plain_http_endpoint() {
        let remote = problems(&raw(r#"name = "gke"
               projects = ["prod-1"]
               endpoint = "http://logging.example.com""#));
        assert_eq!(remote.len(), 1, "{remote:?}");
        assert!(
            remote[0].starts_with("sources[0].endpoint: plain http"),
            "{remote:?}"
        );
        for ok in [
            r#"endpoint = "https://logging.example.com""#,
            r#"endpoint = "http://127.0.0.1:9000""#,
            r#"endpoint = "http://[::1]:9000"
               anonymous = true"#,
        ] {
            let r = raw(&format!("name = \"gke\"\nprojects = [\"prod-1\"]\n{ok}"));
            assert_eq!(problems(&r), Vec::<String>::new(), "{ok}");
        }
    }

    #[test]
    fn defaults_and_paths() {
        let r = raw(r#"name = "gke"
               projects = ["prod-1"]
               credentials_file = "sa.json""#);
        let mut p = Problems::default();
        let s = build(&r, "sources[0]", Path::new("/etc/npw"), &mut p).unwrap();
        assert!(p.is_empty());
        let g = s.settings;
        assert_eq!(
            g.credentials,
            GcpCredentials::File(PathBuf::from("/etc/npw/sa.json"))
        );
        assert_eq!(g.requests_per_minute.get(), 50);
        assert_eq!(g.page_size, 1000);
        assert_eq!(s.interval, DEFAULT_INTERVAL);
        assert_eq!(s.max_catchup, None);
    }

    #[test]
    fn anonymous_needs_a_loopback_endpoint() {
        let remote = raw(r#"name = "gke"
               projects = ["prod-1"]
               anonymous = true
               endpoint = "https://logging.googleapis.com""#);
        let found = problems(&remote);
        assert!(
            found
                .iter()
                .any(|p| p.contains("sources[0].anonymous") && p.contains("loopback")),
            "{found:?}"
        );
        let local = raw(r#"name = "gke"
               projects = ["prod-1"]
               anonymous = true
               endpoint = "http://127.0.0.1:5100""#);
        assert!(problems(&local).is_empty());
        let missing = raw(r#"name = "gke"
               projects = ["prod-1"]
               anonymous = true"#);
        assert!(!problems(&missing).is_empty());
    }

    #[test]
    fn api_limits_and_filter_injection_are_refused() {
        let r = raw(r#"name = "gke"
               projects = ["Prod", "ok-project", "ok-project"]
               clusters = ['a" OR "b']
               requests_per_minute = 61
               page_size = 1001"#);
        let found = problems(&r).join("\n");
        for key in [
            "sources[0].projects[0]",
            "sources[0].projects[2]",
            "sources[0].clusters[0]",
            "sources[0].requests_per_minute",
            "sources[0].page_size",
        ] {
            assert!(found.contains(key), "{key} not in {found}");
        }
    }
}

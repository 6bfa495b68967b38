//! What an operator reads when a cloud source cannot work, through the real binary: one
//! sentence per failure with its cause and what to check (`validate --connect`), a summary line
//! that agrees with the exit status, and no SDK log lines in the daemon's log at the default
//! level.
//!
//! Unreachable endpoints are closed loopback ports; authentication errors come from the local
//! fakes (Log Analytics refuses a request without its token; Cloud Logging answers a 401 or 403
//! on demand). The AWS credential chain runs with an empty environment, no profile files and
//! instance metadata disabled.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use crate::support::azure_monitor_kit::WS;
use crate::support::binary;
use crate::support::daemon::free_port;
use crate::support::fake_log_analytics::FakeLogAnalytics;
use crate::support::fake_logging::FakeLogging;
use crate::support::wait::eventually;

const NETWORK_CHECK: &str =
    "check the endpoint, DNS, proxy settings and that outbound HTTPS is allowed";
const WAIT: Duration = Duration::from_secs(120);

const FILE_SINK: &str = "[[sinks]]\ntype = \"file\"\nname = \"alerts\"\npath = \"alerts.jsonl\"\n";

/// `validate --connect` on `sources` (TOML) plus a file sink, with nothing from this machine's
/// cloud setup in the environment: only `PATH`, a `HOME` in `dir`, IMDS off, and `env`.
async fn validate_connect(dir: &Path, sources: &str, env: &[(&str, &str)]) -> Output {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!("[state]\npath = \"state.db\"\n\n{sources}\n{FILE_SINK}"),
    )
    .unwrap();
    tokio::process::Command::new(binary())
        .args(["validate", "--connect", "--config"])
        .arg(&config)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap()
}

/// Asserts that stdout holds every line of `expected` exactly, and ends with `summary`.
fn assert_lines(out: &Output, expected: &[String], summary: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let context = format!(
        "status {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for line in expected {
        assert!(
            stdout.lines().any(|l| l == line),
            "missing line:\n{line}\n{context}"
        );
    }
    assert_eq!(stdout.lines().last(), Some(summary), "{context}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_aws_credentials_name_every_provider_checked() {
    let dir = tempfile::tempdir().unwrap();
    let sources = "[[sources]]\ntype = \"aws_cloudwatch\"\nname = \"eks\"\n\
                   region = \"us-east-1\"\nclusters = [\"prod\"]\n";
    let out = validate_connect(dir.path(), sources, &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_lines(
        &out,
        &[
            "source eks: FAILED: no AWS credentials found (checked: environment, profile, web \
             identity, container, instance metadata); set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY, choose a `profile`, or run with an IAM role (IRSA, EKS Pod \
             Identity, instance profile)"
                .to_owned(),
            "sink alerts: ok".to_owned(),
        ],
        "connect: FAILED, 1 of 2 checks failed (source eks)",
    );
    // The SDK's own dump never reaches the operator.
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("DispatchFailure") && !all.contains("ConnectorError"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoints_are_named_for_every_provider() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let closed = format!("http://127.0.0.1:{port}");
    let sources = format!(
        "[[sources]]\ntype = \"aws_cloudwatch\"\nname = \"eks\"\nregion = \"us-east-1\"\n\
         endpoint = \"{closed}\"\nclusters = [\"prod\"]\n\n\
         [[sources]]\ntype = \"azure_monitor\"\nname = \"aks\"\nworkspace_id = \"{WS}\"\n\
         endpoint = \"{closed}\"\ncredential = \"none\"\n\n\
         [[sources]]\ntype = \"azure_blob\"\nname = \"blob\"\n\
         account_url = \"{closed}/devstoreaccount1\"\ncredential = \"none\"\n\n\
         [[sources]]\ntype = \"gcp_logging\"\nname = \"gke\"\nprojects = [\"p1\"]\n\
         endpoint = \"{closed}\"\nanonymous = true\n"
    );
    let keys = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let out = validate_connect(dir.path(), &sources, &keys).await;
    assert_eq!(out.status.code(), Some(1));
    let line = |name: &str, service: &str, endpoint: &str| {
        format!(
            "source {name}: FAILED: cannot reach {service} at {endpoint} (connection refused); \
             {NETWORK_CHECK}"
        )
    };
    assert_lines(
        &out,
        &[
            line("eks", "AWS STS", &closed),
            line("aks", "Log Analytics", &format!("{closed}/")),
            line(
                "blob",
                "Azure Blob Storage",
                &format!("{closed}/devstoreaccount1"),
            ),
            line("gke", "Cloud Logging", &closed),
            "sink alerts: ok".to_owned(),
        ],
        "connect: FAILED, 4 of 5 checks failed (source eks, source aks, source blob, source gke)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_and_permissions_say_what_to_check() {
    let analytics = FakeLogAnalytics::start().await;
    let logging = FakeLogging::start().await;
    // The sources are checked in order: the first Cloud Logging call gets 401, the second 403.
    logging.fail_next(401, 1);
    logging.fail_next(403, 1);
    let dir = tempfile::tempdir().unwrap();
    let sources = format!(
        "[[sources]]\ntype = \"azure_monitor\"\nname = \"aks\"\nworkspace_id = \"{WS}\"\n\
         endpoint = \"{}\"\ncredential = \"none\"\n\n\
         [[sources]]\ntype = \"gcp_logging\"\nname = \"gke-a\"\nprojects = [\"p1\"]\n\
         endpoint = \"{gcp}\"\nanonymous = true\n\n\
         [[sources]]\ntype = \"gcp_logging\"\nname = \"gke-b\"\nprojects = [\"p1\"]\n\
         endpoint = \"{gcp}\"\nanonymous = true\n",
        analytics.url,
        gcp = logging.endpoint(),
    );
    let out = validate_connect(dir.path(), &sources, &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_lines(
        &out,
        &[
            format!(
                "source aks: FAILED: Log Analytics refused the credentials for the query of \
                 workspace {WS} (HTTP 401 AuthenticationFailed: Authentication failed. The \
                 'Authorization' header is missing.); check `credential` and that the token is \
                 for the tenant of the resource"
            ),
            "source gke-a: FAILED: Cloud Logging refused the credentials (Request had invalid \
             authentication credentials.); check GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth \
             application-default login`, the attached service account (metadata server) or \
             `credentials_file`"
                .to_owned(),
            "source gke-b: FAILED: Cloud Logging denied reading the logs of p1 (The caller does \
             not have permission); grant roles/logging.viewer (and \
             roles/logging.privateLogViewer for `data_access`) on each project"
                .to_owned(),
        ],
        "connect: FAILED, 3 of 4 checks failed (source aks, source gke-a, source gke-b)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_connect_succeeds_with_a_summary_that_says_so() {
    let logging = FakeLogging::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sources = format!(
        "[[sources]]\ntype = \"gcp_logging\"\nname = \"gke\"\nprojects = [\"p1\"]\n\
         endpoint = \"{}\"\nanonymous = true\n",
        logging.endpoint()
    );
    let out = validate_connect(dir.path(), &sources, &[]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_lines(
        &out,
        &["source gke: ok".to_owned(), "sink alerts: ok".to_owned()],
        "connect: ok, all 2 checks passed",
    );
}

/// The daemon on an Azure source whose endpoint refuses connections, logging at `filter`
/// (`None`: the default level). Returns the log once our own failure line is in it.
async fn daemon_log_of_a_failing_azure_source(filter: Option<&str>, until: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[state]\npath = \"state.db\"\n\n[[sources]]\ntype = \"azure_monitor\"\n\
             name = \"aks\"\nworkspace_id = \"{WS}\"\nendpoint = \"http://127.0.0.1:{}\"\n\
             credential = \"none\"\n\n{FILE_SINK}",
            free_port()
        ),
    )
    .unwrap();
    let log = dir.path().join("daemon.log");
    let mut command = std::process::Command::new(binary());
    command
        .args(["run", "--config"])
        .arg(&config)
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    if let Some(filter) = filter {
        command.env("RUST_LOG", filter);
    }
    let mut child = command.spawn().unwrap();
    let text = eventually(until, WAIT, async || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains(until).then_some(text)
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_log_lines_stay_out_of_the_daemon_log_unless_asked_for() {
    let text = daemon_log_of_a_failing_azure_source(None, "cannot reach Log Analytics").await;
    assert!(
        !text.contains("typespec_client_core") && !text.contains("Failed response"),
        "{text}"
    );
    // The same lines are there when the filter names the crate.
    let text = daemon_log_of_a_failing_azure_source(
        Some("info,typespec_client_core=info"),
        "Failed response",
    )
    .await;
    assert!(text.contains("typespec_client_core"), "{text}");
}

use std::path::Path;

use super::*;
use crate::config::RawConfig;
use crate::config::SourceKind;
use crate::config::settings::Settings;

fn load(source: &str) -> Result<Settings, Vec<String>> {
    let text = format!(
        "[[sinks]]\ntype = \"stdout\"\nname = \"out\"\n\n[[sources]]\ntype = \"aws_cloudwatch\"\nname = \"eks\"\n{source}"
    );
    let raw: RawConfig = config::Config::builder()
        .add_source(config::File::from_str(&text, config::FileFormat::Toml))
        .build()
        .unwrap()
        .try_deserialize()
        .unwrap();
    Settings::from_raw(raw, Path::new("/etc")).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect()
    })
}

fn cloudwatch(settings: &Settings) -> &AwsCloudWatchSettings {
    match &settings.sources[0].kind {
        SourceKind::AwsCloudWatch(s) => s,
        other => panic!("not a CloudWatch source: {other:?}"),
    }
}

#[test]
fn defaults() {
    let settings = load("region = \"eu-west-1\"\nclusters = [\"prod\"]").unwrap();
    let source = &settings.sources[0];
    assert_eq!(source.interval, Duration::from_secs(30));
    assert_eq!(source.max_catchup, None);
    let s = cloudwatch(&settings);
    assert_eq!(s.log_groups, vec!["/aws/eks/prod/cluster"]);
    assert_eq!(s.stream_prefix, "kube-apiserver-audit-");
    assert_eq!(s.filter_pattern.as_deref(), Some(DEFAULT_PATTERN));
    assert_eq!(s.window.lag, Duration::from_secs(30));
    assert_eq!(s.window.overlap, Duration::from_secs(120));
    assert_eq!(s.window.max_span, Duration::from_secs(3600));
    assert_eq!(s.requests_per_second.get(), 5);
    assert_eq!(s.max_batch_entries, 5_000);
    assert_eq!(s.role, None);
}

#[test]
fn every_option() {
    let settings = load(
        r#"region = "us-east-2"
log_groups = ["/custom/audit", "/aws/eks/a/cluster"]
clusters = ["a", "b"]
log_group_prefix = "/aws/eks/"
discovery_interval = "1m"
stream_prefix = "kube-apiserver-audit"
profile = "audit"
role_arn = "arn:aws:iam::210987654321:role/nodeport-watch"
external_id = "s3cr3t"
session_name = "npw"
endpoint = "http://127.0.0.1:5000"
filter_pattern = '{ $.objectRef.resource = "services" }'
interval = "10s"
lag = "5s"
overlap = "10m"
max_span = "5m"
max_batch_entries = 100
max_pages = 3
requests_per_second = 2
lookback = "1h"
max_catchup = "6h"
"#,
    )
    .unwrap();
    assert_eq!(
        settings.sources[0].max_catchup,
        Some(Duration::from_secs(6 * 3600))
    );
    let s = cloudwatch(&settings);
    assert_eq!(
        s.log_groups,
        vec!["/custom/audit", "/aws/eks/a/cluster", "/aws/eks/b/cluster"]
    );
    let role = s.role.as_ref().unwrap();
    assert_eq!(role.account, "210987654321");
    assert_eq!(role.external_id.as_deref(), Some("s3cr3t"));
    assert!(
        !format!("{settings:?}").contains("s3cr3t"),
        "the external ID is redacted"
    );
    assert_eq!(role.session_name, "npw");
    assert_eq!(
        s.filter_pattern.as_deref(),
        Some(r#"{ $.objectRef.resource = "services" }"#)
    );
    assert_eq!(s.page_limit(100), 100);
    assert_eq!(s.page_limit(50_000), 10_000);
    assert_eq!(s.page_limit(0), 1);
}

#[test]
fn pushdown_can_be_turned_off() {
    let settings =
        load("region = \"eu-west-1\"\nclusters = [\"a\"]\nfilter_pushdown = false").unwrap();
    assert_eq!(cloudwatch(&settings).filter_pattern, None);
}

#[test]
fn problems_name_their_key() {
    let problems = load(
        r#"region = ""
log_groups = ["bad name!"]
clusters = ["x/y"]
role_arn = "arn:aws:iam::123:user/me"
endpoint = "ftp://x"
filter_pattern = "{ $.verb = "
max_batch_entries = 0
requests_per_second = 0
lag = "soon"
"#,
    )
    .unwrap_err();
    for key in [
        "sources[0].region",
        "sources[0].log_groups[0]",
        "sources[0].clusters[0]",
        "sources[0].role_arn",
        "sources[0].endpoint",
        "sources[0].filter_pattern",
        "sources[0].max_batch_entries",
        "sources[0].requests_per_second",
        "sources[0].lag",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(&format!("{key}:"))),
            "{key} missing from {problems:#?}"
        );
    }
}

#[test]
fn something_to_read_is_required_and_options_must_agree() {
    let problems = load("region = \"eu-west-1\"\nexternal_id = \"x\"").unwrap_err();
    assert!(problems.iter().any(|p| p.contains("name what to read")));
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("sources[0].role_arn:"))
    );
    let problems = load(
        "region = \"eu-west-1\"\nclusters = [\"a\"]\nfilter_pushdown = false\nfilter_pattern = '{ $.a = 1 }'",
    )
    .unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("sources[0].filter_pattern:"))
    );
}

#[test]
fn role_arns() {
    assert_eq!(
        role_account("arn:aws-us-gov:iam::123456789012:role/path/name").unwrap(),
        "123456789012"
    );
    for bad in [
        "arn:aws:iam::123456789012:role/",
        "arn:aws:iam::12345678901:role/x",
        "arn:aws:sts::123456789012:assumed-role/x/y",
        "123456789012",
    ] {
        assert!(role_account(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_external_id_may_come_from_a_file_and_the_endpoint_needs_tls() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("external-id");
    std::fs::write(&file, "ext-from-file\n").unwrap();
    let settings = load(&format!(
        "region = \"eu-west-1\"\nclusters = [\"a\"]\nrole_arn = \"arn:aws:iam::210987654321:role/r\"\nexternal_id = {{ file = \"{}\" }}",
        file.display()
    ))
    .unwrap();
    let role = cloudwatch(&settings).role.as_ref().unwrap();
    assert_eq!(role.external_id.as_deref(), Some("ext-from-file"));

    let problems =
        load("region = \"eu-west-1\"\nclusters = [\"a\"]\nendpoint = \"http://logs.example.com\"")
            .unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("sources[0].endpoint: plain http"));
}

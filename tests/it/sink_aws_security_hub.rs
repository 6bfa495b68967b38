//! The `aws_security_hub` sink against moto (moto 5.2.5 serves `BatchImportFindings`,
//! `GetFindings`, `EnableSecurityHub` and `DescribeHub`, without filters or validation of the
//! ASFF fields): an open alert becomes one finding read back with `GetFindings`, a re-send
//! leaves one finding, the close archives the same finding; the account comes from STS; the
//! healthcheck tells a hub that is not enabled. moto refuses no finding this sink can build, so
//! a loopback receiver answering `FailedFindings` shows a refused finding dead-lettered and a
//! throttled one retried. Configuration problems name their keys; the role gives the account;
//! the external ID is never shown.

use aws_sdk_securityhub::config::Region;
use nodeport_watch::config::{Settings, SinkKind};
use nodeport_watch::model::{Alert, AlertStatus, RuleId};
use nodeport_watch::sinks::aws_security_hub::AwsSecurityHubSink;
use nodeport_watch::sinks::{DeliveryError, Sink};
use serde_json::{Value, json};

use crate::sinks::{assert_problems, settings};
use crate::support::cloudwatch::static_credentials;
use crate::support::fixtures;
use crate::support::moto::Moto;
use crate::support::receiver::{Receiver, Reply};

/// moto's account for any access key it does not know.
const MOTO_ACCOUNT: &str = "123456789012";

fn load(dir: &std::path::Path, endpoint: &str, extra: &str) -> Settings {
    settings(
        dir,
        &format!(
            "[[sinks]]\ntype = \"aws_security_hub\"\nname = \"hub\"\nregion = \"eu-west-1\"\n\
             endpoint = \"{endpoint}\"\n{extra}"
        ),
    )
}

fn sink(s: &Settings) -> AwsSecurityHubSink {
    let SinkKind::AwsSecurityHub(settings) = &s.sinks[0].kind else {
        panic!("not an aws_security_hub sink")
    };
    AwsSecurityHubSink::with_credentials(settings, Some(static_credentials()))
}

fn hub_client(endpoint: &str) -> aws_sdk_securityhub::Client {
    let config = aws_sdk_securityhub::Config::builder()
        .behavior_version_latest()
        .region(Region::new("eu-west-1"))
        .endpoint_url(endpoint)
        .credentials_provider(static_credentials())
        .build();
    aws_sdk_securityhub::Client::from_conf(config)
}

/// Every finding, read with `GetFindings` over moto's REST API by hand: the SDK's
/// deserializer of ASFF resource details needs more stack than a test thread has in a debug
/// build (the sink never reads a finding back).
async fn findings(endpoint: &str) -> Vec<Value> {
    let page: Value = reqwest::Client::new()
        .post(format!("{endpoint}/findings"))
        // moto picks the service and region from the credential scope; it checks no signature.
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260301/eu-west-1/securityhub/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["Findings"].as_array().unwrap().clone()
}

fn open_alert() -> Alert {
    let mut alert = fixtures::alert("sh-open");
    alert.exposure_id = Some("exp-42".to_owned());
    alert
}

#[tokio::test]
async fn an_exposure_is_one_finding_from_open_to_archived() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let s = load(dir.path(), &moto.endpoint, "");
    let hub = hub_client(&moto.endpoint);
    let securityhub = sink(&s);

    // Not enabled yet: the healthcheck says what to do.
    let error = securityhub.healthcheck().await.unwrap_err().to_string();
    assert!(
        error.contains("securityhub:DescribeHub") && error.contains("enable Security Hub"),
        "{error}"
    );
    hub.enable_security_hub().send().await.unwrap();
    securityhub.healthcheck().await.unwrap();

    let open = open_alert();
    securityhub.deliver(&open).await.unwrap();
    let got = findings(&moto.endpoint).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let f = &got[0];
    assert_eq!(f["Id"], "nodeport-watch/exposure/exp-42");
    assert_eq!(
        f["ProductArn"],
        format!("arn:aws:securityhub:eu-west-1:{MOTO_ACCOUNT}:product/{MOTO_ACCOUNT}/default")
    );
    // From sts:GetCallerIdentity: no `aws_account_id` and no role are configured.
    assert_eq!(f["AwsAccountId"], MOTO_ACCOUNT);
    assert_eq!(f["SchemaVersion"], "2018-10-08");
    assert_eq!(f["GeneratorId"], "nodeport-watch/nodeport");
    assert_eq!(f["ProductName"], "nodeport-watch");
    assert_eq!(f["Title"], open.title.as_str());
    assert_eq!(f["Severity"]["Label"], "HIGH");
    assert_eq!(f["FindingProviderFields"]["Severity"]["Label"], "HIGH");
    assert_eq!(
        f["Types"],
        json!([
            "Software and Configuration Checks/AWS Security Best Practices/Network Reachability",
            "TTPs/Initial Access/T1190"
        ])
    );
    assert_eq!(f["CreatedAt"], "2026-03-01T12:00:00.000Z");
    assert_eq!(f["RecordState"], "ACTIVE");
    assert_eq!(f["Workflow"]["Status"], "NEW");
    assert!(
        f["Description"]
            .as_str()
            .is_some_and(|d| d.contains("alice@example.com") && d.contains("203.0.113.7")),
        "{f}"
    );
    let resources = f["Resources"].as_array().unwrap();
    assert_eq!(resources[0]["Type"], "Other");
    assert_eq!(resources[0]["Id"], "prod-eu/shop/web");
    assert_eq!(resources[0]["Details"]["Other"]["namespace"], "shop");
    assert_eq!(resources[1]["Type"], "AwsEksCluster");
    assert_eq!(
        resources[1]["Id"],
        "arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu"
    );
    assert_eq!(
        f["ProductFields"]["nodeport-watch/user"],
        "alice@example.com"
    );
    assert_eq!(f["ProductFields"]["nodeport-watch/alert_id"], "sh-open");
    let first_update = f["UpdatedAt"].as_str().unwrap().to_owned();

    // A re-send (after a crash, a reminder) updates the same finding.
    securityhub.deliver(&open).await.unwrap();
    assert_eq!(findings(&moto.endpoint).await.len(), 1);

    let mut close = open.clone();
    close.id = "sh-closed".to_owned();
    close.status = AlertStatus::Closed;
    close.title = "Exposure closed: Service shop/web no longer exposed (nodeport)".to_owned();
    close.event_time = Some(chrono::Utc::now());
    securityhub.deliver(&close).await.unwrap();
    let got = findings(&moto.endpoint).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let f = &got[0];
    assert_eq!(f["Id"], "nodeport-watch/exposure/exp-42");
    assert_eq!(f["RecordState"], "ARCHIVED");
    assert_eq!(f["Workflow"]["Status"], "RESOLVED");
    assert!(f["UpdatedAt"].as_str().unwrap() >= first_update.as_str());
    assert_eq!(f["ProductFields"]["nodeport-watch/status"], "closed");
    assert_eq!(f["Title"], close.title.as_str());

    // An alert about no exposure (a denied attempt) is a finding of its own.
    let mut denied = fixtures::alert("sh-denied");
    denied.rule = RuleId::DeniedAttempts;
    securityhub.deliver(&denied).await.unwrap();
    let ids: Vec<Value> = findings(&moto.endpoint)
        .await
        .iter()
        .map(|f| f["Id"].clone())
        .collect();
    assert_eq!(
        ids,
        [
            "nodeport-watch/exposure/exp-42",
            "nodeport-watch/alert/sh-denied"
        ]
    );
}

#[tokio::test]
async fn a_refused_finding_is_dead_lettered_and_a_throttled_one_retried() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = load(
        dir.path(),
        &rx.url(""),
        "aws_account_id = \"210987654321\"\n",
    );
    let securityhub = sink(&s);
    let answer = |code: &str| {
        json!({
            "FailedCount": 1,
            "SuccessCount": 0,
            "FailedFindings": [{
                "Id": "nodeport-watch/exposure/exp-42",
                "ErrorCode": code,
                "ErrorMessage": "said by the fake",
            }],
        })
        .to_string()
    };
    let refused = answer("InvalidInput");
    rx.script(move |_| Reply::Json(200, refused.clone()));
    match securityhub.deliver(&open_alert()).await {
        Err(DeliveryError::Rejected { message }) => {
            assert!(
                message.contains("InvalidInput") && message.contains("said by the fake"),
                "{message}"
            );
        }
        other => panic!("a refused finding must be dead-lettered, got {other:?}"),
    }
    let throttled = answer("ThrottlingException");
    rx.script(move |_| Reply::Json(200, throttled.clone()));
    assert!(matches!(
        securityhub.deliver(&open_alert()).await,
        Err(DeliveryError::Retriable { .. })
    ));
    rx.script(|_| {
        Reply::Json(
            200,
            r#"{"FailedCount":0,"SuccessCount":1,"FailedFindings":[]}"#.into(),
        )
    });
    securityhub.deliver(&open_alert()).await.unwrap();

    // One finding per call, to the import path, naming the configured account (no STS call).
    let requests = rx.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    for request in &requests {
        assert_eq!(request.path, "/findings/import");
        let body = request.json();
        let findings = body["Findings"].as_array().unwrap();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0]["AwsAccountId"], "210987654321");
        assert_eq!(
            findings[0]["ProductArn"],
            "arn:aws:securityhub:eu-west-1:210987654321:product/210987654321/default"
        );
    }
}

#[test]
fn configuration_problems_name_their_keys() {
    assert_problems(
        r#"
[[sinks]]
type = "aws_security_hub"
name = "hub"
region = " "
endpoint = "http://securityhub.eu-west-1.example.com"
aws_account_id = "12345"
external_id = "never-written-secret"
"#,
        &[
            "sinks[0].region",
            "sinks[0].endpoint",
            "sinks[0].aws_account_id",
            "sinks[0].role_arn",
        ],
        "never-written-secret",
    );
    assert_problems(
        r#"
[[sinks]]
type = "aws_security_hub"
name = "hub"
region = "eu-west-1"
role_arn = "arn:aws:iam::123:role/x"
external_id = "never-written-secret"
"#,
        &["sinks[0].role_arn", "is not an IAM role ARN"],
        "never-written-secret",
    );
    assert_problems(
        r#"
[[sinks]]
type = "aws_security_hub"
name = "hub"
"#,
        &["sinks[0]", "region"],
        "never-written-secret",
    );
}

#[test]
fn the_role_gives_the_account_and_its_external_id_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("external-id"), "from-a-file\n").unwrap();
    let s = load(
        dir.path(),
        "http://127.0.0.1:1",
        "role_arn = \"arn:aws:iam::210987654321:role/import-findings\"\n\
         external_id = { file = \"external-id\" }\n",
    );
    let SinkKind::AwsSecurityHub(settings) = &s.sinks[0].kind else {
        panic!("not an aws_security_hub sink")
    };
    assert_eq!(settings.account.as_deref(), Some("210987654321"));
    let role = settings.access.role.as_ref().unwrap();
    assert_eq!(role.external_id.as_deref(), Some("from-a-file"));
    assert!(!format!("{settings:?}").contains("from-a-file"));
    assert!(!format!("{:?}", sink(&s)).contains("from-a-file"));
}

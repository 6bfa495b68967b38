//! The `aws_eventbridge` sink against moto (EventBridge `PutEvents`, rules and targets; moto
//! 5.2.5 also serves `CreateEventBus`, `PutRule`, `PutTargets`): an alert put on a custom bus
//! reaches a rule's CloudWatch Logs target with the documented source, detail-type, time and
//! detail; a missing bus is retried (the alert waits), not dead-lettered; configuration
//! problems (plain http off loopback, role keys, bus names) name their keys; the external ID's
//! secret forms.

use std::time::Duration;

use aws_sdk_eventbridge::config::Region;
use nodeport_watch::config::{Settings, SinkKind};
use nodeport_watch::sinks::aws_eventbridge::AwsEventBridgeSink;
use nodeport_watch::sinks::{DeliveryError, Sink};
use serde_json::{Value, json};

use crate::sinks::{assert_problems, settings};
use crate::support::cloudwatch::{seeding_client, static_credentials};
use crate::support::fixtures;
use crate::support::moto::Moto;
use crate::support::wait::eventually;

const WAIT: Duration = Duration::from_secs(20);
const BUS: &str = "security";
const GROUP: &str = "/nodeport-watch/events";

fn load(dir: &std::path::Path, endpoint: &str, bus: &str) -> Settings {
    settings(
        dir,
        &format!(
            "[[sinks]]\ntype = \"aws_eventbridge\"\nname = \"bus\"\nregion = \"us-east-1\"\n\
             endpoint = \"{endpoint}\"\nevent_bus = \"{bus}\"\n"
        ),
    )
}

fn sink(s: &Settings) -> AwsEventBridgeSink {
    let SinkKind::AwsEventBridge(settings) = &s.sinks[0].kind else {
        panic!("not an aws_eventbridge sink")
    };
    AwsEventBridgeSink::with_credentials(settings, Some(static_credentials()))
}

fn events_client(endpoint: &str) -> aws_sdk_eventbridge::Client {
    let config = aws_sdk_eventbridge::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(static_credentials())
        .build();
    aws_sdk_eventbridge::Client::from_conf(config)
}

/// A bus whose only rule sends every nodeport-watch event to the log group `GROUP`.
async fn bus_to_log_group(endpoint: &str) {
    let logs = seeding_client(endpoint);
    logs.create_log_group()
        .log_group_name(GROUP)
        .send()
        .await
        .unwrap();
    let events = events_client(endpoint);
    events.create_event_bus().name(BUS).send().await.unwrap();
    events
        .put_rule()
        .name("exposures")
        .event_bus_name(BUS)
        .event_pattern(r#"{"source": ["nodeport-watch"]}"#)
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("logs")
        .arn(format!(
            "arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}"
        ))
        .build()
        .unwrap();
    events
        .put_targets()
        .rule("exposures")
        .event_bus_name(BUS)
        .targets(target)
        .send()
        .await
        .unwrap();
}

/// The events the rule delivered to `GROUP`, once there are `n`. Read over moto's JSON API
/// by hand: moto stamps these log events with fractional milliseconds, which the SDK's
/// integer `timestamp` refuses.
async fn routed_events(endpoint: &str, n: usize) -> Vec<Value> {
    let http = reqwest::Client::new();
    eventually(
        "the rule's target to receive the events",
        WAIT,
        async || {
            let page: Value = http
                .post(endpoint)
                .header("X-Amz-Target", "Logs_20140328.FilterLogEvents")
                // moto picks the service and region from the credential scope; it checks no signature.
                .header(
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=test/20260301/us-east-1/logs/aws4_request, \
                 SignedHeaders=host, Signature=0",
                )
                .header("Content-Type", "application/x-amz-json-1.1")
                .body(json!({ "logGroupName": GROUP }).to_string())
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let events: Vec<Value> = page["events"]
                .as_array()?
                .iter()
                .filter_map(|e| serde_json::from_str(e["message"].as_str()?).ok())
                .collect();
            (events.len() >= n).then_some(events)
        },
    )
    .await
}

#[tokio::test]
async fn an_alert_reaches_a_rule_target_with_the_documented_fields() {
    let moto = Moto::start();
    bus_to_log_group(&moto.endpoint).await;
    let dir = tempfile::tempdir().unwrap();
    let s = load(dir.path(), &moto.endpoint, BUS);
    let eventbridge = sink(&s);
    let alert = fixtures::alert("eb-1");
    eventbridge.deliver(&alert).await.unwrap();

    let events = routed_events(&moto.endpoint, 1).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["source"], "nodeport-watch");
    assert_eq!(event["detail-type"], "Service exposure");
    assert_eq!(event["detail"], serde_json::to_value(&alert).unwrap());
    // moto writes the event's `Time` to the log target at second precision.
    let time = alert.event_time.unwrap_or(alert.detected_at);
    assert_eq!(
        event["time"],
        time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "{event}"
    );
    eventbridge.healthcheck().await.unwrap();
}

#[tokio::test]
async fn a_missing_bus_is_retried_not_dead_lettered() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let s = load(dir.path(), &moto.endpoint, "no-such-bus");
    match sink(&s).deliver(&fixtures::alert("eb-2")).await {
        Err(DeliveryError::Retriable { message, .. }) => {
            assert!(message.contains("events:PutEvents"), "{message}");
        }
        other => panic!("a missing bus must be retried, got {other:?}"),
    }
}

#[test]
fn configuration_problems_name_their_keys() {
    assert_problems(
        r#"
[[sinks]]
type = "aws_eventbridge"
name = "bus"
region = " "
endpoint = "http://events.eu-west-1.example.com"
event_bus = "bad bus"
detail_type = ""
external_id = "never-written-secret"
"#,
        &[
            "sinks[0].region",
            "sinks[0].endpoint",
            "sinks[0].event_bus",
            "sinks[0].detail_type",
            "sinks[0].role_arn",
        ],
        "never-written-secret",
    );
    assert_problems(
        r#"
[[sinks]]
type = "aws_eventbridge"
name = "bus"
region = "eu-west-1"
role_arn = "arn:aws:iam::123:role/x"
"#,
        &["sinks[0].role_arn"],
        "never-written-secret",
    );
}

#[test]
fn the_external_id_comes_inline_or_from_a_file_and_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("external-id"), "from-a-file\n").unwrap();
    let role = "arn:aws:iam::123456789012:role/put-events";
    for (form, expected) in [
        ("\"inline-id\"", "inline-id"),
        ("{ file = \"external-id\" }", "from-a-file"),
    ] {
        let s = settings(
            dir.path(),
            &format!(
                "[[sinks]]\ntype = \"aws_eventbridge\"\nname = \"bus\"\nregion = \"eu-west-1\"\n\
                 endpoint = \"http://127.0.0.1:1\"\nrole_arn = \"{role}\"\nexternal_id = {form}\n"
            ),
        );
        let SinkKind::AwsEventBridge(settings) = &s.sinks[0].kind else {
            panic!("not an aws_eventbridge sink")
        };
        let assumed = settings.access.role.as_ref().unwrap();
        assert_eq!(assumed.external_id.as_deref(), Some(expected));
        assert_eq!(assumed.account, "123456789012");
        assert!(!format!("{settings:?}").contains(expected));
        assert_eq!(settings.event_bus, "default");
        assert_eq!(settings.detail_type, "Service exposure");
    }
}

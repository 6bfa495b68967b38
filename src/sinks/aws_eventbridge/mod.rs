//! `aws_eventbridge`: each alert put on an EventBridge event bus with `PutEvents`, where rules
//! route it on (SNS, SQS, Lambda, Step Functions, another account's bus).
//!
//! One entry per alert: `Source = "nodeport-watch"`, `DetailType` from `detail_type` (default
//! `Service exposure`), `Detail` = the alert JSON (its `status` tells an open exposure from a
//! resolved one), `Time` = the event's time, `EventBusName` from `event_bus`. An entry may be at
//! most 256 KiB: a larger alert is sent without its `raw` event, and one still too large is
//! dead-lettered. PutEvents answers 200 even when it refused the entry: a `FailedEntryCount`
//! above 0 is a failure, retried for `ThrottlingException` and `InternalException`,
//! dead-lettered for any other entry error. A failed call (network, throttling, credentials,
//! permissions, a missing bus) is retried: the alert waits in the outbox until an operator fixes
//! it. The SDK client is built on first use because loading aws-config is asynchronous.

pub mod config;

pub use config::{AwsEventBridgeSettings, RawAwsEventBridgeSink};

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, PutEventsResultEntry};
use serde_json::Value;
use tokio::sync::OnceCell;

use super::{DeliveryError, Sink};
use crate::model::Alert;
use crate::sources::aws_cloudwatch::errors::{ApiError, Failure};

pub const SOURCE: &str = "nodeport-watch";
/// PutEvents: the most one entry may weigh (`Time`, `Source`, `DetailType`, `Detail`).
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;
/// What a `Time` counts towards an entry's size.
const TIME_BYTES: usize = 14;
/// Entry error codes that go away by themselves.
const RETRIED_ENTRY_ERRORS: &[&str] = &[
    "ThrottlingException",
    "InternalException",
    "InternalFailure",
];

pub struct AwsEventBridgeSink {
    settings: AwsEventBridgeSettings,
    /// Replaces the default credential chain (tests give static keys to an emulator).
    credentials: Option<SharedCredentialsProvider>,
    client: OnceCell<(Client, aws_config::SdkConfig)>,
    endpoint: String,
}

impl std::fmt::Debug for AwsEventBridgeSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsEventBridgeSink")
            .field("settings", &self.settings)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl AwsEventBridgeSink {
    pub fn new(settings: &AwsEventBridgeSettings) -> Self {
        Self::with_credentials(settings, None)
    }

    /// With given credentials instead of the default chain.
    pub fn with_credentials(
        settings: &AwsEventBridgeSettings,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Self {
        AwsEventBridgeSink {
            endpoint: crate::aws::endpoint(&settings.access, "events"),
            settings: settings.clone(),
            credentials,
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> &(Client, aws_config::SdkConfig) {
        self.client
            .get_or_init(|| async {
                let config =
                    crate::aws::sdk_config(&self.settings.access, self.credentials.clone()).await;
                (Client::new(&config), config)
            })
            .await
    }

    /// The entry for `alert`, or why it cannot be sent.
    fn entry(&self, alert: &Alert) -> Result<PutEventsRequestEntry, DeliveryError> {
        let detail = detail(alert, self.fixed_bytes())?;
        let time = alert.event_time.unwrap_or(alert.detected_at);
        Ok(PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(&self.settings.detail_type)
            .detail(detail)
            .event_bus_name(&self.settings.event_bus)
            .time(DateTime::from_millis(time.timestamp_millis()))
            .build())
    }

    /// What an entry weighs besides its `Detail`.
    fn fixed_bytes(&self) -> usize {
        TIME_BYTES + SOURCE.len() + self.settings.detail_type.len()
    }
}

/// The alert JSON, without `raw` when the entry would be too large with it.
fn detail(alert: &Alert, fixed: usize) -> Result<String, DeliveryError> {
    let fits = |text: &String| fixed + text.len() <= MAX_ENTRY_BYTES;
    let mut value = serde_json::to_value(alert)
        .map_err(|e| DeliveryError::rejected(format!("the alert cannot be encoded: {e}")))?;
    let encode = |v: &Value| {
        serde_json::to_string(v)
            .map_err(|e| DeliveryError::rejected(format!("the alert cannot be encoded: {e}")))
    };
    let text = encode(&value)?;
    if fits(&text) {
        return Ok(text);
    }
    if let Some(object) = value.as_object_mut() {
        object.remove("raw");
    }
    let text = encode(&value)?;
    if fits(&text) {
        return Ok(text);
    }
    Err(DeliveryError::rejected(format!(
        "the alert weighs {} bytes without its raw event, over EventBridge's {MAX_ENTRY_BYTES} \
         per entry",
        fixed + text.len()
    )))
}

/// The verdict on a PutEvents entry the service refused.
fn entry_failure(entry: Option<&PutEventsResultEntry>) -> DeliveryError {
    let code = entry.and_then(PutEventsResultEntry::error_code);
    let message = entry
        .and_then(PutEventsResultEntry::error_message)
        .unwrap_or_default();
    let said = format!(
        "EventBridge refused the event ({}{}{})",
        code.unwrap_or("no error code"),
        if message.is_empty() { "" } else { ": " },
        message
    );
    match code {
        Some(code) if RETRIED_ENTRY_ERRORS.contains(&code) => DeliveryError::retriable(said),
        _ => DeliveryError::rejected(said),
    }
}

#[async_trait]
impl Sink for AwsEventBridgeSink {
    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let entry = self.entry(alert)?;
        let (client, _) = self.client().await;
        let response = client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| {
                let error = ApiError::from_sdk("events:PutEvents", &self.endpoint, e);
                match error.failure {
                    // Our request was refused as malformed: sending it again cannot help.
                    Failure::InvalidParameter => DeliveryError::rejected(error.message),
                    // Throttling, outages, credentials, permissions, a missing bus: the alert
                    // waits in the outbox until the cause goes away or an operator fixes it.
                    _ => DeliveryError::retriable(error.message),
                }
            })?;
        if response.failed_entry_count() > 0 {
            return Err(entry_failure(response.entries().first()));
        }
        Ok(())
    }

    /// Loads the credentials (assuming the role, if any) without putting an event.
    async fn healthcheck(&self) -> Result<(), DeliveryError> {
        let (_, config) = self.client().await;
        let Some(provider) = config.credentials_provider() else {
            return Err(DeliveryError::rejected(
                "no AWS credential provider is configured",
            ));
        };
        provider
            .provide_credentials()
            .await
            .map(|_| ())
            .map_err(|e| {
                DeliveryError::retriable(format!(
                    "AWS credentials could not be loaded ({e}): check the profile, `role_arn` and \
                 the credential source"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sinks::test_alert::alert;

    #[test]
    fn detail_keeps_raw_when_it_fits() {
        let text = detail(&alert(1000), 40).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["raw"], json!("x".repeat(1000)));
        assert_eq!(value["id"], "a");
    }

    #[test]
    fn detail_drops_raw_then_dead_letters() {
        let text = detail(&alert(MAX_ENTRY_BYTES), 40).unwrap();
        assert!(text.len() + 40 <= MAX_ENTRY_BYTES);
        let value: Value = serde_json::from_str(&text).unwrap();
        assert!(value.get("raw").is_none());
        assert_eq!(value["id"], "a");

        let mut huge = alert(0);
        huge.title = "t".repeat(MAX_ENTRY_BYTES);
        assert!(matches!(
            detail(&huge, 40),
            Err(DeliveryError::Rejected { .. })
        ));
    }

    #[test]
    fn entry_errors_retried_only_when_transient() {
        let failed = |code: &str| {
            PutEventsResultEntry::builder()
                .error_code(code)
                .error_message("m")
                .build()
        };
        for code in ["ThrottlingException", "InternalException"] {
            assert!(matches!(
                entry_failure(Some(&failed(code))),
                DeliveryError::Retriable { .. }
            ));
        }
        for code in [
            "MalformedDetail",
            "InvalidArgument",
            "AccessDeniedException",
        ] {
            let error = entry_failure(Some(&failed(code)));
            assert!(matches!(error, DeliveryError::Rejected { .. }), "{code}");
            assert!(error.to_string().contains(code));
        }
        assert!(matches!(
            entry_failure(None),
            DeliveryError::Rejected { .. }
        ));
    }
}

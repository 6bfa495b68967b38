//! `aws_security_hub`: each alert imported into AWS Security Hub as an ASFF finding with
//! `BatchImportFindings`, one finding per exposure, archived when the exposure closes
//! (mapping: [`asff`]).
//!
//! One finding per call: the deliverer hands over one alert at a time, and a call's answer
//! then speaks for that alert alone. Every field is cut to its ASFF limit, so a finding stays
//! far below the 240 KB a finding may weigh.
//!
//! Security Hub only takes a finding from the account it names, so the sink needs its own
//! account: `aws_account_id`, else the role's (from `role_arn`), else the caller's, asked once
//! of STS (`GetCallerIdentity` needs no permission) and kept for the sink's life.
//!
//! `BatchImportFindings` answers 200 even when it refused the finding: a `FailedFindings`
//! entry is a failure, retried when its code is throttling or an internal error, and also
//! when it is `InvalidAccess` (Security Hub not enabled in the account and region, or the
//! import not allowed: an operator fixes that, and the alert must wait for it in the outbox);
//! any other code means the finding itself was refused and it is dead-lettered. A failed call
//! (network, throttling, credentials, permissions) is retried; a call refused as malformed
//! (`InvalidInputException`) is dead-lettered. The SDK clients are built on first use because
//! loading aws-config is asynchronous.

pub mod asff;
pub mod config;
mod fields;
mod product_fields;

pub use config::{AwsSecurityHubSettings, RawAwsSecurityHubSink};

use async_trait::async_trait;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_securityhub::Client;
use aws_sdk_securityhub::types::ImportFindingsError;
use tokio::sync::OnceCell;

use super::{DeliveryError, Sink};
use crate::model::Alert;
use crate::sources::aws_cloudwatch::errors::{ApiError, Failure, classify};

/// `FailedFindings` codes that an operator fixes without touching the finding: Security Hub
/// not enabled, the product integration not enabled, the import not allowed.
const RETRIED_ACCESS_CODES: &[&str] = &[
    "InvalidAccess",
    "InvalidAccessException",
    "AccessDenied",
    "AccessDeniedException",
];
/// `FailedFindings` codes that go away by themselves (besides the shared throttling and
/// transient lists).
const RETRIED_INTERNAL_CODES: &[&str] = &["InternalException", "InternalError", "LimitExceeded"];

struct Clients {
    hub: Client,
    sts: aws_sdk_sts::Client,
}

pub struct AwsSecurityHubSink {
    settings: AwsSecurityHubSettings,
    /// Replaces the default credential chain (tests give static keys to an emulator).
    credentials: Option<SharedCredentialsProvider>,
    clients: OnceCell<Clients>,
    /// The account the findings are imported in, once known.
    account: OnceCell<String>,
    endpoint: String,
    sts_endpoint: String,
}

impl std::fmt::Debug for AwsSecurityHubSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSecurityHubSink")
            .field("settings", &self.settings)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl AwsSecurityHubSink {
    pub fn new(settings: &AwsSecurityHubSettings) -> Self {
        Self::with_credentials(settings, None)
    }

    /// With given credentials instead of the default chain.
    pub fn with_credentials(
        settings: &AwsSecurityHubSettings,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Self {
        AwsSecurityHubSink {
            endpoint: crate::aws::endpoint(&settings.access, "securityhub"),
            sts_endpoint: crate::aws::endpoint(&settings.access, "sts"),
            settings: settings.clone(),
            credentials,
            clients: OnceCell::new(),
            account: OnceCell::new(),
        }
    }

    async fn clients(&self) -> &Clients {
        self.clients
            .get_or_init(|| async {
                let config =
                    crate::aws::sdk_config(&self.settings.access, self.credentials.clone()).await;
                Clients {
                    hub: Client::new(&config),
                    sts: aws_sdk_sts::Client::new(&config),
                }
            })
            .await
    }

    /// The account the findings name; a failed STS call is not kept, the next delivery asks
    /// again.
    async fn account(&self) -> Result<&str, DeliveryError> {
        self.account
            .get_or_try_init(|| async {
                if let Some(account) = &self.settings.account {
                    return Ok(account.clone());
                }
                let identity = self
                    .clients()
                    .await
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| {
                        let error =
                            ApiError::from_sdk("sts:GetCallerIdentity", &self.sts_endpoint, e);
                        DeliveryError::retriable(error.message)
                    })?;
                identity.account().map(str::to_owned).ok_or_else(|| {
                    DeliveryError::retriable("sts:GetCallerIdentity answered without an account")
                })
            })
            .await
            .map(String::as_str)
    }

    fn target<'a>(&'a self, account: &'a str) -> asff::Target<'a> {
        asff::Target {
            account,
            region: &self.settings.access.region,
        }
    }
}

/// The verdict on a finding Security Hub refused.
fn finding_failure(failed: Option<&ImportFindingsError>) -> DeliveryError {
    let code = failed.and_then(ImportFindingsError::error_code);
    let message = failed
        .and_then(ImportFindingsError::error_message)
        .unwrap_or_default();
    let said = format!(
        "Security Hub refused the finding ({}{}{})",
        code.unwrap_or("no error code"),
        if message.is_empty() { "" } else { ": " },
        message
    );
    match code {
        Some(code) if RETRIED_ACCESS_CODES.contains(&code) => DeliveryError::retriable(format!(
            "{said}; enable Security Hub in this account and region and allow \
             `securityhub:BatchImportFindings` to the identity (or its `role_arn`)"
        )),
        Some(code)
            if RETRIED_INTERNAL_CODES.contains(&code)
                || matches!(
                    classify(Some(code), 400),
                    Failure::Throttled | Failure::Transient
                ) =>
        {
            DeliveryError::retriable(said)
        }
        _ => DeliveryError::rejected(said),
    }
}

/// The verdict on a failed call.
fn call_failure(error: ApiError, code: Option<&str>) -> DeliveryError {
    match (error.failure, code) {
        // Our request was refused as malformed: sending it again cannot help.
        (Failure::InvalidParameter, _) | (_, Some("InvalidInputException")) => {
            DeliveryError::rejected(error.message)
        }
        // Throttling, outages, credentials, permissions, Security Hub not enabled: the alert
        // waits in the outbox until the cause goes away or an operator fixes it.
        _ => DeliveryError::retriable(error.message),
    }
}

#[async_trait]
impl Sink for AwsSecurityHubSink {
    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let account = self.account().await?;
        let finding = asff::finding(alert, &self.target(account), chrono::Utc::now());
        let response = self
            .clients()
            .await
            .hub
            .batch_import_findings()
            .findings(finding)
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_securityhub::error::ProvideErrorMetadata;
                let code = e.code().map(str::to_owned);
                let error =
                    ApiError::from_sdk("securityhub:BatchImportFindings", &self.endpoint, e);
                call_failure(error, code.as_deref())
            })?;
        let failed = response.failed_findings();
        if response.failed_count().unwrap_or_default() > 0 || !failed.is_empty() {
            return Err(finding_failure(failed.first()));
        }
        Ok(())
    }

    /// Finds the account and asks for the hub (`DescribeHub`): proves the credentials (and
    /// the role) work and that Security Hub is enabled in the region, without importing.
    async fn healthcheck(&self) -> Result<(), DeliveryError> {
        self.account().await?;
        self.clients()
            .await
            .hub
            .describe_hub()
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let error = ApiError::from_sdk("securityhub:DescribeHub", &self.endpoint, e);
                DeliveryError::retriable(error.message)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(code: &str) -> ImportFindingsError {
        ImportFindingsError::builder()
            .id("nodeport-watch/exposure/e")
            .error_code(code)
            .error_message("m")
            .build()
    }

    #[test]
    fn refused_findings_are_retried_only_when_the_cause_is_not_the_finding() {
        for code in [
            "ThrottlingException",
            "TooManyRequestsException",
            "LimitExceededException",
            "InternalException",
            "InternalFailure",
            "ServiceUnavailableException",
            "InvalidAccess",
            "InvalidAccessException",
            "AccessDeniedException",
        ] {
            assert!(
                matches!(
                    finding_failure(Some(&failed(code))),
                    DeliveryError::Retriable { .. }
                ),
                "{code}"
            );
        }
        for code in ["InvalidInput", "InvalidInputException", "FindingTooLarge"] {
            let error = finding_failure(Some(&failed(code)));
            assert!(matches!(error, DeliveryError::Rejected { .. }), "{code}");
            assert!(error.to_string().contains(code), "{error}");
        }
        assert!(matches!(
            finding_failure(None),
            DeliveryError::Rejected { .. }
        ));
        let access = finding_failure(Some(&failed("InvalidAccess"))).to_string();
        assert!(access.contains("enable Security Hub"), "{access}");
    }

    #[test]
    fn a_malformed_call_is_dead_lettered_and_the_rest_retried() {
        let error = |failure| ApiError::new(failure, "said");
        assert!(matches!(
            call_failure(error(Failure::Fatal), Some("InvalidInputException")),
            DeliveryError::Rejected { .. }
        ));
        assert!(matches!(
            call_failure(error(Failure::InvalidParameter), None),
            DeliveryError::Rejected { .. }
        ));
        for (failure, code) in [
            (Failure::Throttled, Some("ThrottlingException")),
            (Failure::Transient, None),
            (Failure::Fatal, Some("InvalidAccessException")),
            (Failure::Fatal, Some("AccessDeniedException")),
            (Failure::NotFound, Some("ResourceNotFoundException")),
        ] {
            assert!(matches!(
                call_failure(error(failure), code),
                DeliveryError::Retriable { .. }
            ));
        }
    }
}

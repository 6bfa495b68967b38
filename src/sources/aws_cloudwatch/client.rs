//! AWS clients of one source: credentials, region, endpoint, timeouts, and the account they act in.
//!
//! How they are configured (credentials, assume-role, retries off) is [`crate::aws`]'s job.

use aws_sdk_cloudwatchlogs::config::SharedCredentialsProvider;

use super::config::AwsCloudWatchSettings;
use super::errors::{ApiError, Failure};

#[derive(Clone, Debug)]
pub struct Clients {
    pub logs: aws_sdk_cloudwatchlogs::Client,
    sts: aws_sdk_sts::Client,
    /// Where requests go, for error messages (the SDK's errors do not say).
    pub logs_endpoint: String,
    sts_endpoint: String,
}

/// The endpoint of `service` (`logs`, `sts`): the configured one, else the regional default.
pub fn endpoint(settings: &AwsCloudWatchSettings, service: &str) -> String {
    crate::aws::endpoint(&settings.access(), service)
}

/// Builds the clients; no network call is made until the first request.
///
/// `credentials` replaces the default chain (tests give static keys to an emulator).
pub async fn connect(
    settings: &AwsCloudWatchSettings,
    credentials: Option<SharedCredentialsProvider>,
) -> Clients {
    let config = crate::aws::sdk_config(&settings.access(), credentials).await;
    Clients {
        logs: aws_sdk_cloudwatchlogs::Client::new(&config),
        sts: aws_sdk_sts::Client::new(&config),
        logs_endpoint: endpoint(settings, "logs"),
        sts_endpoint: endpoint(settings, "sts"),
    }
}

impl Clients {
    /// The account the source reads in: the assumed role's (from its ARN, no call needed), else
    /// the caller's (`sts:GetCallerIdentity`, which every identity may call).
    pub async fn account(&self, settings: &AwsCloudWatchSettings) -> Result<String, ApiError> {
        if let Some(role) = &settings.role {
            return Ok(role.account.clone());
        }
        let identity = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("sts:GetCallerIdentity", &self.sts_endpoint, e))?;
        identity.account().map(str::to_owned).ok_or_else(|| {
            ApiError::new(
                Failure::Transient,
                "sts:GetCallerIdentity answered without an account",
            )
        })
    }
}

//! AWS clients of one source: credentials, region, endpoint, timeouts, and the account they act in.
//!
//! Credentials come from aws-config's default chain, in its order: environment variables, the
//! shared config and credentials files (the `profile` option picks one: SSO, `credential_process`,
//! `source_profile`/`role_arn` chains), web identity (IRSA), ECS/EKS Pod Identity container
//! credentials, then EC2 instance metadata. With `role_arn` that chain only signs the
//! `sts:AssumeRole` call, and the source reads with the assumed role's temporary credentials,
//! refreshed before they expire; so one daemon can watch many accounts.
//!
//! The SDK's retries are turned off: a throttled or failed call must reach the poller, which
//! counts it and leaves the checkpoint where it is; the driver retries with backoff and jitter.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudwatchlogs::config::SharedCredentialsProvider;

use super::config::AwsCloudWatchSettings;
use super::errors::{ApiError, Failure};

/// A slow page must not hold a batch (and a clean shutdown) forever.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
    settings
        .endpoint
        .clone()
        .unwrap_or_else(|| format!("https://{service}.{}.amazonaws.com", settings.region))
}

/// Builds the clients; no network call is made until the first request.
///
/// `credentials` replaces the default chain (tests give static keys to an emulator).
pub async fn connect(
    settings: &AwsCloudWatchSettings,
    credentials: Option<SharedCredentialsProvider>,
) -> Clients {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        );
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &settings.endpoint {
        // Applies to STS as well, so an emulator serves both.
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(credentials) = credentials {
        loader = loader.credentials_provider(credentials);
    }
    let base = loader.load().await;
    let config = match &settings.role {
        Some(role) => assume(&base, role).await,
        None => base,
    };
    Clients {
        logs: aws_sdk_cloudwatchlogs::Client::new(&config),
        sts: aws_sdk_sts::Client::new(&config),
        logs_endpoint: endpoint(settings, "logs"),
        sts_endpoint: endpoint(settings, "sts"),
    }
}

async fn assume(base: &SdkConfig, role: &super::config::AssumeRole) -> SdkConfig {
    let mut builder = AssumeRoleProvider::builder(role.arn.clone())
        .session_name(role.session_name.clone())
        .configure(base);
    if let Some(external_id) = &role.external_id {
        builder = builder.external_id(external_id.clone());
    }
    let provider = builder.build().await;
    base.clone()
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
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

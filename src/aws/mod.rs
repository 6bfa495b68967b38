//! What every AWS client of this tool shares: the credential chain, region, endpoint and
//! assume-role options, and the SDK configuration built from them. The CloudWatch source and
//! the AWS sinks take the same keys and must mean the same by them, so both build their SDK
//! configuration here.
//!
//! Credentials come from aws-config's default chain, in its order: environment variables, the
//! shared config and credentials files (the `profile` option picks one: SSO, `credential_process`,
//! `source_profile`/`role_arn` chains), web identity (IRSA), ECS/EKS Pod Identity container
//! credentials, then EC2 instance metadata. With `role_arn` that chain only signs the
//! `sts:AssumeRole` call, and the client acts with the assumed role's temporary credentials,
//! refreshed before they expire; so one daemon can work in many accounts.
//!
//! The SDK's retries are turned off: a throttled or failed call must reach our own retry loop
//! (the source's driver, the sink's deliverer), which counts it and backs off with jitter.

pub mod access;

pub use access::{AccessKeys, AssumeRole, AwsAccess, role_account};

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;

/// A slow call must not hold a batch, a delivery (and a clean shutdown) forever.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The SDK configuration `access` describes; no network call is made until the first request.
///
/// `credentials` replaces the default chain (tests give static keys to an emulator).
pub async fn sdk_config(
    access: &AwsAccess,
    credentials: Option<SharedCredentialsProvider>,
) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(access.region.clone()))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        );
    if let Some(profile) = &access.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &access.endpoint {
        // Applies to STS as well, so an emulator serves both.
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(credentials) = credentials {
        loader = loader.credentials_provider(credentials);
    }
    let base = loader.load().await;
    match &access.role {
        Some(role) => assume(&base, role).await,
        None => base,
    }
}

async fn assume(base: &SdkConfig, role: &AssumeRole) -> SdkConfig {
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

/// The endpoint of `service` (`logs`, `sts`, `events`): the configured one, else the regional
/// default; for error messages (the SDK's errors do not say where a request went).
pub fn endpoint(access: &AwsAccess, service: &str) -> String {
    access
        .endpoint
        .clone()
        .unwrap_or_else(|| format!("https://{service}.{}.amazonaws.com", access.region))
}

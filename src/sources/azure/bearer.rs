//! Bearer-token authorization for the azure_core pipeline.
//!
//! azure_core's own `BearerTokenAuthorizationPolicy` refuses every non-https URL, which rules out
//! local fakes and emulators. This policy refuses plain http too, except on loopback, so a token
//! can reach a test server on this machine but never leaves it unencrypted. It caches the token
//! until shortly before it expires and drops it when the service answers 401.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential};
use azure_core::error::{Error, ErrorKind};
use azure_core::http::headers::AUTHORIZATION;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Request, StatusCode};
use azure_core::time::{Duration, OffsetDateTime};
use tokio::sync::Mutex;

use super::may_carry_credentials;

/// Tokens are renewed this long before they expire, so a request never carries a stale one.
const REFRESH_MARGIN: Duration = Duration::minutes(5);

pub struct BearerPolicy {
    credential: Arc<dyn TokenCredential>,
    scope: String,
    cached: Mutex<Option<AccessToken>>,
}

impl std::fmt::Debug for BearerPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerPolicy")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl BearerPolicy {
    pub fn new(credential: Arc<dyn TokenCredential>, scope: &str) -> Self {
        BearerPolicy {
            credential,
            scope: scope.to_owned(),
            cached: Mutex::new(None),
        }
    }

    /// The cached token, renewed shortly before it expires (also used by the Logs Ingestion sink).
    pub async fn token(&self) -> azure_core::Result<AccessToken> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref()
            && token.expires_on - REFRESH_MARGIN > OffsetDateTime::now_utc()
        {
            return Ok(token.clone());
        }
        let token = self.credential.get_token(&[&self.scope], None).await?;
        *cached = Some(token.clone());
        Ok(token)
    }
}

#[async_trait]
impl Policy for BearerPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        if !may_carry_credentials(request.url()) {
            return Err(Error::with_message(
                ErrorKind::Other,
                "refusing to send an access token over plain http to a host other than loopback; \
                 use an https endpoint",
            ));
        }
        let token = self.token().await?;
        request.insert_header(AUTHORIZATION, format!("Bearer {}", token.token.secret()));
        let response = next[0].send(ctx, request, &next[1..]).await?;
        if response.status() == StatusCode::Unauthorized {
            // A revoked or rotated token: the next request fetches a new one.
            *self.cached.lock().await = None;
        }
        Ok(response)
    }
}

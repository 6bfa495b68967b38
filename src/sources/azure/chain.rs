//! The automatic credential order, since azure_identity 1.0 has no `DefaultAzureCredential`.
//!
//! The first credential that yields a token is kept for the life of the process: probing the
//! whole list on every refresh would, on a machine without managed identity, wait for the
//! metadata endpoint each time, and switching identities mid-run would be a surprise.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::{Error, ErrorKind};
use tracing::{debug, info};

use crate::sources::diagnosis::Diagnosis;

/// One candidate of the chain.
#[derive(Debug)]
pub struct Link {
    pub name: &'static str,
    pub credential: Arc<dyn TokenCredential>,
    /// How long the first attempt may take before the next candidate is tried (the managed
    /// identity endpoint does not answer at all off Azure).
    pub probe_timeout: Duration,
}

#[derive(Debug)]
pub struct CredentialChain {
    links: Vec<Link>,
    chosen: Mutex<Option<usize>>,
}

impl CredentialChain {
    pub fn new(links: Vec<Link>) -> Self {
        CredentialChain {
            links,
            chosen: Mutex::new(None),
        }
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.links.iter().map(|l| l.name).collect()
    }

    fn chosen(&self) -> Option<usize> {
        *self.chosen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl TokenCredential for CredentialChain {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        if let Some(link) = self.chosen().and_then(|i| self.links.get(i)) {
            return link.credential.get_token(scopes, options).await;
        }
        let mut failures = Vec::new();
        for (i, link) in self.links.iter().enumerate() {
            let attempt = link.credential.get_token(scopes, options.clone());
            match tokio::time::timeout(link.probe_timeout, attempt).await {
                Ok(Ok(token)) => {
                    info!(credential = link.name, "Azure credential selected");
                    *self.chosen.lock().unwrap_or_else(|p| p.into_inner()) = Some(i);
                    return Ok(token);
                }
                Ok(Err(e)) => {
                    debug!(credential = link.name, error = %e, "Azure credential unavailable");
                    failures.push(format!("{}: {e}", link.name));
                }
                Err(_) => failures.push(format!(
                    "{}: no answer within {:?}",
                    link.name, link.probe_timeout
                )),
            }
        }
        // Each link's own error is logged above at debug; the sentence names what was tried.
        let checked: Vec<&str> = self.links.iter().map(|l| link_word(l.name)).collect();
        debug!(failures = ?failures, "no Azure credential could get a token");
        Err(Error::with_message(
            ErrorKind::Credential,
            Diagnosis::no_credentials(
                "Azure",
                &checked,
                "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, assign a workload \
                 or managed identity, or run `az login`; `credential = \"<kind>\"` shows that \
                 credential's own error",
            )
            .to_string(),
        ))
    }
}

/// A link of the chain in the README's words.
fn link_word(name: &str) -> &str {
    match name {
        "client_secret" => "environment (client secret)",
        "workload_identity" => "workload identity",
        "managed_identity" => "managed identity",
        "azure_cli" => "Azure CLI",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use azure_core::time::{Duration as AzDuration, OffsetDateTime};

    use super::*;

    #[derive(Debug)]
    struct Fake {
        token: Option<&'static str>,
        calls: AtomicUsize,
        hang: bool,
    }

    impl Fake {
        fn new(token: Option<&'static str>, hang: bool) -> Arc<Self> {
            Arc::new(Fake {
                token,
                calls: AtomicUsize::new(0),
                hang,
            })
        }
    }

    #[async_trait]
    impl TokenCredential for Fake {
        async fn get_token(
            &self,
            _: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.hang {
                std::future::pending::<()>().await;
            }
            match self.token {
                Some(t) => Ok(AccessToken::new(
                    t,
                    OffsetDateTime::now_utc() + AzDuration::hours(1),
                )),
                None => Err(Error::with_message(ErrorKind::Credential, "not here")),
            }
        }
    }

    fn link(name: &'static str, c: &Arc<Fake>) -> Link {
        Link {
            name,
            credential: Arc::clone(c) as Arc<dyn TokenCredential>,
            probe_timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn keeps_the_first_credential_that_works() {
        let absent = Fake::new(None, false);
        let silent = Fake::new(None, true);
        let cli = Fake::new(Some("cli-token"), false);
        let chain = CredentialChain::new(vec![
            link("env", &absent),
            link("imds", &silent),
            link("cli", &cli),
        ]);
        let t = chain.get_token(&["s"], None).await.unwrap();
        assert_eq!(t.token.secret(), "cli-token");
        chain.get_token(&["s"], None).await.unwrap();
        assert_eq!(absent.calls.load(Ordering::SeqCst), 1);
        assert_eq!(silent.calls.load(Ordering::SeqCst), 1);
        assert_eq!(cli.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn names_every_credential_tried_when_none_works() {
        let a = Fake::new(None, false);
        let b = Fake::new(None, true);
        let chain = CredentialChain::new(vec![link("managed_identity", &a), link("azure_cli", &b)]);
        let e = chain.get_token(&["s"], None).await.unwrap_err();
        let text = e.to_string();
        // Each credential's own error goes to the debug log; the sentence names what was tried.
        assert!(
            text.starts_with("no Azure credentials found (checked: managed identity, Azure CLI); set AZURE_TENANT_ID"),
            "{text}"
        );
        assert_eq!(e.kind(), &ErrorKind::Credential);
    }
}

//! Shared Key request signing for Azure Storage (an account key, as emulators use).
//!
//! azure_storage_blob 1.1 authenticates only with Entra ID tokens or a SAS in the URL; account
//! keys, which Azurite and connection strings carry, need this policy. It runs last before the
//! transport (a per-try policy), so it signs the headers the request is actually sent with.
//! The signature format is the documented "Shared Key" scheme for the Blob service.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::Secret;
use azure_core::error::{Error, ErrorKind};
use azure_core::http::headers::{AUTHORIZATION, HeaderName};
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Request};
use azure_core::time::{OffsetDateTime, to_rfc7231};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::may_carry_credentials;

const X_MS_DATE: HeaderName = HeaderName::from_static("x-ms-date");

/// The standard headers signed in this order, one per line, before the `x-ms-` headers.
const SIGNED_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

pub struct SharedKeyPolicy {
    account: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for SharedKeyPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedKeyPolicy")
            .field("account", &self.account)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl SharedKeyPolicy {
    /// `key` is the base64 account key as the portal shows it.
    pub fn new(account: &str, key: &Secret) -> Result<Self, String> {
        let key = azure_core::base64::decode(key.secret().trim())
            .map_err(|_| "the account key is not valid base64".to_owned())?;
        if key.is_empty() {
            return Err("the account key is empty".to_owned());
        }
        Ok(SharedKeyPolicy {
            account: account.to_owned(),
            key,
        })
    }

    fn sign(&self, string_to_sign: &str) -> Result<String, Error> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .map_err(|_| Error::with_message(ErrorKind::Credential, "unusable account key"))?;
        mac.update(string_to_sign.as_bytes());
        Ok(azure_core::base64::encode(mac.finalize().into_bytes()))
    }
}

/// The text the signature covers.
pub(crate) fn string_to_sign(account: &str, request: &Request) -> String {
    let headers = request.headers();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str().trim().to_owned())
    };
    let mut out = format!("{}\n", request.method().as_str().to_ascii_uppercase());
    for name in SIGNED_HEADERS {
        let value = if name == "content-length" {
            // An empty body is signed as an empty length, not "0".
            match request.body().len() {
                Some(0) | None => String::new(),
                Some(n) => n.to_string(),
            }
        } else {
            header(name).unwrap_or_default()
        };
        out.push_str(&value);
        out.push('\n');
    }
    let ms_headers: BTreeMap<String, String> = headers
        .iter()
        .filter(|(n, _)| n.as_str().to_ascii_lowercase().starts_with("x-ms-"))
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                v.as_str().trim().to_owned(),
            )
        })
        .collect();
    for (name, value) in ms_headers {
        out.push_str(&format!("{name}:{value}\n"));
    }
    let url = request.url();
    out.push_str(&format!("/{account}{}", url.path()));
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in url.query_pairs() {
        params
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.into_owned());
    }
    for (name, mut values) in params {
        values.sort();
        out.push_str(&format!("\n{name}:{}", values.join(",")));
    }
    out
}

#[async_trait]
impl Policy for SharedKeyPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        if !may_carry_credentials(request.url()) {
            return Err(Error::with_message(
                ErrorKind::Other,
                "refusing to sign a request to a plain-http host other than loopback; use an \
                 https endpoint",
            ));
        }
        request.insert_header(X_MS_DATE, to_rfc7231(&OffsetDateTime::now_utc()));
        let signature = self.sign(&string_to_sign(&self.account, request))?;
        request.insert_header(
            AUTHORIZATION,
            format!("SharedKey {}:{signature}", self.account),
        );
        next[0].send(ctx, request, &next[1..]).await
    }
}

#[cfg(test)]
mod tests {
    use azure_core::http::{Method, Url};

    use super::*;

    #[test]
    fn canonical_form_of_a_ranged_read() {
        let url = Url::parse(
            "http://127.0.0.1:10000/devstoreaccount1/insights-logs-kube-audit/a%2Fb.json?comp=list&Restype=container&include=metadata,snapshots",
        )
        .unwrap();
        let mut request = Request::new(url, Method::Get);
        request.insert_header("x-ms-version", "2026-04-06");
        request.insert_header("x-ms-date", "Mon, 01 Jan 2024 00:00:00 GMT");
        request.insert_header("x-ms-range", "bytes=10-19");
        request.insert_header("if-match", "\"0x1\"");
        let text = string_to_sign("devstoreaccount1", &request);
        assert_eq!(
            text,
            "GET\n\n\n\n\n\n\n\n\"0x1\"\n\n\n\n\
             x-ms-date:Mon, 01 Jan 2024 00:00:00 GMT\nx-ms-range:bytes=10-19\nx-ms-version:2026-04-06\n\
             /devstoreaccount1/devstoreaccount1/insights-logs-kube-audit/a%2Fb.json\n\
             comp:list\ninclude:metadata,snapshots\nrestype:container"
        );
    }

    #[test]
    fn body_length_is_signed() {
        let url = Url::parse("https://acct.blob.core.windows.net/c/b?comp=appendblock").unwrap();
        let mut request = Request::new(url, Method::Put);
        request.set_body(b"hello\n".to_vec());
        let text = string_to_sign("acct", &request);
        assert!(text.starts_with("PUT\n\n\n6\n"), "{text}");
    }

    #[test]
    fn signature_is_hmac_sha256_of_the_decoded_key() {
        // The key decodes to "key"; HMAC-SHA256("key", "data") is a published test value.
        let policy = SharedKeyPolicy::new("a", &Secret::new("a2V5")).unwrap();
        assert_eq!(
            policy
                .sign("The quick brown fox jumps over the lazy dog")
                .unwrap(),
            "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
        );
        assert!(SharedKeyPolicy::new("a", &Secret::new("not base64!")).is_err());
        let debug = format!("{policy:?}");
        assert!(!debug.contains("a2V5") && debug.contains("redacted"));
    }
}

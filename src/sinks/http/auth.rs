//! How an HTTP sink proves who it is to a receiver that wants credentials in the
//! `Authorization` header (Alertmanager behind a proxy, Elasticsearch): basic auth, a bearer
//! token or an Elastic API key, each read from a secret reference and never written inline.
//!
//! Credentials are sent only over TLS or to this machine: the endpoint check
//! ([`require_tls`]) refuses a plain-http URL to any other host, so a token never crosses a
//! network unencrypted.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use url::Url;

use super::Redactor;
use super::config::check_url;
use crate::sources::azure::may_carry_credentials;
use crate::validation::{Inline, Problems, RawSecret, Secret, resolve};

/// The credentials of one sink.
#[derive(Clone, Debug, Default)]
pub enum HttpAuth {
    #[default]
    None,
    Basic {
        username: String,
        password: Secret,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// `Authorization: ApiKey <value>`: Elasticsearch's encoded API key, as Kibana shows it.
    ApiKey(Secret),
}

/// The authentication keys of a sink table, as written.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawAuth<'a> {
    pub username: Option<&'a str>,
    pub password: Option<&'a RawSecret>,
    pub bearer_token: Option<&'a RawSecret>,
    pub api_key: Option<&'a RawSecret>,
}

impl HttpAuth {
    /// The header to send, marked sensitive so HTTP-level debug logs never print it.
    pub fn headers(&self) -> Result<HeaderMap, String> {
        let value = match self {
            HttpAuth::None => return Ok(HeaderMap::new()),
            HttpAuth::Basic { username, password } => format!(
                "Basic {}",
                STANDARD.encode(format!("{username}:{}", password.expose()))
            ),
            HttpAuth::Bearer(token) => format!("Bearer {}", token.expose()),
            HttpAuth::ApiKey(key) => format!("ApiKey {}", key.expose()),
        };
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| "the credential is not a valid HTTP header value".to_owned())?;
        value.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value);
        Ok(headers)
    }

    /// Adds every secret (and the header built from it) to `redactor`.
    pub fn redact_with(&self, redactor: &mut Redactor) {
        match self {
            HttpAuth::None => {}
            HttpAuth::Basic { password, .. } => redactor.add(password),
            HttpAuth::Bearer(s) | HttpAuth::ApiKey(s) => redactor.add(s),
        }
        if let Ok(headers) = self.headers()
            && let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
        {
            redactor.add(&Secret::new(value));
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, HttpAuth::None)
    }
}

/// Validates the authentication keys of the table at `key`: at most one method, secrets as
/// references only, a username only with a password.
pub fn build(p: &mut Problems, key: &str, raw: RawAuth<'_>, base: &Path) -> Option<HttpAuth> {
    let methods = [
        raw.password.is_some() || raw.username.is_some(),
        raw.bearer_token.is_some(),
        raw.api_key.is_some(),
    ];
    if methods.iter().filter(|m| **m).count() > 1 {
        p.push(
            key,
            "give one way to authenticate: `username` + `password`, `bearer_token` or `api_key`",
        );
        return None;
    }
    let secret = |p: &mut Problems, field: &str, raw: &RawSecret| {
        resolve(p, &format!("{key}.{field}"), raw, Inline::Refused, base)
    };
    match raw {
        RawAuth {
            username: Some(username),
            password: Some(password),
            ..
        } => {
            if username.is_empty() || username.contains(':') {
                p.push(
                    format!("{key}.username"),
                    "must be non-empty and contain no `:` (basic auth separates it with one)",
                );
                return None;
            }
            Some(HttpAuth::Basic {
                username: username.to_owned(),
                password: secret(p, "password", password)?,
            })
        }
        RawAuth {
            username: Some(_), ..
        } => {
            p.push(format!("{key}.password"), "`username` needs a `password`");
            None
        }
        RawAuth {
            password: Some(_), ..
        } => {
            p.push(format!("{key}.username"), "`password` needs a `username`");
            None
        }
        RawAuth {
            bearer_token: Some(token),
            ..
        } => secret(p, "bearer_token", token).map(HttpAuth::Bearer),
        RawAuth {
            api_key: Some(api_key),
            ..
        } => secret(p, "api_key", api_key).map(HttpAuth::ApiKey),
        _ => Some(HttpAuth::None),
    }
}

/// Parses the endpoint at `key` ([`check_url`]) and requires TLS off loopback ([`require_tls`]).
pub fn tls_url(p: &mut Problems, key: &str, url: &str) -> Option<Url> {
    check_url(p, key, &Secret::new(url)).filter(|u| require_tls(p, key, u))
}

/// Refuses a plain-http endpoint unless it is this machine: alerts name users, addresses and
/// clusters, and credentials ride along. Problems go under `key`, without quoting the URL.
pub fn require_tls(p: &mut Problems, key: &str, url: &Url) -> bool {
    let ok = may_carry_credentials(url);
    if !ok {
        p.push(
            key,
            "must be an https:// URL (plain http is accepted only for localhost / 127.0.0.1)",
        );
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_env(name: &str) -> RawSecret {
        RawSecret::Reference(crate::validation::RawSecretRef {
            env: Some(name.to_owned()),
            file: None,
        })
    }

    #[test]
    fn basic_auth_header_is_rfc7617() {
        let auth = HttpAuth::Basic {
            username: "Aladdin".to_owned(),
            password: Secret::new("open sesame"),
        };
        let headers = auth.headers().unwrap();
        assert_eq!(
            headers.get(AUTHORIZATION).unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert!(headers.get(AUTHORIZATION).unwrap().is_sensitive());
        let mut r = Redactor::default();
        auth.redact_with(&mut r);
        assert_eq!(
            r.scrub("sent Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            "sent [redacted]"
        );
    }

    #[test]
    fn one_method_only_and_pairs_complete() {
        let dir = std::path::Path::new(".");
        let token = raw_env("NODEPORT_WATCH_TEST_SURELY_UNSET_TOKEN");
        let mut p = Problems::default();
        let two = RawAuth {
            username: Some("u"),
            password: Some(&token),
            bearer_token: Some(&token),
            api_key: None,
        };
        assert!(build(&mut p, "a", two, dir).is_none());
        let lone = RawAuth {
            username: Some("u"),
            ..RawAuth::default()
        };
        assert!(build(&mut p, "b", lone, dir).is_none());
        assert!(matches!(
            build(&mut p, "c", RawAuth::default(), dir),
            Some(HttpAuth::None)
        ));
        let keys: Vec<_> = p.into_vec().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["a", "b.password"]);
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let mut p = Problems::default();
        assert!(require_tls(
            &mut p,
            "a",
            &Url::parse("http://127.0.0.1:9093").unwrap()
        ));
        assert!(require_tls(
            &mut p,
            "b",
            &Url::parse("https://am.example.com").unwrap()
        ));
        assert!(!require_tls(
            &mut p,
            "c",
            &Url::parse("http://am.example.com").unwrap()
        ));
        assert_eq!(p.len(), 1);
    }
}

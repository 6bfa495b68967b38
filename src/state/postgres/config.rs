//! How to reach the PostgreSQL state store: the URL, TLS mode, password, pool size and timeout,
//! validated once into [`PostgresSettings`].
//!
//! The URL is parsed here rather than by tokio-postgres because tokio-postgres knows only
//! `disable`/`prefer`/`require`, while operators write libpq's `verify-ca`/`verify-full`; the
//! certificate checks those names promise live in `tls.rs`. The password (in the URL or given
//! separately from a file or the environment) never reaches `Debug` output or an error message.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;
use url::{Host, Url};

use crate::validation::Secret;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PostgresConfigError {
    #[error(
        "the PostgreSQL URL is not valid ({0}); write it as postgres://USER@HOST:PORT/DATABASE?sslmode=verify-full"
    )]
    Url(String),
    #[error("the PostgreSQL URL must start with postgres:// or postgresql://")]
    Scheme,
    #[error("the PostgreSQL URL has no host; Unix sockets are not supported, give a TCP host")]
    NoHost,
    #[error("the PostgreSQL URL has no user; write it as postgres://USER@HOST/DATABASE")]
    NoUser,
    #[error(
        "the PostgreSQL URL parameter `{0}` is not supported (supported: sslmode, application_name)"
    )]
    Parameter(String),
    #[error("`{0}` is not an sslmode; use disable, prefer, require, verify-ca or verify-full")]
    SslMode(String),
    #[error(
        "the password is given both in the URL and separately; keep only the separate one (a file or an environment variable)"
    )]
    TwoPasswords,
    #[error(
        "sslmode `{mode}` to {host} can send the password and the alerts in plain text over the network; \
         use sslmode=verify-full (or set allow_plaintext = true if the network is trusted)"
    )]
    Plaintext { mode: SslMode, host: String },
    #[error("the pool size must be between 1 and 1000")]
    PoolSize,
    #[error("the connect timeout must be more than zero")]
    ConnectTimeout,
}

/// libpq's `sslmode` values, with libpq's meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Plain text.
    Disable,
    /// TLS when the server offers it, plain text otherwise; the certificate is not checked.
    Prefer,
    /// TLS always; the certificate is not checked (it protects against sniffing, not a
    /// man in the middle).
    Require,
    /// TLS with a certificate that chains to a system root; the host name is not checked.
    VerifyCa,
    /// TLS with a certificate that chains to a system root and names the host.
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the connection may run without TLS.
    fn may_be_plaintext(self) -> bool {
        matches!(self, SslMode::Disable | SslMode::Prefer)
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = PostgresConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(PostgresConfigError::SslMode(other.to_owned())),
        }
    }
}

/// What the configuration says besides the URL.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    /// Overrides the URL's `sslmode`.
    pub sslmode: Option<SslMode>,
    /// The password, read from a file or the environment (see `config::secret`).
    pub password: Option<Secret>,
    pub pool_size: usize,
    pub connect_timeout: Duration,
    /// Allows `disable`/`prefer` to a host that is not this machine.
    pub allow_plaintext: bool,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            sslmode: None,
            password: None,
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
            allow_plaintext: false,
        }
    }
}

/// Validated connection settings.
///
/// Plugs into `[state]` as: `url = { env = "…" }` (a secret that may be inline, since a URL
/// without a password is not secret), `sslmode`, `password = { file = "…" }`, `pool_size`,
/// `connect_timeout`, `allow_plaintext`; the config layer resolves the secrets with
/// `config::secret::resolve` and calls [`PostgresSettings::new`], reporting its error under
/// `state.url`.
#[derive(Clone)]
pub struct PostgresSettings {
    pub(super) pg: tokio_postgres::Config,
    pub(super) sslmode: SslMode,
    pub(super) pool_size: usize,
    pub(super) connect_timeout: Duration,
    /// `host:port/database`, for logs and errors.
    pub(super) display: String,
}

impl fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("target", &self.display)
            .field("user", &self.pg.get_user())
            .field("password", &self.pg.get_password().map(|_| "[redacted]"))
            .field("sslmode", &self.sslmode)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl PostgresSettings {
    pub fn new(url: &Secret, options: PostgresOptions) -> Result<Self, PostgresConfigError> {
        // url's own error messages never quote the input, so they cannot leak the password.
        let url = Url::parse(url.expose()).map_err(|e| PostgresConfigError::Url(e.to_string()))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(PostgresConfigError::Scheme);
        }
        let (host, loopback) = match url.host() {
            // `postgres:` is not a scheme `url` knows, so an address arrives as an opaque name.
            Some(Host::Domain(name)) if !name.is_empty() => {
                let bare = name.trim_start_matches('[').trim_end_matches(']');
                match bare.parse::<std::net::IpAddr>() {
                    Ok(ip) => (ip.to_string(), ip.is_loopback()),
                    Err(_) => (name.to_owned(), name.eq_ignore_ascii_case("localhost")),
                }
            }
            Some(Host::Ipv4(ip)) => (ip.to_string(), ip.is_loopback()),
            Some(Host::Ipv6(ip)) => (ip.to_string(), ip.is_loopback()),
            _ => return Err(PostgresConfigError::NoHost),
        };
        let user = decode(url.username());
        if user.is_empty() {
            return Err(PostgresConfigError::NoUser);
        }
        let port = url.port().unwrap_or(5432);
        let database = decode(url.path().trim_start_matches('/'));
        let mut pg = tokio_postgres::Config::new();
        pg.host(&host).port(port).user(&user);
        let mut sslmode = None;
        for (key, value) in url.query_pairs() {
            match &*key {
                "sslmode" => sslmode = Some(value.parse()?),
                "application_name" => {
                    pg.application_name(&*value);
                }
                other => return Err(PostgresConfigError::Parameter(other.to_owned())),
            }
        }
        let sslmode = options.sslmode.or(sslmode).unwrap_or(if loopback {
            SslMode::Prefer
        } else {
            SslMode::VerifyFull
        });
        if sslmode.may_be_plaintext() && !loopback && !options.allow_plaintext {
            return Err(PostgresConfigError::Plaintext {
                mode: sslmode,
                host,
            });
        }
        match (url.password(), options.password) {
            (Some(_), Some(_)) => return Err(PostgresConfigError::TwoPasswords),
            (Some(inline), None) => {
                pg.password(decode(inline));
            }
            (None, Some(secret)) => {
                pg.password(secret.expose());
            }
            (None, None) => {}
        }
        if !database.is_empty() {
            pg.dbname(&database);
        }
        if !(1..=1000).contains(&options.pool_size) {
            return Err(PostgresConfigError::PoolSize);
        }
        if options.connect_timeout.is_zero() {
            return Err(PostgresConfigError::ConnectTimeout);
        }
        pg.connect_timeout(options.connect_timeout);
        pg.ssl_mode(match sslmode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        let shown_db = if database.is_empty() {
            &user
        } else {
            &database
        };
        Ok(PostgresSettings {
            display: format!("{host}:{port}/{shown_db}"),
            pg,
            sslmode,
            pool_size: options.pool_size,
            connect_timeout: options.connect_timeout,
        })
    }

    /// `host:port/database`, safe to log.
    pub fn target(&self) -> &str {
        &self.display
    }

    pub fn sslmode(&self) -> SslMode {
        self.sslmode
    }

    /// The driver's settings for a new session: named after this process (`nodeport-watch run
    /// (pid N)`) unless the URL names it, so `pg_stat_activity` and a refused daemon can tell
    /// who holds the delivery lock.
    pub(super) fn connection_config(&self) -> tokio_postgres::Config {
        let mut pg = self.pg.clone();
        if pg.get_application_name().is_none() {
            pg.application_name(application_name());
        }
        pg
    }
}

/// URL parts come still percent-encoded (`team%40corp`); libpq decodes them.
fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// `nodeport-watch run (pid N)`: the `application_name` of this process's sessions, so a refused
/// process (and `pg_stat_activity`) can name the holder.
fn application_name() -> String {
    let pid = std::process::id();
    match std::env::args().nth(1) {
        Some(sub) if !sub.is_empty() && sub.chars().all(|c| c.is_ascii_alphanumeric()) => {
            format!("nodeport-watch {sub} (pid {pid})")
        }
        _ => format!("nodeport-watch (pid {pid})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(
        url: &str,
        options: PostgresOptions,
    ) -> Result<PostgresSettings, PostgresConfigError> {
        PostgresSettings::new(&Secret::new(url), options)
    }

    #[test]
    fn remote_hosts_default_to_verify_full_and_loopback_to_prefer() {
        let remote = settings(
            "postgres://npw@db.example.com/state",
            PostgresOptions::default(),
        )
        .unwrap();
        assert_eq!(remote.sslmode(), SslMode::VerifyFull);
        assert_eq!(remote.target(), "db.example.com:5432/state");
        let local = settings(
            "postgres://npw@127.0.0.1:6543/state",
            PostgresOptions::default(),
        )
        .unwrap();
        assert_eq!(local.sslmode(), SslMode::Prefer);
        assert_eq!(local.target(), "127.0.0.1:6543/state");
        let v6 = settings("postgres://npw@[::1]/state", PostgresOptions::default()).unwrap();
        assert_eq!(
            (v6.sslmode(), v6.target()),
            (SslMode::Prefer, "::1:5432/state")
        );
        let remote_ip =
            settings("postgres://npw@10.1.2.3/state", PostgresOptions::default()).unwrap();
        assert_eq!(remote_ip.sslmode(), SslMode::VerifyFull);
    }

    #[test]
    fn plaintext_to_a_remote_host_needs_explicit_consent() {
        for mode in ["disable", "prefer"] {
            let url = format!("postgres://npw@db.example.com/state?sslmode={mode}");
            let err = settings(&url, PostgresOptions::default()).unwrap_err();
            assert!(
                matches!(err, PostgresConfigError::Plaintext { .. }),
                "{err}"
            );
            assert!(err.to_string().contains("verify-full"));
            let allowed = PostgresOptions {
                allow_plaintext: true,
                ..Default::default()
            };
            assert_eq!(settings(&url, allowed).unwrap().sslmode().as_str(), mode);
        }
        let local = settings(
            "postgres://npw@localhost/state?sslmode=disable",
            PostgresOptions::default(),
        );
        assert_eq!(local.unwrap().sslmode(), SslMode::Disable);
    }

    #[test]
    fn the_option_overrides_the_url_sslmode() {
        let options = PostgresOptions {
            sslmode: Some(SslMode::VerifyCa),
            ..Default::default()
        };
        let s = settings(
            "postgres://npw@db.example.com/state?sslmode=require",
            options,
        )
        .unwrap();
        assert_eq!(s.sslmode(), SslMode::VerifyCa);
    }

    #[test]
    fn passwords_never_show_in_debug_or_errors() {
        let s = settings(
            "postgres://npw:hunter2%21@db.example.com/state",
            PostgresOptions::default(),
        )
        .unwrap();
        assert_eq!(s.pg.get_password(), Some(&b"hunter2!"[..]));
        assert!(!format!("{s:?}").contains("hunter2"));
        let separate = PostgresOptions {
            password: Some(Secret::new("s3cr3t")),
            ..Default::default()
        };
        let s = settings("postgres://npw@db.example.com/state", separate.clone()).unwrap();
        assert_eq!(s.pg.get_password(), Some(&b"s3cr3t"[..]));
        assert!(!format!("{s:?}").contains("s3cr3t"));
        let both = settings("postgres://npw:hunter2@db.example.com/state", separate).unwrap_err();
        assert_eq!(both, PostgresConfigError::TwoPasswords);
        for bad in [
            "postgres://npw:hunter2@db.example.com/state?sslmode=bogus",
            "postgres://npw:hunter2@db.example.com/state?host=evil",
            "mysql://npw:hunter2@db.example.com/state",
            "postgres://npw:hunter2@[::1/state",
        ] {
            let err = settings(bad, PostgresOptions::default()).unwrap_err();
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn rejects_what_cannot_work() {
        let d = PostgresOptions::default;
        assert_eq!(
            settings("postgres:///state", d()).unwrap_err(),
            PostgresConfigError::NoHost
        );
        assert_eq!(
            settings("postgres://db.example.com/state", d()).unwrap_err(),
            PostgresConfigError::NoUser
        );
        let zero = PostgresOptions {
            pool_size: 0,
            ..d()
        };
        assert_eq!(
            settings("postgres://a@b/c", zero).unwrap_err(),
            PostgresConfigError::PoolSize
        );
        let instant = PostgresOptions {
            connect_timeout: Duration::ZERO,
            ..d()
        };
        assert_eq!(
            settings("postgres://a@b/c", instant).unwrap_err(),
            PostgresConfigError::ConnectTimeout
        );
    }

    #[test]
    fn decodes_percent_escapes_in_user_and_database() {
        let s = settings(
            "postgres://team%40corp@localhost/my%20db",
            PostgresOptions::default(),
        )
        .unwrap();
        assert_eq!(s.pg.get_user(), Some("team@corp"));
        assert_eq!(s.pg.get_dbname(), Some("my db"));
    }
}

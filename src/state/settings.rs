//! `[state]`: which backend keeps checkpoints and the outbox, and where.
//!
//! `path` names a SQLite file (the embedded default); `url = "postgres://…"` names a shared
//! PostgreSQL database for replicas, with its connection options beside it. The two are
//! exclusive. It lives beside the store rather than in `config/` so that commands needing only
//! the store (`alerts`, `status`) can load this table on its own, without resolving any sink or
//! source secret. Every problem is reported under its `state.*` key and never quotes a secret.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::postgres::{PostgresOptions, PostgresSettings, SslMode};
use crate::validation::secret::{self, Inline, RawSecret};
use crate::validation::{Problems, duration};

pub const DEFAULT_STATE_PATH: &str = "/var/lib/nodeport-watch/state.db";

/// The `[state]` table as written.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawState {
    /// SQLite file; `:memory:` keeps state only for the life of the process (demos).
    pub path: Option<String>,
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…]`, inline or as a secret
    /// reference (`{ env = … }`, `{ file = … }`), since it may carry the password.
    pub url: Option<RawSecret>,
    /// Overrides the URL's `sslmode`.
    pub sslmode: Option<String>,
    /// The password, kept out of the URL: only `{ env = … }` or `{ file = … }`.
    pub password: Option<RawSecret>,
    pub pool_size: Option<usize>,
    pub connect_timeout: Option<String>,
    /// Allows `sslmode = disable`/`prefer` to a host that is not this machine.
    pub allow_plaintext: Option<bool>,
    /// How long delivered alerts are kept (`30d` by default), on either backend.
    pub retention: Option<String>,
}

/// Delivered alerts older than this are pruned unless `[state] retention` says otherwise.
pub const DEFAULT_RETENTION: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// `[state] retention`, checked: at least a day, since an alert id pruned is an alert that a
/// re-read (a scan, a late overlap) would queue and send again.
pub fn retention(raw: &RawState, p: &mut Problems) -> std::time::Duration {
    let Some(retention) = duration(p, "state.retention", raw.retention.as_deref()) else {
        return DEFAULT_RETENTION;
    };
    if retention < std::time::Duration::from_secs(24 * 3600) {
        p.push(
            "state.retention",
            "must be at least `1d`: alert ids are what keeps a re-read event from being sent again",
        );
    }
    retention
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatePath {
    File(PathBuf),
    /// Nothing survives the process: for demos only.
    Memory,
}

/// The store a process opens. One variant per backend; [`super::open`] is the only place that
/// matches on it.
#[derive(Clone, Debug)]
pub enum StateSettings {
    /// The embedded default: one SQLite file (`[state] path`).
    Sqlite(StatePath),
    /// A shared PostgreSQL database (`[state] url`), for replicas.
    Postgres(Box<PostgresSettings>),
}

impl StateSettings {
    /// Builds the settings from the raw table; a relative path (or secret file) is taken from
    /// `base_dir` (the directory of the configuration file). Problems go to `p`; `None` then.
    pub fn from_raw(raw: &RawState, base_dir: &Path, p: &mut Problems) -> Option<StateSettings> {
        let before = p.len();
        let Some(url) = &raw.url else {
            for (key, given) in [
                ("state.sslmode", raw.sslmode.is_some()),
                ("state.password", raw.password.is_some()),
                ("state.pool_size", raw.pool_size.is_some()),
                ("state.connect_timeout", raw.connect_timeout.is_some()),
                ("state.allow_plaintext", raw.allow_plaintext.is_some()),
            ] {
                if given {
                    p.push(
                        key,
                        "applies to PostgreSQL only: set `state.url` too, or remove it",
                    );
                }
            }
            if p.len() > before {
                return None;
            }
            return Some(StateSettings::Sqlite(sqlite_path(
                raw.path.as_deref(),
                base_dir,
            )));
        };
        if raw.path.is_some() {
            p.push(
                "state.path",
                "give either `path` (a SQLite file) or `url` (PostgreSQL), not both",
            );
            return None;
        }
        postgres(raw, url, base_dir, p).map(|pg| StateSettings::Postgres(Box::new(pg)))
    }
}

fn sqlite_path(path: Option<&str>, base_dir: &Path) -> StatePath {
    match path {
        Some(":memory:") => StatePath::Memory,
        Some(path) => StatePath::File(base_dir.join(path)),
        None => StatePath::File(PathBuf::from(DEFAULT_STATE_PATH)),
    }
}

fn postgres(
    raw: &RawState,
    url: &RawSecret,
    base_dir: &Path,
    p: &mut Problems,
) -> Option<PostgresSettings> {
    let before = p.len();
    let defaults = PostgresOptions::default();
    let url = secret::resolve(p, "state.url", url, Inline::Allowed, base_dir);
    let password = raw
        .password
        .as_ref()
        .and_then(|raw| secret::resolve(p, "state.password", raw, Inline::Refused, base_dir));
    let sslmode = raw.sslmode.as_deref().and_then(|mode| {
        p.check(
            "state.sslmode",
            mode.parse::<SslMode>().map_err(|e| e.to_string()),
        )
    });
    let connect_timeout = duration(p, "state.connect_timeout", raw.connect_timeout.as_deref());
    if p.len() > before {
        return None;
    }
    let options = PostgresOptions {
        sslmode,
        password,
        pool_size: raw.pool_size.unwrap_or(defaults.pool_size),
        connect_timeout: connect_timeout.unwrap_or(defaults.connect_timeout),
        allow_plaintext: raw.allow_plaintext.unwrap_or(defaults.allow_plaintext),
    };
    // The settings' errors never quote the URL, so they cannot leak its password.
    p.check(
        "state.url",
        PostgresSettings::new(&url?, options).map_err(|e| e.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> RawState {
        ::config::Config::builder()
            .add_source(::config::File::from_str(text, ::config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .unwrap()
    }

    fn parse(text: &str) -> Result<StateSettings, String> {
        let raw = raw(text);
        let mut p = Problems::default();
        let settings = StateSettings::from_raw(&raw, Path::new("/etc/npw"), &mut p);
        let problems: Vec<String> = p.into_vec().iter().map(ToString::to_string).collect();
        settings.ok_or_else(|| problems.join("; "))
    }

    #[test]
    fn path_selects_sqlite_and_url_selects_postgres() {
        assert!(matches!(
            parse("path = 'state.db'"),
            Ok(StateSettings::Sqlite(StatePath::File(f))) if f == Path::new("/etc/npw/state.db")
        ));
        assert!(matches!(
            parse(""),
            Ok(StateSettings::Sqlite(StatePath::File(f))) if f == Path::new(DEFAULT_STATE_PATH)
        ));
        let pg = parse(
            "url = 'postgres://npw@db.example.com/state'\npool_size = 3\nconnect_timeout = '2s'",
        );
        match pg {
            Ok(StateSettings::Postgres(s)) => {
                assert_eq!(s.target(), "db.example.com:5432/state");
                assert_eq!(s.sslmode(), SslMode::VerifyFull);
            }
            other => panic!("expected PostgreSQL settings, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_key_and_never_the_password() {
        let both = parse("path = 'a.db'\nurl = 'postgres://npw@db/state'").unwrap_err();
        assert!(both.starts_with("state.path:"), "{both}");
        let orphan = parse("pool_size = 4").unwrap_err();
        assert!(orphan.starts_with("state.pool_size:"), "{orphan}");
        let plain =
            parse("url = 'postgres://npw:hunter2@db.example.com/s?sslmode=disable'").unwrap_err();
        assert!(plain.starts_with("state.url:") && plain.contains("allow_plaintext"));
        assert!(!plain.contains("hunter2"), "{plain}");
        let mode = parse("url = 'postgres://npw@db/s'\nsslmode = 'sometimes'").unwrap_err();
        assert!(mode.starts_with("state.sslmode:"), "{mode}");
        let inline = parse("url = 'postgres://npw@db/s'\npassword = 'hunter2'").unwrap_err();
        assert!(inline.starts_with("state.password:") && !inline.contains("hunter2"));
        let timeout = parse("url = 'postgres://npw@db/s'\nconnect_timeout = 'soon'").unwrap_err();
        assert!(timeout.starts_with("state.connect_timeout:"), "{timeout}");
    }

    #[test]
    fn the_password_comes_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cr3t\n").unwrap();
        let raw = raw(&format!(
            "url = 'postgres://npw@127.0.0.1/s'\npassword = {{ file = '{}' }}",
            dir.path().join("pw").display()
        ));
        let mut p = Problems::default();
        let settings = StateSettings::from_raw(&raw, dir.path(), &mut p);
        assert!(p.is_empty(), "{p:?}");
        assert!(!format!("{settings:?}").contains("s3cr3t"));
    }
}

//! The validation toolkit every component's config uses: [`Problems`] collected under full
//! dotted keys (`sources[0].paths`), value parsers (durations, sizes, dates) and [`Secret`]s.
//!
//! A leaf on purpose: it imports nothing from the rest of the crate, so a source or a sink can
//! validate its own table without importing the top-level [`crate::config`] settings (which
//! gather every component's config and would otherwise import each other in a cycle).

pub mod secret;
pub mod transport;
pub mod values;

use std::fmt;

pub use secret::{Inline, RawSecret, RawSecretRef, Secret, resolve};
pub use transport::{is_loopback, may_carry_credentials, require_tls};
pub use values::{duration, parse_expiry, size};

/// One thing wrong with the configuration, under the full dotted key it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// `sources[0].paths`, `sinks[1].headers.Authorization`, `log.format`.
    pub key: String,
    /// What was expected and what was found; never a secret value.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Collects problems while settings are built: validation never stops at the first one, so the
/// user sees every mistake at once.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    /// Keeps the value, or records the error under `key`.
    pub fn check<T>(&mut self, key: impl Into<String>, r: Result<T, String>) -> Option<T> {
        r.map_err(|e| self.push(key, e)).ok()
    }

    /// Adds problems found by someone else (another pass over the same file).
    pub fn extend(&mut self, problems: impl IntoIterator<Item = Problem>) {
        self.0.extend(problems);
    }

    pub fn into_vec(self) -> Vec<Problem> {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems so far: a builder compares before and after to know if its part failed.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

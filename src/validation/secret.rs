//! Secrets in the configuration: webhook URLs with tokens, HEC tokens, routing keys, HMAC keys.
//!
//! A secret is written in the file as a *reference* — `{ env = "NAME" }` or `{ file = "PATH" }` —
//! so the configuration can live in a ConfigMap or a repository while the value sits in a
//! Kubernetes Secret or the environment. Values that are only sometimes secret (a webhook URL, a
//! header) may also be written inline. Either way the value is read once at start-up and kept in
//! a [`Secret`], whose `Debug` never shows it; error messages never quote it.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::Problems;

/// A value that must never appear in logs, `Debug` output or error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends it (a header, a URL, a key).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A secret as written in the file.
#[derive(Clone)]
pub enum RawSecret {
    Inline(String),
    Reference(RawSecretRef),
}

/// Hand-written instead of `#[serde(untagged)]`, whose only error is "data did not match any
/// variant": this one says which forms are accepted, and never echoes what was written.
impl<'de> Deserialize<'de> for RawSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;
        impl<'de> Visitor<'de> for SecretVisitor {
            type Value = RawSecret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, `{ env = \"VARIABLE\" }` or `{ file = \"/path\" }`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSecret, E> {
                Ok(RawSecret::Inline(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RawSecret, E> {
                Ok(RawSecret::Inline(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawSecret, A::Error> {
                RawSecretRef::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawSecret::Reference)
            }
        }
        deserializer.deserialize_any(SecretVisitor)
    }
}

/// The schema of a secret: the three forms [`RawSecret`]'s hand-written `Deserialize` takes.
impl schemars::JsonSchema for RawSecret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let reference = generator.subschema_for::<RawSecretRef>();
        schemars::json_schema!({
            "description": "A secret: inline text (where the key allows it), `{ env = \"VARIABLE\" }` or `{ file = \"/path\" }`.",
            "oneOf": [{ "type": "string" }, reference]
        })
    }
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSecretRef {
    /// The name of an environment variable holding the value.
    pub env: Option<String>,
    /// A file holding the value (trailing whitespace is ignored); relative to the config file.
    pub file: Option<String>,
}

impl fmt::Debug for RawSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawSecret::Inline(_) => f.write_str("Inline([redacted])"),
            RawSecret::Reference(r) => r.fmt(f),
        }
    }
}

/// Whether a value may be written in the file itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inline {
    /// Tokens and keys: only `{ env = … }` or `{ file = … }`.
    Refused,
    /// URLs and headers, which are secret only sometimes.
    Allowed,
}

/// Reads the secret `raw` points at; problems are reported under `key`, never with the value.
pub fn resolve(
    p: &mut Problems,
    key: &str,
    raw: &RawSecret,
    inline: Inline,
    base: &Path,
) -> Option<Secret> {
    let value = match raw {
        RawSecret::Inline(value) if inline == Inline::Allowed => value.clone(),
        RawSecret::Inline(_) => {
            p.push(
                key,
                "a secret must not be written in the configuration: reference it with \
                 `{ env = \"VARIABLE\" }` or `{ file = \"/path/to/file\" }`",
            );
            return None;
        }
        RawSecret::Reference(RawSecretRef {
            env: Some(name),
            file: None,
        }) => match std::env::var(name) {
            Ok(value) => value,
            Err(std::env::VarError::NotPresent) => {
                p.push(key, format!("environment variable `{name}` is not set"));
                return None;
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                p.push(key, format!("environment variable `{name}` is not UTF-8"));
                return None;
            }
        },
        RawSecret::Reference(RawSecretRef {
            env: None,
            file: Some(path),
        }) => {
            let path = base.join(path);
            match std::fs::read_to_string(&path) {
                // Files written by `echo` or editors end with a newline that is not part of it.
                Ok(text) => text.trim_end().to_owned(),
                Err(e) => {
                    p.push(key, format!("cannot read {}: {e}", path.display()));
                    return None;
                }
            }
        }
        RawSecret::Reference(_) => {
            p.push(key, "give exactly one of `env` or `file`");
            return None;
        }
    };
    if value.trim().is_empty() {
        p.push(key, "the secret is empty");
        return None;
    }
    Some(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> RawSecret {
        #[derive(Deserialize)]
        struct Doc {
            s: RawSecret,
        }
        let doc: Doc = config::Config::builder()
            .add_source(config::File::from_str(toml_text, config::FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        doc.s
    }

    #[test]
    fn reads_files_and_hides_values() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "s3cr3t-value\n").unwrap();
        let mut p = Problems::default();
        let raw = parse(r#"s = { file = "token" }"#);
        let secret = resolve(&mut p, "sinks[0].token", &raw, Inline::Refused, dir.path()).unwrap();
        assert!(p.is_empty());
        assert_eq!(secret.expose(), "s3cr3t-value");
        assert!(!format!("{secret:?}").contains("s3cr3t"));
        let inline = parse(r#"s = "hunter2-inline""#);
        assert!(!format!("{inline:?}").contains("hunter2"));
    }

    #[test]
    fn refuses_inline_tokens_and_reports_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Problems::default();
        let inline = parse(r#"s = "hunter2-inline""#);
        assert!(resolve(&mut p, "k1", &inline, Inline::Refused, dir.path()).is_none());
        assert!(resolve(&mut p, "k2", &inline, Inline::Allowed, dir.path()).is_some());
        let missing = parse(r#"s = { env = "NODEPORT_WATCH_TEST_SURELY_UNSET_VARIABLE" }"#);
        assert!(resolve(&mut p, "k3", &missing, Inline::Refused, dir.path()).is_none());
        let both = parse(r#"s = { env = "A", file = "b" }"#);
        assert!(resolve(&mut p, "k4", &both, Inline::Refused, dir.path()).is_none());
        let problems = p.into_vec();
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["k1", "k3", "k4"]);
        assert!(problems.iter().all(|p| !p.message.contains("hunter2")));
    }
}

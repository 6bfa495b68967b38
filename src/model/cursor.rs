//! Typed, versioned source positions.
//!
//! Every source owns a cursor type: a plain serde struct saying exactly how far it has read. The
//! state store keeps it as `(kind, version, json)` so that a cursor written by another source type
//! or by an incompatible release is refused with a clear error instead of being misread.

use serde::{Serialize, de::DeserializeOwned};
use thiserror::Error;

/// A source's position, committed together with the alerts it produced.
pub trait Cursor: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The source type that owns this cursor (`"file"`, `"aws_cloudwatch"`, …).
    const KIND: &'static str;
    /// Bumped on any change of meaning; older versions must be migrated in [`Cursor::migrate`].
    const VERSION: u32;

    /// Upgrades a cursor written by an older release. The default refuses.
    fn migrate(version: u32, json: &str) -> Result<Self, CursorError> {
        let _ = json;
        Err(CursorError::UnsupportedVersion {
            kind: Self::KIND,
            found: version,
            expected: Self::VERSION,
        })
    }
}

/// A cursor as the state store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCursor {
    pub kind: String,
    pub version: u32,
    pub json: String,
}

impl StoredCursor {
    pub fn encode<C: Cursor>(cursor: &C) -> Result<Self, CursorError> {
        Ok(StoredCursor {
            kind: C::KIND.to_owned(),
            version: C::VERSION,
            json: serde_json::to_string(cursor).map_err(CursorError::Encode)?,
        })
    }

    pub fn decode<C: Cursor>(&self) -> Result<C, CursorError> {
        if self.kind != C::KIND {
            return Err(CursorError::WrongKind {
                found: self.kind.clone(),
                expected: C::KIND,
            });
        }
        if self.version != C::VERSION {
            return C::migrate(self.version, &self.json);
        }
        serde_json::from_str(&self.json).map_err(CursorError::Decode)
    }
}

#[derive(Debug, Error)]
pub enum CursorError {
    #[error(
        "the stored checkpoint belongs to a `{found}` source, not `{expected}`: the source was \
         renamed onto another one's name or changed type; remove its checkpoint or rename it"
    )]
    WrongKind {
        found: String,
        expected: &'static str,
    },
    #[error(
        "the stored `{kind}` checkpoint has version {found}, this release reads version {expected}"
    )]
    UnsupportedVersion {
        kind: &'static str,
        found: u32,
        expected: u32,
    },
    #[error("the stored checkpoint is not valid: {0}")]
    Decode(#[source] serde_json::Error),
    #[error("the checkpoint could not be encoded: {0}")]
    Encode(#[source] serde_json::Error),
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Offset {
        at: u64,
    }
    impl Cursor for Offset {
        const KIND: &'static str = "test";
        const VERSION: u32 = 2;
    }

    #[derive(Clone, Debug, Serialize, Deserialize)]
    struct Other;
    impl Cursor for Other {
        const KIND: &'static str = "other";
        const VERSION: u32 = 2;
    }

    #[test]
    fn round_trips() {
        let stored = StoredCursor::encode(&Offset { at: 7 }).unwrap();
        assert_eq!(stored.decode::<Offset>().unwrap(), Offset { at: 7 });
    }

    #[test]
    fn refuses_another_kind_and_old_versions() {
        let stored = StoredCursor::encode(&Offset { at: 7 }).unwrap();
        assert!(matches!(
            stored.decode::<Other>(),
            Err(CursorError::WrongKind { .. })
        ));
        let old = StoredCursor {
            version: 1,
            ..stored
        };
        assert!(matches!(
            old.decode::<Offset>(),
            Err(CursorError::UnsupportedVersion { found: 1, .. })
        ));
    }
}

//! Why a record was not read: named in `normalize`, counted in batch stats and metrics, so it
//! lives with the plain data every stage shares.

use std::fmt;

use serde::Serialize;

/// Why a record was not turned into an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Not JSON at all, or JSON broken in the middle.
    InvalidJson,
    /// Cut short, and nothing usable could be recovered before the cut.
    Truncated,
    /// JSON of the wrong type where the shape needs an object, array or string.
    WrongType,
    /// Valid JSON that is not a Kubernetes audit record (another log category or service).
    NotAudit,
    /// A shape other than the one the reader was told to expect.
    UnexpectedShape,
    /// Larger than the configured maximum record size.
    Oversized,
    /// An input that is not text (NUL bytes or invalid UTF-8 at its start): read as nothing.
    Binary,
    /// A compressed stream cut short or damaged: the records before the damage were read.
    CorruptCompressed,
    /// Compressed in a format this build does not read (zstd, bzip2, xz).
    UnsupportedCompression,
}

impl SkipReason {
    pub const ALL: [SkipReason; 9] = [
        SkipReason::InvalidJson,
        SkipReason::Truncated,
        SkipReason::WrongType,
        SkipReason::NotAudit,
        SkipReason::UnexpectedShape,
        SkipReason::Oversized,
        SkipReason::Binary,
        SkipReason::CorruptCompressed,
        SkipReason::UnsupportedCompression,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::InvalidJson => "invalid_json",
            SkipReason::Truncated => "truncated",
            SkipReason::WrongType => "wrong_type",
            SkipReason::NotAudit => "not_audit",
            SkipReason::UnexpectedShape => "unexpected_shape",
            SkipReason::Oversized => "oversized",
            SkipReason::Binary => "binary",
            SkipReason::CorruptCompressed => "corrupt_compressed",
            SkipReason::UnsupportedCompression => "unsupported_compression",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

//! How far an `azure_blob` source has read: an hour horizon and a position in each open blob.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Cursor;
use crate::sources::time_axis::Watermarked;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobCursor {
    /// Start (milliseconds since the epoch) of the oldest hour still read: every blob of an
    /// earlier hour was read to its end after the hour had settled, so it is not listed again.
    pub from_hour_ms: i64,
    /// Blobs of open hours, by `container/name`.
    pub blobs: BTreeMap<String, BlobPosition>,
}

impl Cursor for BlobCursor {
    const KIND: &'static str = "azure_blob";
    const VERSION: u32 = 1;
}

/// The axis of an archive is its hours: the horizon is the one watermark, and a skip moves it
/// to the start of an hour (never past an hour that holds instants still to keep).
impl Watermarked for BlobCursor {
    fn behind_ms(&self) -> Option<i64> {
        Some(self.from_hour_ms)
    }

    fn advance_to(&mut self, floor_ms: i64) {
        self.from_hour_ms = self.from_hour_ms.max(floor_ms);
        let from = self.from_hour_ms;
        self.blobs
            .retain(|key, _| super::hour_of_key(key).is_none_or(|h| h >= from));
    }

    fn align_floor(&self, floor_ms: i64) -> i64 {
        super::layout::hour_floor(floor_ms)
    }

    fn ahead_ms(&self) -> Option<i64> {
        Some(self.from_hour_ms)
    }

    /// Hours closed by a clock that ran fast are opened again; their blobs were forgotten, so
    /// they are read from their start (the outbox recognises the alerts already written).
    fn rewind_to(&mut self, ceiling_ms: i64) {
        self.from_hour_ms = self.from_hour_ms.min(super::layout::hour_floor(ceiling_ms));
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobPosition {
    /// Just past the last complete line read.
    pub offset: u64,
    /// The blob's ETag when it was last read.
    pub etag: Option<String>,
    /// The blob's creation time: a blob deleted and written again under the same name is read
    /// from its start.
    pub created_ms: Option<i64>,
    /// Skipping the rest of a line longer than the record limit.
    #[serde(default)]
    pub skipping: bool,
}

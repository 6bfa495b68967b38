//! How far along the time axis a committed cursor is, read back from the state store: what
//! `nodeport-watch status` shows as each source's position and lag.
//!
//! Only the source type that wrote a cursor can read it, so the dispatch on its kind lives here,
//! beside the sources, and the state store keeps cursors opaque.

use chrono::{DateTime, Utc};

use super::aws_cloudwatch::CloudWatchCursor;
use super::azure_blob::BlobCursor;
use super::azure_monitor::AzureMonitorCursor;
use super::gcp_logging::GcpCursor;
use super::time_axis::Watermarked;
use crate::model::{Cursor, StoredCursor};

/// The oldest instant the cursor's source may still have to read (its slowest stream's
/// watermark): everything before it has been read and committed.
///
/// `None` for a cursor without a time axis (a `file` source counts bytes), one without streams
/// yet, or one this release cannot decode (another version, a damaged value).
pub fn committed_position(stored: &StoredCursor) -> Option<DateTime<Utc>> {
    let oldest_ms = match stored.kind.as_str() {
        CloudWatchCursor::KIND => oldest::<CloudWatchCursor>(stored),
        GcpCursor::KIND => oldest::<GcpCursor>(stored),
        AzureMonitorCursor::KIND => oldest::<AzureMonitorCursor>(stored),
        BlobCursor::KIND => oldest::<BlobCursor>(stored),
        _ => None,
    }?;
    DateTime::from_timestamp_millis(oldest_ms)
}

fn oldest<C: Cursor + Watermarked>(stored: &StoredCursor) -> Option<i64> {
    stored.decode::<C>().ok()?.behind_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(kind: &str, json: &str) -> StoredCursor {
        StoredCursor {
            kind: kind.to_owned(),
            version: 1,
            json: json.to_owned(),
        }
    }

    #[test]
    fn a_time_axis_cursor_is_as_far_as_its_slowest_stream() {
        let mut cursor = AzureMonitorCursor::default();
        cursor.watermarks.insert("ws-a".into(), 5_000);
        cursor.watermarks.insert("ws-b".into(), 2_000);
        let encoded = StoredCursor::encode(&cursor).unwrap();
        assert_eq!(
            committed_position(&encoded),
            DateTime::from_timestamp_millis(2_000)
        );
    }

    #[test]
    fn cursors_without_a_time_axis_or_unreadable_have_no_position() {
        assert_eq!(committed_position(&stored("file", "{}")), None);
        assert_eq!(
            committed_position(&stored("azure_monitor", "not json")),
            None
        );
        assert_eq!(
            committed_position(&stored("azure_monitor", r#"{"watermarks":{}}"#)),
            None
        );
    }
}

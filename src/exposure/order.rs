//! The order in which writes to one Service happened, whatever order they were read in.
//!
//! Sources deliver late, overlap, interleave several streams and re-read on restart; scans go
//! back in time. So every change to an exposure carries the position of the write that made it
//! and is applied only if that write happened after the last one applied. The position is the
//! time the API server received the request (`requestReceivedTimestamp`, or the provider's event
//! time when that is missing), then the stored object's `resourceVersion` to order two writes
//! received in the same instant; a write is recognised as itself (another stage, a re-read) by
//! its request key.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderKey {
    pub at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<u64>,
    /// Equal for every stage and every re-read of one request ([`crate::alert::request_key`]).
    pub request: String,
}

/// Where a write stands against the last one applied to an exposure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// After it (or not comparable: a write without a time is applied as it comes).
    Newer,
    /// The very same request, read again.
    Same,
    /// Before it: applying it would undo a later write.
    Older,
}

impl OrderKey {
    pub fn place(&self, last: &OrderKey) -> Placement {
        if self.request == last.request {
            return Placement::Same;
        }
        let by_time = match (self.at, last.at) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => Ordering::Equal,
        };
        let by_version = match (self.resource_version, last.resource_version) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => Ordering::Equal,
        };
        match by_time.then(by_version) {
            Ordering::Less => Placement::Older,
            // Received at the same instant by different requests: the order they were read in.
            Ordering::Equal | Ordering::Greater => Placement::Newer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secs: Option<i64>, rv: Option<u64>, request: &str) -> OrderKey {
        OrderKey {
            at: secs.and_then(|s| DateTime::from_timestamp(s, 0)),
            resource_version: rv,
            request: request.into(),
        }
    }

    #[test]
    fn time_first_then_resource_version() {
        let last = key(Some(100), Some(7), "a");
        assert_eq!(key(Some(99), Some(9), "b").place(&last), Placement::Older);
        assert_eq!(key(Some(101), Some(1), "b").place(&last), Placement::Newer);
        assert_eq!(key(Some(100), Some(6), "b").place(&last), Placement::Older);
        assert_eq!(key(Some(100), Some(8), "b").place(&last), Placement::Newer);
        assert_eq!(key(Some(100), None, "b").place(&last), Placement::Newer);
    }

    #[test]
    fn the_same_request_is_recognised_whatever_its_stage() {
        let last = key(Some(100), Some(7), "a");
        assert_eq!(key(Some(100), None, "a").place(&last), Placement::Same);
    }

    #[test]
    fn a_write_without_time_is_applied_as_read() {
        assert_eq!(
            key(None, None, "b").place(&key(Some(100), None, "a")),
            Placement::Newer
        );
        assert_eq!(
            key(Some(1), None, "b").place(&key(None, None, "a")),
            Placement::Newer
        );
    }
}

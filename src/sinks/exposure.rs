//! What an alert document says about the exposure it reports: still open, or closed (the
//! Service was deleted or stopped being exposed), and the exposure's id.
//!
//! Destinations that track state (Alertmanager's `endsAt`, Security Hub's workflow) act on a
//! close. The `status` and `exposure_id` fields are additive in schema v1 and written by the
//! exposure lifecycle; they are read from the serialized document, so a sink behaves the same
//! whether or not the alert it received carries them (an alert without `status` is open).

use chrono::{DateTime, Utc};

use crate::model::Alert;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExposureState {
    /// When the exposure was closed: the closing request's time (its event time, or when it
    /// was detected). `None` while open.
    pub closed_at: Option<DateTime<Utc>>,
    pub exposure_id: Option<String>,
}

impl ExposureState {
    pub fn of(alert: &Alert) -> Self {
        // Serializing plain data cannot fail in practice; a failure reads as "open, no id".
        let doc = serde_json::to_value(alert).unwrap_or_default();
        Self::from_document(&doc, alert.event_time.unwrap_or(alert.detected_at))
    }

    /// Reads `status` and `exposure_id` from an alert document; `at` is its event time.
    pub fn from_document(doc: &serde_json::Value, at: DateTime<Utc>) -> Self {
        let closed = doc.get("status").and_then(|s| s.as_str()) == Some("closed");
        ExposureState {
            closed_at: closed.then_some(at),
            exposure_id: doc
                .get("exposure_id")
                .and_then(|s| s.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    #[test]
    fn closed_only_when_the_document_says_so() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let open = ExposureState::from_document(&json!({"id": "a"}), at);
        assert_eq!(open, ExposureState::default());
        let closed =
            ExposureState::from_document(&json!({"status": "closed", "exposure_id": "exp-1"}), at);
        assert_eq!(closed.closed_at, Some(at));
        assert_eq!(closed.exposure_id.as_deref(), Some("exp-1"));
        let reopened = ExposureState::from_document(&json!({"status": "open"}), at);
        assert_eq!(reopened.closed_at, None);
    }
}

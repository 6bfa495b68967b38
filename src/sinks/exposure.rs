//! What an alert document says about the exposure it reports: still open, or closed (the
//! Service was deleted or stopped being exposed), and the exposure's id.
//!
//! Destinations that track state (Alertmanager's `endsAt`, Security Hub's workflow) act on a
//! close. `status` and `exposure_id` are additive in schema v1: an alert stored before the
//! exposure lifecycle existed reads back as open, with no id.

use chrono::{DateTime, Utc};

use crate::model::{Alert, AlertStatus};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExposureState {
    /// When the exposure was closed: the closing request's time (its event time, or when it
    /// was detected). `None` while open.
    pub closed_at: Option<DateTime<Utc>>,
    pub exposure_id: Option<String>,
}

impl ExposureState {
    pub fn of(alert: &Alert) -> Self {
        let closed = alert.status == AlertStatus::Closed;
        ExposureState {
            closed_at: closed.then_some(alert.event_time.unwrap_or(alert.detected_at)),
            exposure_id: alert.exposure_id.clone().filter(|id| !id.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::sinks::test_alert::alert;

    #[test]
    fn closed_only_when_the_alert_says_so() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let mut a = alert(0);
        a.event_time = Some(at);
        assert_eq!(ExposureState::of(&a), ExposureState::default());
        a.status = AlertStatus::Closed;
        a.exposure_id = Some("exp-1".to_owned());
        let closed = ExposureState::of(&a);
        assert_eq!(closed.closed_at, Some(at));
        assert_eq!(closed.exposure_id.as_deref(), Some("exp-1"));
        a.status = AlertStatus::Open;
        assert_eq!(ExposureState::of(&a).closed_at, None);
    }
}

//! What both backends do around an exposure row: read its JSON body, and tie a batch's alerts
//! to the exposures its commit planned.

use std::collections::HashMap;

use tracing::warn;

use super::RoutedAlert;
use crate::exposure::{Exposure, Plan, Transition};

/// A row's body; a damaged one is logged and treated as absent, so the next write replaces
/// it instead of every later commit failing on it.
pub(super) fn decode(body: &str) -> Option<Exposure> {
    match serde_json::from_str(body) {
        Ok(row) => Some(row),
        Err(e) => {
            warn!(error = %e, "an exposure row could not be read back; it will be rewritten");
            None
        }
    }
}

/// What a commit's exposure plans add up to.
#[derive(Debug, Default)]
pub(super) struct Applied {
    pub exposure_of_alert: HashMap<String, String>,
    pub notices: Vec<RoutedAlert>,
    pub opened: usize,
    pub closed: usize,
}

impl Applied {
    pub fn add(&mut self, plan: Plan) {
        for t in &plan.transitions {
            match t {
                Transition::Open(_) => self.opened += 1,
                Transition::Close(_) => self.closed += 1,
                _ => {}
            }
        }
        self.exposure_of_alert.extend(plan.alert_exposures);
        self.notices
            .extend(plan.notices.into_iter().map(|n| RoutedAlert {
                alert: n.alert,
                sinks: n.sinks,
            }));
    }

    /// The batch's alerts with their `exposure_id`, then the resolutions (queued after the
    /// alerts, so a sink never receives a close before its open).
    pub fn alerts(&self, alerts: &[RoutedAlert]) -> Vec<RoutedAlert> {
        let mut out: Vec<RoutedAlert> = alerts
            .iter()
            .map(|routed| {
                let mut routed = routed.clone();
                if let Some(id) = self.exposure_of_alert.get(&routed.alert.id) {
                    routed.alert.exposure_id = Some(id.clone());
                }
                routed
            })
            .collect();
        out.extend(self.notices.iter().cloned());
        out
    }
}

/// The columns a row is stored under besides its body.
pub(super) struct Columns {
    pub status: &'static str,
    pub opened_ms: Option<i64>,
    pub reminded: bool,
    pub body: String,
}

pub(super) fn columns(row: &Exposure) -> Result<Columns, serde_json::Error> {
    Ok(Columns {
        status: row.status.as_str(),
        opened_ms: row.opened_at().map(|t| t.timestamp_millis()),
        reminded: row.reminded_at.is_some(),
        body: serde_json::to_string(row)?,
    })
}

//! The documents an exposure sends after its open alert: the resolution when it closes, and the
//! still-open reminder. Both keep the alert schema, so every sink reads them as it reads alerts.

use sha2::{Digest, Sha256};

use super::transition::Exposure;
use crate::alert;
use crate::model::{Alert, AlertStatus, ServicePort};

/// A closing write's resolution, before it is tied to the exposure it closes, and the sinks
/// that want resolutions at all (`notify_closed`).
#[derive(Clone, Debug)]
pub struct Resolution {
    pub template: Alert,
    pub notify: Vec<String>,
}

impl Resolution {
    /// The sinks a close of `exposure` notifies: those its open alert reached, if they still
    /// want resolutions.
    pub fn sinks_for(&self, exposure: &Exposure) -> Vec<String> {
        exposure
            .sinks
            .iter()
            .filter(|s| self.notify.contains(s))
            .cloned()
            .collect()
    }
}

fn derived_id(exposure: &Exposure, what: &str) -> String {
    let mut h = Sha256::new();
    h.update(exposure.id.as_bytes());
    h.update([0]);
    h.update(what.as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn service_name(exposure: &Exposure) -> String {
    let s = &exposure.key.service;
    format!("{}/{}", s.namespace, s.service)
}

fn ports(exposure: &Exposure) -> Vec<ServicePort> {
    exposure
        .snapshot
        .node_ports
        .iter()
        .map(|&n| ServicePort {
            node_port: Some(n),
            ..ServicePort::default()
        })
        .collect()
}

/// The resolution of `exposure` (closed by the write `template` was built from): the same
/// rule, severity and `exposure_id` as the open alert, the closing request's user, time and id.
/// Its id is derived from the episode, so a re-read close is the same document.
pub fn resolve(template: &Alert, exposure: &Exposure) -> Alert {
    let rule = exposure.key.rule;
    let mut title = format!(
        "Exposure closed: Service {} no longer exposed ({rule})",
        service_name(exposure)
    );
    if !exposure.key.service.cluster.is_empty() {
        title.push_str(&format!(" in {}", exposure.key.service.cluster));
    }
    if let Some(user) = &template.user.username {
        title.push_str(&format!(", {} by {user}", template.verb));
    }
    Alert {
        id: derived_id(exposure, "closed"),
        rule,
        severity: exposure.severity,
        title,
        namespace: Some(exposure.key.service.namespace.clone()),
        service: Some(exposure.key.service.service.clone()),
        ports: ports(exposure),
        external_ips: exposure.snapshot.external_ips.clone(),
        mitre: alert::mitre(rule),
        runbook: "The exposure ended: no action needed unless the write that ended it was not \
                  expected. Check that nothing reached the Service while it was exposed."
            .to_owned(),
        status: AlertStatus::Closed,
        exposure_id: Some(exposure.id.clone()),
        reminder: false,
        ..template.clone()
    }
}

/// A still-open reminder: the open alert sent again (same `exposure_id`), marked as a reminder
/// and given its own id so the outbox queues it once.
pub fn remind(open_alert: &Alert, exposure: &Exposure) -> Alert {
    Alert {
        id: derived_id(exposure, "reminder"),
        title: format!("Still open: {}", open_alert.title),
        exposure_id: Some(exposure.id.clone()),
        status: AlertStatus::Open,
        reminder: true,
        ..open_alert.clone()
    }
}

//! Risk factors: properties of an exposed Service that make it worse than a plain NodePort.

use crate::detect::service_change::ServiceChange;
use crate::model::{RiskFactor, ServicePort};

const PRIVILEGED_BELOW: i64 = 1024;

pub fn risk_factors(change: &ServiceChange) -> Vec<RiskFactor> {
    let mut factors = Vec::new();
    // Only a full object in the request shows an omitted targetPort: the stored object has it
    // defaulted, and a patch that omits it leaves whatever the Service had.
    let full = change.request_is_full_object;
    if full
        && change
            .requested_ports
            .iter()
            .any(|p| p.port.is_some() && p.target_port.is_none())
    {
        factors.push(RiskFactor::TargetPortDefaulted);
    }
    // Stored ports are complete (targetPort defaulted by the server); requested ones are
    // complete only in a full object.
    if change.ports.iter().any(|p| is_privileged(p, true))
        || change
            .requested_ports
            .iter()
            .any(|p| is_privileged(p, full))
    {
        factors.push(RiskFactor::PrivilegedPort);
    }
    if change.sets_node_port {
        factors.push(RiskFactor::FixedNodePort);
    }
    if change.has_selector == Some(false) {
        factors.push(RiskFactor::NoSelector);
    }
    factors
}

/// The ports that reach outside the Service: the node port (below 1024 only if the cluster's
/// node-port range was widened) and the pod's port (which then runs privileged). `port` alone is
/// cluster-internal, and `targetPort` defaults to it when omitted.
fn is_privileged(p: &ServicePort, complete: bool) -> bool {
    let below = |n: i64| n > 0 && n < PRIVILEGED_BELOW;
    let target = match &p.target_port {
        Some(t) => t.as_i64(),
        None if complete => p.port,
        None => None,
    };
    p.node_port.is_some_and(below) || target.is_some_and(below)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn flags_each_factor() {
        let change = ServiceChange {
            requested_ports: vec![ServicePort {
                port: Some(80),
                node_port: Some(30080),
                ..ServicePort::default()
            }],
            sets_node_port: true,
            has_selector: Some(false),
            request_is_full_object: true,
            ..ServiceChange::default()
        };
        assert_eq!(
            risk_factors(&change),
            [
                RiskFactor::TargetPortDefaulted,
                RiskFactor::PrivilegedPort,
                RiskFactor::FixedNodePort,
                RiskFactor::NoSelector
            ]
        );
    }

    #[test]
    fn a_patch_omitting_target_port_changes_nothing() {
        let change = ServiceChange {
            requested_ports: vec![ServicePort {
                port: Some(80),
                node_port: Some(30080),
                ..ServicePort::default()
            }],
            sets_node_port: true,
            request_is_full_object: false,
            ..ServiceChange::default()
        };
        assert_eq!(risk_factors(&change), [RiskFactor::FixedNodePort]);
    }

    #[test]
    fn a_plain_service_has_none() {
        let change = ServiceChange {
            ports: vec![ServicePort {
                port: Some(443),
                target_port: Some(json!("https")),
                node_port: Some(31000),
                ..ServicePort::default()
            }],
            has_selector: Some(true),
            ..ServiceChange::default()
        };
        assert!(risk_factors(&change).is_empty());
    }
}

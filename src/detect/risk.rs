//! Risk factors: properties of an exposed Service that make it worse than a plain NodePort.

use crate::detect::service_change::ServiceChange;
use crate::model::{RiskFactor, ServicePort};

const PRIVILEGED_BELOW: i64 = 1024;

pub fn risk_factors(change: &ServiceChange) -> Vec<RiskFactor> {
    let mut factors = Vec::new();
    // Only the request shows an omitted targetPort: the stored object has it defaulted.
    if change
        .requested_ports
        .iter()
        .any(|p| p.port.is_some() && p.target_port.is_none())
    {
        factors.push(RiskFactor::TargetPortDefaulted);
    }
    if change
        .ports
        .iter()
        .chain(&change.requested_ports)
        .any(is_privileged)
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

fn is_privileged(p: &ServicePort) -> bool {
    let below = |n: i64| n > 0 && n < PRIVILEGED_BELOW;
    p.port.is_some_and(below)
        || p.node_port.is_some_and(below)
        || p.target_port
            .as_ref()
            .and_then(serde_json::Value::as_i64)
            .is_some_and(below)
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
    fn a_plain_service_has_none() {
        let change = ServiceChange {
            ports: vec![ServicePort {
                port: Some(8080),
                target_port: Some(json!("http")),
                node_port: Some(31000),
                ..ServicePort::default()
            }],
            has_selector: Some(true),
            ..ServiceChange::default()
        };
        assert!(risk_factors(&change).is_empty());
    }
}

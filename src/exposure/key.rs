//! What one exposure is about: a Service of a cluster, exposed under one rule.
//!
//! The rule is part of the key because each rule's exposure opens and ends on its own terms: a
//! Service can lose its `externalIPs` and stay a NodePort.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::RuleId;

/// The rules whose alerts open an exposure (`denied-attempts` changed nothing).
pub const EXPOSURE_RULES: [RuleId; 3] =
    [RuleId::NodePort, RuleId::ExternalIps, RuleId::LoadBalancer];

/// A Service of a cluster; a missing cluster (a file without one) is the empty string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceRef {
    pub cluster: String,
    pub namespace: String,
    pub service: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExposureKey {
    #[serde(flatten)]
    pub service: ServiceRef,
    pub rule: RuleId,
}

impl ExposureKey {
    pub fn new(service: ServiceRef, rule: RuleId) -> Self {
        ExposureKey { service, rule }
    }

    /// The id one episode of this exposure carries from its open alert to its resolution: the
    /// key and the alert that opened it, so a re-read of the same open gives the same id and
    /// a reopening gives a new one.
    pub fn episode_id(&self, opening_alert: &str) -> String {
        let mut h = Sha256::new();
        for part in [
            "exposure/v1",
            &self.service.cluster,
            &self.service.namespace,
            &self.service.service,
            self.rule.as_str(),
            opening_alert,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..16])
    }
}

impl fmt::Display for ExposureKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.service;
        write!(
            f,
            "{}/{}/{} ({})",
            s.cluster, s.namespace, s.service, self.rule
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(service: &str) -> ExposureKey {
        ExposureKey::new(
            ServiceRef {
                cluster: "c".into(),
                namespace: "n".into(),
                service: service.into(),
            },
            RuleId::NodePort,
        )
    }

    #[test]
    fn episode_ids_follow_the_key_and_the_opening_alert() {
        assert_eq!(key("a").episode_id("x"), key("a").episode_id("x"));
        assert_ne!(key("a").episode_id("x"), key("a").episode_id("y"));
        assert_ne!(key("a").episode_id("x"), key("b").episode_id("x"));
        assert_eq!(key("a").episode_id("x").len(), 32);
    }
}

//! The alert document (schema `nodeport-watch.alert.v1`) that every sink receives.
//!
//! Field names and meanings are a public contract documented in the README; add fields, never
//! rename or repurpose them without a new schema version.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Degradation, Provider};

pub const ALERT_SCHEMA_V1: &str = "nodeport-watch.alert.v1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub schema: String,
    /// Stable fingerprint: the same audit event and rule always give the same id.
    pub id: String,
    pub rule: RuleId,
    pub severity: Severity,
    pub title: String,
    pub provider: Provider,
    /// The configured source (or input file) the event was read from.
    pub source: String,
    pub cluster: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub namespace: Option<String>,
    pub service: Option<String>,
    pub verb: String,
    pub user: AlertUser,
    pub source_ips: Vec<String>,
    pub user_agent: Option<String>,
    /// The Service type after the request (`NodePort`, `LoadBalancer`, …); null when unknown.
    pub service_type: Option<String>,
    pub ports: Vec<ServicePort>,
    pub external_ips: Vec<String>,
    pub risk_factors: Vec<RiskFactor>,
    /// HTTP status of the request, when logged.
    pub response_code: Option<u16>,
    pub event_time: Option<DateTime<Utc>>,
    pub detected_at: DateTime<Utc>,
    pub audit_id: Option<String>,
    pub record_id: Option<String>,
    /// Parts of the record that could not be read; the alert says what could.
    pub degraded: Vec<Degradation>,
    pub mitre: Vec<MitreTechnique>,
    pub runbook: String,
    /// `open` for an alert of a write (and a still-open reminder), `closed` for the resolution
    /// of an exposure. Absent from alerts written before it was added: those were `open`.
    #[serde(default)]
    pub status: AlertStatus,
    /// The exposure this alert opened, updated or resolved, shared by all of them; null when
    /// the alert is about no exposure (a denied attempt) or none was followed (an older write
    /// read after a later one).
    #[serde(default)]
    pub exposure_id: Option<String>,
    /// A still-open reminder of an exposure alerted earlier (`remind_after`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reminder: bool,
    /// The normalized event, when `detection.include_raw` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<serde_json::Value>,
}

/// Whether an alert reports an exposure (`open`) or its end (`closed`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    #[default]
    Open,
    Closed,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Closed => "closed",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertUser {
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub impersonated: Option<ImpersonatedUser>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImpersonatedUser {
    pub username: Option<String>,
    pub groups: Vec<String>,
}

/// One entry of `spec.ports`, as far as the event tells it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: Option<i64>,
    /// A number or a named container port.
    pub target_port: Option<serde_json::Value>,
    pub node_port: Option<i64>,
    pub protocol: Option<String>,
}

/// The detection rules. Identifiers are part of the config and of the alert contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RuleId {
    #[serde(rename = "nodeport")]
    NodePort,
    #[serde(rename = "external-ips")]
    ExternalIps,
    #[serde(rename = "loadbalancer")]
    LoadBalancer,
    #[serde(rename = "denied-attempts")]
    DeniedAttempts,
}

impl RuleId {
    pub const ALL: [RuleId; 4] = [
        RuleId::NodePort,
        RuleId::ExternalIps,
        RuleId::LoadBalancer,
        RuleId::DeniedAttempts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::NodePort => "nodeport",
            RuleId::ExternalIps => "external-ips",
            RuleId::LoadBalancer => "loadbalancer",
            RuleId::DeniedAttempts => "denied-attempts",
        }
    }

    pub fn parse(s: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Rules that run unless the configuration says otherwise.
    pub fn enabled_by_default(self) -> bool {
        matches!(self, RuleId::NodePort | RuleId::ExternalIps)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    #[default]
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        [
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Properties of the exposed Service that make it riskier than a plain NodePort.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskFactor {
    /// A port without `targetPort`: it silently defaults to `port`.
    TargetPortDefaulted,
    /// A node port or target port (the pod's port) below 1024.
    PrivilegedPort,
    /// The requester chose the node port instead of letting the cluster allocate one.
    FixedNodePort,
    /// No selector: endpoints are managed by hand and can point anywhere, even outside the cluster.
    NoSelector,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MitreTechnique {
    pub tactic: String,
    /// `TA…`; absent from alerts written before it was added.
    #[serde(default)]
    pub tactic_id: String,
    pub technique_id: String,
    pub technique: String,
}

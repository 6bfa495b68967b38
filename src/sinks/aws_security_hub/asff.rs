//! Our alert as an AWS Security Finding Format (ASFF) finding, schema `2018-10-08`.
//!
//! One finding per exposure: its `Id` comes from the alert's `exposure_id` (the alert id for
//! an alert about no exposure, a denied attempt), and `BatchImportFindings` updates a finding
//! with the same `Id` and `ProductArn` in place. So the open alert, its re-sends and reminders,
//! and the close all land on ONE finding; the close sets `RecordState` to `ARCHIVED`, which
//! takes it out of Security Hub's default (active) views.
//!
//! `Workflow.Status` is `NEW` on the open alert and `RESOLVED` on the close, but Security Hub
//! only takes a provider's `Workflow` when the finding is created: afterwards the workflow
//! belongs to the analysts (`BatchUpdateFindings`). A close that creates the finding (the open
//! alert went to another sink) gives `RESOLVED`; a close of an existing finding archives it
//! and leaves the workflow to whoever is working on it.
//!
//! Times: `CreatedAt`, `FirstObservedAt` and `LastObservedAt` are the request's time (the
//! event's, or the detection's when it has none). `UpdatedAt` is the time of the send, so it
//! moves forward with every update; and Security Hub deletes a finding 90 days after its last
//! `UpdatedAt`, so a reminder keeps a long-open exposure in view and an alert found by a scan
//! of old logs is not born expired.
//!
//! `Types` (namespace/category/classifier): the exposure rules are network reachability
//! configuration checks, filed where AWS files its own reachability findings
//! (`Software and Configuration Checks/AWS Security Best Practices/Network Reachability`); a
//! denied attempt is a user's unusual behaviour (`Unusual Behaviors/User`). The ATT&CK
//! tactics of the alert follow as `TTPs/<tactic>/<technique>`: ASFF's TTP categories are the
//! ATT&CK tactics. Nothing here claims data was exposed (`Effects/Data Exposure`): the alert
//! knows a port opened, not that anyone used it.

use aws_sdk_securityhub::types::{
    AwsEksClusterDetails, AwsSecurityFinding, FindingProviderFields, FindingProviderSeverity,
    Partition, Recommendation, RecordState, Remediation, Resource, ResourceDetails, Severity,
    SeverityLabel, Workflow, WorkflowStatus,
};
use chrono::{DateTime, SecondsFormat, Utc};

use super::fields::{id, text};
use super::product_fields::{description, product_fields};
use crate::model::{Alert, AlertStatus, Provider, RuleId, Severity as AlertSeverity};

pub const SCHEMA_VERSION: &str = "2018-10-08";
pub const PRODUCT_NAME: &str = "nodeport-watch";
/// ASFF: a `Title` may be 256 characters long.
const MAX_TITLE: usize = 256;
/// ASFF: a remediation's `Recommendation.Text` may be 512 characters long.
const MAX_RECOMMENDATION: usize = 512;
/// ASFF: a `Details.Other` value must be shorter than 1024 characters.
const MAX_OTHER: usize = 1023;
const NETWORK_REACHABILITY: &str =
    "Software and Configuration Checks/AWS Security Best Practices/Network Reachability";
const UNUSUAL_USER: &str = "Unusual Behaviors/User";

/// Where the findings go: the account and region whose Security Hub imports them.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub account: &'a str,
    pub region: &'a str,
}

impl Target<'_> {
    /// The partition of the region (`aws-cn` for China, `aws-us-gov` for GovCloud).
    pub fn partition(&self) -> (&'static str, Partition) {
        partition(self.region)
    }

    /// The default product ARN: custom findings an account imports itself.
    pub fn product_arn(&self) -> String {
        let (partition, _) = self.partition();
        format!(
            "arn:{partition}:securityhub:{}:{}:product/{}/default",
            self.region, self.account, self.account
        )
    }
}

fn partition(region: &str) -> (&'static str, Partition) {
    if region.starts_with("cn-") {
        ("aws-cn", Partition::AwsCn)
    } else if region.starts_with("us-gov-") {
        ("aws-us-gov", Partition::AwsUsGov)
    } else {
        ("aws", Partition::Aws)
    }
}

/// The finding's `Id`: one per exposure, else one per alert.
pub fn finding_id(alert: &Alert) -> String {
    match alert.exposure_id.as_deref().filter(|e| !e.is_empty()) {
        Some(exposure) => id(&["nodeport-watch", "exposure", exposure]),
        None => id(&["nodeport-watch", "alert", &alert.id]),
    }
}

fn label(severity: AlertSeverity) -> SeverityLabel {
    match severity {
        AlertSeverity::Info => SeverityLabel::Informational,
        AlertSeverity::Low => SeverityLabel::Low,
        AlertSeverity::Medium => SeverityLabel::Medium,
        AlertSeverity::High => SeverityLabel::High,
        AlertSeverity::Critical => SeverityLabel::Critical,
    }
}

pub fn types(alert: &Alert) -> Vec<String> {
    let check = match alert.rule {
        RuleId::NodePort | RuleId::ExternalIps | RuleId::LoadBalancer => NETWORK_REACHABILITY,
        RuleId::DeniedAttempts => UNUSUAL_USER,
    };
    let mut types = vec![check.to_owned()];
    for m in &alert.mitre {
        let ttp = text(&format!("TTPs/{}/{}", m.tactic, m.technique_id), 128);
        if !types.contains(&ttp) {
            types.push(ttp);
        }
    }
    types
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A region name as AWS writes them; anything else from the audit log is not used.
fn is_region(region: &str) -> bool {
    (1..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The exposed Service, and for EKS the cluster it runs in.
fn resources(alert: &Alert, target: &Target<'_>) -> Vec<Resource> {
    let cluster = alert.cluster.as_deref().unwrap_or_default();
    let namespace = alert.namespace.as_deref().unwrap_or_default();
    let service = alert.service.as_deref().unwrap_or_default();
    let region = alert
        .region
        .as_deref()
        .filter(|r| is_region(r))
        .unwrap_or(target.region);
    let (partition_name, partition) = partition(region);
    let mut details = ResourceDetails::builder();
    for (key, value) in [
        ("provider", alert.provider.as_str()),
        ("cluster", cluster),
        ("namespace", namespace),
        ("service", service),
        ("rule", alert.rule.as_str()),
        (
            "service_type",
            alert.service_type.as_deref().unwrap_or_default(),
        ),
    ] {
        if !value.is_empty() {
            details = details.other(key, text(value, MAX_OTHER));
        }
    }
    let mut out = vec![
        Resource::builder()
            .r#type("Other")
            .id(id(&[cluster, namespace, service]))
            .partition(partition.clone())
            .region(region)
            .details(details.build())
            .build(),
    ];
    let account = alert.account.as_deref().unwrap_or_default();
    let is_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    if alert.provider == Provider::Eks && !cluster.is_empty() && is_account {
        let arn = format!(
            "arn:{partition_name}:eks:{region}:{account}:cluster/{}",
            id(&[cluster])
        );
        out.push(
            Resource::builder()
                .r#type("AwsEksCluster")
                .id(&arn)
                .partition(partition)
                .region(region)
                .details(
                    ResourceDetails::builder()
                        .aws_eks_cluster(
                            AwsEksClusterDetails::builder()
                                .name(text(cluster, MAX_OTHER))
                                .arn(arn)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        );
    }
    out
}

/// The finding for `alert`, imported into `target`'s Security Hub at `now`.
pub fn finding(alert: &Alert, target: &Target<'_>, now: DateTime<Utc>) -> AwsSecurityFinding {
    let observed = alert.event_time.unwrap_or(alert.detected_at);
    let closed = alert.status == AlertStatus::Closed;
    let types = types(alert);
    let severity_label = label(alert.severity);
    let mut builder = AwsSecurityFinding::builder()
        .schema_version(SCHEMA_VERSION)
        .id(finding_id(alert))
        .product_arn(target.product_arn())
        .product_name(PRODUCT_NAME)
        .company_name(PRODUCT_NAME)
        .region(target.region)
        .generator_id(format!("nodeport-watch/{}", alert.rule.as_str()))
        .aws_account_id(target.account)
        .created_at(time(observed))
        .first_observed_at(time(observed))
        .last_observed_at(time(observed))
        .updated_at(time(now.max(observed)))
        .severity(
            Severity::builder()
                .label(severity_label.clone())
                .original(alert.severity.as_str())
                .build(),
        )
        .title(text(&alert.title, MAX_TITLE))
        .description(description(alert))
        .set_resources(Some(resources(alert, target)))
        .workflow(
            Workflow::builder()
                .status(if closed {
                    WorkflowStatus::Resolved
                } else {
                    WorkflowStatus::New
                })
                .build(),
        )
        .record_state(if closed {
            RecordState::Archived
        } else {
            RecordState::Active
        })
        .set_product_fields(Some(product_fields(alert).into_iter().collect()));
    let mut provider_fields = FindingProviderFields::builder().severity(
        FindingProviderSeverity::builder()
            .label(severity_label)
            .original(alert.severity.as_str())
            .build(),
    );
    for t in &types {
        builder = builder.types(t);
        provider_fields = provider_fields.types(t);
    }
    builder = builder.finding_provider_fields(provider_fields.build());
    if !alert.runbook.is_empty() {
        builder = builder.remediation(
            Remediation::builder()
                .recommendation(
                    Recommendation::builder()
                        .text(text(&alert.runbook, MAX_RECOMMENDATION))
                        .build(),
                )
                .build(),
        );
    }
    builder.build()
}

#[cfg(test)]
#[path = "asff_tests.rs"]
mod tests;

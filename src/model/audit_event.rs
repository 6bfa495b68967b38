//! The one audit-event type every provider's record shape is normalized into.
//!
//! Request and response bodies stay as unparsed JSON text ([`Payload`]): most events never reach
//! a rule that looks inside them, and parsing every body would dominate the cost of the pipeline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::Provider;

/// A Kubernetes API request as recorded by the API server's audit log, whatever the transport.
#[derive(Clone, Debug, Serialize)]
pub struct AuditEvent {
    pub provider: Provider,
    pub origin: Origin,
    /// `auditID`: identical for every stage of one request, but chosen by the client when it
    /// sends an `Audit-ID` header, so never enough on its own to tell requests apart.
    pub audit_id: Option<String>,
    /// `requestReceivedTimestamp` (GKE: the entry's `timestamp`): set by the API server when the
    /// request arrived, equal across the request's stages.
    pub request_received: Option<DateTime<Utc>>,
    pub stage: Option<Stage>,
    pub verb: Option<String>,
    pub object: ObjectRef,
    pub user: UserInfo,
    pub source_ips: Vec<String>,
    pub user_agent: Option<String>,
    pub request_uri: Option<String>,
    /// A server-side dry run (`dryRun=All`) changes nothing, so it exposes nothing.
    pub dry_run: bool,
    pub outcome: Outcome,
    pub authorization: Decision,
    pub request_object: Option<Payload>,
    pub response_object: Option<Payload>,
    pub event_time: Option<DateTime<Utc>>,
    /// The provider's id of the log record (CloudWatch `eventId`, Cloud Logging `insertId`, …).
    pub record_id: Option<String>,
    /// What could not be read from the record; empty for a complete record.
    pub degraded: Vec<Degradation>,
}

impl AuditEvent {
    /// An event with nothing known but where it came from; normalizers fill in the rest.
    pub fn new(provider: Provider, origin: Origin) -> Self {
        AuditEvent {
            provider,
            origin,
            audit_id: None,
            request_received: None,
            stage: None,
            verb: None,
            object: ObjectRef::default(),
            user: UserInfo::default(),
            source_ips: Vec::new(),
            user_agent: None,
            request_uri: None,
            dry_run: false,
            outcome: Outcome::default(),
            authorization: Decision::Unknown,
            request_object: None,
            response_object: None,
            event_time: None,
            record_id: None,
            degraded: Vec::new(),
        }
    }

    pub fn is_degraded(&self) -> bool {
        !self.degraded.is_empty()
    }

    pub fn mark_degraded(&mut self, why: Degradation) {
        if !self.degraded.contains(&why) {
            self.degraded.push(why);
        }
    }
}

/// Where the cluster behind an event lives.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub cluster: Option<String>,
    /// AWS account, GCP project or Azure subscription.
    pub account: Option<String>,
    /// AWS region, GCP location or Azure region.
    pub region: Option<String>,
}

/// The audit stage a record was written at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    RequestReceived,
    ResponseStarted,
    ResponseComplete,
    Panic,
    Other(String),
}

impl Stage {
    pub fn parse(s: &str) -> Stage {
        match s {
            "RequestReceived" => Stage::RequestReceived,
            "ResponseStarted" => Stage::ResponseStarted,
            "ResponseComplete" => Stage::ResponseComplete,
            "Panic" => Stage::Panic,
            other => Stage::Other(other.to_owned()),
        }
    }
}

/// `objectRef`: what the request was about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub resource: Option<String>,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub api_group: Option<String>,
    pub api_version: Option<String>,
}

/// The authenticated user, and the user it impersonated if any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub impersonated: Option<Box<UserInfo>>,
}

/// How the API server answered.
///
/// HTTP and gRPC codes are kept apart because GKE reports failures as `google.rpc.Code` values
/// (1–16), which must never be read as HTTP status codes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// `responseStatus.code`, or the `code` of a GKE `Status` response.
    pub http_code: Option<u16>,
    /// GKE `protoPayload.status.code`.
    pub rpc_code: Option<i32>,
    pub message: Option<String>,
}

/// The authorizer's decision (`authorization.k8s.io/decision`, GKE `authorizationInfo[].granted`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Forbid,
    #[default]
    Unknown,
}

/// A request or response body as logged.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Payload {
    /// The body's JSON text, parsed only by the rules that need it.
    Json(Box<RawValue>),
    /// AKS replaced the body with `skipped-too-big-size-object`.
    #[serde(serialize_with = "serialize_omitted")]
    Omitted,
}

fn serialize_omitted<S: serde::Serializer>(s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(OMITTED_BODY_MARKER)
}

/// The string AKS writes in place of a request or response object that was too large to log.
pub const OMITTED_BODY_MARKER: &str = "skipped-too-big-size-object";

/// Why an event is known only in part.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "field")]
pub enum Degradation {
    /// The record was cut short (AKS `properties.log`, `log_s`); fields after the cut are lost.
    Truncated,
    /// `requestObject` was replaced by `skipped-too-big-size-object`.
    RequestOmitted,
    /// `responseObject` was replaced by `skipped-too-big-size-object`.
    ResponseOmitted,
    /// A field had an unexpected JSON type and was ignored.
    InvalidField(String),
}

impl Degradation {
    /// A stable label for metrics and summaries.
    pub fn label(&self) -> &'static str {
        match self {
            Degradation::Truncated => "truncated",
            Degradation::RequestOmitted => "request_omitted",
            Degradation::ResponseOmitted => "response_omitted",
            Degradation::InvalidField(_) => "invalid_field",
        }
    }
}

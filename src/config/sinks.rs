//! `[[sinks]]`: which sink types exist, and the routing keys every sink table takes (`rules`,
//! `min_severity`: which alerts it receives).
//!
//! Each sink's own table, its settings and the function that builds one from the other live
//! beside its code (`sinks/<type>/config.rs`). A new sink type adds a variant to [`RawSink`]
//! (and its `TYPES` and `decode` arms) and [`SinkKind`].

use std::path::Path;

use serde::Deserialize;
use serde_value::Value;

pub use crate::sinks::alertmanager::{AlertmanagerSettings, RawAlertmanagerSink};
pub use crate::sinks::aws_eventbridge::{AwsEventBridgeSettings, RawAwsEventBridgeSink};
pub use crate::sinks::aws_security_hub::{AwsSecurityHubSettings, RawAwsSecurityHubSink};
pub use crate::sinks::azure_logs_ingestion::{
    AzureLogsIngestionSettings, RawAzureLogsIngestionSink,
};
pub use crate::sinks::elasticsearch::{ElasticsearchSettings, RawElasticsearchSink};
pub use crate::sinks::file::{FileSinkSettings, RawFileSink};
pub use crate::sinks::http::HttpSettings;
pub use crate::sinks::pagerduty::{PagerDutySettings, RawPagerDutySink};
pub use crate::sinks::slack::{RawSlackSink, SlackSettings};
pub use crate::sinks::splunk_hec::{RawSplunkHecSink, SplunkHecSettings};
pub use crate::sinks::webhook::{RawWebhookSink, WebhookSettings};
use crate::sinks::{
    alertmanager, aws_eventbridge, aws_security_hub, azure_logs_ingestion, elasticsearch, file,
    pagerduty, slack, splunk_hec, webhook,
};

use super::decode;
use super::detection::rule_set;
use crate::alert::SinkRoute;
use crate::model::Severity;
use crate::validation::{self, Problems};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RawSink {
    Stdout(RawStdoutSink),
    File(RawFileSink),
    Webhook(RawWebhookSink),
    Slack(RawSlackSink),
    SplunkHec(RawSplunkHecSink),
    #[serde(rename = "pagerduty")]
    PagerDuty(RawPagerDutySink),
    Alertmanager(RawAlertmanagerSink),
    Elasticsearch(RawElasticsearchSink),
    AzureLogsIngestion(RawAzureLogsIngestionSink),
    #[serde(rename = "aws_eventbridge")]
    AwsEventBridge(RawAwsEventBridgeSink),
    AwsSecurityHub(RawAwsSecurityHubSink),
}

/// Which alerts a sink receives. Every sink table repeats these keys: serde cannot flatten a
/// shared struct into a table that rejects unknown keys.
#[derive(Clone, Copy, Debug, Default)]
pub struct SinkFilter<'a> {
    pub rules: Option<&'a [String]>,
    pub min_severity: Option<&'a str>,
    pub notify_closed: Option<bool>,
    pub remind_after: Option<&'a str>,
}

impl RawSink {
    /// The `type` of each variant, as written in the file.
    pub const TYPES: &[&str] = &[
        "stdout",
        "file",
        "webhook",
        "slack",
        "splunk_hec",
        "pagerduty",
        "alertmanager",
        "elasticsearch",
        "azure_logs_ingestion",
        "aws_eventbridge",
        "aws_security_hub",
    ];

    /// Decodes one `[[sinks]]` table whose `type` was `kind` (already taken out), reporting
    /// every problem under `key`.
    pub fn decode(kind: &str, table: Value, key: &str, p: &mut Problems) -> Option<RawSink> {
        match kind {
            "stdout" => decode::table(table, key, p).map(RawSink::Stdout),
            "file" => decode::table(table, key, p).map(RawSink::File),
            "webhook" => decode::table(table, key, p).map(RawSink::Webhook),
            "slack" => decode::table(table, key, p).map(RawSink::Slack),
            "splunk_hec" => decode::table(table, key, p).map(RawSink::SplunkHec),
            "pagerduty" => decode::table(table, key, p).map(RawSink::PagerDuty),
            "alertmanager" => decode::table(table, key, p).map(RawSink::Alertmanager),
            "elasticsearch" => decode::table(table, key, p).map(RawSink::Elasticsearch),
            "azure_logs_ingestion" => decode::table(table, key, p).map(RawSink::AzureLogsIngestion),
            "aws_eventbridge" => decode::table(table, key, p).map(RawSink::AwsEventBridge),
            "aws_security_hub" => decode::table(table, key, p).map(RawSink::AwsSecurityHub),
            _ => None,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            RawSink::Stdout(s) => &s.name,
            RawSink::File(s) => &s.name,
            RawSink::Webhook(s) => &s.name,
            RawSink::Slack(s) => &s.name,
            RawSink::SplunkHec(s) => &s.name,
            RawSink::PagerDuty(s) => &s.name,
            RawSink::Alertmanager(s) => &s.name,
            RawSink::Elasticsearch(s) => &s.name,
            RawSink::AzureLogsIngestion(s) => &s.name,
            RawSink::AwsEventBridge(s) => &s.name,
            RawSink::AwsSecurityHub(s) => &s.name,
        }
    }

    pub fn filter(&self) -> SinkFilter<'_> {
        let (rules, min_severity, notify_closed, remind_after) = match self {
            RawSink::Stdout(s) => (&s.rules, &s.min_severity, s.notify_closed, &s.remind_after),
            RawSink::File(s) => (&s.rules, &s.min_severity, s.notify_closed, &s.remind_after),
            RawSink::Webhook(s) => (&s.rules, &s.min_severity, s.notify_closed, &s.remind_after),
            RawSink::Slack(s) => (&s.rules, &s.min_severity, s.notify_closed, &s.remind_after),
            RawSink::SplunkHec(s) => (&s.rules, &s.min_severity, s.notify_closed, &s.remind_after),
            RawSink::PagerDuty(s) => (&s.rules, &s.min_severity, s.notify_closed, &s.remind_after),
            RawSink::Alertmanager(s) => {
                (&s.rules, &s.min_severity, s.notify_closed, &s.remind_after)
            }
            RawSink::Elasticsearch(s) => {
                (&s.rules, &s.min_severity, s.notify_closed, &s.remind_after)
            }
            RawSink::AzureLogsIngestion(s) => {
                (&s.rules, &s.min_severity, s.notify_closed, &s.remind_after)
            }
            RawSink::AwsEventBridge(s) => {
                (&s.rules, &s.min_severity, s.notify_closed, &s.remind_after)
            }
            RawSink::AwsSecurityHub(s) => {
                (&s.rules, &s.min_severity, s.notify_closed, &s.remind_after)
            }
        };
        SinkFilter {
            rules: rules.as_deref(),
            min_severity: min_severity.as_deref(),
            notify_closed,
            remind_after: remind_after.as_deref(),
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStdoutSink {
    pub name: String,
    pub rules: Option<Vec<String>>,
    pub min_severity: Option<String>,
    /// Send a resolution when an exposure this sink was alerted about closes (default on).
    pub notify_closed: Option<bool>,
    /// Send a still-open exposure again, once, after this long (`7d`); off when absent.
    pub remind_after: Option<String>,
}

#[derive(Clone, Debug)]
pub struct SinkSettings {
    pub name: String,
    pub route: SinkRoute,
    pub kind: SinkKind,
}

#[derive(Clone, Debug)]
pub enum SinkKind {
    Stdout,
    File(FileSinkSettings),
    Webhook(WebhookSettings),
    Slack(SlackSettings),
    SplunkHec(SplunkHecSettings),
    PagerDuty(PagerDutySettings),
    Alertmanager(AlertmanagerSettings),
    Elasticsearch(ElasticsearchSettings),
    AzureLogsIngestion(AzureLogsIngestionSettings),
    AwsEventBridge(AwsEventBridgeSettings),
    AwsSecurityHub(AwsSecurityHubSettings),
}

impl SinkKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            SinkKind::Stdout => "stdout",
            SinkKind::File(_) => "file",
            SinkKind::Webhook(_) => "webhook",
            SinkKind::Slack(_) => "slack",
            SinkKind::SplunkHec(_) => "splunk_hec",
            SinkKind::PagerDuty(_) => "pagerduty",
            SinkKind::Alertmanager(_) => "alertmanager",
            SinkKind::Elasticsearch(_) => "elasticsearch",
            SinkKind::AzureLogsIngestion(_) => "azure_logs_ingestion",
            SinkKind::AwsEventBridge(_) => "aws_eventbridge",
            SinkKind::AwsSecurityHub(_) => "aws_security_hub",
        }
    }
}

/// Validates one `[[sinks]]` table; problems are reported under `key`.
pub(super) fn build(
    raw: &RawSink,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<SinkSettings> {
    let route = route(p, key, raw.name(), raw.filter());
    let kind = match raw {
        RawSink::Stdout(_) => Some(SinkKind::Stdout),
        RawSink::File(f) => file::config::build(f, key, base, p).map(SinkKind::File),
        RawSink::Webhook(w) => webhook::config::build(w, key, base, p).map(SinkKind::Webhook),
        RawSink::Slack(s) => slack::config::build(s, key, base, p).map(SinkKind::Slack),
        RawSink::SplunkHec(s) => {
            splunk_hec::config::build(s, key, base, p).map(SinkKind::SplunkHec)
        }
        RawSink::PagerDuty(s) => pagerduty::config::build(s, key, base, p).map(SinkKind::PagerDuty),
        RawSink::Alertmanager(s) => {
            alertmanager::config::build(s, key, base, p).map(SinkKind::Alertmanager)
        }
        RawSink::Elasticsearch(s) => {
            elasticsearch::config::build(s, key, base, p).map(SinkKind::Elasticsearch)
        }
        RawSink::AzureLogsIngestion(s) => {
            azure_logs_ingestion::config::build(s, key, base, p).map(SinkKind::AzureLogsIngestion)
        }
        RawSink::AwsEventBridge(s) => {
            aws_eventbridge::config::build(s, key, base, p).map(SinkKind::AwsEventBridge)
        }
        RawSink::AwsSecurityHub(s) => {
            aws_security_hub::config::build(s, key, base, p).map(SinkKind::AwsSecurityHub)
        }
    }?;
    Some(SinkSettings {
        name: raw.name().to_owned(),
        route,
        kind,
    })
}

fn route(p: &mut Problems, key: &str, name: &str, filter: SinkFilter<'_>) -> SinkRoute {
    let min_severity = filter
        .min_severity
        .and_then(|s| {
            p.check(
                format!("{key}.min_severity"),
                Severity::parse(s).ok_or_else(|| {
                    format!("`{s}` is not one of info, low, medium, high, critical")
                }),
            )
        })
        .unwrap_or(Severity::Info);
    let rules = filter.rules.map(|r| {
        let set = rule_set(p, &format!("{key}.rules"), r);
        if r.is_empty() {
            p.push(
                format!("{key}.rules"),
                "an empty list would send nothing: remove the key to receive every rule",
            );
        }
        set
    });
    let remind_after =
        validation::values::duration(p, &format!("{key}.remind_after"), filter.remind_after);
    SinkRoute {
        sink: name.to_owned(),
        rules,
        min_severity,
        notify_closed: filter.notify_closed.unwrap_or(true),
        remind_after,
    }
}

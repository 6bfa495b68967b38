//! `slack`: a Block Kit message to an incoming webhook — the essentials at a glance, the
//! runbook below, the ids in a footer for the analyst who opens a ticket.
//!
//! Everything taken from the audit event (user names, service names, user agents) is escaped
//! for Slack's mrkdwn (`&`, `<`, `>`), so a crafted name cannot turn into a mention or a link;
//! a bare `@here` gets an invisible word joiner after its `@`, and line breaks and control
//! characters are shown escaped. Every mrkdwn text object is `verbatim`, so Slack does not
//! auto-link URLs or channel names inside it, and link previews are off.
//! Texts are cut to Block Kit's limits (header 150, field 2000, section 3000 characters).

mod closed;
pub mod config;

pub use closed::closed_message;
pub use config::{RawSlackSink, SlackSettings};

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use url::Url;

use super::http::{JsonPoster, Redactor};
use super::text::truncate;
use super::{DeliveryError, Sink};
use crate::model::{Alert, AlertStatus, ServicePort, escape_controls};

const HEADER_MAX: usize = 150;
const FIELD_MAX: usize = 2000;
pub(super) const SECTION_MAX: usize = 3000;

#[derive(Debug)]
pub struct SlackSink {
    poster: JsonPoster,
}

impl SlackSink {
    pub fn new(settings: &SlackSettings) -> Result<Self, String> {
        let mut redactor = Redactor::default();
        redactor.add(&settings.webhook_url);
        let url =
            Url::parse(settings.webhook_url.expose()).map_err(|_| "invalid URL".to_owned())?;
        Ok(SlackSink {
            poster: JsonPoster::new("Slack", url, settings.http.timeout, redactor)?,
        })
    }
}

#[async_trait]
impl Sink for SlackSink {
    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let payload = match alert.status {
            AlertStatus::Closed => closed_message(alert),
            AlertStatus::Open => message(alert),
        };
        let body = serde_json::to_vec(&payload)
            .map_err(|e| DeliveryError::rejected(format!("message not serializable: {e}")))?;
        self.poster.post(HeaderMap::new(), body).await
    }

    async fn healthcheck(&self) -> Result<(), DeliveryError> {
        super::http::reachable(&self.poster).await
    }
}

/// Escapes text for mrkdwn: `&<>` as entities (no `<!channel>`, `<@U1>` or `<url|label>`),
/// a U+2060 WORD JOINER after the `@` of `@here`, `@channel` and `@everyone` (still read as
/// written, never a ping; e-mail addresses stay copyable), line breaks and control characters
/// as visible escapes.
pub fn escape(text: &str) -> String {
    let escaped = escape_controls(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped.as_str();
    while let Some(at) = rest.find('@') {
        let (before, after) = rest.split_at(at + 1);
        out.push_str(before);
        let word = after
            .get(..after.len().min(8))
            .unwrap_or(after)
            .to_ascii_lowercase();
        if ["here", "channel", "everyone"]
            .iter()
            .any(|w| word.starts_with(w))
        {
            out.push('\u{2060}');
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// A mrkdwn text object that Slack shows as written: no auto-linked URLs, channel names or
/// mentions.
fn mrkdwn(text: String, max: usize) -> Value {
    json!({"type": "mrkdwn", "text": truncate(&text, max), "verbatim": true})
}

pub(super) fn or_unknown(value: Option<&str>) -> String {
    value.map_or_else(|| "_unknown_".to_owned(), escape)
}

fn port_text(p: &ServicePort) -> String {
    let port = p.port.map_or("?".to_owned(), |n| n.to_string());
    let node = p.node_port.map_or("auto".to_owned(), |n| n.to_string());
    let proto = p.protocol.as_deref().unwrap_or("TCP");
    format!("{port} → node {node}/{}", escape(proto))
}

fn field(label: &str, value: String) -> Value {
    mrkdwn(format!("*{label}*\n{value}"), FIELD_MAX)
}

/// The webhook payload: a plain `text` (notifications and old clients) and the blocks.
pub fn message(alert: &Alert) -> Value {
    let service = match (&alert.namespace, &alert.service) {
        (Some(ns), Some(name)) => format!("`{}/{}`", escape(ns), escape(name)),
        (None, Some(name)) => format!("`{}`", escape(name)),
        _ => "_unknown_".to_owned(),
    };
    let mut user = or_unknown(alert.user.username.as_deref());
    if let Some(imp) = &alert.user.impersonated {
        user.push_str(&format!(" (as {})", or_unknown(imp.username.as_deref())));
    }
    let where_ = [
        Some(alert.provider.as_str()),
        alert.account.as_deref(),
        alert.region.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(escape)
    .collect::<Vec<_>>()
    .join(" · ");
    let ports = if alert.ports.is_empty() {
        "_none logged_".to_owned()
    } else {
        alert
            .ports
            .iter()
            .map(port_text)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let list = |items: &[String]| {
        if items.is_empty() {
            "_none_".to_owned()
        } else {
            items
                .iter()
                .map(|s| escape(s))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let risks: Vec<String> = alert
        .risk_factors
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let mitre: Vec<String> = alert
        .mitre
        .iter()
        .map(|m| format!("{} {}", m.technique_id, m.technique))
        .collect();
    let event_time = alert
        .event_time
        .map_or("_unknown_".to_owned(), |t| t.to_rfc3339());

    let fields = vec![
        field("Severity", alert.severity.as_str().to_uppercase()),
        field("Rule", format!("`{}`", alert.rule)),
        field("Cluster", or_unknown(alert.cluster.as_deref())),
        field("Service", service),
        field("User", user),
        field("Source IPs", list(&alert.source_ips)),
        field("Ports", ports),
        field("Where", where_),
        field("Event time", event_time),
        field("Risk factors", list(&risks)),
    ];
    let footer = format!(
        "alert `{}` · audit `{}` · source `{}` · MITRE {}",
        escape(&alert.id),
        or_unknown(alert.audit_id.as_deref()),
        escape(&alert.source),
        escape(&mitre.join(", "))
    );
    json!({
        "text": truncate(&format!("[{}] {}", alert.severity.as_str().to_uppercase(), escape(&alert.title)), SECTION_MAX),
        "unfurl_links": false,
        "unfurl_media": false,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": truncate(&escape_controls(&alert.title), HEADER_MAX)}},
            {"type": "section", "fields": fields},
            {"type": "section", "text": mrkdwn(format!("*Runbook*\n{}", escape(&alert.runbook)), SECTION_MAX)},
            {"type": "context", "elements": [mrkdwn(footer, SECTION_MAX)]},
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_mrkdwn_control_characters() {
        assert_eq!(
            escape("<!channel> & <@U1> @here @Channel a@everyone.io bob@example.com"),
            "&lt;!channel&gt; &amp; &lt;@U1&gt; @\u{2060}here @\u{2060}Channel \
             a@\u{2060}everyone.io bob@example.com"
        );
        assert_eq!(
            escape("web\n*Severity*\u{1b}\u{202e}"),
            "web\\n*Severity*\\u{1b}\\u{202e}"
        );
    }

    #[test]
    fn cuts_to_the_limit() {
        let long = "x".repeat(200);
        let cut = truncate(&long, HEADER_MAX);
        assert_eq!(cut.chars().count(), HEADER_MAX);
        assert!(cut.ends_with('…'));
        assert_eq!(super::truncate("short", HEADER_MAX), "short");
    }
}

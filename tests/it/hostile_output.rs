//! Names an attacker chose (whoever writes the Service picks its name, labels and user agent)
//! through every sink format against a loopback receiver: Slack shows them inert (no mention,
//! no link, no forged line, `verbatim` text objects), and the JSON bodies of webhook (native
//! and OCSF) and Splunk HEC carry them exactly, escaped by the encoder, one line per body.

use std::time::Duration;

use nodeport_watch::model::Alert;
use serde_json::Value;

use crate::sinks::{settings, sink};
use crate::support::fixtures;
use crate::support::receiver::Receiver;

const WAIT: Duration = Duration::from_secs(20);

const SERVICE: &str = "web\n*Severity*\nLOW <!channel> @here <https://evil.example|click>";
const NAMESPACE: &str = "shop\r\u{1b}[2J\u{202e}gpj.exe";
const USER: &str = "mallory@here <@U123> https://evil.example/login";
/// What a record with invalid UTF-8 becomes once decoded (U+FFFD), as the normalizers read it.
const USER_AGENT: &str = "kubectl\u{fffd}\u{fffd}\u{0}\u{7f}\u{85}";

fn hostile_alert() -> Alert {
    let mut alert = fixtures::alert("hostile-1");
    alert.service = Some(SERVICE.to_owned());
    alert.namespace = Some(NAMESPACE.to_owned());
    alert.user.username = Some(USER.to_owned());
    alert.user_agent = Some(USER_AGENT.to_owned());
    alert.title = format!("Service {NAMESPACE}/{SERVICE} exposed by {USER}");
    alert
}

/// Every `"type": "mrkdwn"` object of a Block Kit message.
fn mrkdwn_objects(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                out.push(v.clone());
            }
            map.values().for_each(|v| mrkdwn_objects(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| mrkdwn_objects(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn slack_shows_hostile_names_inert() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("slack"), rx.url("/services/T0/B0/x")).unwrap();
    let s = settings(
        dir.path(),
        "[[sinks]]\ntype = \"slack\"\nname = \"chat\"\nwebhook_url = { file = \"slack\" }\n",
    );
    sink(&s, "chat").deliver(&hostile_alert()).await.unwrap();
    let message = rx.wait_for(1, WAIT).await[0].json();

    assert_eq!(message["unfurl_links"], Value::Bool(false));
    let mut texts = Vec::new();
    mrkdwn_objects(&message, &mut texts);
    assert!(texts.len() >= 10, "{message}");
    for object in &texts {
        assert_eq!(object["verbatim"], Value::Bool(true), "{object}");
    }
    let mut all: Vec<String> = texts
        .iter()
        .map(|o| o["text"].as_str().unwrap().to_owned())
        .collect();
    all.push(message["text"].as_str().unwrap().to_owned());
    // The header is `plain_text`, which Slack never parses for mentions or links; it only has
    // to stay on one line.
    let header = message["blocks"][0]["text"].clone();
    assert_eq!(header["type"], "plain_text");
    let header = header["text"].as_str().unwrap();
    assert!(header.contains("web\\n*Severity*\\nLOW"), "{header}");
    for text in &all {
        // No mention, channel ping or link syntax survives; no name starts a line of its own.
        for forbidden in [
            "<!channel>",
            "<@U123>",
            "<https://",
            "@here",
            "\n*Severity*\nLOW",
        ] {
            assert!(!text.contains(forbidden), "{forbidden:?} in {text:?}");
        }
    }
    for text in all.iter().map(String::as_str).chain([header]) {
        for c in ['\r', '\u{1b}', '\u{202e}', '\u{0}', '\u{7f}', '\u{85}'] {
            assert!(!text.contains(c), "{c:?} in {text:?}");
        }
    }
    let service = texts
        .iter()
        .map(|o| o["text"].as_str().unwrap())
        .find(|t| t.starts_with("*Service*"))
        .unwrap();
    assert!(
        service.contains("web\\n*Severity*\\nLOW &lt;!channel&gt; @\u{2060}here"),
        "{service}"
    );
    assert!(service.contains("\\u{1b}[2J\\u{202e}gpj.exe"), "{service}");
}

/// The JSON sinks are safe by construction: the encoder escapes every control character, so a
/// body is one line, and the receiver reads back exactly the names that were written.
#[tokio::test]
async fn json_sinks_carry_hostile_names_exactly_on_one_line() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hec"), "hec-token-1").unwrap();
    let s = settings(
        dir.path(),
        &format!(
            "[[sinks]]\ntype = \"webhook\"\nname = \"native\"\nurl = \"{native}\"\n\n\
             [[sinks]]\ntype = \"webhook\"\nname = \"ocsf\"\nurl = \"{ocsf}\"\nformat = \"ocsf\"\n\n\
             [[sinks]]\ntype = \"splunk_hec\"\nname = \"hec\"\nurl = \"{hec}\"\ntoken = {{ file = \"hec\" }}\n",
            native = rx.url("/native"),
            ocsf = rx.url("/ocsf"),
            hec = rx.url("/hec"),
        ),
    );
    let alert = hostile_alert();
    for name in ["native", "ocsf", "hec"] {
        sink(&s, name).deliver(&alert).await.unwrap();
    }
    let got = rx.wait_for(3, WAIT).await;
    for request in &got {
        let body = &request.body;
        assert!(
            !body.iter().any(|b| *b < 0x20),
            "raw control byte in {}: {}",
            request.path,
            String::from_utf8_lossy(body)
        );
        let text = String::from_utf8_lossy(body);
        for name in [SERVICE, NAMESPACE, USER, USER_AGENT] {
            let encoded = serde_json::to_string(name).unwrap();
            assert!(text.contains(&encoded), "{} lacks {encoded}", request.path);
        }
    }
    let native = got.iter().find(|r| r.path == "/native").unwrap().json();
    assert_eq!(native["service"], SERVICE);
    assert_eq!(native["namespace"], NAMESPACE);
    assert_eq!(native["user_agent"], USER_AGENT);
    let hec = got.iter().find(|r| r.path == "/hec").unwrap().json();
    assert_eq!(hec["event"]["user"]["username"], USER);
}

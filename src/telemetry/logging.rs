//! tracing setup: human-readable text by default, JSON lines for log pipelines.
//!
//! Either way one event is one line: JSON escapes by construction, and the text format writes
//! every field through [`SafeFields`], since a field may hold a name an attacker chose (a
//! Service called `web\nINFO all clear`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};

use crate::model::escape_controls;

/// The default `key=value` field format, with line breaks, control characters and
/// bidirectional overrides escaped ([`escape_controls`]). The fmt crate escapes terminal
/// sequences only; a newline inside a value would otherwise start a forged line.
#[derive(Debug, Default)]
pub struct SafeFields(DefaultFields);

impl<'writer> FormatFields<'writer> for SafeFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        let mut plain = String::new();
        self.0.format_fields(Writer::new(&mut plain), fields)?;
        writer.write_str(&escape_controls(&plain))
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Colours only on a terminal, and never when `NO_COLOR` is set to anything (no-color.org).
fn colours_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the global subscriber, writing to stderr (stdout belongs to alerts).
///
/// `RUST_LOG` overrides `level` for fine-grained filters. The cloud SDKs and HTTP stacks log
/// at warn and above only, unless the filter names them (`RUST_LOG=debug,azure_core=debug`).
pub fn init(format: LogFormat, level: &str) {
    let spec = std::env::var(EnvFilter::DEFAULT_ENV).unwrap_or_else(|_| level.to_owned());
    let filter =
        EnvFilter::try_new(quiet_sdks(&spec)).unwrap_or_else(|_| EnvFilter::new(quiet_sdks(level)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests, re-entrant CLI paths) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder
            .fmt_fields(SafeFields::default())
            .with_ansi(colours_wanted())
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Crates whose own logs are detail for their maintainers, not for operators (each a target
/// prefix: `aws_smithy` covers every `aws_smithy_*` crate).
const QUIET_TARGETS: &[&str] = &[
    "aws_config",
    "aws_runtime",
    "aws_sdk",
    "aws_smithy",
    "azure_core",
    "azure_identity",
    "azure_storage",
    "typespec",
    "google_cloud",
    "gax",
    "h2",
    "hyper",
    "reqwest",
    "rustls",
    "tower",
];

/// `spec` plus `<crate>=warn` for every quiet crate the spec does not name: a directive on a
/// crate or a prefix of it (`aws=debug`) is the user asking, so it is left to win.
fn quiet_sdks(spec: &str) -> String {
    let targets: Vec<&str> = spec
        .split(',')
        .filter_map(|d| {
            let target = d.split(['=', '[']).next()?.trim();
            // A bare level (`debug`) names no crate.
            let is_level =
                target.parse::<tracing::Level>().is_ok() || target.eq_ignore_ascii_case("off");
            (!target.is_empty() && !is_level).then_some(target)
        })
        .collect();
    let mut out = spec.trim().to_owned();
    for quiet in QUIET_TARGETS {
        if !targets.iter().any(|t| quiet.starts_with(t)) {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(quiet);
            out.push_str("=warn");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn one_event_stays_one_text_line_whatever_the_fields_hold() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(SafeFields::default())
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        let hostile = "web\n2026-01-01T00:00:00Z  INFO all clear\r\u{1b}[2J\u{202e}lmth.exe";
        let invalid_utf8 = String::from_utf8_lossy(b"bad\xff\xfebytes");
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("poll", source = %hostile);
            let _entered = span.enter();
            tracing::warn!(service = %hostile, raw = %invalid_utf8, "skipped {hostile}");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.ends_with('\n'));
        for shown in [
            "web\\n2026",
            "\\r",
            "\\x1b[2J",
            "\\u{202e}lmth",
            "bad\u{fffd}\u{fffd}bytes",
        ] {
            assert!(text.contains(shown), "{shown} in {text}");
        }
        assert!(!text.contains('\u{1b}') && !text.contains('\u{202e}') && !text.contains('\r'));
    }

    #[test]
    fn sdk_logs_are_quiet_unless_named() {
        let spec = quiet_sdks("debug");
        assert!(spec.starts_with("debug,"), "{spec}");
        assert!(spec.contains("typespec=warn") && spec.contains("aws_smithy=warn"));
        let spec = quiet_sdks("info,azure_core=debug,aws=trace");
        assert!(!spec.contains("azure_core=warn"), "{spec}");
        assert!(!spec.contains("aws_smithy=warn"), "{spec}");
        assert!(spec.contains("hyper=warn"), "{spec}");
        assert!(EnvFilter::try_new(quiet_sdks("info,hyper[span]=debug")).is_ok());
    }
}

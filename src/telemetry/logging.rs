//! tracing setup: human-readable text by default, JSON lines for log pipelines.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

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
/// `RUST_LOG` overrides `level` for fine-grained filters.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests, re-entrant CLI paths) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(colours_wanted()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

//! The one path from a subcommand to standard output.
//!
//! Every listing command is used in pipelines (`detect … | head`, `alerts --json | jq`), so a
//! reader that goes away early is normal, not an error. Rust ignores `SIGPIPE`, so a write to
//! a closed pipe returns `EPIPE`; this module turns that into [`Closed`], and [`finish`] ends
//! the command quietly with status 0, as ripgrep does (not 141: nothing failed, the reader
//! simply had enough). Writes are buffered and flushed at the end, or per line on a terminal
//! so that a person watching sees each result as it comes.

use std::fmt::Display;
use std::io::{self, BufWriter, IsTerminal, Stdout, Write};
use std::process::ExitCode;

use serde::Serialize;

/// Standard output went away (the reader closed the pipe): stop writing, end quietly.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct Closed;

pub struct Output {
    out: BufWriter<Stdout>,
    flush_each_line: bool,
    json: bool,
}

/// A message as `--log-format` asks: the text itself, or `{"level":…,"message":…}`.
fn message(json: bool, level: &str, text: impl Display) -> String {
    if json {
        serde_json::json!({"level": level, "message": text.to_string()}).to_string()
    } else {
        text.to_string()
    }
}

/// A message on stderr (problems, warnings), in the same form as [`Output::say`].
pub fn complain(json: bool, level: &str, text: impl Display) {
    eprintln!("{}", message(json, level, text));
}

impl Default for Output {
    fn default() -> Self {
        Output::stdout()
    }
}

impl Output {
    pub fn stdout() -> Self {
        let stdout = io::stdout();
        Output {
            flush_each_line: stdout.is_terminal(),
            out: BufWriter::new(stdout),
            json: false,
        }
    }

    /// Messages written with [`Output::say`] become JSON objects, for `--log-format json`.
    pub fn messages_as_json(mut self, json: bool) -> Self {
        self.json = json;
        self
    }

    /// Writes one human message (as text, or as JSON with its level).
    pub fn say(&mut self, level: &str, text: impl Display) -> anyhow::Result<()> {
        let line = message(self.json, level, text);
        self.line(line)
    }

    /// Writes one line.
    pub fn line(&mut self, text: impl Display) -> anyhow::Result<()> {
        let result = writeln!(self.out, "{text}");
        self.after_line(result)
    }

    /// Writes one value as a line of JSON.
    pub fn json(&mut self, value: &impl Serialize) -> anyhow::Result<()> {
        let result = serde_json::to_writer(&mut self.out, value)
            .map_err(io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        self.after_line(result)
    }

    /// Writes generated text as it is (a completion script, a manual page) and flushes it.
    pub fn bytes(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        checked(self.out.write_all(bytes))?;
        self.flush()
    }

    pub fn flush(&mut self) -> anyhow::Result<()> {
        let result = self.out.flush();
        checked(result)
    }

    fn after_line(&mut self, result: io::Result<()>) -> anyhow::Result<()> {
        checked(result)?;
        if self.flush_each_line {
            self.flush()?;
        }
        Ok(())
    }
}

fn checked(result: io::Result<()>) -> anyhow::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Closed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("writing to standard output")),
        Ok(()) => Ok(()),
    }
}

/// A command's result, with a closed standard output read as a quiet success.
pub fn finish(result: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    match result {
        Err(e) if e.chain().any(is_closed) => Ok(ExitCode::SUCCESS),
        other => other,
    }
}

fn is_closed(cause: &(dyn std::error::Error + 'static)) -> bool {
    cause.is::<Closed>()
        || cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_is_a_quiet_success_and_other_errors_stay() {
        let closed = checked(Err(io::Error::from(io::ErrorKind::BrokenPipe)));
        assert!(
            matches!(finish(closed.map(|()| ExitCode::FAILURE)), Ok(c) if c == ExitCode::SUCCESS)
        );
        let full = checked(Err(io::Error::other("disk full")));
        assert!(finish(full.map(|()| ExitCode::SUCCESS)).is_err());
    }
}

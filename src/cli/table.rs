//! Tables for people, JSON lines for programs: the `--output` choice every listing command
//! shares (`detect`, `alerts`, `status`, `exposures`).
//!
//! Cells hold text an attacker chose (Service names, user names, user agents), so every cell
//! goes through [`printable`]: a control character or a bidirectional override is shown
//! escaped, never interpreted by the terminal, and a table row stays one line. Alignment is
//! comfy-table's (without its terminal feature: rows are never wrapped, so `grep` and `cut`
//! still see one row per line).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use clap::ValueEnum;
use comfy_table::presets::NOTHING;
use comfy_table::{CellAlignment, ContentArrangement};

use super::output::Output;

/// `--output`: how a listing command prints its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputArg {
    // Plain comments, not doc comments: documented values would switch every `--help` that
    // offers `--output` to clap's long, one-value-per-line layout.
    // Aligned columns with a header line.
    Table,
    // One JSON object per line.
    Json,
}

impl OutputArg {
    /// The format asked for: `--output` wins, then the older `--json` flag, then `default`.
    pub fn chosen(explicit: Option<OutputArg>, json_flag: bool, default: OutputArg) -> OutputArg {
        match (explicit, json_flag) {
            (Some(kind), _) => kind,
            (None, true) => OutputArg::Json,
            (None, false) => default,
        }
    }
}

/// Rows collected, then printed aligned under a header.
pub struct Table {
    inner: comfy_table::Table,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        let mut inner = comfy_table::Table::new();
        inner
            .load_style(NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(header.to_vec());
        for column in inner.column_iter_mut() {
            column.set_padding((0, 2));
            column.set_cell_alignment(CellAlignment::Left);
        }
        Table { inner }
    }

    /// Adds a row; every cell is made [`printable`].
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let row: Vec<String> = cells
            .into_iter()
            .map(|cell| printable(cell.as_ref()).into_owned())
            .collect();
        self.inner.add_row(row);
    }

    pub fn print(&self, out: &mut Output) -> anyhow::Result<()> {
        for line in self.inner.lines() {
            out.line(line.trim_end())?;
        }
        Ok(())
    }
}

/// A time as the tables show it: UTC, to the second.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// How long ago, or for how long: `42s`, `3m`, `5h`, `12d` (a negative span, from a clock that
/// disagrees, reads `0s`).
pub fn age(span: chrono::Duration) -> String {
    let secs = span.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// `text` with control characters (a forged line break, a terminal escape), bidirectional
/// overrides (text that reads differently from how it sorts) and other invisible format
/// characters escaped as `\u{…}`; `-` for empty text, so columns never collapse.
pub fn printable(text: &str) -> Cow<'_, str> {
    if text.is_empty() {
        return Cow::Borrowed("-");
    }
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            // Bidirectional embeddings, overrides and isolates (the "Trojan Source" set).
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            // Zero-width characters and marks that hide what a cell really holds.
            | '\u{200b}'..='\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_cells_stay_on_one_line_and_visible() {
        assert_eq!(printable("web"), "web");
        assert_eq!(printable(""), "-");
        assert_eq!(printable("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(printable("x\u{1b}[2Jy"), "x\\u{1b}[2Jy");
        assert_eq!(printable("abc\u{202e}gpj.exe"), "abc\\u{202e}gpj.exe");
        assert_eq!(printable("zero\u{200b}width"), "zero\\u{200b}width");
        // Ordinary non-ASCII text is kept.
        assert_eq!(printable("dienst-ä-日本"), "dienst-ä-日本");
    }

    #[test]
    fn ages_read_at_a_glance() {
        use chrono::Duration;
        assert_eq!(age(Duration::seconds(42)), "42s");
        assert_eq!(age(Duration::minutes(3)), "3m");
        assert_eq!(age(Duration::hours(5)), "5h");
        assert_eq!(age(Duration::days(2)), "2d");
        assert_eq!(age(Duration::seconds(-5)), "0s", "a clock ahead");
    }

    #[test]
    fn output_flags_combine_as_documented() {
        use OutputArg::*;
        assert_eq!(OutputArg::chosen(Some(Table), true, Json), Table);
        assert_eq!(OutputArg::chosen(None, true, Table), Json);
        assert_eq!(OutputArg::chosen(None, false, Table), Table);
    }
}

//! Text an attacker chose (Service names, labels, user agents, user names), made safe to show
//! an operator: line breaks and control characters become visible escapes, so a name can never
//! start a forged log line or message line, and bidirectional overrides (which reorder what a
//! reader sees, U+202E "right-to-left override") are shown as code points.
//!
//! Hand-written: the set is small and fixed, and the escapes must match what JSON and Rust's
//! `Debug` would show (`\n`, `\u{1b}`) so an operator recognises them.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` would break a line, drive a terminal or reorder text on screen.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
                | '\u{2028}' | '\u{2029}'
        )
}

/// `text` with every line break, control character and bidirectional control escaped;
/// borrowed unchanged when there is none (the common case).
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaks_controls_and_overrides_become_visible() {
        assert!(matches!(escape_controls("web-1 ünïcode"), Cow::Borrowed(_)));
        assert_eq!(
            escape_controls("a\nFAKE LINE\r\u{1b}[31m\u{7}\u{202e}gpj.exe\u{85}"),
            "a\\nFAKE LINE\\r\\u{1b}[31m\\u{7}\\u{202e}gpj.exe\\u{85}"
        );
        assert_eq!(escape_controls("\u{fffd}"), "\u{fffd}");
    }
}

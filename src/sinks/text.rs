//! Text from an audit event on its way into a destination's free-text fields (annotations,
//! Falco's `output`): whatever template shows it next, a control character from the event (a
//! terminal escape, a carriage return faking a new log line) must not reach an operator, and
//! a long name must not push a field past the destination's limit.

/// Drops control characters; a line break is kept only where `multiline`.
pub fn strip_controls(text: &str, multiline: bool) -> String {
    text.chars()
        .filter(|c| !c.is_control() || (multiline && *c == '\n'))
        .collect()
}

/// `text` in at most `max` characters, ending in `…` when it was cut (never inside a
/// multi-byte character).
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    if max > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        let cut = truncate(&"é".repeat(2000), 1024);
        assert_eq!(cut.chars().count(), 1024);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn control_characters_never_reach_a_template() {
        assert_eq!(strip_controls("a\u{1b}[31mb\r\nc", false), "a[31mbc");
        assert_eq!(strip_controls("a\u{1b}\nb", true), "a\nb");
    }
}

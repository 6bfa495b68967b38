//! Text from an audit event on its way into a destination's free-text fields (annotations,
//! Falco's `output`): whatever template shows it next, a control character from the event (a
//! terminal escape, a carriage return faking a new log line) must not reach an operator.

/// Drops control characters; a line break is kept only where `multiline`.
pub fn strip_controls(text: &str, multiline: bool) -> String {
    text.chars()
        .filter(|c| !c.is_control() || (multiline && *c == '\n'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_a_template() {
        assert_eq!(strip_controls("a\u{1b}[31mb\r\nc", false), "a[31mbc");
        assert_eq!(strip_controls("a\u{1b}\nb", true), "a\nb");
    }
}

//! ASFF's limits on what one field may hold, applied to text from the audit log.
//!
//! Names in an alert (namespace, Service, user, user agent) are chosen by whoever wrote the
//! audit record. In free text they are data: control characters are dropped and the text is
//! cut to the field's limit on a character boundary, so a long name can neither break the
//! console nor push the finding over Security Hub's limits (a refused finding would be
//! dead-lettered). In identifiers (the finding's `Id`, a resource's `Id`) only a small safe
//! set of characters passes, so a name can never forge another finding's or resource's id
//! syntax (an ARN, a path).

use crate::sinks::text::{strip_controls, truncate};

/// The longest `Id` (finding) or resource `Id` we write; ASFF allows 512.
pub const MAX_ID: usize = 512;
/// The longest part of an identifier; a Kubernetes name is at most 253 characters.
const MAX_ID_PART: usize = 253;

/// Free text from the audit log: one line, no control characters, at most `max` characters.
pub fn text(value: &str, max: usize) -> String {
    truncate(&strip_controls(value, false), max)
}

/// One part of an identifier: letters, digits and `._-` kept, anything else `_`; `-` for
/// an empty part; at most 253 characters.
pub fn id_part(value: &str) -> String {
    if value.is_empty() {
        return "-".to_owned();
    }
    value
        .chars()
        .take(MAX_ID_PART)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Parts joined with `/`, each made safe, the whole at most [`MAX_ID`] characters.
pub fn id(parts: &[&str]) -> String {
    let joined = parts
        .iter()
        .map(|p| id_part(p))
        .collect::<Vec<_>>()
        .join("/");
    // Only ASCII is left, so a byte cut is a character cut.
    joined.chars().take(MAX_ID).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_drops_control_characters() {
        assert_eq!(text("web\u{1b}[31m\r\nprod", 100), "web[31mprod");
        assert_eq!(text(&"x".repeat(300), 256).chars().count(), 256);
    }

    #[test]
    fn identifiers_keep_a_safe_alphabet_and_length() {
        assert_eq!(id(&["prod-eu", "shop", "web"]), "prod-eu/shop/web");
        assert_eq!(
            id(&["arn:aws:eks:x", "a/b", "évil name\n"]),
            "arn_aws_eks_x/a_b/_vil_name_"
        );
        assert_eq!(id(&["", "ns", ""]), "-/ns/-");
        let long = id(&[&"a".repeat(1000), &"b".repeat(1000), &"c".repeat(1000)]);
        assert_eq!(long.len(), MAX_ID);
        assert!(long.starts_with(&"a".repeat(253)));
    }
}

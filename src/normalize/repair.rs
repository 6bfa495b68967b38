//! Recovers the readable prefix of JSON that was cut short.
//!
//! AKS truncates `properties.log` (16 KiB in storage exports, 32,766 bytes in `log_s`). The audit
//! Event's fields are written in a fixed order (verb, user, source IPs, objectRef and
//! responseStatus come before the bodies), so the prefix usually still tells who did what to which
//! Service and whether it succeeded. This module cuts the text back to the last complete member
//! and closes every open container, giving valid JSON that holds exactly the complete fields.

/// Returns the longest valid JSON document that is a completion of a prefix of `text`, or `None`
/// when `text` does not start with an object or array.
pub(crate) fn close_truncated(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    if !matches!(bytes[start], b'{' | b'[') {
        return None;
    }

    // The open containers, and the last position where cutting leaves only complete members,
    // with the containers open at that point.
    let mut stack: Vec<u8> = Vec::new();
    let mut cut: Option<(usize, Vec<u8>)> = None;
    let mut in_string = false;
    let mut escaped = false;

    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                stack.push(if b == b'{' { b'}' } else { b']' });
                cut = Some((i + 1, stack.clone()));
            }
            b'}' | b']' => {
                // A closing bracket with nothing open: not a truncated document.
                stack.pop()?;
                if stack.is_empty() {
                    // The document was complete after all.
                    return Some(text[..=i].to_owned());
                }
                cut = Some((i + 1, stack.clone()));
            }
            b',' => cut = Some((i, stack.clone())),
            _ => {}
        }
    }

    let (at, open) = cut?;
    let mut repaired = String::with_capacity(at + open.len());
    repaired.push_str(&text[..at]);
    // Cuts fall right after an opening bracket, right after a closing one, or right before a
    // comma: at each of them every open container is empty or ends with a complete member.
    repaired.extend(open.iter().rev().map(|&c| c as char));
    Some(repaired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repaired(text: &str) -> serde_json::Value {
        serde_json::from_str(&close_truncated(text).expect("repairable")).expect("valid JSON")
    }

    #[test]
    fn keeps_complete_members_and_drops_the_cut_one() {
        let v = repaired(r#"{"verb":"create","objectRef":{"resource":"services","name":"we"#);
        assert_eq!(v["verb"], "create");
        assert_eq!(v["objectRef"]["resource"], "services");
        assert!(v["objectRef"].get("name").is_none());
    }

    #[test]
    fn handles_strings_with_brackets_and_escapes() {
        let v = repaired(r#"{"a":"x}]\",{","b":[1,2,{"c":"#);
        assert_eq!(v["a"], "x}]\",{");
        assert_eq!(v["b"], serde_json::json!([1, 2, {}]));
    }

    #[test]
    fn a_cut_inside_a_key_or_after_a_colon_is_dropped() {
        assert_eq!(repaired(r#"{"a":1,"b"#), serde_json::json!({"a": 1}));
        assert_eq!(repaired(r#"{"a":1,"b":"#), serde_json::json!({"a": 1}));
        assert_eq!(repaired(r#"{"a":1,"b":tr"#), serde_json::json!({"a": 1}));
        assert_eq!(repaired(r#"{"a"#), serde_json::json!({}));
    }

    #[test]
    fn refuses_what_is_not_a_container() {
        assert!(close_truncated("\"abc").is_none());
        assert!(close_truncated("").is_none());
        assert!(close_truncated("}").is_none());
    }

    #[test]
    fn complete_documents_come_back_unchanged() {
        assert_eq!(close_truncated(r#"{"a":[1]}"#).unwrap(), r#"{"a":[1]}"#);
    }
}

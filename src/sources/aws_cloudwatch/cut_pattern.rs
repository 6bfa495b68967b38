//! The second pushdown pattern: messages CloudWatch cut at its event size limit.
//!
//! A message longer than the limit (1 MB per event; 256 KB in older guides) arrives as its first
//! bytes followed by `[Truncated...]`. It is no longer JSON, and a JSON filter pattern matches
//! JSON only, so with pushdown on AWS would never return it: padding a Service's annotations
//! past the limit would hide the write. So each window a pushed-down source reads is read a
//! second time with [`CUT_SERVICES_PATTERN`], a text pattern that AWS evaluates on any message,
//! once the JSON read of the window is complete: one request per window and log group (cut
//! messages are rare, so it is nearly always one page; AWS may still answer a long search with
//! empty pages and a token, which are followed up to [`MAX_CUT_PAGES`]). It returns the cut
//! messages that mention `services`.
//!
//! [`TextPattern`] models AWS's "match terms in unstructured log events": terms separated by
//! spaces must all occur in the message, case-sensitively; a term with characters other than
//! letters, digits and `_` is written in double quotes. Whether AWS matches a term as a substring
//! or as a whole token does not matter for this pattern: in the messages it must return, both
//! terms stand between punctuation (`...":"services"...`, `...[Truncated...]`).

use super::filter_pattern::PatternError;

/// Pages of one window's cut-message read before the window is given up and read again.
pub const MAX_CUT_PAGES: usize = 100;

/// Cut messages that mention Services: a superset of the cut Service writes.
pub const CUT_SERVICES_PATTERN: &str = r#""[Truncated...]" "services""#;

/// A pattern of terms that must all occur in a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextPattern {
    terms: Vec<String>,
}

impl TextPattern {
    /// Parses bare and double-quoted terms; `?` (any of) and `-` (exclude) are not modelled
    /// and are refused.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let mut terms = Vec::new();
        let mut rest = text.trim_start();
        while !rest.is_empty() {
            let at = text.len() - rest.len();
            let (term, after) = if let Some(quoted) = rest.strip_prefix('"') {
                let end = quoted.find('"').ok_or(PatternError::Syntax {
                    at,
                    expected: "a closing `\"`",
                })?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                let word = &rest[..end];
                if !word.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(PatternError::Syntax {
                        at,
                        expected: "a term of letters, digits and `_`, or a quoted term",
                    });
                }
                (word, &rest[end..])
            };
            if term.is_empty() {
                return Err(PatternError::Syntax {
                    at,
                    expected: "a non-empty term",
                });
            }
            terms.push(term.to_owned());
            rest = after.trim_start();
        }
        if terms.is_empty() {
            return Err(PatternError::Syntax {
                at: 0,
                expected: "a term",
            });
        }
        Ok(TextPattern { terms })
    }

    /// The cut-message pattern, parsed.
    pub fn cut_services() -> Self {
        // Covered by a unit test; the fallback (the marker alone) is still a superset.
        Self::parse(CUT_SERVICES_PATTERN).unwrap_or_else(|_| TextPattern {
            terms: vec![crate::normalize::eks::CUT_MARKER.to_owned()],
        })
    }

    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// Whether AWS would return a log event with this `message`.
    pub fn matches(&self, message: &str) -> bool {
        self.terms.iter().all(|t| message.contains(t.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_pattern_parses_and_matches_cut_service_messages_only() {
        let p = TextPattern::cut_services();
        assert_eq!(p, TextPattern::parse(CUT_SERVICES_PATTERN).unwrap());
        let cut = r#"{"verb":"create","objectRef":{"resource":"services","name":"x"},"requestObject":{"metadata":{"annotations":{"pad":"xx[Truncated...]"#;
        assert!(p.matches(cut));
        assert!(!p.matches(&cut.replace("[Truncated...]", "\"}}}}")));
        assert!(!p.matches(r#"{"objectRef":{"resource":"pods"},"x":"y[Truncated...]"#));
        assert!(!p.matches(r#"{"objectRef":{"resource":"Services"}[truncated...]"#));
    }

    #[test]
    fn terms_are_bare_or_quoted() {
        let p = TextPattern::parse(r#"ERROR "a b""#).unwrap();
        assert!(p.matches("ERROR in a b"));
        assert!(!p.matches("ERROR in a"));
        assert!(TextPattern::parse(r#""open"#).is_err());
        assert!(TextPattern::parse("?ERROR").is_err());
        assert!(TextPattern::parse("  ").is_err());
        assert!(TextPattern::parse(r#""""#).is_err());
    }
}

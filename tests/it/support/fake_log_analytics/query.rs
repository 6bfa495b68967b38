//! What the fake reads from a query's text: the time bounds, `take`, the `_ResourceId` filter.

use chrono::{DateTime, Utc};

pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

pub fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|i| &text[i + marker.len()..])
}

/// `<column> >= datetime(A) and <column> < datetime(B)`.
pub fn bounds(text: &str, column: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let lower = after(text, &format!("{column} >= datetime("))?;
    let upper = after(text, &format!("{column} < datetime("))?;
    let take = |s: &str| s.split(')').next().and_then(parse);
    Some((take(lower)?, take(upper)?))
}

pub enum ClusterTerm {
    Exact(String),
    Suffix(String),
}

impl ClusterTerm {
    pub fn matches(&self, id: &str) -> bool {
        let id = id.to_ascii_lowercase();
        match self {
            ClusterTerm::Exact(e) => id == e.to_ascii_lowercase(),
            ClusterTerm::Suffix(s) => id.ends_with(&s.to_ascii_lowercase()),
        }
    }
}

/// Reads KQL string literals (with `\"` and `\\` escapes) from the `_ResourceId` filter line.
pub fn cluster_terms(text: &str) -> Vec<ClusterTerm> {
    let Some(line) = text
        .lines()
        .find(|l| l.contains("_ResourceId in~") || l.contains("_ResourceId endswith"))
    else {
        return Vec::new();
    };
    let mut terms = Vec::new();
    let mut rest = line;
    while let Some(q) = rest.find('"') {
        let before = &rest[..q];
        let mut value = String::new();
        let mut chars = rest[q + 1..].char_indices();
        let mut end = rest.len() - q - 1;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        value.push(e);
                    }
                }
                '"' => {
                    end = i;
                    break;
                }
                c => value.push(c),
            }
        }
        let suffix = before.trim_end().ends_with("endswith");
        terms.push(if suffix {
            ClusterTerm::Suffix(value)
        } else {
            ClusterTerm::Exact(value)
        });
        rest = &rest[q + 1 + end + 1..];
    }
    terms
}

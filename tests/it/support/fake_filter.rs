//! The part of the Logging query language the fake understands, and nothing more.
//!
//! A filter is a conjunction of `field OP value` terms joined by `AND`, where value is a quoted
//! string or `("a" OR "b" …)`. Fields: `resource.type`, `logName`, `protoPayload.methodName`,
//! `resource.labels.{cluster_name,location,project_id}` (with `=`), and `timestamp` (with `=`,
//! `<`, `<=`, `>`, `>=` and an RFC 3339 value). Anything else is refused, so a poller that
//! sends a term the fake cannot honour fails loudly instead of being matched silently.

use chrono::{DateTime, Utc};

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(&'static str),
    Open,
    Close,
}

#[derive(Clone, Debug)]
enum Term {
    Equals { field: String, any_of: Vec<String> },
    Time { op: &'static str, at: DateTime<Utc> },
}

#[derive(Clone, Debug, Default)]
pub struct Filter {
    terms: Vec<Term>,
}

pub const TEXT_FIELDS: [&str; 6] = [
    "resource.type",
    "logName",
    "protoPayload.methodName",
    "resource.labels.cluster_name",
    "resource.labels.location",
    "resource.labels.project_id",
];

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => s.push(chars.next().ok_or("dangling escape")?),
                        Some(c) => s.push(c),
                        None => return Err("unterminated string".into()),
                    }
                }
                out.push(Token::Quoted(s));
            }
            '=' | '<' | '>' | '!' | ':' => {
                chars.next();
                let with_eq = chars.peek() == Some(&'=');
                if with_eq {
                    chars.next();
                }
                out.push(Token::Op(match (c, with_eq) {
                    ('=', false) => "=",
                    ('<', false) => "<",
                    ('<', true) => "<=",
                    ('>', false) => ">",
                    ('>', true) => ">=",
                    ('!', true) => "!=",
                    _ => return Err(format!("operator `{c}` is not supported by the fake")),
                }));
            }
            _ => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_alphanumeric() || matches!(c, '.' | '_' | '-') {
                        w.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if w.is_empty() {
                    return Err(format!("unexpected character `{c}`"));
                }
                out.push(Token::Word(w));
            }
        }
    }
    Ok(out)
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, String> {
        let toks = tokens(text)?;
        let mut terms = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            if !terms.is_empty() {
                match toks.get(i) {
                    Some(Token::Word(w)) if w == "AND" => i += 1,
                    other => return Err(format!("expected AND, found {other:?}")),
                }
            }
            let Some(Token::Word(field)) = toks.get(i) else {
                return Err(format!("expected a field at token {i}"));
            };
            let Some(Token::Op(op)) = toks.get(i + 1) else {
                return Err(format!("expected an operator after `{field}`"));
            };
            i += 2;
            let mut values = Vec::new();
            match toks.get(i) {
                Some(Token::Quoted(v)) => {
                    values.push(v.clone());
                    i += 1;
                }
                Some(Token::Open) => {
                    i += 1;
                    loop {
                        let Some(Token::Quoted(v)) = toks.get(i) else {
                            return Err("expected a quoted value in the list".into());
                        };
                        values.push(v.clone());
                        i += 1;
                        match toks.get(i) {
                            Some(Token::Word(w)) if w == "OR" => i += 1,
                            Some(Token::Close) => {
                                i += 1;
                                break;
                            }
                            other => return Err(format!("expected OR or `)`, found {other:?}")),
                        }
                    }
                }
                other => return Err(format!("expected a value, found {other:?}")),
            }
            if field == "timestamp" {
                let [value] = values.as_slice() else {
                    return Err("timestamp takes one value".into());
                };
                let at = DateTime::parse_from_rfc3339(value)
                    .map_err(|e| format!("timestamp `{value}`: {e}"))?
                    .with_timezone(&Utc);
                terms.push(Term::Time { op, at });
            } else if TEXT_FIELDS.contains(&field.as_str()) && *op == "=" {
                terms.push(Term::Equals {
                    field: field.clone(),
                    any_of: values,
                });
            } else {
                return Err(format!("the fake does not understand `{field} {op}`"));
            }
        }
        Ok(Filter { terms })
    }

    /// The closed time range the filter can match, to search a sorted store by range first.
    pub fn time_bounds(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let mut bounds = (None, None);
        for term in &self.terms {
            if let Term::Time { op, at } = term {
                if matches!(*op, ">" | ">=" | "=") {
                    bounds.0 = bounds.0.max(Some(*at));
                }
                if matches!(*op, "<" | "<=" | "=") {
                    bounds.1 = Some(bounds.1.map_or(*at, |u: DateTime<Utc>| u.min(*at)));
                }
            }
        }
        bounds
    }

    /// Whether an entry matches; `field` looks up one of the text fields by its dotted path.
    pub fn matches<'a>(
        &self,
        field: impl Fn(&str) -> Option<&'a str>,
        time: DateTime<Utc>,
    ) -> bool {
        self.terms.iter().all(|term| match term {
            Term::Equals {
                field: name,
                any_of,
            } => field(name).is_some_and(|v| any_of.iter().any(|want| want == v)),
            Term::Time { op, at } => match *op {
                "=" => time == *at,
                "<" => time < *at,
                "<=" => time <= *at,
                ">" => time > *at,
                ">=" => time >= *at,
                _ => false,
            },
        })
    }
}

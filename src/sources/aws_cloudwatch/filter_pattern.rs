//! CloudWatch Logs JSON filter patterns: the pattern pushed down to `FilterLogEvents`, and our
//! own model of how AWS evaluates one.
//!
//! Pushdown makes AWS return only Service writes instead of the whole audit log, but it moves a
//! correctness decision to the server: an event the pattern rejects is never seen. So the pattern
//! must be right, and the emulator the tests run against (moto) does not evaluate JSON patterns at
//! all (it returns every event). This module therefore parses patterns (a custom one is rejected at
//! configuration time if AWS would reject it or we cannot model it) and evaluates them the way the
//! AWS documentation describes, so tests can check the pattern's text against real audit events and
//! the measurement can count what AWS would return.
//!
//! The grammar modelled (AWS "Using filter patterns to match terms in JSON log events"): the
//! pattern is `{ expr }`; selectors start with `$` and continue with `.key` or `[index]`;
//! comparisons `=`/`!=` take strings (quoted or bare, `*` is a wildcard) or numbers, `<`, `>`, `<=`,
//! `>=` take numbers; `IS NULL`, `IS TRUE`, `IS FALSE` and `NOT EXISTS` test a selector; `&&`
//! binds tighter than `||`; parentheses group. Matching is case-sensitive, a selector naming an
//! object or an array never matches a comparison, a missing field matches nothing but `NOT EXISTS`,
//! and a message that is not JSON matches no JSON pattern.

use serde_json::Value;
use thiserror::Error;

/// Service writes, the only events any rule looks at, and the deletes (of a Service or of its
/// namespace) that end an exposure. It does not test `spec.type`: a JSON patch has no `spec` at
/// all and the stored type is in `responseObject`, so the type is decided here, client-side,
/// never by the server.
pub const DEFAULT_PATTERN: &str = r#"{ ($.objectRef.resource = "services" && ($.verb = "create" || $.verb = "update" || $.verb = "patch" || $.verb = "delete")) || ($.objectRef.resource = "namespaces" && $.verb = "delete") }"#;

/// The longest `filterPattern` FilterLogEvents accepts.
pub const MAX_PATTERN_CHARS: usize = 1024;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PatternError {
    #[error("the pattern has {0} characters; FilterLogEvents accepts at most {MAX_PATTERN_CHARS}")]
    TooLong(usize),
    #[error("only JSON filter patterns (`{{ $.field = \"value\" }}`) are supported")]
    NotJson,
    #[error("at character {at}: expected {expected}")]
    Syntax { at: usize, expected: &'static str },
}

/// A parsed JSON filter pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct FilterPattern {
    text: String,
    expr: Expr,
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Compare {
        path: Vec<Step>,
        op: Op,
        value: Literal,
    },
    Is {
        path: Vec<Step>,
        what: Is,
    },
    NotExists(Vec<Step>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Debug, PartialEq)]
enum Literal {
    Text(String),
    Number(f64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Is {
    Null,
    True,
    False,
}

impl FilterPattern {
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let chars = text.chars().count();
        if chars > MAX_PATTERN_CHARS {
            return Err(PatternError::TooLong(chars));
        }
        if !text.trim_start().starts_with('{') {
            return Err(PatternError::NotJson);
        }
        let mut p = Parser { text, pos: 0 };
        p.expect("{", "`{`")?;
        let expr = p.or()?;
        p.expect("}", "`}` or an operator")?;
        p.skip_space();
        if p.pos != text.len() {
            return Err(p.error("the end of the pattern after `}`"));
        }
        Ok(FilterPattern {
            text: text.to_owned(),
            expr,
        })
    }

    /// The default pushdown pattern, parsed.
    pub fn default_pattern() -> Self {
        // The constant is covered by a unit test; a parse failure would be a programming error,
        // and the fallback (match-all is impossible to express) keeps this free of panics.
        Self::parse(DEFAULT_PATTERN).unwrap_or_else(|_| FilterPattern {
            text: DEFAULT_PATTERN.to_owned(),
            expr: Expr::NotExists(Vec::new()),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether AWS would return a log event with this `message`.
    pub fn matches(&self, message: &str) -> bool {
        serde_json::from_str::<Value>(message).is_ok_and(|v| self.matches_value(&v))
    }

    pub fn matches_value(&self, event: &Value) -> bool {
        self.expr.eval(event)
    }
}

impl Expr {
    fn eval(&self, event: &Value) -> bool {
        match self {
            Expr::Or(a, b) => a.eval(event) || b.eval(event),
            Expr::And(a, b) => a.eval(event) && b.eval(event),
            Expr::Compare { path, op, value } => {
                select(event, path).is_some_and(|field| compare(field, *op, value))
            }
            Expr::Is { path, what } => select(event, path).is_some_and(|field| match what {
                Is::Null => field.is_null(),
                Is::True => field.as_bool() == Some(true),
                Is::False => field.as_bool() == Some(false),
            }),
            Expr::NotExists(path) => select(event, path).is_none(),
        }
    }
}

fn select<'v>(event: &'v Value, path: &[Step]) -> Option<&'v Value> {
    path.iter().try_fold(event, |v, step| match step {
        Step::Key(k) => v.get(k.as_str()),
        Step::Index(i) => v.get(*i),
    })
}

fn compare(field: &Value, op: Op, value: &Literal) -> bool {
    match (field, value) {
        (Value::String(s), Literal::Text(pattern)) => match op {
            Op::Eq => wildcard_match(pattern, s),
            Op::Ne => !wildcard_match(pattern, s),
            _ => false,
        },
        (Value::Number(n), Literal::Number(want)) => n.as_f64().is_some_and(|n| match op {
            Op::Eq => n == *want,
            Op::Ne => n != *want,
            Op::Lt => n < *want,
            Op::Le => n <= *want,
            Op::Gt => n > *want,
            Op::Ge => n >= *want,
        }),
        _ => false,
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let middle: Vec<&str> = parts.collect();
    let Some((last, middle)) = middle.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, expected: &'static str) -> PatternError {
        PatternError::Syntax {
            at: self.text[..self.pos].chars().count() + 1,
            expected,
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str, expected: &'static str) -> Result<(), PatternError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    fn or(&mut self) -> Result<Expr, PatternError> {
        let mut left = self.and()?;
        while self.eat("||") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, PatternError> {
        let mut left = self.term()?;
        while self.eat("&&") {
            left = Expr::And(Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, PatternError> {
        if self.eat("(") {
            let inner = self.or()?;
            self.expect(")", "`)`")?;
            return Ok(inner);
        }
        let path = self.selector()?;
        if self.word("IS") {
            let what = if self.word("NULL") {
                Is::Null
            } else if self.word("TRUE") {
                Is::True
            } else if self.word("FALSE") {
                Is::False
            } else {
                return Err(self.error("NULL, TRUE or FALSE after IS"));
            };
            return Ok(Expr::Is { path, what });
        }
        if self.word("NOT") {
            if self.word("EXISTS") {
                return Ok(Expr::NotExists(path));
            }
            return Err(self.error("EXISTS after NOT"));
        }
        let op = self.operator()?;
        let value = self.literal()?;
        if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && !matches!(value, Literal::Number(_)) {
            return Err(self.error("a number after <, >, <= or >="));
        }
        Ok(Expr::Compare { path, op, value })
    }

    /// A keyword, as a whole word.
    fn word(&mut self, word: &str) -> bool {
        self.skip_space();
        let rest = self.rest();
        let ends_word = rest[word.len().min(rest.len())..]
            .chars()
            .next()
            .is_none_or(|c| !is_bare_char(c));
        if rest.starts_with(word) && ends_word {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn selector(&mut self) -> Result<Vec<Step>, PatternError> {
        if !self.eat("$") {
            return Err(self.error("a selector like `$.verb` or `(`"));
        }
        let mut path = Vec::new();
        loop {
            let rest = self.rest();
            if let Some(after) = rest.strip_prefix('.') {
                let len = after.find(|c: char| !is_key_char(c)).unwrap_or(after.len());
                if len == 0 {
                    self.pos += 1;
                    return Err(self.error("a field name after `.`"));
                }
                path.push(Step::Key(after[..len].to_owned()));
                self.pos += 1 + len;
            } else if let Some(after) = rest.strip_prefix('[') {
                let digits = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
                let index = after[..digits].parse::<usize>().ok();
                match (index, after[digits..].starts_with(']')) {
                    (Some(i), true) => {
                        path.push(Step::Index(i));
                        self.pos += digits + 2;
                    }
                    _ => {
                        self.pos += 1;
                        return Err(self.error("an array index like `[0]`"));
                    }
                }
            } else {
                break;
            }
        }
        if path.is_empty() {
            return Err(self.error("`.field` or `[index]` after `$`"));
        }
        Ok(path)
    }

    fn operator(&mut self) -> Result<Op, PatternError> {
        // Two-character operators first, so `<=` is not read as `<`.
        for (token, op) in [
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("=", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ] {
            if self.eat(token) {
                return Ok(op);
            }
        }
        Err(self.error("an operator (=, !=, <, >, <=, >=, IS, NOT EXISTS)"))
    }

    fn literal(&mut self) -> Result<Literal, PatternError> {
        self.skip_space();
        let rest = self.rest();
        if let Some(body) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = body.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        self.pos += 1 + i + 1;
                        return Ok(Literal::Text(value));
                    }
                    '\\' => match chars.next() {
                        Some((_, escaped)) => value.push(escaped),
                        None => break,
                    },
                    other => value.push(other),
                }
            }
            return Err(self.error("a closing `\"`"));
        }
        let len = rest.find(|c: char| !is_bare_char(c)).unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error("a value"));
        }
        let word = &rest[..len];
        self.pos += len;
        Ok(match word.parse::<f64>() {
            Ok(n) if n.is_finite() => Literal::Number(n),
            _ => Literal::Text(word.to_owned()),
        })
    }
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '@' | ':')
}

fn is_bare_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '*' | '/' | ':' | '@')
}

#[cfg(test)]
#[path = "filter_pattern_tests.rs"]
mod tests;

//! The KQL the fake understands, parsed strictly: a table, then `|` stages of the shapes the
//! source sends (time bounds, category, `_ResourceId`, Service-write filters, `extend`,
//! `project`, `take N`, `count`). Anything else is refused with the service's 400 instead of
//! being read loosely: a time filter the fake cannot read must not match every row.

use chrono::{DateTime, Utc};

/// A half-open time range `[from, to)`.
pub type Bounds = (DateTime<Utc>, DateTime<Utc>);

/// What a query asks for.
#[derive(Debug, Default)]
pub struct Query {
    pub table: String,
    pub ingestion: Option<Bounds>,
    pub generated: Option<Bounds>,
    pub clusters: Vec<ClusterTerm>,
    /// Only Service writes and deletes, and namespace writes (`create`, `update`, `patch`,
    /// `delete` on `services` or `namespaces`).
    pub services_only: bool,
    pub take: Option<usize>,
    pub count: bool,
}

pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Stages accepted as written: they change no row the fake returns, or the filter they stand
/// for is applied as `services_only`.
const SERVICE_STAGES: &[&str] = &[
    r#"where Verb in ("create", "update", "patch", "delete")"#,
    r#"where tostring(parse_json(tostring(ObjectRef)).resource) in ("services", "namespaces")"#,
    r#"where log_s has_any ("services", "namespaces")"#,
    r#"where log_s matches regex @'"resource"\s*:\s*"(services|namespaces)"'"#,
    r#"where log_s matches regex @'"verb"\s*:\s*"(create|update|patch|delete)"'"#,
];
const NEUTRAL_STAGES: &[&str] = &[
    r#"where Category in ("kube-audit", "kube-audit-admin")"#,
    r#"extend log_s = tostring(column_ifexists("log_s", ""))"#,
    r#"extend AuditId = extract(@'"auditID"\s*:\s*"([^"]+)"', 1, log_s), Stage = extract(@'"stage"\s*:\s*"([^"]+)"', 1, log_s)"#,
    "extend IngestionTime = ingestion_time()",
    "project TimeGenerated, IngestionTime, Category, _ResourceId, AuditId, Stage, log_s",
];

/// Parses `text`, or says (as the service's `SyntaxError` would) where it stopped.
pub fn parse_query(text: &str) -> Result<Query, String> {
    let stages = split_stages(text)?;
    let mut stages = stages.iter().map(|s| s.trim());
    let table = stages.next().unwrap_or_default();
    if table.is_empty() || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("expected a table name, found '{table}'"));
    }
    let mut query = Query {
        table: table.to_owned(),
        ..Query::default()
    };
    for stage in stages {
        if let Some(b) = time_bounds(stage, "ingestion_time()")? {
            query.ingestion = Some(b);
        } else if let Some(b) = time_bounds(stage, "TimeGenerated")? {
            query.generated = Some(b);
        } else if let Some(terms) = stage.strip_prefix("where _ResourceId ") {
            query.clusters = cluster_terms(terms)?;
        } else if SERVICE_STAGES.contains(&stage) {
            query.services_only = true;
        } else if NEUTRAL_STAGES.contains(&stage) {
        } else if let Some(n) = stage.strip_prefix("take ") {
            let n = n.trim().parse().map_err(|_| format!("bad take '{n}'"))?;
            query.take = Some(n);
        } else if stage == "count" {
            query.count = true;
        } else {
            return Err(format!("the fake cannot parse the stage '{stage}'"));
        }
    }
    Ok(query)
}

/// Splits on `|` outside string literals (`"…"` with escapes, `'…'`, verbatim `@'…'`).
fn split_stages(text: &str) -> Result<Vec<String>, String> {
    let mut stages = vec![String::new()];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let current = stages.last_mut().ok_or("no stage")?;
        match c {
            '|' => stages.push(String::new()),
            '"' | '\'' => {
                let verbatim = current.ends_with('@');
                current.push(c);
                loop {
                    let Some(d) = chars.next() else {
                        return Err("unterminated string literal".to_owned());
                    };
                    current.push(d);
                    if d == '\\' && !verbatim {
                        current.push(chars.next().ok_or("unterminated string literal")?);
                    } else if d == c {
                        break;
                    }
                }
            }
            c => current.push(c),
        }
    }
    Ok(stages)
}

/// `where <column> >= datetime(A) and <column> < datetime(B)`, exactly; `Ok(None)` when the
/// stage is not about `column`, an error when it is but in another form.
fn time_bounds(stage: &str, column: &str) -> Result<Option<Bounds>, String> {
    let Some(rest) = stage.strip_prefix(&format!("where {column} ")) else {
        return Ok(None);
    };
    let refuse = || {
        format!(
            "the fake reads only `{column} >= datetime(A) and {column} < datetime(B)`, not '{stage}'"
        )
    };
    let rest = rest.strip_prefix(">= datetime(").ok_or_else(refuse)?;
    let (lower, rest) = rest.split_once(')').ok_or_else(refuse)?;
    let rest = rest
        .strip_prefix(&format!(" and {column} < datetime("))
        .ok_or_else(refuse)?;
    let upper = rest.strip_suffix(')').ok_or_else(refuse)?;
    match (parse(lower), parse(upper)) {
        (Some(a), Some(b)) => Ok(Some((a, b))),
        _ => Err(refuse()),
    }
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

impl std::fmt::Debug for ClusterTerm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterTerm::Exact(e) => write!(f, "in~ {e:?}"),
            ClusterTerm::Suffix(s) => write!(f, "endswith {s:?}"),
        }
    }
}

/// The terms after `where _ResourceId `: `in~ ("a", "b")` and `endswith "x"`, joined by
/// `or _ResourceId `.
fn cluster_terms(text: &str) -> Result<Vec<ClusterTerm>, String> {
    let mut terms = Vec::new();
    let mut rest = text.trim();
    loop {
        if let Some(list) = rest.strip_prefix("in~ (") {
            let (values, after) = string_list(list)?;
            terms.extend(values.into_iter().map(ClusterTerm::Exact));
            rest = after.strip_prefix(')').ok_or("expected ')'")?;
        } else if let Some(value) = rest.strip_prefix("endswith ") {
            let (value, after) = string_literal(value)?;
            terms.push(ClusterTerm::Suffix(value));
            rest = after;
        } else {
            return Err(format!(
                "the fake cannot parse the _ResourceId filter at '{rest}'"
            ));
        }
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(terms);
        }
        rest = rest
            .strip_prefix("or _ResourceId ")
            .ok_or_else(|| format!("expected `or _ResourceId` at '{rest}'"))?;
    }
}

/// `"a", "b"` up to the closing `)` (left in the rest).
fn string_list(text: &str) -> Result<(Vec<String>, &str), String> {
    let mut values = Vec::new();
    let mut rest = text;
    loop {
        let (value, after) = string_literal(rest.trim_start())?;
        values.push(value);
        rest = after.trim_start();
        match rest.strip_prefix(',') {
            Some(after) => rest = after,
            None => return Ok((values, rest)),
        }
    }
}

/// One `"…"` literal with `\"`, `\\`, `\n`, `\r`, `\t` escapes; returns it and the rest.
fn string_literal(text: &str) -> Result<(String, &str), String> {
    let body = text
        .strip_prefix('"')
        .ok_or_else(|| format!("expected a string at '{text}'"))?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, 't')) => value.push('\t'),
                Some((_, e)) => value.push(e),
                None => break,
            },
            '"' => return Ok((value, &body[i + 1..])),
            c => value.push(c),
        }
    }
    Err("unterminated string literal".to_owned())
}

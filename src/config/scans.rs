//! `[[scans]]`: catch-up scans the daemon runs on a schedule (every interval, or cron).

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use croner::Cron;

use super::raw::RawScan;
use crate::validation::{Problems, duration};

#[derive(Clone, Debug)]
pub struct ScanSchedule {
    pub name: String,
    pub trigger: ScanTrigger,
    /// Each run covers `[now - lookback, now]`.
    pub lookback: Duration,
    /// Empty: every source.
    pub sources: Vec<String>,
}

#[derive(Clone, Debug)]
pub enum ScanTrigger {
    /// On every multiple of the period since the Unix epoch (UTC), so replicas agree on each
    /// occurrence.
    Every(Duration),
    /// Cron expression, evaluated in UTC.
    Cron(Box<Cron>),
}

pub(super) fn build(
    raw: &RawScan,
    key: &str,
    source_names: &HashSet<&str>,
    p: &mut Problems,
) -> Option<ScanSchedule> {
    let before = p.len();
    let every = duration(p, &format!("{key}.every"), raw.every.as_deref());
    let cron = raw.cron.as_deref().and_then(|c| {
        p.check(
            format!("{key}.cron"),
            Cron::from_str(c).map_err(|e| format!("`{c}` is not a cron expression: {e}")),
        )
    });
    let trigger = match (every, cron, raw.every.is_some() || raw.cron.is_some()) {
        (Some(_), Some(_), _) => {
            p.push(key.to_owned(), "give either `every` or `cron`, not both");
            None
        }
        (Some(every), None, _) if every < Duration::from_secs(1) => {
            p.push(format!("{key}.every"), "must be at least 1s");
            None
        }
        (Some(every), None, _) => Some(ScanTrigger::Every(every)),
        (None, Some(cron), _) => Some(ScanTrigger::Cron(Box::new(cron))),
        (None, None, false) => {
            p.push(
                key.to_owned(),
                "give `every = \"6h\"` or `cron = \"0 3 * * *\"`",
            );
            None
        }
        (None, None, true) => None,
    };
    let lookback = duration(p, &format!("{key}.lookback"), Some(&raw.lookback));
    if lookback.is_some_and(|l| l.is_zero()) {
        p.push(format!("{key}.lookback"), "must be longer than zero");
    }
    let sources = raw.sources.clone().unwrap_or_default();
    for name in &sources {
        if !source_names.contains(name.as_str()) {
            p.push(
                format!("{key}.sources"),
                format!("no source named `{name}` is configured"),
            );
        }
    }
    if raw.sources.as_ref().is_some_and(Vec::is_empty) {
        p.push(
            format!("{key}.sources"),
            "an empty list scans nothing: remove the key to scan every source",
        );
    }
    (p.len() == before).then_some(ScanSchedule {
        name: raw.name.clone(),
        trigger: trigger?,
        lookback: lookback?,
        sources,
    })
}

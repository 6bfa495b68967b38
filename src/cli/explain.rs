//! What `detect` says on stderr about its run: the summary, the breakdown of events that gave
//! no alert, the `--explain` line of each event, and the audit-policy warning.
//!
//! The reasons are the detector's and the pipeline's own ([`Reason`], [`Quiet`]): this module
//! only words them, so `--explain` cannot drift from what detection really did.

use crate::detect::Quiet;
use crate::normalize::SkipReason;
use crate::pipeline::{BatchStats, Explained, Reason};

/// The one-line summary, then what `records` and `events` count and why events gave no alert.
pub fn summary(s: &BatchStats) -> String {
    let reasons: Vec<String> = s
        .skipped
        .iter()
        .map(|(reason, n)| format!("{reason}={n}"))
        .collect();
    let skipped = if reasons.is_empty() {
        String::new()
    } else {
        format!(" ({})", reasons.join(", "))
    };
    let mut no_alert: Vec<String> = s
        .quiet
        .iter()
        .map(|(reason, n)| format!("{}={n}", reason.as_str()))
        .collect();
    for (name, n) in [
        ("excepted", s.suppressed),
        ("duplicate_stage", s.duplicate_stages),
        ("rule_not_enabled", s.rules_off),
    ] {
        if n > 0 {
            no_alert.push(format!("{name}={n}"));
        }
    }
    let no_alert = if no_alert.is_empty() {
        "none".to_owned()
    } else {
        no_alert.join(", ")
    };
    format!(
        "records={} events={} irrelevant={} skipped={}{skipped} degraded={} suppressed={} alerts={}\n\
         (records: lines or documents read; events: audit events found in them; irrelevant: \
         records that cannot be a Service write) events without an alert: {no_alert}",
        s.records,
        s.events,
        s.irrelevant,
        s.skipped_total(),
        s.degraded,
        s.suppressed,
        s.alerts
    )
}

/// A warning when Service writes were logged without bodies: detection cannot judge them.
pub fn audit_level_warning(s: &BatchStats) -> Option<String> {
    let n = s.quiet.get(&Quiet::NoBody).copied().unwrap_or(0);
    (n > 0).then(|| {
        format!(
            "{n} Service write(s) were logged without a request or response body (audit level \
             `Metadata`), so their type cannot be judged. Log Services with bodies: in the \
             cluster's audit policy add, before any broader rule, `- level: RequestResponse` \
             (or at least `Request`) with `resources: [{{group: \"\", resources: [\"services\"]}}]`"
        )
    })
}

/// One `--explain` line: where, what, and why.
pub fn line(e: &Explained) -> String {
    let place = match &e.record_id {
        Some(id) => format!("{}:{id}", e.stream),
        None => e.stream.clone(),
    };
    let what = e.event.as_deref().unwrap_or("record");
    format!("explain: {place}: {what}: {}", reason_text(&e.reason))
}

/// The `--explain` line of an input or a record read as nothing.
pub fn skipped_input(explain: bool, place: &str, reason: SkipReason) {
    if explain {
        eprintln!(
            "explain: {place}: record: {}",
            reason_text(&Reason::Skipped(reason))
        );
    }
}

fn reason_text(reason: &Reason) -> String {
    match reason {
        Reason::Alert(rule) => format!("ALERT {rule}"),
        Reason::Irrelevant => "no alert: irrelevant (cannot be a Service write)".to_owned(),
        Reason::Skipped(why) => format!("no alert: skipped ({why})"),
        Reason::OutOfRange => "no alert: out_of_range (outside the scanned time range)".to_owned(),
        Reason::Quiet(quiet) => format!("no alert: {} ({})", quiet.as_str(), quiet_text(*quiet)),
        Reason::Excepted(rule, why) => format!(
            "no alert: excepted ({rule} silenced by an exception: {})",
            why.as_deref().unwrap_or("no reason given")
        ),
        Reason::RulesOff(rules) => {
            let names: Vec<&str> = rules.iter().map(|r| r.as_str()).collect();
            format!(
                "no alert: rule_not_enabled ({} fired but is not enabled)",
                names.join(", ")
            )
        }
        Reason::DuplicateStage(rule) => format!(
            "no alert: duplicate_stage ({rule} already reported from another stage of this request)"
        ),
    }
}

fn quiet_text(quiet: Quiet) -> &'static str {
    match quiet {
        Quiet::NotServiceWrite => "not a create, update or patch of a Service",
        Quiet::DryRun => "a dry run: nothing was changed",
        Quiet::RequestReceived => "RequestReceived stage: the outcome is in a later stage",
        Quiet::Denied => "refused, and it did not try to expose the Service",
        Quiet::Failed => "rejected or failed, and it did not try to expose the Service",
        Quiet::NotExposed => "the Service is not NodePort or LoadBalancer and has no externalIPs",
        Quiet::TypeUnchanged => "a patch that does not change the type or the node ports",
        Quiet::NoBody => "no request or response body logged (audit level Metadata)",
    }
}

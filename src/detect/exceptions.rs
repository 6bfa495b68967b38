//! Allow-lists for legitimate exposures (dev clusters, home-made load balancing, …).
//!
//! An exception lists criteria; it applies when every criterion it sets matches (any pattern of
//! a list may match). Patterns are globs. An exception past its expiry no longer applies, so a
//! temporary allowance cannot silently become permanent.
//!
//! [`Exceptions::warnings`] lists what `validate` should point out about exceptions that are
//! valid but risky: expired or about to expire, and those that only the writer of the Service
//! can satisfy (Service names and labels are chosen by whoever creates the Service, so an
//! exception made of nothing else is an allowance an attacker can grant themselves).

use std::collections::{BTreeMap, BTreeSet};

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::model::{AuditEvent, RuleId};

/// A list of glob patterns, any of which may match.
#[derive(Clone, Debug)]
pub struct Patterns {
    source: Vec<String>,
    set: GlobSet,
}

impl Patterns {
    pub fn new(patterns: &[String]) -> Result<Self, globset::Error> {
        let mut builder = GlobSetBuilder::new();
        for p in patterns {
            builder.add(Glob::new(p)?);
        }
        Ok(Patterns {
            source: patterns.to_vec(),
            set: builder.build()?,
        })
    }

    pub fn matches(&self, value: &str) -> bool {
        self.set.is_match(value)
    }

    pub fn as_strings(&self) -> &[String] {
        &self.source
    }
}

/// One allow-list entry.
#[derive(Clone, Debug, Default)]
pub struct Exception {
    /// Rules it silences; empty means all.
    pub rules: BTreeSet<RuleId>,
    pub clusters: Option<Patterns>,
    pub namespaces: Option<Patterns>,
    pub services: Option<Patterns>,
    /// Matched against the authenticated user and, when one was impersonated, that user too:
    /// impersonating an allowed account must not borrow its exception.
    pub users: Option<Patterns>,
    /// Matches when any of the user's groups matches.
    pub groups: Option<Patterns>,
    /// Service labels: each key must be present with a value matching its pattern.
    pub labels: BTreeMap<String, Patterns>,
    pub reason: Option<String>,
    pub expires: Option<DateTime<Utc>>,
}

/// What an exception is matched against.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub rule: RuleId,
    pub event: &'a AuditEvent,
    pub labels: &'a BTreeMap<String, String>,
}

impl Exception {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|at| now >= at)
    }

    pub fn matches(&self, s: &Subject<'_>, now: DateTime<Utc>) -> bool {
        if self.is_expired(now) || (!self.rules.is_empty() && !self.rules.contains(&s.rule)) {
            return false;
        }
        let event = s.event;
        let user = &event.user;
        let one = |patterns: &Option<Patterns>, value: Option<&str>| match patterns {
            None => true,
            Some(p) => value.is_some_and(|v| p.matches(v)),
        };
        one(&self.clusters, event.origin.cluster.as_deref())
            && one(&self.namespaces, event.object.namespace.as_deref())
            && one(&self.services, event.object.name.as_deref())
            && one(&self.users, user.username.as_deref())
            && user
                .impersonated
                .as_ref()
                .is_none_or(|imp| one(&self.users, imp.username.as_deref()))
            && self
                .groups
                .as_ref()
                .is_none_or(|p| user.groups.iter().any(|g| p.matches(g)))
            && self.labels.iter().all(|(key, pattern)| {
                s.labels
                    .get(key)
                    .is_some_and(|value| pattern.matches(value))
            })
    }
}

/// How far ahead `validate` warns about an exception's expiry.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// Something `validate` reports about one exception (by its index in `detection.exceptions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExceptionWarning {
    pub index: usize,
    pub kind: WarningKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WarningKind {
    Expired(DateTime<Utc>),
    ExpiresSoon(DateTime<Utc>),
    OnlyWriterChosenCriteria,
}

impl fmt::Display for ExceptionWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "detection.exceptions[{}]: ", self.index)?;
        match &self.kind {
            WarningKind::Expired(at) => write!(
                f,
                "expired on {}; it no longer applies (remove it, or renew `expires`)",
                at.to_rfc3339()
            ),
            WarningKind::ExpiresSoon(at) => write!(
                f,
                "expires on {} (within {EXPIRY_WARNING_DAYS} days); renew `expires` if it is still needed",
                at.to_rfc3339()
            ),
            WarningKind::OnlyWriterChosenCriteria => f.write_str(
                "only Service names and/or labels select it, and whoever writes a Service chooses \
                 those; also name the clusters, namespaces, users or groups it is meant for",
            ),
        }
    }
}

impl Exception {
    /// Whether only fields the Service's writer chooses (its name, its labels) select it.
    pub fn only_writer_chosen_criteria(&self) -> bool {
        let chosen_by_writer = self.services.is_some() || !self.labels.is_empty();
        let set_by_others = self.clusters.is_some()
            || self.namespaces.is_some()
            || self.users.is_some()
            || self.groups.is_some();
        chosen_by_writer && !set_by_others
    }
}

/// All configured exceptions.
#[derive(Clone, Debug, Default)]
pub struct Exceptions {
    list: Vec<Exception>,
}

impl Exceptions {
    pub fn new(list: Vec<Exception>) -> Self {
        Exceptions { list }
    }

    /// The first exception that applies, if any, with its index in the configuration.
    pub fn find(&self, subject: &Subject<'_>, now: DateTime<Utc>) -> Option<(usize, &Exception)> {
        self.list
            .iter()
            .enumerate()
            .find(|(_, e)| e.matches(subject, now))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Exception> {
        self.list.iter()
    }

    /// What `validate` warns about, in configuration order.
    pub fn warnings(&self, now: DateTime<Utc>) -> Vec<ExceptionWarning> {
        let mut out = Vec::new();
        for (index, e) in self.list.iter().enumerate() {
            let mut warn = |kind| out.push(ExceptionWarning { index, kind });
            match e.expires {
                Some(at) if at <= now => warn(WarningKind::Expired(at)),
                Some(at) if at - now <= Duration::days(EXPIRY_WARNING_DAYS) => {
                    warn(WarningKind::ExpiresSoon(at))
                }
                _ => {}
            }
            if e.only_writer_chosen_criteria() {
                warn(WarningKind::OnlyWriterChosenCriteria);
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::model::{Origin, Provider, UserInfo};

    fn patterns(p: &[&str]) -> Option<Patterns> {
        Some(Patterns::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap())
    }

    fn event() -> AuditEvent {
        let mut e = AuditEvent::new(
            Provider::Eks,
            Origin {
                cluster: Some("dev-eu".into()),
                ..Origin::default()
            },
        );
        e.object.namespace = Some("sandbox-1".into());
        e.object.name = Some("web".into());
        e.user = UserInfo {
            username: Some("system:serviceaccount:argocd:app".into()),
            groups: vec!["system:serviceaccounts".into()],
            impersonated: None,
        };
        e
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn every_set_criterion_must_match() {
        let e = event();
        let labels = BTreeMap::from([("team".to_owned(), "edge".to_owned())]);
        let s = Subject {
            rule: RuleId::NodePort,
            event: &e,
            labels: &labels,
        };
        let mut ex = Exception {
            clusters: patterns(&["dev-*"]),
            namespaces: patterns(&["sandbox-*"]),
            users: patterns(&["system:serviceaccount:argocd:*"]),
            labels: BTreeMap::from([("team".to_owned(), patterns(&["ed*"]).unwrap())]),
            ..Exception::default()
        };
        assert!(ex.matches(&s, now()));
        ex.services = patterns(&["db"]);
        assert!(!ex.matches(&s, now()));
    }

    #[test]
    fn expired_exceptions_stop_applying() {
        let e = event();
        let labels = BTreeMap::new();
        let s = Subject {
            rule: RuleId::NodePort,
            event: &e,
            labels: &labels,
        };
        let ex = Exception {
            clusters: patterns(&["*"]),
            expires: Some(Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap()),
            ..Exception::default()
        };
        assert!(!ex.matches(&s, now()));
        assert!(ex.matches(&s, Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap()));
    }

    #[test]
    fn impersonation_does_not_borrow_an_exception() {
        let mut e = event();
        e.user.impersonated = Some(Box::new(UserInfo {
            username: Some("mallory".into()),
            ..UserInfo::default()
        }));
        let labels = BTreeMap::new();
        let s = Subject {
            rule: RuleId::NodePort,
            event: &e,
            labels: &labels,
        };
        let ex = Exception {
            users: patterns(&["system:serviceaccount:argocd:*"]),
            ..Exception::default()
        };
        assert!(!ex.matches(&s, now()));
    }

    #[test]
    fn warnings_name_expired_soon_expiring_and_self_granted_exceptions() {
        let at = |days: i64| Some(now() + Duration::days(days));
        let list = Exceptions::new(vec![
            Exception {
                namespaces: patterns(&["dev"]),
                expires: at(-1),
                ..Exception::default()
            },
            Exception {
                namespaces: patterns(&["dev"]),
                expires: at(EXPIRY_WARNING_DAYS),
                ..Exception::default()
            },
            Exception {
                namespaces: patterns(&["dev"]),
                expires: at(EXPIRY_WARNING_DAYS + 1),
                ..Exception::default()
            },
            Exception {
                services: patterns(&["ingress-*"]),
                labels: BTreeMap::from([("team".to_owned(), patterns(&["platform"]).unwrap())]),
                ..Exception::default()
            },
            Exception {
                services: patterns(&["ingress-*"]),
                users: patterns(&["system:serviceaccount:argocd:*"]),
                ..Exception::default()
            },
        ]);
        let w = list.warnings(now());
        let kinds: Vec<(usize, &WarningKind)> = w.iter().map(|w| (w.index, &w.kind)).collect();
        assert_eq!(
            kinds,
            [
                (0, &WarningKind::Expired(at(-1).unwrap())),
                (
                    1,
                    &WarningKind::ExpiresSoon(at(EXPIRY_WARNING_DAYS).unwrap())
                ),
                (3, &WarningKind::OnlyWriterChosenCriteria),
            ]
        );
        assert!(
            w[2].to_string()
                .starts_with("detection.exceptions[3]: only Service names")
        );
    }

    #[test]
    fn rules_restrict_what_is_silenced() {
        let e = event();
        let labels = BTreeMap::new();
        let ex = Exception {
            rules: BTreeSet::from([RuleId::ExternalIps]),
            ..Exception::default()
        };
        let s = |rule| Subject {
            rule,
            event: &e,
            labels: &labels,
        };
        assert!(ex.matches(&s(RuleId::ExternalIps), now()));
        assert!(!ex.matches(&s(RuleId::NodePort), now()));
    }
}

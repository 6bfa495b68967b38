//! Allow-lists for legitimate exposures (dev clusters, home-made load balancing, …).
//!
//! An exception lists criteria; it applies when every criterion it sets matches (any pattern of
//! a list may match). Patterns are globs. An exception past its expiry no longer applies, so a
//! temporary allowance cannot silently become permanent.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
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

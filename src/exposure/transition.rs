//! The state of one exposure and the pure step that moves it: open, update, close or ignore.
//!
//! A row is kept for a Service and rule once a write has told anything about them, even a write
//! that ended nothing (a ClusterIP Service, a delete of an unknown Service): it remembers the
//! last write applied, so an older exposing write read later cannot open what a newer write
//! had already closed. Such rows are [`Status::Unexposed`] and no listing shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::key::ExposureKey;
use super::observation::{Actor, Effect, Observation, Snapshot};
use super::order::{OrderKey, Placement};
use crate::model::Severity;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Closed,
    /// Known not exposed, never opened since the store knew it.
    Unexposed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Closed => "closed",
            Status::Unexposed => "unexposed",
        }
    }
}

/// One exposure as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    /// The episode id shared by the open alert and the resolution; empty while unexposed.
    pub id: String,
    #[serde(flatten)]
    pub key: ExposureKey,
    pub status: Status,
    pub severity: Severity,
    pub snapshot: Snapshot,
    pub opened: Option<Actor>,
    /// The last write that kept it open and changed it (ports, type, addresses).
    pub updated: Option<Actor>,
    pub closed: Option<Actor>,
    /// The alert that opened it, and the sinks that alert was routed to: a close notifies them.
    pub alert_id: Option<String>,
    pub sinks: Vec<String>,
    /// When a still-open reminder went out (once per episode).
    #[serde(default)]
    pub reminded_at: Option<DateTime<Utc>>,
    /// The last write applied.
    pub last: OrderKey,
}

impl Exposure {
    pub fn opened_at(&self) -> Option<DateTime<Utc>> {
        self.opened.as_ref().and_then(|a| a.at)
    }

    pub fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.closed.as_ref().and_then(|a| a.at)
    }
}

/// What applying one write to one exposure does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    Open(Exposure),
    Update(Exposure),
    /// Closed: the sinks of the open alert get a resolution.
    Close(Exposure),
    /// The row changes (its last write) but nothing opens or closes.
    Record(Exposure),
    Ignore,
}

impl Transition {
    /// The row to write, if any.
    pub fn row(&self) -> Option<&Exposure> {
        match self {
            Transition::Open(e)
            | Transition::Update(e)
            | Transition::Close(e)
            | Transition::Record(e) => Some(e),
            Transition::Ignore => None,
        }
    }
}

/// Applies one write's effect on `key` to its current state.
pub fn transition(
    current: Option<&Exposure>,
    key: &ExposureKey,
    observation: &Observation,
    effect: &Effect,
) -> Transition {
    let placement = current.map_or(Placement::Newer, |c| observation.order.place(&c.last));
    if placement != Placement::Newer {
        return Transition::Ignore;
    }
    let open = current.filter(|c| c.status == Status::Open);
    let actor = || Some(observation.actor.clone());
    match (effect, open) {
        (Effect::Open(_) | Effect::Keep, Some(open)) => Transition::Update(Exposure {
            snapshot: observation.snapshot.clone(),
            updated: actor(),
            last: observation.order.clone(),
            ..open.clone()
        }),
        (Effect::Open(opening), None) => Transition::Open(Exposure {
            id: key.episode_id(&opening.alert_id),
            key: key.clone(),
            status: Status::Open,
            severity: opening.severity,
            snapshot: observation.snapshot.clone(),
            opened: actor(),
            updated: None,
            closed: None,
            alert_id: Some(opening.alert_id.clone()),
            sinks: opening.sinks.clone(),
            reminded_at: None,
            last: observation.order.clone(),
        }),
        // Exposed without an alert, and not known open: nothing to follow.
        (Effect::Keep, None) => Transition::Ignore,
        (Effect::End, Some(open)) => Transition::Close(Exposure {
            status: Status::Closed,
            closed: actor(),
            last: observation.order.clone(),
            ..open.clone()
        }),
        (Effect::End, None) => Transition::Record(match current {
            Some(row) => Exposure {
                last: observation.order.clone(),
                ..row.clone()
            },
            None => Exposure {
                id: String::new(),
                key: key.clone(),
                status: Status::Unexposed,
                severity: Severity::default(),
                snapshot: Snapshot::default(),
                opened: None,
                updated: None,
                closed: None,
                alert_id: None,
                sinks: Vec::new(),
                reminded_at: None,
                last: observation.order.clone(),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposure::key::ServiceRef;
    use crate::exposure::observation::{Opening, Target};
    use crate::model::RuleId;

    fn key() -> ExposureKey {
        ExposureKey::new(
            ServiceRef {
                cluster: "c".into(),
                namespace: "n".into(),
                service: "web".into(),
            },
            RuleId::NodePort,
        )
    }

    fn write(secs: i64, request: &str, ports: &[i64]) -> Observation {
        let at = DateTime::from_timestamp(secs, 0);
        Observation {
            target: Target::Service(key().service),
            order: OrderKey {
                at,
                resource_version: None,
                request: request.into(),
            },
            actor: Actor {
                user: Some(format!("user-{request}")),
                at,
                audit_id: Some(request.into()),
                verb: "patch".into(),
            },
            snapshot: Snapshot {
                service_type: Some("NodePort".into()),
                node_ports: ports.to_vec(),
                external_ips: Vec::new(),
            },
            effects: Vec::new(),
            resolution: None,
        }
    }

    fn opens(alert: &str) -> Effect {
        Effect::Open(Opening {
            rule: RuleId::NodePort,
            alert_id: alert.into(),
            severity: Severity::High,
            sinks: vec!["pager".into()],
        })
    }

    /// Applies the writes in the order given and returns the last row.
    fn apply(writes: &[(Observation, Effect)]) -> (Option<Exposure>, Vec<&'static str>) {
        let mut row: Option<Exposure> = None;
        let mut steps = Vec::new();
        for (obs, effect) in writes {
            let t = transition(row.as_ref(), &key(), obs, effect);
            steps.push(match &t {
                Transition::Open(_) => "open",
                Transition::Update(_) => "update",
                Transition::Close(_) => "close",
                Transition::Record(_) => "record",
                Transition::Ignore => "ignore",
            });
            if let Some(r) = t.row() {
                row = Some(r.clone());
            }
        }
        (row, steps)
    }

    #[test]
    fn open_then_closed() {
        let (row, steps) = apply(&[
            (write(1, "a", &[30001]), opens("x")),
            (write(2, "b", &[]), Effect::End),
        ]);
        assert_eq!(steps, ["open", "close"]);
        let row = row.unwrap();
        assert_eq!(row.status, Status::Closed);
        assert_eq!(row.opened.unwrap().user.as_deref(), Some("user-a"));
        assert_eq!(row.closed.unwrap().audit_id.as_deref(), Some("b"));
        assert_eq!(row.id, key().episode_id("x"));
        assert_eq!(row.sinks, ["pager"]);
    }

    #[test]
    fn a_changed_node_port_updates_and_stays_open() {
        let (row, steps) = apply(&[
            (write(1, "a", &[30001]), opens("x")),
            (write(2, "b", &[30002]), opens("y")),
            (write(3, "c", &[30002]), Effect::Keep),
        ]);
        assert_eq!(steps, ["open", "update", "update"]);
        let row = row.unwrap();
        assert_eq!(row.status, Status::Open);
        assert_eq!(row.snapshot.node_ports, [30002]);
        assert_eq!(row.alert_id.as_deref(), Some("x"));
        assert_eq!(row.updated.unwrap().audit_id.as_deref(), Some("c"));
    }

    #[test]
    fn closed_then_reopened_is_a_new_episode() {
        let (row, steps) = apply(&[
            (write(1, "a", &[30001]), opens("x")),
            (write(2, "b", &[]), Effect::End),
            (write(3, "c", &[30001]), opens("z")),
        ]);
        assert_eq!(steps, ["open", "close", "open"]);
        let row = row.unwrap();
        assert_eq!(row.id, key().episode_id("z"));
        assert!(row.closed.is_none());
    }

    #[test]
    fn stages_and_re_reads_neither_open_nor_close_twice() {
        let (_, steps) = apply(&[
            (write(1, "a", &[30001]), opens("x")),
            (write(1, "a", &[30001]), opens("x")),
            (write(2, "b", &[]), Effect::End),
            (write(2, "b", &[]), Effect::End),
        ]);
        assert_eq!(steps, ["open", "ignore", "close", "ignore"]);
    }

    #[test]
    fn an_older_write_never_reopens_what_a_later_one_closed() {
        let (row, steps) = apply(&[
            (write(2, "b", &[]), Effect::End),
            (write(1, "a", &[30001]), opens("x")),
        ]);
        assert_eq!(steps, ["record", "ignore"]);
        assert_eq!(row.unwrap().status, Status::Unexposed);
        let (row, steps) = apply(&[
            (write(1, "a", &[30001]), opens("x")),
            (write(3, "c", &[]), Effect::End),
            (write(2, "b", &[30002]), opens("y")),
        ]);
        assert_eq!(steps, ["open", "close", "ignore"]);
        assert_eq!(row.unwrap().status, Status::Closed);
    }

    #[test]
    fn an_older_close_never_closes_what_a_later_write_reopened() {
        let (row, steps) = apply(&[
            (write(1, "a", &[30001]), opens("x")),
            (write(2, "b", &[]), Effect::End),
            (write(4, "d", &[30001]), opens("z")),
            (write(3, "c", &[]), Effect::End),
        ]);
        assert_eq!(steps, ["open", "close", "open", "ignore"]);
        assert_eq!(row.unwrap().status, Status::Open);
    }

    #[test]
    fn exposed_without_alert_and_not_open_is_not_followed() {
        let (row, steps) = apply(&[(write(1, "a", &[30001]), Effect::Keep)]);
        assert_eq!(steps, ["ignore"]);
        assert!(row.is_none());
    }
}

//! One write applied to the exposures it concerns: the pure part every keeper of exposures
//! shares (both store backends, and `detect --exposures` in memory). The caller loads the rows
//! the write's target covers, writes back the rows the plan returns, and queues its resolutions.

use super::key::ExposureKey;
use super::observation::{Effect, Observation, Target};
use super::resolution::resolve;
use super::transition::{Exposure, Status, Transition, transition};
use crate::model::Alert;

/// A resolution to queue, and the sinks it goes to.
#[derive(Clone, Debug)]
pub struct Notice {
    pub alert: Alert,
    pub sinks: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub transitions: Vec<Transition>,
    pub notices: Vec<Notice>,
    /// The exposure each alert of the write belongs to (alert id, exposure id).
    pub alert_exposures: Vec<(String, String)>,
}

/// Applies `observation` to `current`: the rows of its target's Service (or namespace), in
/// any status.
pub fn plan(observation: &Observation, current: &[Exposure]) -> Plan {
    let mut out = Plan::default();
    let steps: Vec<(ExposureKey, Option<&Exposure>, &Effect)> = match &observation.target {
        Target::Service(service) => observation
            .effects
            .iter()
            .map(|(rule, effect)| {
                let key = ExposureKey::new(service.clone(), *rule);
                let row = current.iter().find(|r| r.key == key);
                (key, row, effect)
            })
            .collect(),
        // Only exposures the store knows; a namespace leaves no row of its own.
        Target::Namespace { .. } => current
            .iter()
            .filter(|r| r.status == Status::Open)
            .map(|r| (r.key.clone(), Some(r), &Effect::End))
            .collect(),
    };
    for (key, row, effect) in steps {
        let t = transition(row, &key, observation, effect);
        if let Effect::Open(opening) = effect {
            let belongs = match &t {
                Transition::Open(e) | Transition::Update(e) => Some(e),
                _ => row.filter(|r| r.status == Status::Open),
            };
            if let Some(e) = belongs {
                out.alert_exposures
                    .push((opening.alert_id.clone(), e.id.clone()));
            }
        }
        if let (Transition::Close(closed), Some(resolution)) = (&t, &observation.resolution) {
            let sinks = resolution.sinks_for(closed);
            if !sinks.is_empty() {
                out.notices.push(Notice {
                    alert: resolve(&resolution.template, closed),
                    sinks,
                });
            }
        }
        if t != Transition::Ignore {
            out.transitions.push(t);
        }
    }
    out
}

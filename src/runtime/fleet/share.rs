//! Each replica's share of a provider quota key, from the lease counts, so that all replicas
//! together stay within the budget.
//!
//! Every source lease records the quota keys its source draws on. At each renew tick a
//! replica computes, for each key K, `share = (its live leases on K) / (all live leases on K)`
//! and runs its limiter for K at `budget × share`. The sum of the *computed* shares is 1; the
//! gate below keeps the sum of the *applied* shares at or below 1 while they change:
//!
//! - a **decrease** applies at once;
//! - an **increase** applies only once it has been seen for one renew period (plus a quarter,
//!   for the jitter between replicas' ticks): by then every other replica has had a tick to
//!   see the same totals and lower its own share;
//! - **except** for a unit taken over from another holder: that holder lowered its share when
//!   it stopped the unit (at its local deadline, before the lease could expire, or before it
//!   released it), so the new holder may use the share at once and failover is not slowed;
//! - a replica that cannot renew stops its sources (the keeper's deadline), whatever its
//!   share. A lone process on a single-writer store keeps share 1 and never asks.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct ShareGate {
    period: Duration,
    keys: HashMap<String, KeyState>,
}

#[derive(Debug, Clone, Copy)]
struct KeyState {
    applied: f64,
    /// An increase waiting for its period: its value and when it was first seen.
    pending: Option<(f64, Instant)>,
}

impl ShareGate {
    pub fn new(renew_every: Duration) -> Self {
        ShareGate {
            period: renew_every + renew_every / 4,
            keys: HashMap::new(),
        }
    }

    /// The share of `key` to run at now, given the one computed from the lease counts and the
    /// one in force (`applied`, used the first time a key is seen). `at_once` lets an increase
    /// through without waiting (a takeover, see the module doc).
    pub fn decide(
        &mut self,
        key: &str,
        computed: f64,
        applied: f64,
        at_once: bool,
        now: Instant,
    ) -> f64 {
        let state = self.keys.entry(key.to_owned()).or_insert(KeyState {
            applied,
            pending: None,
        });
        if computed <= state.applied || at_once {
            state.applied = computed;
            state.pending = None;
            return computed;
        }
        let since = match state.pending {
            // A larger increase than the one waiting: others have yet to see this total.
            Some((waiting, since)) if computed <= waiting => since,
            _ => now,
        };
        if now.duration_since(since) >= self.period {
            state.applied = computed;
            state.pending = None;
        } else {
            state.pending = Some((computed, since));
        }
        state.applied
    }

    /// Lowers `key` at once (a unit stopped or released), without waiting for the store.
    pub fn lower(&mut self, key: &str, share: f64) {
        if let Some(state) = self.keys.get_mut(key)
            && share < state.applied
        {
            state.applied = share;
            state.pending = None;
        }
    }
}

/// `mine / all`, 0 when nobody holds a lease on the key.
pub fn computed(mine: u32, all: u32) -> f64 {
    if all == 0 {
        0.0
    } else {
        (f64::from(mine) / f64::from(all)).min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn decreases_apply_at_once_increases_after_a_period() {
        let period = Duration::from_secs(4);
        let mut gate = ShareGate::new(period);
        let t0 = Instant::now();
        assert_eq!(
            gate.decide("k", 0.5, 1.0, false, t0),
            0.5,
            "decrease: at once"
        );
        let t1 = t0 + period;
        assert_eq!(gate.decide("k", 1.0, 0.5, false, t1), 0.5, "increase waits");
        assert_eq!(gate.decide("k", 1.0, 0.5, false, t1 + period), 0.5);
        assert_eq!(
            gate.decide("k", 1.0, 0.5, false, t1 + period + period / 4),
            1.0,
            "applied a period (and a quarter) after it was first seen"
        );
        // A bigger increase restarts the wait; a drop cancels it.
        assert_eq!(gate.decide("j", 0.25, 0.25, false, t0), 0.25);
        assert_eq!(gate.decide("j", 0.5, 0.25, false, t0), 0.25);
        assert_eq!(gate.decide("j", 0.75, 0.25, false, t1), 0.25);
        assert_eq!(gate.decide("j", 0.75, 0.25, false, t0 + period * 2), 0.25);
        assert_eq!(gate.decide("j", 0.1, 0.25, false, t1 + period * 3), 0.1);
        // A takeover applies at once; `lower` never raises.
        assert_eq!(gate.decide("j", 0.6, 0.1, true, t1 + period * 3), 0.6);
        gate.lower("j", 0.9);
        assert_eq!(gate.decide("j", 0.6, 0.6, false, t1 + period * 3), 0.6);
        assert_eq!(computed(1, 3), 1.0 / 3.0);
        assert_eq!(computed(0, 0), 0.0);
    }

    #[tokio::test(start_paused = true)]
    async fn two_replicas_never_exceed_the_budget_while_a_unit_moves() {
        // `a` and `b` hold 1 + 1 leases on one key. At t0 a third lease appears, held by `b`
        // (a new source): `a` must drop to 1/3 before `b` rises to 2/3. Their ticks are out
        // of phase by 0.3 periods; after every tick of either, applied shares sum to <= 1.
        let period = Duration::from_secs(3);
        let (mut a, mut b) = (ShareGate::new(period), ShareGate::new(period));
        let (mut sa, mut sb) = (0.5, 0.5);
        let t0 = Instant::now();
        let mut events: Vec<(Duration, bool)> = Vec::new();
        for i in 0..6u32 {
            events.push((period * i + period.mul_f64(0.7), true));
            events.push((period * i, false));
        }
        events.sort();
        for (at, is_a) in events {
            let now = t0 + at;
            if is_a {
                sa = a.decide("k", computed(1, 3), sa, false, now);
            } else {
                sb = b.decide("k", computed(2, 3), sb, false, now);
            }
            assert!(sa + sb <= 1.0 + 1e-9, "{sa} + {sb} at {at:?}");
        }
        assert_eq!((sa, sb), (1.0 / 3.0, 2.0 / 3.0), "both reach their share");
    }
}

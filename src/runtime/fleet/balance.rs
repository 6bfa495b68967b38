//! Which units a replica takes or gives up, so N replicas share M units about evenly and
//! rebalance when one joins or leaves, without flapping.
//!
//! With `M` units and `N` live replicas, `hi = ceil(M / N)` and `lo = floor(M / N)`:
//! - **Take**: a replica holding fewer than `hi` takes free units (never held, expired, or
//!   released) up to `hi`. While some replica holds fewer than `lo` (one that just joined),
//!   only such a replica takes a *freshly* freed unit; anyone may take a unit that stayed free
//!   longer than the handover time, so work never waits on a replica that cannot take it.
//! - **Give up**: a replica holding more than `hi` releases its surplus over `hi`; a replica
//!   holding more than `lo` releases when some replica holds fewer than `lo`, no unit is free
//!   (units already given up are on their way), and it is the richest (most units, ties broken
//!   by the smallest id, so exactly one gives): as many as the others lack to reach `lo`, down
//!   to `lo` itself. All in one tick, so a fleet of hundreds of units spreads in a few lease
//!   periods rather than one unit per tick; only units held at least the minimum time, and
//!   never in a tick where it takes.
//!
//! Every live replica ends with `lo` or `hi` units, and from there nothing moves: no rule
//! fires when every count is within `[lo, hi]`, which is what keeps it from flapping. The
//! keeper applies the rule to each kind of unit (sources, sinks, fleet roles) on its own, so
//! the sources spread evenly whoever holds the sinks.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// What one replica sees at a tick.
#[derive(Debug)]
pub struct View<'a> {
    /// Every unit of the fleet.
    pub units: &'a [String],
    pub me: &'a str,
    /// Live replicas (this one included or not: it is added).
    pub replicas: &'a [String],
    /// Units live-held by other replicas, with their holder.
    pub others: &'a HashMap<String, String>,
    /// Units this replica holds, and for how long.
    pub mine: &'a BTreeMap<String, Duration>,
    /// Free units and for how long this replica has seen them free.
    pub free_for: &'a HashMap<String, Duration>,
    pub min_hold: Duration,
    pub handover: Duration,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub take: Vec<String>,
    pub give_up: Vec<String>,
}

pub fn plan(view: &View<'_>) -> Plan {
    let mut counts: BTreeMap<&str, usize> = view.replicas.iter().map(|r| (r.as_str(), 0)).collect();
    counts.insert(view.me, view.mine.len());
    for owner in view.others.values() {
        if let Some(n) = counts.get_mut(owner.as_str()) {
            *n += 1;
        }
    }
    let n = counts.len().max(1);
    let m = view.units.len();
    let (lo, hi) = (m / n, m.div_ceil(n));
    let mine = view.mine.len();
    let starving = counts.values().any(|&c| c < lo);

    let free: Vec<&String> = view
        .units
        .iter()
        .filter(|u| !view.others.contains_key(*u) && !view.mine.contains_key(*u))
        .collect();
    let any_free = !free.is_empty();
    if mine < hi {
        let mut free: Vec<&String> = free
            .into_iter()
            .filter(|u| {
                let waited = view.free_for.get(*u).copied().unwrap_or(Duration::MAX);
                mine < lo || !starving || waited >= view.handover
            })
            .collect();
        // Replicas starting together walk the free units in different orders, so they do not
        // all race for the same one.
        free.sort_by_key(|u| (spread(view.me, u), (*u).clone()));
        let take: Vec<String> = free.into_iter().take(hi - mine).cloned().collect();
        if !take.is_empty() {
            return Plan {
                take,
                give_up: Vec::new(),
            };
        }
    }

    let richest = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(id, _)| *id);
    let lacking: usize = counts.values().map(|&c| lo.saturating_sub(c)).sum();
    let surplus = if mine > hi {
        mine - hi
    } else if starving && !any_free && mine > lo && richest == Some(view.me) {
        lacking.min(mine - lo)
    } else {
        0
    };
    let give_up = view
        .mine
        .iter()
        .rev()
        .filter(|(_, held)| **held >= view.min_hold)
        .map(|(unit, _)| unit.clone())
        .take(surplus)
        .collect();
    Plan {
        take: Vec::new(),
        give_up,
    }
}

/// A stable, replica-specific order (FNV-1a of id and unit): no randomness, so tests replay.
fn spread(me: &str, unit: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in me.bytes().chain([0]).chain(unit.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(3600);

    /// Plays ticks of replicas in turn over a shared map of unit → owner until nothing moves;
    /// returns the final counts and how many ticks changed something.
    fn settle(units: usize, replicas: &[&str], owners: &mut HashMap<String, String>) -> usize {
        let units: Vec<String> = (0..units).map(|i| format!("source/s{i}")).collect();
        let ids: Vec<String> = replicas.iter().map(|r| r.to_string()).collect();
        for moves in 0..200 {
            let mut moved = false;
            for me in &ids {
                let mine: BTreeMap<String, Duration> = owners
                    .iter()
                    .filter(|(_, o)| *o == me)
                    .map(|(u, _)| (u.clone(), LONG))
                    .collect();
                let others: HashMap<String, String> = owners
                    .iter()
                    .filter(|(_, o)| *o != me)
                    .map(|(u, o)| (u.clone(), o.clone()))
                    .collect();
                let free_for = HashMap::new();
                let p = plan(&View {
                    units: &units,
                    me,
                    replicas: &ids,
                    others: &others,
                    mine: &mine,
                    free_for: &free_for,
                    min_hold: Duration::from_secs(1),
                    handover: Duration::from_secs(1),
                });
                for u in p.take {
                    owners.insert(u, me.clone());
                    moved = true;
                }
                for u in p.give_up {
                    owners.remove(&u);
                    moved = true;
                }
            }
            if !moved {
                return moves;
            }
        }
        panic!("never settled: {owners:?}");
    }

    fn counts(owners: &HashMap<String, String>, replicas: &[&str]) -> Vec<usize> {
        replicas
            .iter()
            .map(|r| owners.values().filter(|o| o == r).count())
            .collect()
    }

    #[test]
    fn replicas_share_evenly_and_rebalance_on_join_and_leave() {
        let mut owners = HashMap::new();
        settle(7, &["a"], &mut owners);
        assert_eq!(counts(&owners, &["a"]), [7]);
        // Two join: the one holding everything gives up its surplus.
        settle(7, &["a", "b", "c"], &mut owners);
        let mut c = counts(&owners, &["a", "b", "c"]);
        c.sort();
        assert_eq!(c, [2, 2, 3]);
        assert_eq!(owners.len(), 7, "every unit is held");
        // `b` leaves (its leases expire): the others take its units.
        owners.retain(|_, o| o != "b");
        settle(7, &["a", "c"], &mut owners);
        let mut c = counts(&owners, &["a", "c"]);
        c.sort();
        assert_eq!(c, [3, 4]);
        assert_eq!(owners.len(), 7);
    }

    #[test]
    fn a_large_fleet_spreads_in_a_few_ticks_not_one_unit_per_tick() {
        // 109 units on one replica, two join: the surplus leaves in one tick, not 73.
        let mut owners = HashMap::new();
        settle(109, &["a"], &mut owners);
        let ticks = settle(109, &["a", "b", "c"], &mut owners);
        let mut c = counts(&owners, &["a", "b", "c"]);
        c.sort();
        assert_eq!(c, [36, 36, 37]);
        assert!(ticks <= 3, "settled after {ticks} ticks");
        assert_eq!(owners.len(), 109, "every unit is held");
    }

    #[test]
    fn a_balanced_fleet_does_not_move() {
        // 4 units over 3 replicas: 2/1/1 is within [lo, hi] = [1, 2]: nothing fires.
        let mut owners: HashMap<String, String> =
            [("s0", "a"), ("s1", "a"), ("s2", "b"), ("s3", "c")]
                .into_iter()
                .map(|(u, o)| (format!("source/{u}"), o.to_owned()))
                .collect();
        assert_eq!(settle(4, &["a", "b", "c"], &mut owners), 0);
        // 2/2/0: `c` is short of work; exactly one of the richest gives, then it settles.
        let mut owners: HashMap<String, String> =
            [("s0", "a"), ("s1", "a"), ("s2", "b"), ("s3", "b")]
                .into_iter()
                .map(|(u, o)| (format!("source/{u}"), o.to_owned()))
                .collect();
        settle(4, &["a", "b", "c"], &mut owners);
        assert_eq!(counts(&owners, &["a", "b", "c"]), [1, 2, 1]);
    }

    #[test]
    fn nothing_is_given_up_before_the_minimum_hold_and_a_fresh_release_waits_for_the_starving() {
        let units: Vec<String> = (0..2).map(|i| format!("u{i}")).collect();
        let ids = ["a".to_owned(), "b".to_owned()];
        let mine: BTreeMap<String, Duration> = units
            .iter()
            .map(|u| (u.clone(), Duration::from_secs(1)))
            .collect();
        let (nobody, never) = (HashMap::new(), HashMap::new());
        let view = View {
            units: &units,
            me: "a",
            replicas: &ids,
            others: &nobody,
            mine: &mine,
            free_for: &never,
            min_hold: Duration::from_secs(10),
            handover: Duration::from_secs(2),
        };
        assert_eq!(plan(&view), Plan::default(), "held too briefly to give up");

        // `c` holds nothing (below lo = 1), `a` one, `b` two, and u2 was just freed.
        let units: Vec<String> = (0..4).map(|i| format!("u{i}")).collect();
        let ids = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let mine: BTreeMap<String, Duration> = [("u0".to_owned(), LONG)].into();
        let others: HashMap<String, String> = [
            ("u1".to_owned(), "b".to_owned()),
            ("u3".to_owned(), "b".to_owned()),
        ]
        .into();
        let fresh: HashMap<String, Duration> = [("u2".to_owned(), Duration::from_secs(1))].into();
        let mut view = View {
            units: &units,
            me: "a",
            replicas: &ids,
            others: &others,
            mine: &mine,
            free_for: &fresh,
            min_hold: Duration::from_secs(1),
            handover: Duration::from_secs(2),
        };
        assert_eq!(plan(&view), Plan::default(), "left to the starving replica");
        let stale: HashMap<String, Duration> = [("u2".to_owned(), Duration::from_secs(3))].into();
        view.free_for = &stale;
        assert_eq!(
            plan(&view).take,
            ["u2"],
            "taken once it stayed free too long"
        );
    }
}

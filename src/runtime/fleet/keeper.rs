//! The lease keeper: one task per daemon that takes, renews and gives up the leases of the
//! fleet's units and starts and stops the work under them.
//!
//! Every renew period (`ttl / 3`) it heartbeats the replica registry, renews what it holds,
//! takes or gives up units by the balancing rule (`balance.rs`), records the quota keys of
//! its sources and sets its share of each quota (`share.rs`), and reports to readiness.
//!
//! Losing a lease stops its work before the lease can expire: each held unit has a watchdog
//! with a local deadline (`stop_after` after the last renewal was *sent*), so even a keeper
//! stuck on an unreachable store stops in time. A source is cancelled (it finishes its step;
//! its commit carries the lease's fence and is refused once the lease moved on); a deliverer
//! is aborted at once (a send is not fenced, and the next holder re-reads the queue from the
//! outbox). On shutdown, sources stop first, then deliverers empty what their sinks accept,
//! and only then are the leases released, so the next holder starts after the last commit.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

mod quota;

use super::balance::{self, View};
use super::held::{Held, halt, watchdog};
use super::replica::ReplicaId;
use super::share::ShareGate;
use super::timing::LeaseTiming;
use crate::sources::rate_limit::RateLimits;
use crate::state::{Fence, StateError, StateStore};
use crate::telemetry::leases::LeaseHealth;

/// What runs under a unit's lease.
pub trait Work: Send + Sync + 'static {
    /// Starts `unit`, whose writes carry `fence`; it runs until `stop` is cancelled (and then
    /// finishes gracefully: a source its batch, a deliverer what its sink accepts).
    fn start(&self, unit: &str, fence: Fence, stop: CancellationToken) -> JoinHandle<()>;

    /// Whether losing the lease must abort the work at once rather than let it finish.
    fn abort_on_loss(&self, unit: &str) -> bool;
}

/// How long stopping work may take at shutdown, per kind.
#[derive(Clone, Copy, Debug)]
pub struct Graces {
    pub sources: Duration,
    pub sinks: Duration,
}

pub struct Keeper {
    store: Arc<dyn StateStore>,
    me: ReplicaId,
    timing: LeaseTiming,
    units: Vec<String>,
    work: Arc<dyn Work>,
    rate_limits: RateLimits,
    health: Arc<LeaseHealth>,
    shared: bool,
    held: BTreeMap<String, Held>,
    free_since: HashMap<String, Instant>,
    gate: ShareGate,
    /// Per quota key, (this replica's live leases, everyone's) at the last count.
    holdings: HashMap<String, (u32, u32)>,
    /// Source units whose quota keys are in the store.
    recorded: HashSet<String>,
    /// Quota keys of units taken over this tick (their share applies at once).
    taken_over: HashSet<String>,
}

impl Keeper {
    pub fn new(
        store: Arc<dyn StateStore>,
        me: ReplicaId,
        timing: LeaseTiming,
        units: Vec<String>,
        work: Arc<dyn Work>,
        rate_limits: RateLimits,
        health: Arc<LeaseHealth>,
    ) -> Self {
        let shared = store.shared();
        Keeper {
            store,
            me,
            timing,
            units,
            work,
            rate_limits,
            health,
            shared,
            held: BTreeMap::new(),
            free_since: HashMap::new(),
            gate: ShareGate::new(timing.renew_every),
            holdings: HashMap::new(),
            recorded: HashSet::new(),
            taken_over: HashSet::new(),
        }
    }

    /// Keeps the leases until `stop` is cancelled, then stops the work and releases them.
    pub async fn run(mut self, stop: CancellationToken, graces: Graces) {
        if self.shared {
            info!(replica = %self.me.id, ttl = ?self.timing.ttl, renew_every = ?self.timing.renew_every, units = self.units.len(), "joining the fleet");
        }
        loop {
            self.tick().await;
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(self.timing.renew_every) => {}
            }
        }
        self.shutdown(graces).await;
    }

    /// A store call bounded by the renew period: a hung store must not hold back the others.
    async fn call<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, StateError>>,
    ) -> Result<T, String> {
        match tokio::time::timeout(self.timing.renew_every, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(format!("{what}: {e}")),
            Err(_) => Err(format!(
                "{what}: no answer within {:?}",
                self.timing.renew_every
            )),
        }
    }

    async fn tick(&mut self) {
        let heartbeat = self
            .call(
                "heartbeat",
                self.store.heartbeat(&self.me.id, &self.me.host),
            )
            .await
            .err();
        self.reap_lost();
        let mut error = heartbeat.or(self.renew_all().await);
        if error.is_none() {
            error = self.rebalance().await.err();
        }
        if self.shared {
            self.update_shares().await;
        }
        self.publish(error);
    }

    /// Renews every held lease; the first failure, if any (a lost lease is not one: its work
    /// stops, which is the lease working as meant).
    async fn renew_all(&mut self) -> Option<String> {
        if !self.shared {
            return None;
        }
        let mut failure = None;
        let mut lost = Vec::new();
        let units: Vec<String> = self.held.keys().cloned().collect();
        for unit in units {
            let Some(grant) = self.held.get(&unit).map(|h| h.grant.clone()) else {
                continue;
            };
            let sent = Instant::now();
            match tokio::time::timeout(
                self.timing.renew_every,
                self.store.renew(&grant, self.timing.ttl),
            )
            .await
            {
                Ok(Ok(renewed)) => {
                    if let Some(held) = self.held.get_mut(&unit) {
                        held.grant = renewed;
                        if let Some(deadline) = &held.deadline {
                            deadline.send_replace(sent + self.timing.stop_after);
                        }
                    }
                }
                Ok(Err(StateError::LeaseLost { .. })) => {
                    warn!(lease = %unit, epoch = grant.epoch, "lease lost to another replica; its work stops here");
                    lost.push(unit);
                }
                Ok(Err(e)) => {
                    warn!(lease = %unit, error = %e, "cannot renew the lease; retrying at the next tick");
                    failure.get_or_insert(format!("renewing {unit}: {e}"));
                }
                Err(_) => {
                    warn!(lease = %unit, "the store did not answer the renewal in time; retrying at the next tick");
                    failure.get_or_insert(format!("renewing {unit}: no answer"));
                }
            }
        }
        for unit in lost {
            if let Some(held) = self.held.get(&unit) {
                halt(&unit, held, self.work.as_ref());
            }
            self.forget(&unit);
        }
        failure
    }

    /// Forgets units whose watchdog stopped them.
    fn reap_lost(&mut self) {
        let lost: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| h.lost.is_cancelled())
            .map(|(u, _)| u.clone())
            .collect();
        for unit in lost {
            self.forget(&unit);
        }
    }

    /// Drops a unit that is no longer ours (its work already stopped), lowering its shares.
    fn forget(&mut self, unit: &str) {
        self.lower_shares_of(unit);
        self.held.remove(unit);
    }

    async fn rebalance(&mut self) -> Result<(), String> {
        let leases = self.call("listing leases", self.store.lease_list()).await?;
        let replicas = self
            .call(
                "listing replicas",
                self.store.live_replicas(self.timing.ttl),
            )
            .await?;
        let now = Instant::now();
        let mut others = HashMap::new();
        for lease in leases.into_iter().filter(|l| l.live) {
            if !self.held.contains_key(&lease.name) {
                // Ours but not held (stopped by the watchdog, not expired yet): not free, and
                // counted for nobody.
                let owner = if lease.owner == self.me.id {
                    String::new()
                } else {
                    lease.owner
                };
                others.insert(lease.name, owner);
            }
        }
        let mine: BTreeMap<String, Duration> = self
            .held
            .iter()
            .map(|(u, h)| (u.clone(), now.duration_since(h.since)))
            .collect();
        self.free_since
            .retain(|u, _| !others.contains_key(u) && !mine.contains_key(u));
        let mut free_for = HashMap::new();
        for unit in &self.units {
            if !others.contains_key(unit) && !mine.contains_key(unit) {
                let since = *self.free_since.entry(unit.clone()).or_insert(now);
                free_for.insert(unit.clone(), now.duration_since(since));
            }
        }
        let ids: Vec<String> = replicas.into_iter().map(|r| r.id).collect();
        // Each kind is balanced on its own, so sources spread evenly whoever holds the sinks.
        let mut give_up = Vec::new();
        let mut take = Vec::new();
        for kind in kinds(&self.units) {
            let of_kind = |unit: &String| kind_of(unit) == kind;
            let units: Vec<String> = self.units.iter().filter(|u| of_kind(u)).cloned().collect();
            let others: HashMap<String, String> = others
                .iter()
                .filter(|(u, _)| of_kind(u))
                .map(|(u, o)| (u.clone(), o.clone()))
                .collect();
            let mine: BTreeMap<String, Duration> = mine
                .iter()
                .filter(|(u, _)| of_kind(u))
                .map(|(u, d)| (u.clone(), *d))
                .collect();
            let plan = balance::plan(&View {
                units: &units,
                me: &self.me.id,
                replicas: &ids,
                others: &others,
                mine: &mine,
                free_for: &free_for,
                min_hold: self.timing.min_hold,
                handover: self.timing.handover,
            });
            take.extend(plan.take);
            give_up.extend(plan.give_up);
        }
        for unit in take {
            self.take(unit).await;
        }
        for unit in give_up {
            self.give_up(&unit);
        }
        Ok(())
    }

    async fn take(&mut self, unit: String) {
        let sent = Instant::now();
        let grant = match self
            .call(
                "taking a lease",
                self.store.acquire(&unit, &self.me.id, self.timing.ttl),
            )
            .await
        {
            Ok(Some(grant)) => grant,
            Ok(None) => return,
            Err(e) => {
                warn!(lease = %unit, error = %e, "cannot take the lease; trying again at the next tick");
                return;
            }
        };
        if self.shared && grant.held_before() && unit.starts_with("source/") {
            // Its previous holder lowered its share when it stopped: ours applies at once.
            if let Ok(keys) = self.call("quota keys", self.store.quota_keys(&unit)).await {
                self.taken_over.extend(keys);
            }
        }
        if self.shared {
            info!(lease = %unit, epoch = grant.epoch, "lease taken");
        }
        let stop = CancellationToken::new();
        let lost = CancellationToken::new();
        let task = self.work.start(&unit, grant.fence.clone(), stop.clone());
        let deadline = self.shared.then(|| {
            let (tx, rx) = watch::channel(sent + self.timing.stop_after);
            let abort = self.work.abort_on_loss(&unit).then(|| task.abort_handle());
            tokio::spawn(watchdog(
                unit.clone(),
                rx,
                stop.clone(),
                lost.clone(),
                abort,
            ));
            tx
        });
        self.free_since.remove(&unit);
        self.held.insert(
            unit,
            Held {
                grant,
                since: Instant::now(),
                since_wall: chrono::Utc::now(),
                deadline,
                stop,
                lost,
                task,
            },
        );
    }

    /// Stops a unit's work, then releases its lease, without holding up the keeper's ticks.
    fn give_up(&mut self, unit: &str) {
        self.lower_shares_of(unit);
        let Some(mut held) = self.held.remove(unit) else {
            return;
        };
        info!(lease = %unit, "giving the lease up to rebalance");
        let store = Arc::clone(&self.store);
        // Not renewed any more: the watchdog's deadline bounds how long the work may take.
        let limit = self.timing.stop_after;
        let unit = unit.to_owned();
        tokio::spawn(async move {
            held.stop.cancel();
            if tokio::time::timeout(limit, &mut held.task).await.is_err() {
                held.task.abort();
            }
            if let Err(e) = store.release(&held.grant).await {
                warn!(lease = %unit, error = %e, "cannot release the lease; it expires by itself");
            }
            drop(held.deadline);
        });
    }

    fn publish(&self, error: Option<String>) {
        let held = self
            .held
            .iter()
            .map(|(u, h)| (u.clone(), h.since_wall))
            .collect();
        self.health.record_tick(held, error);
        self.health
            .set_fleet_metrics(!self.shared || self.held.contains_key(FLEET_METRICS));
    }

    async fn shutdown(mut self, graces: Graces) {
        self.drain(|u| !u.starts_with("sink/"), graces.sources, "sources")
            .await;
        self.drain(|u| u.starts_with("sink/"), graces.sinks, "deliverers")
            .await;
        for (unit, held) in std::mem::take(&mut self.held) {
            if self.shared
                && let Err(e) = self
                    .call("releasing", self.store.release(&held.grant))
                    .await
            {
                warn!(lease = %unit, error = %e, "cannot release the lease; it expires by itself");
            }
        }
        if self.shared
            && let Err(e) = self
                .call("leaving the fleet", self.store.forget_replica(&self.me.id))
                .await
        {
            warn!(error = %e, "cannot remove this replica from the registry; it ages out");
        }
    }

    /// Stops the units `pick` selects and waits up to `grace` for them, renewing meanwhile.
    async fn drain(&mut self, pick: impl Fn(&str) -> bool, grace: Duration, what: &str) {
        for (_, held) in self.held.iter().filter(|(u, _)| pick(u)) {
            held.stop.cancel();
        }
        let end = Instant::now() + grace;
        let mut next_renewal = Instant::now() + self.timing.renew_every;
        loop {
            let running = self
                .held
                .iter()
                .filter(|(u, h)| pick(u) && !h.task.is_finished())
                .count();
            if running == 0 {
                return;
            }
            if Instant::now() >= end {
                warn!(
                    running,
                    ?grace,
                    "some {what} did not stop in time; what they had in hand is taken up again at the next start"
                );
                for (_, held) in self.held.iter().filter(|(u, _)| pick(u)) {
                    held.task.abort();
                }
                return;
            }
            tokio::time::sleep(DRAIN_CHECK).await;
            if Instant::now() >= next_renewal {
                self.renew_all().await;
                self.reap_lost();
                next_renewal = Instant::now() + self.timing.renew_every;
            }
        }
    }
}

/// The unit whose holder exports the metrics read from the shared outbox.
pub const FLEET_METRICS: &str = "fleet/metrics";

const DRAIN_CHECK: Duration = Duration::from_millis(50);

/// `source`, `sink` or `fleet`: the part of a unit's name before the `/`.
fn kind_of(unit: &str) -> &str {
    unit.split_once('/').map_or(unit, |(kind, _)| kind)
}

/// The kinds present in `units`, in order.
fn kinds(units: &[String]) -> Vec<String> {
    let mut kinds: Vec<String> = units.iter().map(|u| kind_of(u).to_owned()).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

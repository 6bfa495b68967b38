//! The keeper's side of the quota shares (the rule is in `share.rs`): recording the quota keys
//! of the sources it holds, setting its share of each key at every tick, and lowering it at
//! once when it stops a source.

use std::collections::HashMap;

use tokio::time::Instant;
use tracing::warn;

use super::Keeper;
use crate::runtime::fleet::share::computed;

impl Keeper {
    /// Lowers at once this replica's share of every quota key `unit` draws on, as if its
    /// lease were already someone else's (see `share.rs`).
    pub(super) fn lower_shares_of(&mut self, unit: &str) {
        let Some(source) = unit.strip_prefix("source/") else {
            return;
        };
        for key in self.rate_limits.keys_of(source) {
            let Some((mine, all)) = self.holdings.get(&key).copied() else {
                continue;
            };
            let mine = mine.saturating_sub(1);
            let share = computed(mine, all);
            self.gate.lower(&key, share);
            if share < self.rate_limits.share(&key) {
                self.rate_limits.set_share(&key, share);
            }
            self.holdings.insert(key, (mine, all));
        }
    }

    pub(super) async fn update_shares(&mut self) {
        let unrecorded: Vec<String> = self
            .held
            .keys()
            .filter(|u| u.starts_with("source/") && !self.recorded.contains(*u))
            .cloned()
            .collect();
        for unit in unrecorded {
            let keys = self.rate_limits.keys_of(unit.trim_start_matches("source/"));
            if keys.is_empty() {
                continue;
            }
            match self
                .call(
                    "recording quota keys",
                    self.store.record_quota_keys(&unit, &keys),
                )
                .await
            {
                Ok(()) => {
                    self.recorded.insert(unit);
                }
                Err(e) => warn!(lease = %unit, error = %e, "cannot record the quota keys"),
            }
        }
        let holdings = match self
            .call(
                "counting quota shares",
                self.store.quota_holdings(&self.me.id),
            )
            .await
        {
            Ok(h) => h,
            Err(e) => {
                warn!(error = %e, "cannot count quota shares; they stay as they are");
                return;
            }
        };
        let now = Instant::now();
        let mut counted: HashMap<String, (u32, u32)> = holdings
            .into_iter()
            .map(|h| (h.key, (h.mine, h.all)))
            .collect();
        for key in self.rate_limits.keys() {
            counted.entry(key).or_insert((0, 0));
        }
        for (key, (mine, all)) in counted {
            let at_once = self.taken_over.contains(&key);
            let share = self.gate.decide(
                &key,
                computed(mine, all),
                self.rate_limits.share(&key),
                at_once,
                now,
            );
            self.rate_limits.set_share(&key, share);
            self.holdings.insert(key, (mine, all));
        }
        self.taken_over.clear();
    }
}

//! The PostgreSQL store behind the [`Leases`] role: the inherent lease methods of `lease.rs`
//! with their errors mapped, plus the quota keys recorded per lease, from which each replica
//! computes its share of every provider budget.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Lease, PostgresError, PostgresStore};
use crate::state::{Grant, LeaseStatus, Leases, QuotaHolding, ReplicaStatus, StateError};

fn grant(lease: &Lease) -> Grant {
    Grant {
        name: lease.name.clone(),
        owner: lease.owner.clone(),
        epoch: u64::try_from(lease.epoch).unwrap_or(0),
        fence: lease.fence(),
    }
}

/// The fields `renew_lease`/`release_lease` match on; the times are not used by them.
fn lease_of(grant: &Grant) -> Lease {
    Lease {
        name: grant.name.clone(),
        owner: grant.owner.clone(),
        epoch: i64::try_from(grant.epoch).unwrap_or(i64::MAX),
        expires_at: DateTime::<Utc>::MIN_UTC,
        acquired_at: DateTime::<Utc>::MIN_UTC,
    }
}

impl PostgresStore {
    /// Records (idempotently) that the work under `lease` draws on `keys`.
    pub async fn record_quota_keys(
        &self,
        lease: &str,
        keys: &[String],
    ) -> Result<(), PostgresError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO lease_quota_keys (lease, quota_key)
                 SELECT $1, k FROM unnest($2::TEXT[]) AS k
                 ON CONFLICT DO NOTHING",
                &[&lease, &keys],
            )
            .await?;
        Ok(())
    }

    pub async fn quota_keys(&self, lease: &str) -> Result<Vec<String>, PostgresError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT quota_key FROM lease_quota_keys WHERE lease = $1 ORDER BY quota_key",
                &[&lease],
            )
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Per quota key, the live leases on it held by `owner` and by anyone (database clock).
    pub async fn quota_holdings(&self, owner: &str) -> Result<Vec<QuotaHolding>, PostgresError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT q.quota_key,
                        COUNT(*) FILTER (WHERE l.owner = $1)::BIGINT,
                        COUNT(*)::BIGINT
                   FROM lease_quota_keys q JOIN leases l ON l.name = q.lease
                  WHERE l.expires_at > now()
                  GROUP BY q.quota_key ORDER BY q.quota_key",
                &[&owner],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let count = |i: usize| -> Result<u32, PostgresError> {
                    Ok(u32::try_from(r.try_get::<_, i64>(i)?).unwrap_or(u32::MAX))
                };
                Ok(QuotaHolding {
                    key: r.try_get(0)?,
                    mine: count(1)?,
                    all: count(2)?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl Leases for PostgresStore {
    fn shared(&self) -> bool {
        true
    }

    async fn acquire(
        &self,
        name: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<Option<Grant>, StateError> {
        Ok(self
            .acquire_lease(name, owner, ttl)
            .await?
            .as_ref()
            .map(grant))
    }

    async fn renew(&self, held: &Grant, ttl: Duration) -> Result<Grant, StateError> {
        Ok(grant(&self.renew_lease(&lease_of(held), ttl).await?))
    }

    async fn release(&self, held: &Grant) -> Result<bool, StateError> {
        Ok(self.release_lease(&lease_of(held)).await?)
    }

    async fn lease_list(&self) -> Result<Vec<LeaseStatus>, StateError> {
        Ok(self
            .leases()
            .await?
            .into_iter()
            .map(|row| LeaseStatus {
                epoch: u64::try_from(row.lease.epoch).unwrap_or(0),
                name: row.lease.name,
                owner: row.lease.owner,
                since: row.lease.acquired_at,
                expires_at: row.lease.expires_at,
                live: row.live,
            })
            .collect())
    }

    async fn heartbeat(&self, id: &str, host: &str) -> Result<(), StateError> {
        Ok(self.heartbeat_replica(id, host).await?)
    }

    async fn live_replicas(&self, within: Duration) -> Result<Vec<ReplicaStatus>, StateError> {
        Ok(self
            .replicas(within)
            .await?
            .into_iter()
            .map(|r| ReplicaStatus {
                id: r.id,
                host: r.host,
                started_at: r.started_at,
                heartbeat_at: r.heartbeat_at,
            })
            .collect())
    }

    async fn forget_replica(&self, id: &str) -> Result<(), StateError> {
        Ok(PostgresStore::forget_replica(self, id).await?)
    }

    async fn claim_occurrence(
        &self,
        schedule: &str,
        due_at: DateTime<Utc>,
        owner: &str,
    ) -> Result<bool, StateError> {
        Ok(PostgresStore::claim_occurrence(self, schedule, due_at, owner).await?)
    }

    async fn record_quota_keys(&self, lease: &str, keys: &[String]) -> Result<(), StateError> {
        Ok(PostgresStore::record_quota_keys(self, lease, keys).await?)
    }

    async fn quota_keys(&self, lease: &str) -> Result<Vec<String>, StateError> {
        Ok(PostgresStore::quota_keys(self, lease).await?)
    }

    async fn quota_holdings(&self, owner: &str) -> Result<Vec<QuotaHolding>, StateError> {
        Ok(PostgresStore::quota_holdings(self, owner).await?)
    }
}

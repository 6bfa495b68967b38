//! Leases with fencing epochs, the replica registry, and once-per-fleet scan occurrences.
//!
//! A lease is a row `(name, owner, epoch, expires_at, acquired_at)`. Acquiring inserts it or
//! takes it over when it has expired; the epoch grows on every change of hands (and when the
//! same owner comes back after letting it expire), so a token from before can never match
//! again. Renewing extends it only for the current owner and epoch. Releasing expires it now,
//! so the next replica need not wait. Expiry is always compared with the database's `now()`:
//! replicas' clocks may disagree, the database's is the one they share.
//!
//! A fenced write (a commit carrying a [`Fence`]) locks the lease row `FOR SHARE` in its own
//! transaction and checks owner, epoch and expiry; a takeover must update that row, so it
//! waits for the commit to finish, and a commit that starts after the takeover sees the new
//! epoch and is refused.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use super::PostgresStore;
use super::error::PostgresError;
use crate::state::{Fence, LeaseToken};

/// A lease as its holder knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub owner: String,
    pub epoch: i64,
    /// By the database's clock.
    pub expires_at: DateTime<Utc>,
    /// When this owner got it (kept across renewals).
    pub acquired_at: DateTime<Utc>,
}

impl Lease {
    /// The token a write carries to prove it is made under this lease.
    pub fn fence(&self) -> Fence {
        Fence::Lease(LeaseToken {
            key: self.name.clone(),
            owner: self.owner.clone(),
            // Epochs start at 1 and only grow.
            epoch: u64::try_from(self.epoch).unwrap_or(0),
        })
    }
}

/// A lease as `status` lists it, with whether it is live by the database's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRow {
    pub lease: Lease,
    pub live: bool,
}

/// A running replica as it registered itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    pub id: String,
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
}

const LEASE_COLUMNS: &str = "name, owner, epoch, expires_at, acquired_at";

fn lease_from(row: &Row) -> Result<Lease, PostgresError> {
    Ok(Lease {
        name: row.try_get(0)?,
        owner: row.try_get(1)?,
        epoch: row.try_get(2)?,
        expires_at: row.try_get(3)?,
        acquired_at: row.try_get(4)?,
    })
}

/// A row of `SELECT id, host, started_at, heartbeat_at FROM replicas`.
pub(super) fn replica_from(row: &Row) -> Result<Replica, PostgresError> {
    Ok(Replica {
        id: row.try_get(0)?,
        host: row.try_get(1)?,
        started_at: row.try_get(2)?,
        heartbeat_at: row.try_get(3)?,
    })
}

/// Milliseconds for `now() + $n * interval '1 millisecond'`.
fn millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

/// Inside a commit's transaction: refuses the commit unless `fence` still holds its lease.
pub(super) async fn check_fence(
    tx: &Transaction<'_>,
    fence: &LeaseToken,
) -> Result<(), PostgresError> {
    let lost = || PostgresError::LeaseLost {
        lease: fence.key.clone(),
        epoch: i64::try_from(fence.epoch).unwrap_or(i64::MAX),
    };
    // An epoch past i64 was never granted by this store.
    let epoch = i64::try_from(fence.epoch).map_err(|_| lost())?;
    let stmt = tx
        .prepare_cached(
            "SELECT owner = $2 AND epoch = $3 AND expires_at > clock_timestamp()
             FROM leases WHERE name = $1 FOR SHARE",
        )
        .await?;
    let row = tx
        .query_opt(&stmt, &[&fence.key, &fence.owner, &epoch])
        .await?;
    let held = match row {
        Some(row) => row.try_get::<_, bool>(0)?,
        None => false,
    };
    if held { Ok(()) } else { Err(lost()) }
}

impl PostgresStore {
    /// Takes the lease `name` for `owner` for `ttl` if it is free, expired or already ours;
    /// `None` while another owner holds it. Taking it from anyone (or back after it expired)
    /// bumps the epoch; calling it while still holding it just extends it.
    pub async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, PostgresError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "INSERT INTO leases AS l ({LEASE_COLUMNS})
                 VALUES ($1, $2, 1, now() + $3::BIGINT * INTERVAL '1 millisecond', now())
                 ON CONFLICT (name) DO UPDATE SET
                     epoch = CASE WHEN l.owner = excluded.owner AND l.expires_at > now()
                                  THEN l.epoch ELSE l.epoch + 1 END,
                     acquired_at = CASE WHEN l.owner = excluded.owner AND l.expires_at > now()
                                        THEN l.acquired_at ELSE now() END,
                     owner = excluded.owner,
                     expires_at = excluded.expires_at
                 WHERE l.owner = excluded.owner OR l.expires_at <= now()
                 RETURNING {LEASE_COLUMNS}"
            ))
            .await?;
        let row = client
            .query_opt(&stmt, &[&name, &owner, &millis(ttl)])
            .await?;
        row.as_ref().map(lease_from).transpose()
    }

    /// Extends a lease still held under the same epoch; [`PostgresError::LeaseLost`] when it
    /// expired or moved on (the holder must stop the work it covers).
    pub async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, PostgresError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "UPDATE leases SET expires_at = now() + $4::BIGINT * INTERVAL '1 millisecond'
                 WHERE name = $1 AND owner = $2 AND epoch = $3 AND expires_at > now()
                 RETURNING {LEASE_COLUMNS}"
            ))
            .await?;
        let row = client
            .query_opt(
                &stmt,
                &[&lease.name, &lease.owner, &lease.epoch, &millis(ttl)],
            )
            .await?;
        match row {
            Some(row) => lease_from(&row),
            None => Err(PostgresError::LeaseLost {
                lease: lease.name.clone(),
                epoch: lease.epoch,
            }),
        }
    }

    /// Gives a lease up (on shutdown) so that another replica takes it without waiting for it
    /// to expire; returns whether it was still held.
    pub async fn release_lease(&self, lease: &Lease) -> Result<bool, PostgresError> {
        let client = self.client().await?;
        let released = client
            .execute(
                "UPDATE leases SET expires_at = now()
                 WHERE name = $1 AND owner = $2 AND epoch = $3 AND expires_at > now()",
                &[&lease.name, &lease.owner, &lease.epoch],
            )
            .await?;
        Ok(released > 0)
    }

    /// Every lease, by name, with whether it is live now.
    pub async fn leases(&self) -> Result<Vec<LeaseRow>, PostgresError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {LEASE_COLUMNS}, expires_at > now() FROM leases ORDER BY name"),
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(LeaseRow {
                    lease: lease_from(row)?,
                    live: row.try_get(5)?,
                })
            })
            .collect()
    }

    /// Registers a replica at start, or records that it is still alive.
    pub async fn heartbeat_replica(&self, id: &str, host: &str) -> Result<(), PostgresError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO replicas (id, host, started_at, heartbeat_at) VALUES ($1, $2, now(), now())
                 ON CONFLICT (id) DO UPDATE SET host = excluded.host, heartbeat_at = now()",
                &[&id, &host],
            )
            .await?;
        Ok(())
    }

    /// Replicas heard from within `within` (by the database's clock), oldest first.
    pub async fn replicas(&self, within: Duration) -> Result<Vec<Replica>, PostgresError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, host, started_at, heartbeat_at FROM replicas
                 WHERE heartbeat_at > now() - $1::BIGINT * INTERVAL '1 millisecond'
                 ORDER BY started_at, id",
                &[&millis(within)],
            )
            .await?;
        rows.iter().map(replica_from).collect()
    }

    /// Removes a replica that shut down cleanly.
    pub async fn forget_replica(&self, id: &str) -> Result<(), PostgresError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM replicas WHERE id = $1", &[&id])
            .await?;
        Ok(())
    }

    /// Claims the occurrence of a scheduled scan due at `due_at` for `owner`: true for exactly
    /// one caller across the fleet (and again for the same owner, so a retry after a lost
    /// answer does not skip the scan).
    pub async fn claim_occurrence(
        &self,
        schedule: &str,
        due_at: DateTime<Utc>,
        owner: &str,
    ) -> Result<bool, PostgresError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "WITH claimed AS (
                     INSERT INTO scan_occurrences (schedule, due_at, owner) VALUES ($1, $2, $3)
                     ON CONFLICT (schedule, due_at) DO NOTHING RETURNING owner
                 )
                 SELECT COALESCE(
                     (SELECT owner FROM claimed),
                     (SELECT owner FROM scan_occurrences WHERE schedule = $1 AND due_at = $2)
                 ) = $3",
                &[&schedule, &due_at, &owner],
            )
            .await?;
        Ok(row.try_get::<_, Option<bool>>(0)?.unwrap_or(false))
    }
}

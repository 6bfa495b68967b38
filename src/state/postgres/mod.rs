//! The shared state store on PostgreSQL, for several replicas of the daemon: the same
//! checkpoints, seen ids and outbox as the SQLite store, plus leases with fencing epochs, the
//! replica registry and once-per-fleet scan occurrences.
//!
//! # Driver
//! tokio-postgres with a deadpool pool and rustls (`tokio-postgres-rustls`, system roots via
//! `rustls-native-certs`). It compiles a fraction of what sqlx does (no macros, no
//! compile-time query checking, no second TLS stack: rustls, aws-lc-rs and tokio-rustls are
//! already in the tree for the cloud SDKs), which matters on a 2-core CI; the queries here are
//! few and fixed, so sqlx's checked queries would buy little.
//!
//! # Plugging in
//! `[state] url` builds [`PostgresSettings`] (see `state::settings`), and `state::open` calls
//! [`PostgresStore::open_with`], which migrates. The inherent methods mirror the `StateStore`
//! operations one for one with [`PostgresError`] (which the lease tests inspect); `roles.rs`
//! puts them behind the role traits and maps the error onto `StateError`.
//!
//! # Clocks
//! Outbox and cursor timestamps (`updated_at`) come from the injected clock, as on SQLite, so
//! the two backends show the same times; lease expiry alone is judged by the database's clock,
//! the one all replicas share.
//!
//! # Leases
//! See `lease.rs`: a lease row per unit of work (`source/<name>`, `sink/<name>`), an epoch that
//! grows on every change of hands, and expiry decided by the database's clock. A fenced commit
//! locks the lease row (`FOR SHARE`) inside its own transaction and checks owner, epoch and
//! expiry there, so a takeover (an `UPDATE` of that row) either happens before the check (the
//! commit is refused) or waits until the commit is done.

mod checkpoints;
pub mod config;
mod error;
mod exposures;
mod lease;
mod leases;
mod outbox;
mod roles;
mod schema;
mod status;
mod tls;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};

pub use config::{PostgresConfigError, PostgresOptions, PostgresSettings, SslMode};
pub use error::PostgresError;
pub use lease::{Lease, LeaseRow, Replica};

use crate::clock::{Clock, SystemClock};

/// A pool of connections to one PostgreSQL database holding the daemon's state.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    target: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .finish()
    }
}

impl PostgresStore {
    /// Connects and brings the schema up to date (once across replicas starting together);
    /// timestamps come from the system clock.
    pub async fn open(settings: &PostgresSettings) -> Result<Self, PostgresError> {
        Self::open_with(settings, Arc::new(SystemClock)).await
    }

    /// As [`PostgresStore::open`], with outbox and cursor timestamps taken from `clock`.
    pub async fn open_with(
        settings: &PostgresSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, PostgresError> {
        let store = Self::connect(settings, clock)?;
        let mut client = store.client().await?;
        schema::migrate(&mut client, &store.target).await?;
        Ok(store)
    }

    /// Connects to a database that already holds this release's schema, changing nothing
    /// (for commands that only read and repair, such as `alerts` and `status`).
    pub async fn open_existing(
        settings: &PostgresSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, PostgresError> {
        let store = Self::connect(settings, clock)?;
        let client = store.client().await?;
        schema::check(&client, &store.target).await?;
        Ok(store)
    }

    /// Builds the pool; no connection is made until the first use.
    fn connect(settings: &PostgresSettings, clock: Arc<dyn Clock>) -> Result<Self, PostgresError> {
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match tls::connector(settings.sslmode)? {
            Some(tls) => Manager::from_config(settings.connection_config(), tls, manager_config),
            None => Manager::from_config(
                settings.connection_config(),
                tokio_postgres::NoTls,
                manager_config,
            ),
        };
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(settings.connect_timeout))
            .create_timeout(Some(settings.connect_timeout))
            .recycle_timeout(Some(settings.connect_timeout))
            .build()
            .map_err(|e| PostgresError::Connect {
                target: settings.display.clone(),
                detail: e.to_string(),
                transient: false,
            })?;
        Ok(PostgresStore {
            pool,
            target: settings.display.clone(),
            clock,
        })
    }

    /// `host:port/database`, safe to log.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Now, by the injected clock (for `updated_at` columns).
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The schema version this release writes.
    pub fn schema_version() -> i64 {
        schema::supported()
    }

    async fn client(&self) -> Result<Object, PostgresError> {
        self.pool.get().await.map_err(|e| {
            let transient = match &e {
                PoolError::Backend(pg) => error::transient_query(pg),
                PoolError::Timeout(_) => true,
                _ => false,
            };
            let detail = match &e {
                // The server's own words ("database … does not exist"), not "db error".
                PoolError::Backend(pg) => error::describe(pg),
                other => other.to_string(),
            };
            PostgresError::Connect {
                target: self.target.clone(),
                detail,
                transient,
            }
        })
    }

    /// Proves the database accepts writes to the store's own tables (for readiness): a
    /// primary, not a read-only replica left behind by a failover, and a role that may write
    /// there. The probe row is written and rolled back, so it leaves nothing behind.
    pub async fn check_writable(&self) -> Result<(), PostgresError> {
        let mut client = self.client().await?;
        // A transaction object rolls back on drop, so a refused write leaves a clean connection.
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO cursors (key, kind, version, value, updated_at)
             VALUES ('npw/writable-probe', 'probe', 0, '', now())
             ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at",
            &[],
        )
        .await?;
        tx.rollback().await?;
        Ok(())
    }
}

//! The embedded state store: one SQLite file in WAL mode, fully synchronous.
//!
//! rusqlite is blocking, so every call runs on tokio's blocking pool behind one connection; the
//! statements are small and the store is not on a hot path (one commit per poll batch).
//! One process delivers from a file at a time ([`lock`]); other commands share it through WAL.

mod checkpoints;
mod error;
mod exposures;
mod lock;
mod outbox;
mod schema;
mod status;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::{Access, StateError};
use crate::clock::{Clock, SystemClock};
use lock::DeliveryLock;

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    clock: Arc<dyn Clock>,
    /// Held for the store's life when it was opened to deliver; released when the last clone
    /// is dropped (or the process dies: the kernel drops the lock with the file descriptor).
    _lock: Option<Arc<DeliveryLock>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` for writing, without the delivery
    /// lock, timestamped by the system clock.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        Self::open_with(path, Access::Write, Arc::new(SystemClock))
    }

    /// Opens the database at `path` as `access` asks, taking timestamps from `clock`.
    pub fn open_with(
        path: &Path,
        access: Access,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StateError> {
        let display = path.display().to_string();
        let open_err = |source: rusqlite::Error| StateError::Open {
            location: display.clone(),
            source: error::open_failure(source),
        };
        if access == Access::Inspect && !path.exists() {
            return Err(StateError::NotFound { location: display });
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Open {
                location: display.clone(),
                source: format!("cannot create its directory: {source}").into(),
            })?;
        }
        // Locked before the schema is touched: a refused second daemon changes nothing.
        let lock = match access {
            Access::Deliver => Some(Arc::new(DeliveryLock::acquire(path)?)),
            Access::Write | Access::Inspect => None,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        // WAL lets `nodeport-watch alerts` read while the daemon writes; FULL makes every
        // committed batch survive a power cut, which is the point of the outbox.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        schema::migrate(&mut conn, &display)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
            clock,
            _lock: lock,
        })
    }

    /// A store that lives as long as the process: for demos and tests, never for production.
    pub fn open_in_memory() -> Result<Self, StateError> {
        Self::in_memory_with(Arc::new(SystemClock))
    }

    /// An in-memory store timestamped by `clock`. Nothing else can open it, so it needs no lock.
    pub fn in_memory_with(clock: Arc<dyn Clock>) -> Result<Self, StateError> {
        let mut conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn, ":memory:")?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path: PathBuf::from(":memory:"),
            clock,
            _lock: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Now, by the injected clock, as stored (milliseconds since the epoch).
    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    async fn run<T, F>(&self, f: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StateError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a transaction half-applied (SQLite
            // rolls it back), so a poisoned lock is safe to reuse.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StateError::Worker(e.to_string()))?
    }
}

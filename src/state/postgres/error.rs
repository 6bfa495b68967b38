//! Errors of the PostgreSQL store. They name the server as `host:port/database` and never carry
//! the password; the state traits map them onto their backend-neutral errors.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum PostgresError {
    #[error(
        "cannot get a connection to PostgreSQL at {target}: {detail}; check that the server is up \
         and reachable, and the user, password and sslmode"
    )]
    Connect {
        target: String,
        detail: String,
        /// A refused or timed-out connection may work later; a refused login will not.
        transient: bool,
    },
    #[error("PostgreSQL: {}", describe(.0))]
    Query(#[from] tokio_postgres::Error),
    #[error("TLS for PostgreSQL: {0}")]
    Tls(String),
    #[error("an alert in the outbox could not be read back: {0}")]
    Corrupt(#[source] serde_json::Error),
    #[error(
        "PostgreSQL state database {target} has schema version {found}, newer than this release \
         ({supported}); run the matching release or restore a backup"
    )]
    NewerSchema {
        target: String,
        found: i64,
        supported: i64,
    },
    #[error(
        "PostgreSQL database {target} holds no nodeport-watch state yet: has the daemon run \
         against it? (check `[state] url`)"
    )]
    NoSchema { target: String },
    #[error(
        "PostgreSQL state database {target} has schema version {found}, older than this \
         release ({supported}); start this release's daemon once to migrate it"
    )]
    OlderSchema {
        target: String,
        found: i64,
        supported: i64,
    },
    /// The lease the write was fenced with moved on (taken over, expired or released): the
    /// caller must stop working on what the lease covered.
    #[error(
        "lease `{lease}` (epoch {epoch}) is no longer held by this replica; the write was refused"
    )]
    LeaseLost { lease: String, epoch: i64 },
}

impl PostgresError {
    /// Whether the error says nothing about the data (a lost connection, a restarting server):
    /// the caller may retry the same operation.
    pub fn is_transient(&self) -> bool {
        match self {
            PostgresError::Connect { transient, .. } => *transient,
            PostgresError::Query(e) => transient_query(e),
            _ => false,
        }
    }
}

/// Whether a driver error leaves the operation worth retrying.
pub(super) fn transient_query(e: &tokio_postgres::Error) -> bool {
    match e.as_db_error() {
        // Not from the server: the connection broke or could not be made (an I/O error), or
        // this side got something wrong (a type conversion), which a retry will not fix.
        None => {
            e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
        }
        Some(db) => {
            let code = db.code().code();
            // Connection exceptions, a server shutting down or starting, and the
            // conflicts PostgreSQL asks clients to retry.
            code.starts_with("08") || code.starts_with("57P") || code == "40001" || code == "40P01"
        }
    }
}

/// tokio-postgres shows a server error as just "db error"; the server's message and SQLSTATE
/// are what an operator needs. Neither ever contains the password.
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        None => e.to_string(),
    }
}

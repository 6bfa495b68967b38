//! The store's errors, in words that do not depend on the backend.
//!
//! Callers (the ingest loop, deliverers, the CLI) decide what to do from the variant alone; the
//! backend's own error travels as the `source` so its detail still reaches the log.

use thiserror::Error;

/// A backend's own error, kept for its message and chain.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Error)]
pub enum StateError {
    #[error("cannot open the state store {location}: {source}")]
    Open {
        location: String,
        #[source]
        source: BackendError,
    },
    #[error("no state database at {location}: has the daemon run yet? (check `[state]`)")]
    NotFound { location: String },
    #[error(
        "the configuration keeps its state in memory, inside the process that runs it: there is \
         nothing for another command to read; set `[state] path` to a file"
    )]
    InMemory,
    #[error(
        "the state database {location} is locked by another nodeport-watch process that delivers \
         alerts ({holder}): only one process may deliver from a state database; {remedy}"
    )]
    Locked {
        location: String,
        holder: String,
        /// What to do, in the backend's terms.
        remedy: &'static str,
    },
    #[error("state store: {0}")]
    Backend(#[source] BackendError),
    /// The store could not be reached or dropped the connection (a restarting server, a
    /// network blip): the same operation may work later, so callers back off and retry.
    #[error("state store unavailable, will retry: {0}")]
    Unavailable(#[source] BackendError),
    #[error("an alert in the outbox could not be read back: {0}")]
    Corrupt(#[source] serde_json::Error),
    #[error("state store: the worker thread stopped: {0}")]
    Worker(String),
    #[error(
        "state store {location} has schema version {found}, newer than this release ({supported}); \
         run the matching release or restore a backup"
    )]
    NewerSchema {
        location: String,
        found: i64,
        supported: i64,
    },
    /// A shared backend refuses a commit made under a lease another replica has taken since.
    #[error(
        "lease `{key}` moved on (this writer held epoch {epoch}): the commit was refused; \
         another replica owns it now"
    )]
    LeaseLost { key: String, epoch: u64 },
}

impl StateError {
    /// Whether retrying the same operation later may succeed (nothing is wrong with the data).
    pub fn is_transient(&self) -> bool {
        matches!(self, StateError::Unavailable(_))
    }
}

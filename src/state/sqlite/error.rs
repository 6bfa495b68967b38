//! SQLite's errors in the store's backend-neutral terms.

use super::super::StateError;

impl From<rusqlite::Error> for StateError {
    fn from(e: rusqlite::Error) -> Self {
        StateError::Backend(Box::new(e))
    }
}

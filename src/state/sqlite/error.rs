//! SQLite's errors in the store's backend-neutral terms.

use super::super::StateError;

impl From<rusqlite::Error> for StateError {
    fn from(e: rusqlite::Error) -> Self {
        StateError::Backend(Box::new(e))
    }
}

/// An open that failed, with what an operator can do about the usual causes.
pub(super) fn open_failure(e: rusqlite::Error) -> super::super::BackendError {
    use rusqlite::ErrorCode;
    let hint = match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            "the file is not a SQLite database, or its header is damaged: restore it from a \
             backup, or move it aside to start with an empty store (sources then start over as on \
             a first run, and alerts not yet delivered are lost)"
        }
        Some(ErrorCode::ReadOnly) => {
            "the file or its folder is read-only: the daemon writes its state there (check the \
             volume's mount options and the file's owner)"
        }
        Some(ErrorCode::DiskFull) => "the volume is full: free space on it",
        Some(ErrorCode::CannotOpen) => {
            "check that the folder exists and that this user may create and write files in it"
        }
        _ => return Box::new(e),
    };
    format!("{e}; {hint}").into()
}

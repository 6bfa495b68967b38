//! One delivering process per SQLite file.
//!
//! SQLite lets many processes write one file, so two daemons (a mis-scheduled second pod, a
//! `run` started twice) would both poll every source and both deliver every pending alert. A
//! process that delivers first takes an exclusive advisory lock on `<db>.lock` and keeps it for
//! its life; a second one is refused at start with the holder's pid. The kernel releases the
//! lock when the process exits, however it exits, so a crash never leaves a stale lock behind.
//! std's `File::try_lock` (stable since 1.89: `flock` on Unix, `LockFileEx` on Windows) does
//! what a crate would.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::super::StateError;

#[derive(Debug)]
pub(super) struct DeliveryLock {
    // Never read: holding the open file is what holds the lock.
    _file: File,
}

/// `<db>.lock` beside the database.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl DeliveryLock {
    pub(super) fn acquire(db: &Path) -> Result<DeliveryLock, StateError> {
        let path = lock_path(db);
        let failed = |e: std::io::Error| StateError::Open {
            location: db.display().to_string(),
            source: format!("lock file {}: {e}", path.display()).into(),
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(failed)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StateError::Locked {
                    location: db.display().to_string(),
                    holder: holder(&mut file),
                    remedy: "stop it, or give this one its own `[state] path`",
                });
            }
            Err(TryLockError::Error(e)) => return Err(failed(e)),
        }
        // Who holds it, for the message a refused process prints; advisory only.
        file.set_len(0).map_err(failed)?;
        file.rewind().map_err(failed)?;
        writeln!(file, "pid {}{}", std::process::id(), command()).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        Ok(DeliveryLock { _file: file })
    }
}

/// ` (nodeport-watch run)`, or nothing when the subcommand cannot be told.
fn command() -> String {
    match std::env::args().nth(1) {
        Some(sub) if sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
            format!(", `nodeport-watch {sub}`")
        }
        _ => String::new(),
    }
}

/// What the holder wrote in the lock file, kept to one short printable line.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let read = file.rewind().and_then(|()| {
        Read::by_ref(file)
            .take(200)
            .read_to_string(&mut text)
            .map(|_| ())
    });
    let line = text.lines().next().unwrap_or("").trim();
    if read.is_err() || line.is_empty() || line.chars().any(char::is_control) {
        "a process whose pid is not recorded".to_owned()
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let first = DeliveryLock::acquire(&db).unwrap();
        let err = DeliveryLock::acquire(&db).unwrap_err();
        match &err {
            StateError::Locked { holder, .. } => {
                assert!(
                    holder.starts_with(&format!("pid {}", std::process::id())),
                    "{holder}"
                )
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        assert!(err.to_string().contains("[state] path"), "{err}");
        drop(first);
        DeliveryLock::acquire(&db).unwrap();
    }
}

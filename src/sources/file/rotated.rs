//! Files rotated to a name `paths` does not match (`audit.log` → `audit-2026-06-01T10-00.log`
//! with `paths = ["/var/log/audit.log"]`): the writer may have added lines between our last
//! read and the rename, so the file is looked up by its identity in the folder it was last seen
//! in and read to its end before its position is forgotten. Looking it up (rather than holding
//! an open handle) also works after a restart.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use tracing::{debug, info};

use super::{FilePosition, identity};

/// The file with identity `id` in the folder of `last_path`, opened, with its length; `None`
/// when it is no longer there (deleted, or moved to another folder).
pub(super) fn find(last_path: &Path, id: &str) -> Option<(PathBuf, File, u64)> {
    let folder = last_path.parent()?;
    let entries = fs::read_dir(folder).ok()?;
    for entry in entries.flatten() {
        let path = entry.path();
        // Not following links: a link is not the rotated file, its target is listed itself.
        if !entry
            .metadata()
            .is_ok_and(|m| m.is_file() && identity(&m) == id)
        {
            continue;
        }
        let file = File::open(&path).ok()?;
        let meta = file.metadata().ok()?;
        // Checked again on the open file: the name may have moved on in between.
        if identity(&meta) == id {
            return Some((path, file, meta.len()));
        }
    }
    None
}

/// Whether to keep following a rotated file after this poll: while it grows, and for one poll
/// after it was first found with nothing new (a writer may still append after renaming).
pub(super) fn keep(source: &str, path: &Path, position: &mut FilePosition, drained: bool) -> bool {
    if !drained {
        position.rotated_drained = false;
        debug!(source, file = %path.display(), "reading the rest of a file rotated out of `paths`");
        return true;
    }
    if position.rotated_drained {
        info!(source, file = %path.display(), "a file rotated out of `paths` was read to its end; forgetting it");
        return false;
    }
    position.rotated_drained = true;
    true
}

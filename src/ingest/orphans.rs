//! Cursors that belong to no configured source: a source renamed or removed, or a scan of one
//! interrupted and never resumed. Nothing reads them again, so they (and their seen ids) would
//! stay in the store for ever; the daemon names them at start and `nodeport-watch prune
//! --orphans` removes them.

use tracing::warn;

use crate::state::{CursorStatus, StateError, StateStore, StoreStatus};

/// The source a cursor key belongs to (`live/<source>`, `scan/<source>/<range>`, see
/// [`super::cursor_key`]); `None` for a key in no known form.
pub fn source_of(key: &str) -> Option<&str> {
    let rest = key
        .strip_prefix("live/")
        .or_else(|| key.strip_prefix("scan/"))?;
    rest.split('/').next().filter(|name| !name.is_empty())
}

/// The cursors of sources not in `sources` (keys in no known form included: nothing reads
/// them either).
pub async fn orphan_cursors(
    store: &dyn StoreStatus,
    sources: &[&str],
) -> Result<Vec<CursorStatus>, StateError> {
    let mut cursors = store.cursors().await?;
    cursors.retain(|c| source_of(&c.key).is_none_or(|name| !sources.contains(&name)));
    Ok(cursors)
}

/// Logs one warning per orphaned cursor (the daemon, at start).
pub async fn warn_about_orphan_cursors(store: &dyn StoreStatus, sources: &[&str]) {
    match orphan_cursors(store, sources).await {
        Ok(orphans) => {
            for c in orphans {
                warn!(cursor = %c.key.escape_debug(), updated_at = %c.updated_at, "the state store holds a cursor of a source that is not configured (renamed or removed, or an unfinished scan of one); remove it with `nodeport-watch prune --orphans`");
            }
        }
        Err(e) => warn!(error = %e, "cannot list cursors to look for orphaned ones"),
    }
}

/// Removes the orphaned cursors and their seen ids; returns their keys.
pub async fn prune_orphan_cursors(
    store: &dyn StateStore,
    sources: &[&str],
) -> Result<Vec<String>, StateError> {
    let orphans = orphan_cursors(store, sources).await?;
    let mut removed = Vec::with_capacity(orphans.len());
    for c in orphans {
        store.delete_cursor(&c.key).await?;
        removed.push(c.key);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_source() {
        assert_eq!(source_of("live/eks-prod"), Some("eks-prod"));
        assert_eq!(source_of("scan/eks-prod/1000..2000"), Some("eks-prod"));
        assert_eq!(source_of("npw/writable-probe"), None);
        assert_eq!(source_of("live/"), None);
    }
}

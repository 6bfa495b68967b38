//! The PostgreSQL store behind the role traits: each method is the inherent one with its
//! [`PostgresError`] mapped onto the backend-neutral [`StateError`].
//!
//! The mapping keeps what callers decide on: a lost lease stays [`StateError::LeaseLost`], a
//! dropped or refused connection becomes [`StateError::Unavailable`] (back off and retry), a
//! newer schema and an unreadable alert keep their own variants, and the rest travel as
//! [`StateError::Backend`] with the server's message.

use std::collections::HashSet;

use async_trait::async_trait;

use super::{PostgresError, PostgresStore};
use crate::exposure::{Exposure, ExposureFilter, ExposureKey, OpenCount};
use crate::model::{Alert, StoredCursor};
use crate::state::{
    AlertCount, Checkpoints, Commit, CommitReport, DeliveryRecord, DeliveryState,
    ExposureInventory, Fence, OutboxAdmin, OutboxDelivery, PendingBatch, StateError,
};

impl From<PostgresError> for StateError {
    fn from(e: PostgresError) -> Self {
        match e {
            PostgresError::LeaseLost { lease, epoch } => StateError::LeaseLost {
                key: lease,
                epoch: u64::try_from(epoch).unwrap_or(0),
            },
            PostgresError::NewerSchema {
                target,
                found,
                supported,
            } => StateError::NewerSchema {
                location: target,
                found,
                supported,
            },
            PostgresError::Corrupt(e) => StateError::Corrupt(e),
            PostgresError::NoSchema { target } => StateError::NotFound { location: target },
            e if e.is_transient() => StateError::Unavailable(Box::new(e)),
            e => StateError::Backend(Box::new(e)),
        }
    }
}

#[async_trait]
impl Checkpoints for PostgresStore {
    async fn load_cursor(&self, key: &str) -> Result<Option<StoredCursor>, StateError> {
        Ok(PostgresStore::load_cursor(self, key).await?)
    }

    async fn commit(&self, commit: Commit, fence: &Fence) -> Result<CommitReport, StateError> {
        Ok(PostgresStore::commit(self, &commit, fence).await?)
    }

    async fn seen(&self, scope: &str, keys: Vec<String>) -> Result<HashSet<String>, StateError> {
        Ok(PostgresStore::seen(self, scope, keys).await?)
    }

    async fn delete_cursor(&self, key: &str) -> Result<(), StateError> {
        Ok(PostgresStore::delete_cursor(self, key).await?)
    }
}

#[async_trait]
impl OutboxDelivery for PostgresStore {
    async fn pending(&self, sink: &str, limit: usize) -> Result<PendingBatch, StateError> {
        Ok(PostgresStore::pending(self, sink, limit).await?)
    }

    async fn mark_delivered(&self, sink: &str, seq: i64) -> Result<(), StateError> {
        Ok(PostgresStore::mark_delivered(self, sink, seq).await?)
    }

    async fn mark_failed(
        &self,
        sink: &str,
        seq: i64,
        error: &str,
        dead: bool,
    ) -> Result<(), StateError> {
        Ok(PostgresStore::mark_failed(self, sink, seq, error, dead).await?)
    }
}

#[async_trait]
impl OutboxAdmin for PostgresStore {
    async fn deliveries(
        &self,
        states: &[DeliveryState],
        sink: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StateError> {
        Ok(PostgresStore::deliveries(self, states, sink, limit).await?)
    }

    async fn requeue_dead(
        &self,
        sink: Option<&str>,
        alert_id: Option<&str>,
    ) -> Result<usize, StateError> {
        Ok(PostgresStore::requeue_dead(self, sink, alert_id).await?)
    }

    async fn delivery_counts(&self) -> Result<Vec<(String, DeliveryState, u64)>, StateError> {
        Ok(PostgresStore::delivery_counts(self).await?)
    }

    async fn alert_counts(&self) -> Result<Vec<AlertCount>, StateError> {
        Ok(PostgresStore::alert_counts(self).await?)
    }

    async fn prune_delivered(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
        batch: usize,
    ) -> Result<usize, StateError> {
        Ok(PostgresStore::prune_delivered(self, cutoff, batch).await?)
    }

    async fn check_writable(&self) -> Result<(), StateError> {
        Ok(PostgresStore::check_writable(self).await?)
    }
}

#[async_trait]
impl ExposureInventory for PostgresStore {
    async fn exposures(
        &self,
        filter: &ExposureFilter,
        limit: usize,
    ) -> Result<Vec<Exposure>, StateError> {
        Ok(PostgresStore::exposures(self, filter, limit).await?)
    }

    async fn open_counts(&self) -> Result<Vec<OpenCount>, StateError> {
        Ok(PostgresStore::open_counts(self).await?)
    }

    async fn due_reminders(
        &self,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Exposure, Option<Alert>)>, StateError> {
        Ok(PostgresStore::due_reminders(self, before_ms, limit).await?)
    }

    async fn queue_reminder(
        &self,
        key: &ExposureKey,
        episode: &str,
        reminder: Alert,
        sinks: Vec<String>,
    ) -> Result<bool, StateError> {
        Ok(PostgresStore::queue_reminder(self, key, episode, reminder, sinks).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_what_callers_decide_on() {
        let lost = StateError::from(PostgresError::LeaseLost {
            lease: "source/eks".into(),
            epoch: 7,
        });
        assert!(matches!(lost, StateError::LeaseLost { ref key, epoch: 7 } if key == "source/eks"));
        let down = StateError::from(PostgresError::Connect {
            target: "db:5432/state".into(),
            detail: "connection refused".into(),
            transient: true,
        });
        assert!(down.is_transient(), "{down}");
        let refused = StateError::from(PostgresError::Connect {
            target: "db:5432/state".into(),
            detail: "password authentication failed".into(),
            transient: false,
        });
        assert!(!refused.is_transient());
        assert!(refused.to_string().contains("db:5432/state"));
    }
}

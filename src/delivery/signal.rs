//! Wakes deliverers when a commit put new alerts in the outbox.

use tokio::sync::watch;

/// A counter bumped on every commit with new alerts; deliverers wait for it to change. Unlike a
/// plain notification, a bump while a deliverer is busy is not lost.
#[derive(Clone, Debug)]
pub struct OutboxSignal {
    tx: watch::Sender<u64>,
}

impl Default for OutboxSignal {
    fn default() -> Self {
        OutboxSignal {
            tx: watch::Sender::new(0),
        }
    }
}

impl OutboxSignal {
    pub fn notify(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}

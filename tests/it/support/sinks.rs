//! A sink that records what it receives and fails on command.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use nodeport_watch::model::Alert;
use nodeport_watch::sinks::{DeliveryError, Sink};

/// What the next delivery attempts return, in order; once empty, every attempt succeeds.
#[derive(Debug)]
pub enum Answer {
    Fail,
    Reject,
    /// A bug in the sink: the attempt panics.
    Panic,
}

#[derive(Debug, Default)]
pub struct RecordingSink {
    received: Mutex<Vec<Alert>>,
    script: Mutex<VecDeque<Answer>>,
}

impl RecordingSink {
    pub fn scripted(answers: impl IntoIterator<Item = Answer>) -> Self {
        RecordingSink {
            received: Mutex::default(),
            script: Mutex::new(answers.into_iter().collect()),
        }
    }

    pub fn ids(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|a| a.id.clone())
            .collect()
    }
}

#[async_trait]
impl Sink for RecordingSink {
    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        // Taken before matching: a panic while the lock is held would poison it.
        let next = self.script.lock().unwrap().pop_front();
        match next {
            Some(Answer::Fail) => Err(DeliveryError::retriable("receiver down")),
            Some(Answer::Reject) => Err(DeliveryError::rejected("400 bad request")),
            Some(Answer::Panic) => panic!("a bug in the sink"),
            None => {
                self.received.lock().unwrap().push(alert.clone());
                Ok(())
            }
        }
    }
}

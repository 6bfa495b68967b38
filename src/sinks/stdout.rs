//! One alert JSON document per line on standard output.

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::{DeliveryError, Sink};
use crate::model::Alert;

#[derive(Debug)]
pub struct StdoutSink {
    // Serializes writers so lines never interleave.
    out: Mutex<tokio::io::Stdout>,
}

impl Default for StdoutSink {
    fn default() -> Self {
        StdoutSink {
            out: Mutex::new(tokio::io::stdout()),
        }
    }
}

#[async_trait]
impl Sink for StdoutSink {
    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let mut line = serde_json::to_vec(alert)
            .map_err(|e| DeliveryError::rejected(format!("alert not serializable: {e}")))?;
        line.push(b'\n');
        let mut out = self.out.lock().await;
        out.write_all(&line)
            .await
            .map_err(|e| DeliveryError::retriable(format!("stdout: {e}")))?;
        out.flush()
            .await
            .map_err(|e| DeliveryError::retriable(format!("stdout: {e}")))
    }
}

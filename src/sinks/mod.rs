//! Where alerts go. Each sink says how to deliver one alert and which failures are worth
//! retrying (its classifier); ordering, retries, backoff and dead letters are the deliverer's
//! job.
//!
//! | sink         | body                                   | retried                         |
//! |--------------|----------------------------------------|---------------------------------|
//! | `stdout`     | alert JSON line                        | write errors                    |
//! | `file`       | alert JSON, OCSF or Falco line, synced | I/O errors                      |
//! | `webhook`    | alert JSON, OCSF or Falco, signed      | network, timeout, 408, 429, 5xx |
//! | `slack`      | Block Kit message                      | same                            |
//! | `splunk_hec` | HEC event envelope                     | same                            |
//! | `pagerduty`  | Events API v2 trigger                  | same                            |
//! | `alertmanager` | API v2 `postableAlert` array         | same                            |
//! | `elasticsearch` | `_bulk` create of an ECS document   | same, and per item: 429, 5xx    |
//! | `azure_logs_ingestion` | a row for a DCR stream       | same                            |
//! | `aws_eventbridge` | a PutEvents entry                 | call failures; entries: throttled, internal |
//! | `aws_security_hub` | an ASFF finding per exposure     | call failures; findings: throttled, internal, access |

pub mod alertmanager;
pub mod aws_eventbridge;
pub mod aws_security_hub;
pub mod azure_logs_ingestion;
pub mod elasticsearch;
pub mod exposure;
pub mod falco;
pub mod file;
pub mod format;
pub mod http;
pub mod ocsf;
pub mod pagerduty;
pub mod slack;
pub mod splunk_hec;
pub mod stdout;
#[cfg(test)]
mod test_alert;
pub mod text;
pub mod webhook;

use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

use crate::model::Alert;

pub use format::OutputFormat;

#[derive(Debug, Error)]
pub enum DeliveryError {
    /// Try again later (network trouble, 5xx, 429, a full disk).
    #[error("{message}")]
    Retriable {
        message: String,
        /// The receiver asked for at least this long (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The receiver refused this alert for good (4xx other than 429): retrying cannot help.
    #[error("{message}")]
    Rejected { message: String },
}

impl DeliveryError {
    pub fn retriable(message: impl Into<String>) -> Self {
        DeliveryError::Retriable {
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn rejected(message: impl Into<String>) -> Self {
        DeliveryError::Rejected {
            message: message.into(),
        }
    }
}

#[async_trait]
pub trait Sink: Send + Sync + 'static {
    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError>;

    /// A real call proving the sink can be reached (run by `validate`).
    async fn healthcheck(&self) -> Result<(), DeliveryError> {
        Ok(())
    }
}

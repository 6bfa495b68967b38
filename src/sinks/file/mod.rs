//! Alerts appended to a JSON Lines file, each one flushed and synced before it counts as
//! delivered: the outbox marks it done only once it is on disk.

pub mod config;

pub use config::{FileSinkSettings, RawFileSink};

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::Mutex;

use super::format::{OutputFormat, render};
use super::{DeliveryError, Sink};
use crate::model::Alert;

#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    format: OutputFormat,
    file: Mutex<Option<File>>,
}

impl FileSink {
    pub fn new(path: &Path) -> Self {
        Self::with_format(path, OutputFormat::Native)
    }

    pub fn with_format(path: &Path, format: OutputFormat) -> Self {
        FileSink {
            path: path.to_owned(),
            format,
            file: Mutex::new(None),
        }
    }

    async fn open(&self) -> Result<File, DeliveryError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| self.error("create directory", e))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(|e| self.error("open", e))?;
        // A crash mid-write can leave a partial last line; start on a fresh line so it does not
        // swallow the next alert.
        if !ends_with_newline(&mut file)
            .await
            .map_err(|e| self.error("read", e))?
        {
            file.write_all(b"\n")
                .await
                .map_err(|e| self.error("write", e))?;
        }
        Ok(file)
    }

    fn error(&self, what: &str, e: std::io::Error) -> DeliveryError {
        DeliveryError::retriable(format!("{what} {}: {e}", self.path.display()))
    }
}

/// True for an empty file or one whose last byte is a newline.
async fn ends_with_newline(file: &mut File) -> std::io::Result<bool> {
    if file.metadata().await?.len() == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1)).await?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last).await?;
    Ok(last[0] == b'\n')
}

#[async_trait]
impl Sink for FileSink {
    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let mut line = render(alert, self.format)?;
        line.push(b'\n');
        let mut guard = self.file.lock().await;
        let file = match guard.as_mut() {
            Some(file) => file,
            None => guard.insert(self.open().await?),
        };
        let written = async {
            file.write_all(&line).await?;
            file.flush().await?;
            file.sync_data().await
        }
        .await;
        if let Err(e) = written {
            // Reopen next time: the file may have been rotated or the disk remounted.
            *guard = None;
            return Err(self.error("write", e));
        }
        Ok(())
    }

    async fn healthcheck(&self) -> Result<(), DeliveryError> {
        self.open().await.map(drop)
    }
}

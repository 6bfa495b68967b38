//! Compressed files (gzip) and files that are not text, for the file source.
//!
//! A compressed file is a finished export, not a log being written: it is read whole, from
//! its start, and never followed. Its decompressed text has no byte offset worth keeping, so
//! the checkpoint counts the records already read (`frames`) and a later poll decodes again
//! and skips that many; a large file is thus read over several polls without holding it all.
//! A stream cut short or damaged gives the records before the damage, then a counted, logged
//! skip; if the file grows afterwards (it was still being copied), the rest is read then.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};

use super::{FilePosition, Reader};
use crate::normalize::content::{self, Content, SNIFF_BYTES};
use crate::normalize::{Frame, RecordReader, SkipReason};
use crate::sources::Record;

/// What a file holds, decided once from its first bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileContent {
    /// Not decided yet (or written before this was recorded): text until shown otherwise.
    #[default]
    Undecided,
    /// Text, followed as it grows.
    Text,
    /// Gzip, read whole.
    Compressed,
    /// Binary or an unsupported compression: never read.
    Refused,
}

/// Decides what `file` holds from its first bytes.
pub fn classify(file: &mut File) -> io::Result<Content> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    file.seek(SeekFrom::Start(0))?;
    file.take(SNIFF_BYTES as u64).read_to_end(&mut head)?;
    Ok(content::sniff(&head))
}

impl Reader<'_> {
    /// Refuses a file that is not text, once: its bytes are passed over, now and as it grows.
    pub(super) fn refuse(&self, position: &mut FilePosition, len: u64, content: Content) {
        let (reason, what) = match content {
            Content::Unsupported(name) => (
                SkipReason::UnsupportedCompression,
                format!("{name}-compressed file is not read; decompress it first"),
            ),
            _ => (
                SkipReason::Binary,
                "file is not text (binary data); skipped".to_owned(),
            ),
        };
        if position.content != FileContent::Refused {
            self.skip(reason.as_str(), &what);
        }
        position.content = FileContent::Refused;
        position.offset = len;
    }

    /// Reads the records of a compressed file after the `position.frames` already read, up to
    /// about `budget` decompressed bytes; returns the decompressed bytes read.
    pub(super) fn read_compressed(
        &self,
        file: &mut File,
        position: &mut FilePosition,
        len: u64,
        budget: usize,
        records: &mut Vec<Record>,
    ) -> io::Result<usize> {
        file.seek(SeekFrom::Start(0))?;
        let opened = match content::open(BufReader::new(file.try_clone()?))? {
            Ok(opened) => opened,
            Err(refused) => {
                self.skip(refused.reason.as_str(), &refused.detail);
                position.offset = len;
                return Ok(0);
            }
        };
        let mut read = 0;
        let frames = RecordReader::new(opened.reader, self.max_record);
        for (index, frame) in frames.enumerate() {
            let number = index as u64 + 1;
            if number <= position.frames {
                continue;
            }
            match frame {
                Ok(Frame::Record(text)) => {
                    read += text.len();
                    records.push(self.record(text));
                }
                Ok(Frame::Oversized) => {
                    self.skip("oversized", "record longer than max_record_size skipped")
                }
                Ok(Frame::Invalid) => self.skip(
                    "invalid_json",
                    "file is neither JSON Lines nor JSON documents; the rest is skipped",
                ),
                Err(e) => {
                    let refused = content::corrupt(&e);
                    self.skip(refused.reason.as_str(), &refused.detail);
                    position.offset = len;
                    return Ok(read);
                }
            }
            position.frames = number;
            if read >= budget {
                return Ok(read);
            }
        }
        position.offset = len;
        Ok(read)
    }
}

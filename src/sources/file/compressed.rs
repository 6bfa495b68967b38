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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;
    use crate::model::Format;
    use crate::sources::RecordOrigin;

    fn gzip(text: &str) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }

    fn texts(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| String::from_utf8_lossy(&r.text).into_owned())
            .collect()
    }

    /// Reads `bytes` as a compressed file with a tiny budget: one record per poll.
    fn poll(bytes: &[u8], position: &mut FilePosition) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export");
        std::fs::write(&path, bytes).unwrap();
        let origin = Arc::new(RecordOrigin {
            format: Format::Auto,
            provider: None,
            cluster: None,
            account: None,
            region: None,
            stream: "export".into(),
        });
        let reader = Reader {
            source: "test",
            origin: &origin,
            max_record: 1024,
        };
        let mut records = Vec::new();
        let mut file = File::open(&path).unwrap();
        reader
            .read_compressed(&mut file, position, bytes.len() as u64, 1, &mut records)
            .unwrap();
        texts(&records)
    }

    #[test]
    fn a_large_export_is_read_over_several_polls_without_loss() {
        let packed = gzip("{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
        let mut position = FilePosition::default();
        assert_eq!(poll(&packed, &mut position), vec!["{\"a\":1}"]);
        assert_eq!(position.offset, 0, "not finished: the next poll goes on");
        assert_eq!(poll(&packed, &mut position), vec!["{\"b\":2}"]);
        assert_eq!(poll(&packed, &mut position), vec!["{\"c\":3}"]);
        assert_eq!(poll(&packed, &mut position), Vec::<String>::new());
        assert_eq!(position.offset, packed.len() as u64, "finished");
    }

    #[test]
    fn a_cut_stream_keeps_what_came_before_and_reads_the_rest_once_complete() {
        let lines: String = (0..300)
            .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 50)))
            .collect();
        let packed = gzip(&lines);
        let cut = &packed[..packed.len() / 2];
        let mut position = FilePosition::default();
        let mut read = Vec::new();
        while position.offset < cut.len() as u64 {
            read.extend(poll(cut, &mut position));
        }
        assert!(!read.is_empty() && read.len() < 300, "{}", read.len());
        assert_eq!(position.frames, read.len() as u64);
        // The copy finished: the file grew, and the rest is read, nothing twice.
        while position.offset < packed.len() as u64 {
            read.extend(poll(&packed, &mut position));
        }
        let expected: Vec<String> = lines.lines().map(str::to_owned).collect();
        assert_eq!(read, expected);
    }
}

//! `type = "file"`: exported provider logs, read from files and followed as they grow.
//!
//! The checkpoint maps each file's identity (device and inode) to the byte offset just past its
//! last complete record. Keying by identity rather than by path means a log rotated by renaming
//! (`audit.log` → `audit.log.1`) is neither re-read nor skipped, and a copy-truncate rotation is
//! noticed because the file shrinks below the offset. A partial last line is left for the next
//! poll, so a record is never read before its writer finished it.
//!
//! What a file holds is decided from its first bytes, not its name ([`compressed`]): text is
//! followed, a gzip file is a finished export read whole, binary data is skipped with a warning.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::{debug, warn};

mod compressed;
pub mod config;
mod rotated;

use compressed::FileContent;

use super::{
    Batch, BuildSource, PollMode, Progress, Record, RecordOrigin, Source, SourceContext,
    SourceError,
};
use crate::model::Cursor;
use crate::normalize::content::Content;
use crate::normalize::{Framing, detect_framing, split_lines};
use crate::telemetry::metrics;
pub use config::{FileSourceSettings, RawFileSource, StartAt};

/// At most this much is read per poll across all files, so memory stays flat on a backlog.
const BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Bytes of a file's start hashed to notice a file replaced in place.
const HEAD_BYTES: usize = 256;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCursor {
    /// Whether existing files have been registered (matters for `start_at = "end"`).
    pub started: bool,
    /// Keyed by `device:inode`.
    pub files: BTreeMap<String, FilePosition>,
}

impl Cursor for FileCursor {
    const KIND: &'static str = "file";
    const VERSION: u32 = 1;
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePosition {
    /// Where the file was last seen (for logs; the identity is the key).
    pub path: PathBuf,
    /// Just past the last complete record read.
    pub offset: u64,
    /// Hash of the file's first bytes, once there are enough of them.
    pub head: Option<String>,
    /// Skipping the rest of a line longer than the record limit.
    #[serde(default)]
    pub skipping: bool,
    #[serde(default)]
    pub document: bool,
    #[serde(default)]
    pub content: FileContent,
    /// For a compressed file: how many records of its decompressed text were read.
    #[serde(default)]
    pub frames: u64,
    /// Rotated out of `paths` and found with nothing new once: forgotten if the next poll
    /// finds nothing new either.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rotated_drained: bool,
}

pub struct FileSource {
    name: String,
    settings: Arc<FileSourceSettings>,
}

impl BuildSource for FileSource {
    type Settings = FileSourceSettings;

    async fn build(ctx: SourceContext, settings: &FileSourceSettings) -> Result<Self, SourceError> {
        Ok(FileSource {
            name: ctx.name,
            settings: Arc::new(settings.clone()),
        })
    }
}

#[async_trait]
impl Source for FileSource {
    type Cursor = FileCursor;

    fn start(&self, mode: &PollMode, _now: DateTime<Utc>) -> FileCursor {
        // A scan re-reads everything; the pipeline keeps only events inside its range.
        FileCursor {
            started: matches!(mode, PollMode::Scan(_)),
            files: BTreeMap::new(),
        }
    }

    async fn poll(
        &mut self,
        cursor: &FileCursor,
        mode: &PollMode,
    ) -> Result<Batch<FileCursor>, SourceError> {
        let settings = Arc::clone(&self.settings);
        let name = self.name.clone();
        let cursor = cursor.clone();
        let scan = matches!(mode, PollMode::Scan(_));
        tokio::task::spawn_blocking(move || poll_files(&name, &settings, cursor, scan))
            .await
            .map_err(|e| SourceError::transient(format!("file reader stopped: {e}")))?
    }
}

/// Every file the configured paths name, in a stable order.
fn discover(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for path in paths {
        let text = path.to_string_lossy();
        if text.contains(['*', '?', '[']) {
            match glob::glob(&text) {
                Ok(matches) => found.extend(matches.flatten().filter(|p| p.is_file())),
                Err(e) => warn!(pattern = %text, error = %e, "invalid file pattern"),
            }
        } else if path.is_dir() {
            match fs::read_dir(path) {
                Ok(entries) => found.extend(
                    entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.is_file() && !is_hidden(p)),
                ),
                Err(e) => warn!(dir = %path.display(), error = %e, "cannot list directory"),
            }
        } else if path.is_file() {
            found.push(path.clone());
        }
    }
    found.sort();
    found.dedup();
    found
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!("{}:{}", meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(_meta: &fs::Metadata) -> String {
    compile_error!("the file source needs a Unix file identity (device and inode)");
}

fn head_hash(file: &mut File) -> io::Result<Option<String>> {
    let mut head = vec![0u8; HEAD_BYTES];
    file.seek(SeekFrom::Start(0))?;
    let mut filled = 0;
    while filled < HEAD_BYTES {
        let n = file.read(&mut head[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok((filled == HEAD_BYTES).then(|| hex::encode(&Sha256::digest(&head)[..8])))
}

fn poll_files(
    source: &str,
    settings: &FileSourceSettings,
    mut cursor: FileCursor,
    scan: bool,
) -> Result<Batch<FileCursor>, SourceError> {
    let mut batch = PollBatch {
        source,
        settings,
        budget: BATCH_BYTES,
        records: Vec::new(),
    };
    let mut more = false;
    let mut present = HashSet::new();
    let first_poll = !cursor.started;

    for path in discover(&settings.paths) {
        let Ok(file) = File::open(&path) else {
            continue; // Gone between listing and opening: it will be seen again or never.
        };
        let meta = file
            .metadata()
            .map_err(|e| SourceError::transient(format!("{}: {e}", path.display())))?;
        let id = identity(&meta);
        present.insert(id.clone());
        let len = meta.len();
        let position = cursor.files.entry(id).or_insert_with(|| FilePosition {
            path: path.clone(),
            offset: if first_poll && settings.start_at == StartAt::End {
                len
            } else {
                0
            },
            ..FilePosition::default()
        });
        let read = batch.follow(&path, file, len, position)?;
        more |= position.offset < len && (read > 0 || batch.budget == 0);
    }
    // A file no longer named by `paths` was rotated to a name they do not match, or deleted:
    // the rest of a rotated one is read before it is forgotten.
    let vanished: Vec<String> = (cursor.files.keys())
        .filter(|id| !present.contains(*id))
        .cloned()
        .collect();
    for id in vanished {
        let Some(position) = cursor.files.get_mut(&id) else {
            continue;
        };
        let Some((path, file, len)) = rotated::find(&position.path, &id) else {
            continue;
        };
        let offset_before = position.offset;
        batch.follow(&path, file, len, position)?;
        let drained = position.offset >= len && position.offset == offset_before;
        if rotated::keep(source, &path, position, drained) {
            present.insert(id);
            more |= position.offset < len;
        }
    }
    cursor.files.retain(|id, _| present.contains(id));
    cursor.started = true;

    let progress = match (more, scan) {
        (true, _) => Progress::More,
        (false, true) => Progress::Finished,
        (false, false) => Progress::CaughtUp,
    };
    let records = batch.records;
    debug!(source, records = records.len(), ?progress, "files polled");
    Ok(Batch {
        records,
        cursor,
        progress,
        forget_seen_before_ms: None,
        position: None,
    })
}

/// What one poll has read so far, and how many more bytes it may read.
struct PollBatch<'a> {
    source: &'a str,
    settings: &'a FileSourceSettings,
    budget: usize,
    records: Vec<Record>,
}

impl PollBatch<'_> {
    /// Reads what is new in one file after `position`, within the budget; returns the bytes
    /// consumed. A file truncated or replaced in place is read again from its start.
    fn follow(
        &mut self,
        path: &Path,
        file: File,
        len: u64,
        position: &mut FilePosition,
    ) -> Result<usize, SourceError> {
        let read = follow_file(
            self.source,
            self.settings,
            path,
            file,
            len,
            position,
            self.budget,
            &mut self.records,
        )?;
        self.budget = self.budget.saturating_sub(read);
        Ok(read)
    }
}

#[allow(clippy::too_many_arguments)] // the body of `PollBatch::follow`, kept flat for reading
fn follow_file(
    source: &str,
    settings: &FileSourceSettings,
    path: &Path,
    mut file: File,
    len: u64,
    position: &mut FilePosition,
    budget: usize,
    records: &mut Vec<Record>,
) -> Result<usize, SourceError> {
    let failed = |e: io::Error| SourceError::transient(format!("{}: {e}", path.display()));
    let head = head_hash(&mut file).map_err(failed)?;
    position.path = path.to_owned();
    let replaced = position.head.is_some() && head.is_some() && position.head != head;
    if len < position.offset || replaced {
        warn!(source, file = %path.display(), "file was truncated or replaced; reading it from the start");
        *position = FilePosition {
            path: path.to_owned(),
            head: head.clone(),
            ..FilePosition::default()
        };
    }
    if position.head.is_none() {
        position.head = head;
    }
    if position.offset >= len || budget == 0 {
        return Ok(0);
    }
    let origin = Arc::new(RecordOrigin {
        format: settings.format,
        provider: settings.provider(),
        cluster: settings.cluster.clone(),
        account: settings.account.clone(),
        region: settings.region.clone(),
        stream: path.display().to_string(),
    });
    let reader = Reader {
        source,
        origin: &origin,
        max_record: settings.max_record_bytes,
    };
    if position.content == FileContent::Undecided {
        position.content = match compressed::classify(&mut file).map_err(failed)? {
            Content::Text => FileContent::Text,
            Content::Gzip => FileContent::Compressed,
            refused => {
                reader.refuse(position, len, refused);
                return Ok(0);
            }
        };
    }
    match position.content {
        FileContent::Refused => {
            reader.refuse(position, len, Content::Binary);
            Ok(0)
        }
        FileContent::Compressed => reader
            .read_compressed(&mut file, position, len, budget, records)
            .map_err(failed),
        _ => reader
            .read(&mut file, position, len, budget, records)
            .map_err(failed),
    }
}

/// Reads one file's new records.
struct Reader<'a> {
    source: &'a str,
    origin: &'a Arc<RecordOrigin>,
    max_record: usize,
}

impl Reader<'_> {
    fn record(&self, text: Vec<u8>) -> Record {
        Record {
            text,
            origin: Arc::clone(self.origin),
            record_id: None,
            record_time: None,
            dedupe: None,
        }
    }

    fn skip(&self, reason: &'static str, what: &str) {
        metrics::record_skip(self.source, reason);
        warn!(source = self.source, file = %self.origin.stream, "{what}");
    }

    /// Reads complete records after `position.offset`, at most `budget` bytes (or one record
    /// when the budget is smaller); returns the bytes consumed.
    fn read(
        &self,
        file: &mut File,
        position: &mut FilePosition,
        len: u64,
        budget: usize,
        records: &mut Vec<Record>,
    ) -> io::Result<usize> {
        let want = (len - position.offset).min(budget.max(self.max_record + 1) as u64) as usize;
        let mut buf = vec![0u8; want];
        file.seek(SeekFrom::Start(position.offset))?;
        file.read_exact(&mut buf)?;

        if position.offset == 0 && !position.document {
            // A followed file may still grow, so what it holds now is never known complete:
            // an unfinished document waits, and a broken first line is told apart from a
            // document as soon as a later line shows a syntax error.
            match detect_framing(&buf, false) {
                None => return Ok(0),
                Some(framing) => position.document = framing == Framing::Document,
            }
        }
        if position.document {
            return Ok(self.read_documents(&buf, position, len, records));
        }

        let mut start = 0;
        if position.skipping {
            match memchr::memchr(b'\n', &buf) {
                Some(i) => {
                    start = i + 1;
                    position.skipping = false;
                }
                None => {
                    position.offset += buf.len() as u64;
                    return Ok(buf.len());
                }
            }
        }
        let split = split_lines(&buf[start..]);
        for line in &split.records {
            if line.len() > self.max_record {
                self.skip("oversized", "record longer than max_record_size skipped");
            } else {
                records.push(self.record(line.to_vec()));
            }
        }
        let mut consumed = start + split.consumed;
        if split.consumed == 0 && buf.len() - consumed > self.max_record {
            // One line longer than the limit: drop it and skip to its end in later reads.
            self.skip("oversized", "record longer than max_record_size skipped");
            position.skipping = true;
            consumed = buf.len();
        }
        position.offset += consumed as u64;
        Ok(consumed)
    }

    /// A file of whole JSON documents (pretty-printed exports): each complete document is a
    /// record; a document still being written waits for the next poll.
    fn read_documents(
        &self,
        buf: &[u8],
        position: &mut FilePosition,
        len: u64,
        records: &mut Vec<Record>,
    ) -> usize {
        let truncated_read = position.offset + (buf.len() as u64) < len;
        let mut stream =
            serde_json::Deserializer::from_slice(buf).into_iter::<&serde_json::value::RawValue>();
        let mut parsed = Vec::new();
        for document in &mut stream {
            match document {
                Ok(raw) => parsed.push(raw.get().as_bytes().to_vec()),
                Err(e) if e.is_eof() && !truncated_read => break,
                Err(e) if e.is_eof() => {
                    self.skip("oversized", "document longer than max_record_size skipped");
                    position.offset = len;
                    return buf.len();
                }
                Err(e) => {
                    self.skip(
                        "invalid_json",
                        &format!("file is neither JSON Lines nor JSON documents ({e}); skipped"),
                    );
                    position.offset = len;
                    return buf.len();
                }
            }
        }
        let consumed = stream.byte_offset();
        records.extend(parsed.into_iter().map(|text| self.record(text)));
        position.offset += consumed as u64;
        consumed
    }
}

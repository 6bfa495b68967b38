//! Splits an input stream into records.
//!
//! Audit logs are JSON Lines, but the exports users feed to `detect` often are not: `aws logs
//! filter-log-events` and `gcloud logging read --format=json` pretty-print one document over many
//! lines. If the first non-blank line is complete JSON (or not JSON at all), the input is JSON
//! Lines. If it opens an object or array it does not close, it is either a pretty-printed
//! document or a broken line, and only parsing tells: a first document that parses means
//! documents, a syntax error means lines (the broken one is skipped, the rest still read).

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// How an input is split into records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// One record per line.
    Lines,
    /// Whole JSON documents, possibly spanning lines, one record each.
    Document,
}

/// Decides the framing from the beginning of an input; `complete` says whether `head` is all
/// of it. `None` means it cannot tell yet: a document still being written.
pub fn detect_framing(head: &[u8], complete: bool) -> Option<Framing> {
    let first_line = head
        .split(|b| *b == b'\n')
        .map(<[u8]>::trim_ascii)
        .find(|l| !l.is_empty())?;
    let opens_container = matches!(first_line.first(), Some(b'{' | b'['));
    if !opens_container || serde_json::from_slice::<IgnoredAny>(first_line).is_ok() {
        return Some(Framing::Lines);
    }
    let mut documents = serde_json::Deserializer::from_slice(head).into_iter::<IgnoredAny>();
    match documents.next() {
        Some(Ok(_)) => Some(Framing::Document),
        Some(Err(e)) if e.is_eof() && !complete => None,
        _ => Some(Framing::Lines),
    }
}

/// Complete lines found in a buffer, and how many bytes they cover.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LineSplit<'a> {
    /// Non-blank lines, without their line terminator.
    pub records: Vec<&'a [u8]>,
    /// Bytes up to and including the last newline: what a reader may checkpoint past.
    pub consumed: usize,
}

/// Splits the complete lines of `buf`; a trailing partial line is left for a later read.
pub fn split_lines(buf: &[u8]) -> LineSplit<'_> {
    let mut split = LineSplit::default();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', buf) {
        let line = buf[start..end].trim_ascii();
        if !line.is_empty() {
            split.records.push(line);
        }
        start = end + 1;
        split.consumed = start;
    }
    split
}

/// One framed record.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Record(Vec<u8>),
    /// A record larger than the limit, skipped without being buffered whole.
    Oversized,
    /// A document that could not be split (invalid JSON between documents).
    Invalid,
}

/// Reads records from a stream in either framing, holding at most one record in memory for
/// JSON Lines (documents are read whole, up to the limit).
pub struct RecordReader<R> {
    input: R,
    max_record: usize,
    framing: Option<Framing>,
    pending: VecDeque<Frame>,
    /// The start of a line read while deciding the framing, completed by the next read.
    carry: Vec<u8>,
    done: bool,
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(input: R, max_record: usize) -> Self {
        RecordReader {
            input,
            max_record,
            framing: None,
            pending: VecDeque::new(),
            carry: Vec::new(),
            done: false,
        }
    }

    pub fn framing(&self) -> Option<Framing> {
        self.framing
    }

    /// The next line, or `None` at the end of input; over-long lines are drained and reported.
    fn next_line(&mut self) -> io::Result<Option<Frame>> {
        let mut line = std::mem::take(&mut self.carry);
        let mut oversized = line.len() > self.max_record;
        let mut read_any = !line.is_empty();
        loop {
            let available = self.input.fill_buf()?;
            if available.is_empty() {
                if !read_any {
                    return Ok(None);
                }
                break;
            }
            read_any = true;
            let (chunk, newline) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], Some(i)),
                None => (available, None),
            };
            if !oversized && line.len() + chunk.len() <= self.max_record {
                line.extend_from_slice(chunk);
            } else {
                oversized = true;
                line = Vec::new();
            }
            let used = newline.map_or(chunk.len(), |i| i + 1);
            self.input.consume(used);
            if newline.is_some() {
                break;
            }
        }
        Ok(Some(if oversized {
            Frame::Oversized
        } else {
            Frame::Record(line)
        }))
    }

    /// The first line opened a container without closing it: read on (up to the limit) and
    /// let the parser decide between documents and lines.
    fn decide(&mut self, first: Vec<u8>) -> io::Result<()> {
        let mut buf = first;
        buf.push(b'\n');
        let limit = self.max_record as u64;
        (&mut self.input)
            .take(limit.saturating_sub(buf.len() as u64) + 1)
            .read_to_end(&mut buf)?;
        let complete = buf.len() as u64 <= limit;
        match detect_framing(&buf, complete) {
            Some(Framing::Document) if complete => {
                self.framing = Some(Framing::Document);
                self.done = true;
                self.queue_documents(&buf);
            }
            Some(Framing::Document) => {
                self.framing = Some(Framing::Document);
                self.done = true;
                self.pending.push_back(Frame::Oversized);
            }
            _ => {
                self.framing = Some(Framing::Lines);
                let split = split_lines(&buf);
                self.pending
                    .extend(split.records.iter().map(|l| Frame::Record(l.to_vec())));
                self.carry = buf[split.consumed..].to_vec();
            }
        }
        Ok(())
    }

    fn queue_documents(&mut self, buf: &[u8]) {
        let mut documents = serde_json::Deserializer::from_slice(buf).into_iter::<&RawValue>();
        for document in &mut documents {
            match document {
                Ok(raw) => self
                    .pending
                    .push_back(Frame::Record(raw.get().as_bytes().to_vec())),
                Err(_) => {
                    self.pending.push_back(Frame::Invalid);
                    break;
                }
            }
        }
    }
}

impl<R: BufRead> Iterator for RecordReader<R> {
    type Item = io::Result<Frame>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return Some(Ok(frame));
            }
            if self.done {
                return None;
            }
            let frame = match self.next_line() {
                Ok(Some(frame)) => frame,
                Ok(None) => {
                    self.done = true;
                    continue;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            let Frame::Record(line) = frame else {
                return Some(Ok(frame));
            };
            if line.trim_ascii().is_empty() {
                continue;
            }
            if self.framing.is_some() {
                return Some(Ok(Frame::Record(line)));
            }
            if detect_framing(&line, false) == Some(Framing::Lines) {
                self.framing = Some(Framing::Lines);
                return Some(Ok(Frame::Record(line)));
            }
            if let Err(e) = self.decide(line) {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &str, max: usize) -> Vec<Frame> {
        RecordReader::new(input.as_bytes(), max)
            .collect::<io::Result<Vec<_>>>()
            .unwrap()
    }

    fn record(s: &str) -> Frame {
        Frame::Record(s.as_bytes().to_vec())
    }

    #[test]
    fn json_lines_one_record_per_line() {
        assert_eq!(
            frames("{\"a\":1}\n\n  \n{\"b\":2}", 100),
            vec![record("{\"a\":1}"), record("{\"b\":2}")]
        );
    }

    #[test]
    fn pretty_printed_documents_are_whole_records() {
        let input = "{\n  \"events\": [\n    {\"x\": 1}\n  ]\n}\n{\"y\":\n2}\n";
        let got = frames(input, 1000);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], record("{\"y\":\n2}"));
    }

    #[test]
    fn a_broken_first_line_does_not_turn_lines_into_a_document() {
        let input = "{\"verb\":\"create\",\n{\"a\":1}\nnot json\n{\"b\":2}\n";
        assert_eq!(
            frames(input, 1000),
            vec![
                record("{\"verb\":\"create\","),
                record("{\"a\":1}"),
                record("not json"),
                record("{\"b\":2}")
            ]
        );
    }

    #[test]
    fn framing_waits_for_an_unfinished_document() {
        assert_eq!(detect_framing(b"{\n  \"a\": [1,", false), None);
        assert_eq!(
            detect_framing(b"{\n  \"a\": [1]\n}", false),
            Some(Framing::Document)
        );
        assert_eq!(detect_framing(b"{\"a\":1}\n{", false), Some(Framing::Lines));
        assert_eq!(
            detect_framing(b"{\"a\":\nnope", false),
            Some(Framing::Lines)
        );
    }

    #[test]
    fn long_lines_are_skipped_without_losing_the_next() {
        let long = format!("{{\"a\":\"{}\"}}", "x".repeat(50));
        let input = format!("{long}\n{{\"b\":1}}\n");
        assert_eq!(
            frames(&input, 20),
            vec![Frame::Oversized, record("{\"b\":1}")]
        );
    }

    #[test]
    fn split_lines_keeps_the_partial_tail() {
        let split = split_lines(b"{\"a\":1}\r\n{\"b\":2}\n{\"c\"");
        assert_eq!(split.records, vec![&b"{\"a\":1}"[..], &b"{\"b\":2}"[..]]);
        assert_eq!(split.consumed, 17);
    }
}

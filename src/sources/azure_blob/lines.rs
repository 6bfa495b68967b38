//! The complete lines in newly appended bytes of a blob.
//!
//! Azure appends records to an hourly blob while the hour runs, and a block may end in the
//! middle of a line. A line is taken only once its newline is there; the bytes after the last
//! newline stay unread (the offset does not pass them), so a line split across two appends is
//! read once, whole, on the poll after the second append. Only when the blob's hour has
//! settled, and the read reached the blob's end, is an unterminated last line taken as it is.

use super::cursor::BlobPosition;
use crate::normalize::split_lines;

/// Lines taken from one read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Taken {
    /// Each line with its offset in the blob.
    pub lines: Vec<(u64, Vec<u8>)>,
    /// Lines longer than the record limit, skipped.
    pub oversized: usize,
}

/// Takes the complete lines of `buf` (the blob's bytes from `position.offset`) and moves the
/// position past them.
pub fn take(
    buf: &[u8],
    position: &mut BlobPosition,
    at_end: bool,
    settled: bool,
    max_record: usize,
) -> Taken {
    let base = position.offset;
    let mut taken = Taken::default();
    let mut start = 0;
    if position.skipping {
        match memchr::memchr(b'\n', buf) {
            Some(i) => {
                start = i + 1;
                position.skipping = false;
            }
            None => {
                position.offset += buf.len() as u64;
                return taken;
            }
        }
    }
    let split = split_lines(&buf[start..]);
    let offset_of = |line: &[u8]| base + (line.as_ptr() as usize - buf.as_ptr() as usize) as u64;
    for line in &split.records {
        if line.len() > max_record {
            taken.oversized += 1;
        } else {
            taken.lines.push((offset_of(line), line.to_vec()));
        }
    }
    let mut consumed = start + split.consumed;
    let rest = &buf[consumed..];
    let rest_trimmed = rest.trim_ascii();
    if !rest_trimmed.is_empty() {
        if at_end && settled {
            if rest_trimmed.len() > max_record {
                taken.oversized += 1;
            } else {
                taken
                    .lines
                    .push((offset_of(rest_trimmed), rest_trimmed.to_vec()));
            }
            consumed = buf.len();
        } else if rest.len() > max_record {
            // A line longer than the limit: drop it and skip to its end in later reads.
            taken.oversized += 1;
            position.skipping = true;
            consumed = buf.len();
        }
    } else if at_end {
        consumed = buf.len();
    }
    position.offset += consumed as u64;
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(t: &Taken) -> Vec<(u64, &str)> {
        t.lines
            .iter()
            .map(|(o, l)| (*o, std::str::from_utf8(l).unwrap()))
            .collect()
    }

    #[test]
    fn a_partial_last_line_waits_for_its_newline() {
        let mut p = BlobPosition::default();
        let t = take(b"{\"a\":1}\r\n{\"b\":", &mut p, true, false, 100);
        assert_eq!(texts(&t), [(0, "{\"a\":1}")]);
        assert_eq!(p.offset, 9);
        let t = take(b"{\"b\":2}\n", &mut p, true, false, 100);
        assert_eq!(texts(&t), [(9, "{\"b\":2}")]);
        assert_eq!(p.offset, 17);
    }

    #[test]
    fn a_settled_blob_gives_up_its_unterminated_last_line() {
        let mut p = BlobPosition::default();
        let t = take(b"{\"a\":1}\n{\"b\":2}", &mut p, true, true, 100);
        assert_eq!(texts(&t), [(0, "{\"a\":1}"), (8, "{\"b\":2}")]);
        assert_eq!(p.offset, 15);
        // Not when the read stopped short of the blob's end.
        let mut p = BlobPosition::default();
        let t = take(b"{\"a\":1}\n{\"b\"", &mut p, false, true, 100);
        assert_eq!(t.lines.len(), 1);
        assert_eq!(p.offset, 8);
    }

    #[test]
    fn overlong_lines_are_skipped_to_their_end() {
        let mut p = BlobPosition::default();
        let t = take(&[b'x'; 20], &mut p, false, false, 10);
        assert_eq!(t.oversized, 1);
        assert!(p.skipping);
        assert_eq!(p.offset, 20);
        let t = take(b"xxx\n{\"c\":3}\n", &mut p, true, false, 10);
        assert_eq!(texts(&t), [(24, "{\"c\":3}")]);
        assert!(!p.skipping);
    }
}

//! What an input holds before it is split into records: text, a compressed stream, or binary.
//!
//! Exported audit logs often come gzipped, and a file name says nothing reliable (`.gz` gets
//! dropped by copies, renamed by tools), so the content decides: the first bytes are compared
//! with the magic numbers of the formats seen in practice. Gzip (including concatenated
//! members, as `cat a.gz b.gz` and log rotators produce) is decompressed on the fly; other
//! compressions are reported rather than read as garbage. Input that is not text is told
//! apart the way ripgrep does it: a NUL byte (or here, invalid UTF-8) near the start.

use std::io::{self, BufRead, BufReader};

use flate2::bufread::MultiGzDecoder;

use super::SkipReason;

/// How many leading bytes are inspected to tell text from binary.
pub const SNIFF_BYTES: usize = 8 * 1024;

/// What the first bytes of an input say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    Text,
    Gzip,
    /// A compression this build does not decode, by name.
    Unsupported(&'static str),
    Binary,
}

/// Classifies an input by its first bytes (at most [`SNIFF_BYTES`] are looked at).
pub fn sniff(head: &[u8]) -> Content {
    const MAGICS: [(&[u8], &str); 3] = [
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
        (b"BZh", "bzip2"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz"),
    ];
    if head.starts_with(&[0x1f, 0x8b]) {
        return Content::Gzip;
    }
    if let Some((_, name)) = MAGICS.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Content::Unsupported(name);
    }
    if is_binary(head) {
        Content::Binary
    } else {
        Content::Text
    }
}

fn is_binary(head: &[u8]) -> bool {
    let head = &head[..head.len().min(SNIFF_BYTES)];
    if memchr::memchr(0, head).is_some() {
        return true;
    }
    // A multi-byte character cut by the end of the window is not an error (`error_len` is
    // `None` then); any other invalid sequence is.
    match std::str::from_utf8(head) {
        Ok(_) => false,
        Err(e) => e.error_len().is_some(),
    }
}

/// An input ready to be split into records.
pub struct Opened {
    pub reader: Box<dyn BufRead + Send>,
    /// The compression that is being undone, if any; read errors then mean a damaged stream.
    pub compression: Option<&'static str>,
}

/// Why an input gives no records at all, with a sentence for the operator.
#[derive(Debug)]
pub struct Unreadable {
    pub reason: SkipReason,
    pub detail: String,
}

/// Looks at the start of `input` and returns a reader of its text: gzip is decompressed,
/// binary and unsupported compressions are refused with a reason.
pub fn open<R: BufRead + Send + 'static>(mut input: R) -> io::Result<Result<Opened, Unreadable>> {
    match sniff(input.fill_buf()?) {
        Content::Text => Ok(Ok(Opened {
            reader: Box::new(input),
            compression: None,
        })),
        Content::Binary => Ok(Err(binary())),
        Content::Unsupported(name) => Ok(Err(Unreadable {
            reason: SkipReason::UnsupportedCompression,
            detail: format!("{name}-compressed input is not read; decompress it first"),
        })),
        Content::Gzip => {
            let mut decoded = BufReader::new(MultiGzDecoder::new(input));
            let head = match decoded.fill_buf() {
                Ok(head) => head,
                Err(e) => return Ok(Err(corrupt(&e))),
            };
            if is_binary(head) {
                return Ok(Err(binary()));
            }
            Ok(Ok(Opened {
                reader: Box::new(decoded),
                compression: Some("gzip"),
            }))
        }
    }
}

fn binary() -> Unreadable {
    Unreadable {
        reason: SkipReason::Binary,
        detail: "not text (binary data): no audit record can be read from it".to_owned(),
    }
}

/// A damaged compressed stream, as an operator should read it.
pub fn corrupt(e: &io::Error) -> Unreadable {
    Unreadable {
        reason: SkipReason::CorruptCompressed,
        detail: format!("compressed stream is damaged or cut short ({e}); the rest is skipped"),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(text).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn content_is_told_by_its_first_bytes() {
        assert_eq!(sniff(b"{\"kind\":\"Event\"}\n"), Content::Text);
        assert_eq!(sniff(&gzip(b"x")), Content::Gzip);
        assert_eq!(
            sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Content::Unsupported("zstd")
        );
        assert_eq!(sniff(b"{\"a\":\"\0\"}"), Content::Binary);
        assert_eq!(sniff(&[b'{', 0xff, 0xfe, b'}']), Content::Binary);
        // A character cut by the end of the window is still text.
        assert_eq!(sniff("é".as_bytes().split_at(1).0), Content::Text);
    }

    #[test]
    fn gzip_is_read_as_its_text_even_when_concatenated() {
        let mut both = gzip(b"{\"a\":1}\n");
        both.extend(gzip(b"{\"b\":2}\n"));
        let opened = open(std::io::Cursor::new(both)).unwrap().unwrap();
        assert_eq!(opened.compression, Some("gzip"));
        let mut text = String::new();
        opened.reader.take(1000).read_to_string(&mut text).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"b\":2}\n");
    }

    #[test]
    fn gzip_of_binary_is_binary() {
        let packed = gzip(&[0u8, 1, 2, 3]);
        let refused = open(std::io::Cursor::new(packed)).unwrap().err().unwrap();
        assert_eq!(refused.reason, SkipReason::Binary);
    }
}

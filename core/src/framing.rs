//! Line framing: bytes from a stream in, complete LF-terminated lines out.
//!
//! Lines are bytes, not text: anything but LF passes through untouched (no UTF-8 check, no CR
//! stripping). A line longer than the configured maximum makes the stream an error instead of a
//! growing buffer: the framer checks every chunk before it copies it, so the buffer never holds
//! more than the maximum plus the complete lines of the last chunk.

use bytes::{Bytes, BytesMut};
use std::fmt;

/// The default maximum line length: 16 MiB, LF not counted.
pub const DEFAULT_MAX_LINE: usize = 16 << 20;

/// A line exceeded the framer's maximum length. The framer stays failed (sticky).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineTooLong {
    /// The configured maximum, in bytes without the LF.
    pub max: usize,
}

impl fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line longer than {} bytes", self.max)
    }
}

impl std::error::Error for LineTooLong {}

/// Accumulates stream bytes and yields complete lines without their LF.
#[derive(Debug)]
pub struct LineFramer {
    buf: BytesMut,
    /// Bytes of `buf` already searched for LF without finding one.
    scanned: usize,
    /// Length of the incomplete line at the end of `buf` (bytes after its last LF).
    tail: usize,
    max_line: usize,
    failed: bool,
}

impl Default for LineFramer {
    fn default() -> Self {
        LineFramer::new(DEFAULT_MAX_LINE)
    }
}

impl LineFramer {
    /// A framer that rejects lines longer than `max_line` bytes (LF not counted).
    pub fn new(max_line: usize) -> Self {
        LineFramer {
            buf: BytesMut::new(),
            scanned: 0,
            tail: 0,
            max_line,
            failed: false,
        }
    }

    /// The configured maximum line length.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Appends stream bytes. Fails, and stays failed, if they would make any line longer than the
    /// maximum; in that case nothing of `data` is kept.
    pub fn push(&mut self, data: &[u8]) -> Result<(), LineTooLong> {
        if self.failed {
            return Err(self.error());
        }
        // Length of the line that `data` continues: what is buffered after the last LF.
        let mut open = self.tail;
        let mut rest = data;
        loop {
            match memchr::memchr(b'\n', rest) {
                Some(i) => {
                    if open + i > self.max_line {
                        return Err(self.fail());
                    }
                    open = 0;
                    rest = &rest[i + 1..];
                }
                None => {
                    if open + rest.len() > self.max_line {
                        return Err(self.fail());
                    }
                    break;
                }
            }
        }
        self.buf.extend_from_slice(data);
        self.tail = open + rest.len();
        Ok(())
    }

    /// The next complete line, without its LF, if one is buffered.
    pub fn next_line(&mut self) -> Option<Bytes> {
        let i = self.find_lf()?;
        let mut line = self.buf.split_to(i + 1);
        self.scanned = 0;
        line.truncate(i);
        Some(line.freeze())
    }

    /// The next complete line without consuming it.
    pub fn peek_line(&mut self) -> Option<&[u8]> {
        let i = self.find_lf()?;
        Some(&self.buf[..i])
    }

    /// True when a complete line is buffered.
    pub fn has_line(&mut self) -> bool {
        self.find_lf().is_some()
    }

    /// Bytes buffered: complete lines not yet taken plus the partial last line.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The bytes of an incomplete last line, if the stream ended now.
    pub fn partial(&self) -> &[u8] {
        &self.buf
    }

    /// True once a line was too long; the framer then accepts nothing more.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    fn find_lf(&mut self) -> Option<usize> {
        match memchr::memchr(b'\n', &self.buf[self.scanned..]) {
            Some(i) => Some(self.scanned + i),
            None => {
                self.scanned = self.buf.len();
                None
            }
        }
    }

    fn fail(&mut self) -> LineTooLong {
        self.failed = true;
        self.buf = BytesMut::new();
        self.scanned = 0;
        self.tail = 0;
        self.error()
    }

    fn error(&self) -> LineTooLong {
        LineTooLong { max: self.max_line }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(f: &mut LineFramer) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| f.next_line().map(|l| l.to_vec())).collect()
    }

    #[test]
    fn yields_complete_lines_without_lf() {
        let mut f = LineFramer::default();
        f.push(b"ab\ncd\nef").unwrap();
        assert_eq!(lines(&mut f), vec![b"ab".to_vec(), b"cd".to_vec()]);
        assert_eq!(f.partial(), b"ef");
        f.push(b"g\n").unwrap();
        assert_eq!(lines(&mut f), vec![b"efg".to_vec()]);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn bytes_pass_through_untouched() {
        let mut f = LineFramer::default();
        f.push(b"\r\x00\xff\xfe:\r\n\n").unwrap();
        assert_eq!(
            lines(&mut f),
            vec![b"\r\x00\xff\xfe:\r".to_vec(), b"".to_vec()]
        );
    }

    #[test]
    fn line_of_exactly_max_is_accepted_one_more_is_not() {
        let mut f = LineFramer::new(4);
        f.push(b"abcd\n").unwrap();
        assert_eq!(f.next_line().as_deref(), Some(&b"abcd"[..]));
        f.push(b"abcd").unwrap();
        assert!(
            !f.is_failed(),
            "a line of exactly the maximum is no failure"
        );
        assert_eq!(f.push(b"e"), Err(LineTooLong { max: 4 }));
        assert!(f.is_failed());
        assert_eq!(f.buffered(), 0);
        assert_eq!(
            f.push(b"\n"),
            Err(LineTooLong { max: 4 }),
            "failure is sticky"
        );
    }

    #[test]
    fn the_error_names_the_limit() {
        assert_eq!(
            LineTooLong { max: 4 }.to_string(),
            "line longer than 4 bytes"
        );
    }

    #[test]
    fn too_long_complete_line_inside_one_chunk_is_rejected_before_copying() {
        let mut f = LineFramer::new(4);
        assert!(f.push(b"ok\nabcdefgh\nok\n").is_err());
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn hundred_megabytes_without_newline_stay_bounded() {
        let mut f = LineFramer::new(1 << 20);
        let chunk = vec![b'x'; 64 * 1024];
        let mut err = None;
        for _ in 0..(100 << 20) / chunk.len() {
            if let Err(e) = f.push(&chunk) {
                err = Some(e);
                break;
            }
            assert!(f.buffered() <= 1 << 20);
        }
        assert_eq!(err, Some(LineTooLong { max: 1 << 20 }));
    }

    #[test]
    fn peek_does_not_consume() {
        let mut f = LineFramer::default();
        f.push(b"x\ny\n").unwrap();
        assert_eq!(f.peek_line(), Some(&b"x"[..]));
        assert_eq!(f.next_line().as_deref(), Some(&b"x"[..]));
        assert!(f.has_line());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn lines_do_not_depend_on_chunking(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..2048),
            cuts in proptest::collection::vec(1usize..64, 1..64),
        ) {
            let mut f = LineFramer::default();
            let mut got = Vec::new();
            let mut rest = &data[..];
            for n in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (chunk, tail) = rest.split_at((*n).min(rest.len()));
                f.push(chunk).unwrap();
                while let Some(line) = f.next_line() {
                    got.push(line.to_vec());
                }
                rest = tail;
            }
            let mut want: Vec<Vec<u8>> = data.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
            let partial = want.pop().unwrap_or_default();
            prop_assert_eq!(got, want);
            prop_assert_eq!(f.partial(), &partial[..]);
        }

        #[test]
        fn a_line_over_the_limit_always_fails_and_the_buffer_stays_bounded(
            max in 1usize..64,
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..512),
            cut in 1usize..32,
        ) {
            let mut f = LineFramer::new(max);
            let longest = data.split(|&c| c == b'\n').map(<[u8]>::len).max().unwrap_or(0);
            let mut failed = false;
            for chunk in data.chunks(cut) {
                if f.push(chunk).is_err() {
                    failed = true;
                    break;
                }
                prop_assert!(f.buffered() <= max + cut);
                while f.next_line().is_some() {}
            }
            prop_assert_eq!(failed, longest > max);
        }
    }
}

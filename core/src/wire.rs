//! The byte-moving half shared by [`Link`](crate::link::Link) and
//! [`Session`](crate::session::Session): received bytes framed into lines, and lines to send
//! handed to the driver, whose partial writes are counted.

use bytes::{BufMut, BytesMut};

use crate::framing::{LineFramer, LineTooLong};

/// A driver reported more bytes written than it was handed: a bug in the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrittenTooMuch {
    pub reported: usize,
    pub outstanding: usize,
}

impl std::fmt::Display for WrittenTooMuch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "driver reported {} bytes written but only {} were handed out",
            self.reported, self.outstanding
        )
    }
}

impl std::error::Error for WrittenTooMuch {}

#[derive(Debug)]
pub(crate) struct Wire {
    pub(crate) framer: LineFramer,
    /// Bytes to send that the driver has not taken yet.
    tx: BytesMut,
    /// Bytes the driver took but has not reported written.
    unsent: usize,
}

impl Wire {
    pub(crate) fn new(max_line: usize) -> Self {
        Wire {
            framer: LineFramer::new(max_line),
            tx: BytesMut::new(),
            unsent: 0,
        }
    }

    pub(crate) fn push(&mut self, data: &[u8]) -> Result<(), LineTooLong> {
        self.framer.push(data)
    }

    /// Queues `line` followed by one LF.
    pub(crate) fn queue_line(&mut self, line: &[u8]) {
        self.tx.reserve(line.len() + 1);
        self.tx.put_slice(line);
        self.tx.put_u8(b'\n');
    }

    /// The send buffer, for encoders that write a line in place; the caller adds the LF.
    pub(crate) fn tx(&mut self) -> &mut BytesMut {
        &mut self.tx
    }

    pub(crate) fn poll_transmit(&mut self, out: &mut BytesMut) -> usize {
        let n = self.tx.len();
        if n > 0 {
            out.extend_from_slice(&self.tx);
            self.tx.clear();
            self.unsent += n;
        }
        n
    }

    /// Counts `n` bytes as written; true when everything queued so far has gone out.
    pub(crate) fn written(&mut self, n: usize) -> Result<bool, WrittenTooMuch> {
        if n > self.unsent {
            return Err(WrittenTooMuch {
                reported: n,
                outstanding: self.unsent,
            });
        }
        self.unsent -= n;
        Ok(self.all_sent())
    }

    pub(crate) fn all_sent(&self) -> bool {
        self.unsent == 0 && self.tx.is_empty()
    }

    pub(crate) fn wants_write(&self) -> bool {
        !self.tx.is_empty()
    }

    /// Drops everything buffered in both directions, releasing the memory.
    pub(crate) fn reset(&mut self) {
        self.framer = LineFramer::new(self.framer.max_line());
        self.tx = BytesMut::new();
        self.unsent = 0;
    }
}

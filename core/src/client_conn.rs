//! One lonnet connection on a host's UNIX socket (protocol 2.1), the lonnet side of the daemon,
//! as a sans-IO state machine: bytes in, request lines out one at a time, answers given.
//!
//! lonnet writes one line and reads one line, on a connection of its own; a client may also
//! send several lines in a row (pipelining) or one line at a time in pieces. The connection:
//!
//! * frames lines (bytes, not text) with a bound of `max_line` bytes;
//! * hands out one request at a time ([`ClientConn::next_request`]): the next waits in the
//!   framer until the answer to the last was given ([`ClientConn::answered`]);
//! * stops wanting input while a request is out and a line's worth is buffered
//!   ([`ClientConn::wants_input`]), so a client cannot make it buffer more;
//! * ends its input on EOF, a read error or a line over the bound. Complete lines still
//!   buffered are served while no request is out; a client that ends its input while a
//!   request is out has hung up as far as the node is concerned (lonnet never half-closes), and
//!   its request is dropped or its reply discarded.
//!
//! The [`Node`](crate::node::Node) drives it: it submits each request to the client's host,
//! writes the answers, and closes the connection once [`ClientConn::is_finished`].

use bytes::Bytes;

use crate::framing::{LineFramer, LineTooLong};

/// One client connection. See the module documentation.
#[derive(Debug)]
pub struct ClientConn {
    framer: LineFramer,
    /// A request was handed out and its answer has not been given.
    waiting: bool,
    /// No more input will come: EOF, a read error, or a line over the bound.
    input_done: bool,
}

impl ClientConn {
    /// A new connection whose lines may be at most `max_line` bytes (LF not counted).
    pub fn new(max_line: usize) -> ClientConn {
        ClientConn {
            framer: LineFramer::new(max_line),
            waiting: false,
            input_done: false,
        }
    }

    /// Bytes from the client. A line over the bound ends the input and is an error; nothing
    /// of it is kept.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), LineTooLong> {
        if self.input_done {
            return Ok(());
        }
        self.framer.push(data).inspect_err(|_| {
            self.input_done = true;
            self.framer = LineFramer::new(0);
        })
    }

    /// The client will send nothing more (EOF or a read error).
    pub fn handle_eof(&mut self) {
        self.input_done = true;
    }

    /// The next request line (without LF) to hand to the host, if one is complete and no
    /// other is out. The connection then waits for [`ClientConn::answered`].
    pub fn next_request(&mut self) -> Option<Bytes> {
        if self.waiting {
            return None;
        }
        let line = self.framer.next_line()?;
        self.waiting = true;
        Some(line)
    }

    /// The answer to the request out was given.
    pub fn answered(&mut self) {
        self.waiting = false;
    }

    /// True while a request is out.
    pub fn is_waiting(&self) -> bool {
        self.waiting
    }

    /// True when the driver should read more: the input has not ended, and either no request
    /// is out or less than a whole line's worth is buffered behind it.
    pub fn wants_input(&self) -> bool {
        !self.input_done && (!self.waiting || self.framer.buffered() <= self.framer.max_line())
    }

    /// True when the input has ended: the client sends nothing more (it may still be waiting
    /// for an answer, and complete lines may still be buffered).
    pub fn input_done(&self) -> bool {
        self.input_done
    }

    /// True when nothing more can happen: the input ended, no request is out and no complete
    /// line is left. The connection can close once its answers are written.
    pub fn is_finished(&mut self) -> bool {
        self.input_done && !self.waiting && !self.framer.has_line()
    }

    /// Bytes buffered from the client and not yet handed out.
    pub fn buffered_input(&self) -> usize {
        self.framer.buffered()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_out_at_a_time() {
        let mut c = ClientConn::new(100);
        assert!(c.wants_input());
        c.handle_input(b"ping\necho:a").unwrap();
        assert_eq!(c.next_request().as_deref(), Some(&b"ping"[..]));
        assert!(c.is_waiting());
        assert_eq!(c.buffered_input(), 6, "echo:a waits in the framer");
        assert_eq!(c.next_request(), None, "the next waits for the answer");
        c.handle_input(b"\n").unwrap();
        assert_eq!(c.next_request(), None);
        c.answered();
        assert_eq!(c.next_request().as_deref(), Some(&b"echo:a"[..]));
        c.answered();
        assert_eq!(c.next_request(), None);
        assert!(!c.is_finished());
        assert!(!c.input_done());
        c.handle_eof();
        assert!(c.input_done());
        assert!(c.is_finished());
        assert!(!c.wants_input());
    }

    #[test]
    fn a_line_in_pieces_is_one_request_and_bytes_pass_untouched() {
        let mut c = ClientConn::new(100);
        for b in b"echo:\x00\xff\r" {
            c.handle_input(&[*b]).unwrap();
            assert_eq!(c.next_request(), None);
        }
        c.handle_input(b"\n").unwrap();
        assert_eq!(c.next_request().as_deref(), Some(&b"echo:\x00\xff\r"[..]));
    }

    #[test]
    fn reading_stops_behind_a_waiting_request_once_a_line_is_buffered() {
        let mut c = ClientConn::new(10);
        c.handle_input(b"a\n").unwrap();
        assert!(c.next_request().is_some());
        c.handle_input(b"0123456789").unwrap();
        assert_eq!(c.buffered_input(), 10);
        assert!(c.wants_input(), "exactly the bound is still fine");
        c.handle_input(b"\nx").unwrap();
        assert!(!c.wants_input());
        c.answered();
        assert!(c.wants_input());
    }

    #[test]
    fn a_line_over_the_bound_ends_the_input() {
        let mut c = ClientConn::new(4);
        assert_eq!(c.handle_input(b"abcde"), Err(LineTooLong { max: 4 }));
        assert!(c.input_done() && !c.wants_input());
        assert_eq!(c.buffered_input(), 0, "nothing of it is kept");
        assert_eq!(c.next_request(), None);
        assert!(c.is_finished());
        // Input after the end is ignored.
        assert_eq!(c.handle_input(b"x\n"), Ok(()));
        assert_eq!(c.next_request(), None);
    }

    #[test]
    fn lines_complete_before_eof_are_still_served() {
        let mut c = ClientConn::new(100);
        c.handle_input(b"a\nb\npartial").unwrap();
        c.handle_eof();
        assert_eq!(c.next_request().as_deref(), Some(&b"a"[..]));
        assert!(!c.is_finished(), "waiting");
        c.answered();
        assert!(!c.is_finished(), "b is left");
        assert_eq!(c.next_request().as_deref(), Some(&b"b"[..]));
        c.answered();
        assert!(c.is_finished(), "an incomplete last line is dropped");
    }
}

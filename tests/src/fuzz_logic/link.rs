//! `link`: the client link state machine fed arbitrary peer bytes, chunked, on a monotonic
//! virtual clock, interleaved with requests, timeouts, partial writes and hang-ups.
//!
//! The input decodes (with [`arbitrary`]) into a [`Script`]: the link's limits, whether the
//! harness first drives the handshake to Idle (with [`FixedKeyCipher`], so every build key
//! gives the same key), then a list of [`Op`]s. After every operation the harness drains the
//! link as a driver would (events, then transmit) and checks:
//! * no panic; events only while open: at most one `Ready`, and only during the handshake; a
//!   `Reply` only for a transaction in flight; one `Closed`, whose `failed_request` says whether
//!   a transaction was in flight and whose `unread` says whether the peer cannot have read it
//!   (no byte of it written, or a reset before a byte of reply); nothing after `Closed`;
//! * `is_closed` matches the `Closed` event; `start` succeeds exactly on an Idle link with a
//!   one-line request and sends that line (or its `enc:` form);
//! * a well-formed reply (plain or `enc:`) delivered whole to a waiting link comes back as
//!   that reply;
//! * no wedge: a link that is neither Idle nor closed always has a deadline; after
//!   `handle_timeout(now)` the deadline is never at or before `now`;
//! * memory: received bytes held never exceed `max_line`; what the link hands out to send is
//!   bounded by the longest line it may send.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use bytes::{Bytes, BytesMut};
use lonc_core::enc;
use lonc_core::link::{Link, LinkConfig, LinkEvent, LinkMisuse, LinkState};

use super::{Chunk, FixedKeyCipher, SeedWriter};

/// The challenge the harness's lond sends in the handshake it drives.
pub const CHALLENGE: &[u8] = b"42421050000000";
/// The build key of protocol.md Appendix A.
pub const BUILD_KEY: &[u8] = b"777A0E0000000DBDBCACC712";

#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// `max_line`: 0 is the 16 MiB default, else this many bytes.
    pub max_line: u8,
    /// Connect timeout in seconds (0 allowed).
    pub connect_secs: u8,
    /// Step timeout in seconds (0 allowed).
    pub step_secs: u8,
    /// Drive the handshake to Idle before the operations.
    pub start_idle: bool,
    pub ops: Vec<Op>,
}

#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Raw bytes from the peer, one read.
    Peer(Chunk),
    /// A well-formed line from the peer, cut in two reads at `cut`.
    Line {
        line: PeerLine,
        cut: u8,
    },
    /// The driver writes `n` of the bytes it holds (a partial write; 0 is allowed).
    Write(u16),
    /// The driver writes everything it holds.
    WriteAll,
    /// The driver (wrongly) reports more than it was handed.
    WriteTooMuch(u8),
    /// The owner starts a transaction (`encrypt:` + body if `encrypt`).
    Start {
        encrypt: bool,
        body: Chunk,
    },
    /// Time passes by this many milliseconds; the driver calls `handle_timeout`.
    Advance(u16),
    /// Time passes by this many seconds; the driver calls `handle_timeout`.
    AdvanceSecs(u8),
    /// Time passes and the next call comes late (no `handle_timeout`).
    Sleep(u16),
    /// `handle_timeout` at the current time.
    Timeout,
    Connected,
    ConnectFailed,
    Eof,
    ReadError,
    WriteError,
    Close,
}

#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum PeerLine {
    Challenge(u32),
    TheChallenge,
    Ok,
    BuildKey,
    Refused,
    Reply(Chunk),
    EncReply(Chunk),
}

impl PeerLine {
    fn bytes(&self) -> Vec<u8> {
        let mut line = match self {
            PeerLine::Challenge(n) => n.to_string().into_bytes(),
            PeerLine::TheChallenge => CHALLENGE.to_vec(),
            PeerLine::Ok => b"ok".to_vec(),
            PeerLine::BuildKey => BUILD_KEY.to_vec(),
            PeerLine::Refused => b"refused".to_vec(),
            PeerLine::Reply(c) => c.line(),
            PeerLine::EncReply(c) => {
                let mut out = BytesMut::new();
                enc::encode(&FixedKeyCipher, &c.line(), &mut out);
                out.to_vec()
            }
        };
        line.push(b'\n');
        line
    }

    /// The reply the link must hand up for this line, if it is a reply it reads as such.
    fn expected_reply(&self) -> Option<Vec<u8>> {
        match self {
            PeerLine::Reply(c) if !c.line().starts_with(enc::ENC_PREFIX) => Some(c.line()),
            PeerLine::EncReply(c) => Some(c.line()),
            _ => None,
        }
    }
}

/// Decodes the input and runs the script.
pub fn run(data: &[u8]) {
    let Ok(script) = Script::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let _ = run_script(&script);
}

struct Harness {
    link: Link<FixedKeyCipher>,
    config: LinkConfig,
    now: Instant,
    /// Bytes the link handed out and the driver has not written yet.
    pending: BytesMut,
    ready: bool,
    closed: bool,
    in_flight: bool,
    /// Bytes of the request in flight reported written, and whether a byte came from the peer
    /// since it started.
    request_written: usize,
    reply_seen: bool,
    /// The longest line the link may have queued: a request or an echoed challenge.
    longest_send: usize,
    replies: usize,
}

/// What a script did, for the seeds' own tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub ready: bool,
    pub replies: usize,
    pub closed: bool,
}

pub fn run_script(script: &Script) -> Outcome {
    let config = LinkConfig {
        connect_timeout: Duration::from_secs(u64::from(script.connect_secs)),
        step_timeout: Duration::from_secs(u64::from(script.step_secs)),
        max_line: match script.max_line {
            0 => lonc_core::framing::DEFAULT_MAX_LINE,
            n => usize::from(n),
        },
    };
    let now = Instant::now();
    let mut h = Harness {
        link: Link::new(now, config.clone(), "msul1", "msul2"),
        now,
        pending: BytesMut::new(),
        ready: false,
        closed: false,
        in_flight: false,
        request_written: 0,
        reply_seen: false,
        longest_send: config.max_line.saturating_add(1),
        replies: 0,
        config,
    };
    h.settle(None);
    if script.start_idle {
        h.handshake();
    }
    for op in &script.ops {
        h.step(op);
    }
    Outcome {
        ready: h.ready,
        replies: h.replies,
        closed: h.closed,
    }
}

impl Harness {
    /// Drives the handshake with well-formed lines, written whole.
    fn handshake(&mut self) {
        if self.config.max_line < BUILD_KEY.len() {
            return; // the build key itself would be too long
        }
        self.link.handle_connected(self.now);
        self.settle(None);
        assert_eq!(self.take_all(), b"init\n");
        self.feed(&[CHALLENGE, b"\n"].concat());
        assert_eq!(self.take_all(), [CHALLENGE, b"\n"].concat());
        self.feed(b"ok\n");
        assert_eq!(self.take_all(), b"ekey\n");
        self.feed(&[BUILD_KEY, b"\n"].concat());
        assert!(self.ready && self.link.is_idle(), "handshake reaches Idle");
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.link.handle_input(self.now, bytes);
        self.settle(None);
    }

    /// Writes everything pending and returns it.
    fn take_all(&mut self) -> Vec<u8> {
        let out = self.pending.split().to_vec();
        self.link
            .handle_written(self.now, out.len())
            .expect("reports what it was handed");
        self.settle(None);
        out
    }

    fn step(&mut self, op: &Op) {
        let mut expected_reply = None;
        match op {
            Op::Peer(c) => {
                self.reply_seen |= self.in_flight && !c.0.is_empty();
                self.link.handle_input(self.now, &c.0);
            }
            Op::Line { line, cut } => {
                let bytes = line.bytes();
                self.reply_seen |= self.in_flight;
                if self.link.state() == LinkState::ReceivingReply && self.link.buffered_input() == 0
                {
                    expected_reply = line.expected_reply();
                }
                let (a, b) = bytes.split_at(usize::from(*cut).min(bytes.len()));
                self.link.handle_input(self.now, a);
                self.link.handle_input(self.now, b);
            }
            Op::Write(n) => {
                let n = usize::from(*n).min(self.pending.len());
                let _ = self.pending.split_to(n);
                self.wrote(n);
                self.link
                    .handle_written(self.now, n)
                    .expect("reports what it was handed");
            }
            Op::WriteAll => {
                let n = self.pending.split().len();
                self.wrote(n);
                self.link
                    .handle_written(self.now, n)
                    .expect("reports what it was handed");
            }
            Op::WriteTooMuch(extra) => {
                let n = self.pending.len() + 1 + usize::from(*extra);
                let r = self.link.handle_written(self.now, n);
                if self.closed {
                    assert_eq!(r, Ok(()), "a closed link ignores writes");
                } else {
                    assert!(
                        matches!(r, Err(LinkMisuse::WrittenTooMuch(_))),
                        "over-reporting is the driver's misuse: {r:?}"
                    );
                }
            }
            Op::Start { encrypt, body } => self.start(*encrypt, &body.0),
            Op::Advance(ms) => {
                self.now += Duration::from_millis(u64::from(*ms));
                self.timeout();
            }
            Op::AdvanceSecs(s) => {
                self.now += Duration::from_secs(u64::from(*s));
                self.timeout();
            }
            Op::Sleep(ms) => self.now += Duration::from_millis(u64::from(*ms)),
            Op::Timeout => self.timeout(),
            Op::Connected => self.link.handle_connected(self.now),
            Op::ConnectFailed => self
                .link
                .handle_connect_failed(self.now, ErrorKind::ConnectionRefused),
            Op::Eof => self.link.handle_eof(self.now),
            Op::ReadError => self
                .link
                .handle_read_error(self.now, ErrorKind::ConnectionReset),
            Op::WriteError => self
                .link
                .handle_write_error(self.now, ErrorKind::BrokenPipe),
            Op::Close => self.link.close(self.now),
        }
        self.settle(expected_reply);
    }

    fn start(&mut self, encrypt: bool, body: &[u8]) {
        let request = if encrypt {
            [b"encrypt:", body].concat()
        } else {
            body.to_vec()
        };
        let state = self.link.state();
        let result = self.link.start(self.now, &request);
        if state != LinkState::Idle {
            assert_eq!(result, Err(LinkMisuse::NotIdle(state)));
            return;
        }
        if request.contains(&b'\n') {
            assert_eq!(result, Err(LinkMisuse::RequestHasNewline));
            return;
        }
        assert_eq!(result, Ok(()));
        assert!(!self.in_flight);
        self.in_flight = true;
        self.request_written = 0;
        self.reply_seen = false;
        let mut wire = BytesMut::new();
        // `encrypt:` is how a request asks to be encrypted, whoever wrote the prefix.
        if let Some(cmd) = request.strip_prefix(b"encrypt:") {
            enc::encode(&FixedKeyCipher, cmd, &mut wire);
        } else {
            wire.extend_from_slice(&request);
        }
        wire.extend_from_slice(b"\n");
        self.longest_send = self.longest_send.max(wire.len());
        let before = self.pending.len();
        self.link.poll_transmit(&mut self.pending);
        assert_eq!(
            &self.pending[before..],
            &wire[..],
            "the request goes out as is"
        );
    }

    /// The driver reports `n` bytes written.
    fn wrote(&mut self, n: usize) {
        if self.in_flight && !self.closed {
            self.request_written += n;
        }
    }

    fn timeout(&mut self) {
        self.link.handle_timeout(self.now);
        if let Some(t) = self.link.poll_timeout() {
            assert!(
                t > self.now,
                "deadline {:?} not after now once timeouts are handled",
                t - self.now
            );
        }
    }

    /// Drains the link as a driver does and checks the invariants.
    fn settle(&mut self, expected_reply: Option<Vec<u8>>) {
        let mut replies = Vec::new();
        while let Some(event) = self.link.poll_event() {
            assert!(!self.closed, "event after Closed: {event:?}");
            match event {
                LinkEvent::Ready => {
                    assert!(!self.ready, "a second Ready");
                    self.ready = true;
                }
                LinkEvent::Reply(r) => {
                    assert!(self.in_flight, "a reply with no transaction in flight");
                    self.in_flight = false;
                    self.replies += 1;
                    replies.push(r);
                }
                LinkEvent::Closed {
                    reason,
                    failed_request,
                    unread,
                } => {
                    assert_eq!(failed_request, self.in_flight, "failed_request");
                    let cannot_have_read = self.in_flight
                        && (self.request_written == 0 || (reason.is_reset() && !self.reply_seen));
                    assert_eq!(
                        unread, cannot_have_read,
                        "unread ({reason}, {} request bytes written, reply seen: {})",
                        self.request_written, self.reply_seen
                    );
                    self.in_flight = false;
                    self.closed = true;
                    // The driver shuts the socket: what it held is dropped.
                    self.pending.clear();
                }
                LinkEvent::ProbeReset => {
                    assert!(self.in_flight, "a probe with no transaction in flight");
                    assert!(!self.reply_seen, "a probe after a byte of reply");
                    // No reset came: the end of stream again, which closes the link.
                    self.link.handle_eof(self.now);
                }
                LinkEvent::Log(_) => {}
            }
        }
        if let Some(want) = expected_reply
            && !self.closed
        {
            assert_eq!(
                replies,
                vec![Bytes::from(want)],
                "the reply comes back as sent"
            );
        }
        let before = self.pending.len();
        self.link.poll_transmit(&mut self.pending);
        let sent = self.pending.len() - before;
        // After a close, only `exit` may still go out.
        let bound = if self.closed {
            5
        } else {
            self.longest_send + 5
        };
        assert!(
            self.pending.len() <= bound,
            "{} bytes to send (bound {bound}, {sent} new)",
            self.pending.len()
        );
        assert_eq!(
            self.link.is_closed(),
            self.closed,
            "is_closed matches the events"
        );
        assert!(
            self.link.buffered_input() <= self.config.max_line,
            "holds {} received bytes, max_line {}",
            self.link.buffered_input(),
            self.config.max_line
        );
        if self.link.is_idle() {
            assert!(self.ready && !self.in_flight);
            assert_eq!(self.link.buffered_input(), 0, "an Idle link holds no input");
        }
        if !self.closed && !self.link.is_idle() {
            assert!(
                self.link.poll_timeout().is_some(),
                "wedged: {:?} with no deadline",
                self.link.state()
            );
        }
        if self.closed {
            assert_eq!(self.link.poll_timeout(), None);
            assert_eq!(self.link.buffered_input(), 0);
        }
    }
}

// ----- seed encoding -----

impl Script {
    /// The input bytes that decode into this script.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = SeedWriter::default();
        w.u8(self.max_line);
        w.u8(self.connect_secs);
        w.u8(self.step_secs);
        w.bool(self.start_idle);
        w.items(&self.ops, |w, op| op.encode(w));
        w.0
    }
}

impl Op {
    const COUNT: u32 = 16;

    fn encode(&self, w: &mut SeedWriter) {
        let v = |w: &mut SeedWriter, i| w.variant(i, Self::COUNT);
        match self {
            Op::Peer(c) => {
                v(w, 0);
                w.chunk(c);
            }
            Op::Line { line, cut } => {
                v(w, 1);
                line.encode(w);
                w.u8(*cut);
            }
            Op::Write(n) => {
                v(w, 2);
                w.u16(*n);
            }
            Op::WriteAll => v(w, 3),
            Op::WriteTooMuch(n) => {
                v(w, 4);
                w.u8(*n);
            }
            Op::Start { encrypt, body } => {
                v(w, 5);
                w.bool(*encrypt);
                w.chunk(body);
            }
            Op::Advance(ms) => {
                v(w, 6);
                w.u16(*ms);
            }
            Op::AdvanceSecs(s) => {
                v(w, 7);
                w.u8(*s);
            }
            Op::Sleep(ms) => {
                v(w, 8);
                w.u16(*ms);
            }
            Op::Timeout => v(w, 9),
            Op::Connected => v(w, 10),
            Op::ConnectFailed => v(w, 11),
            Op::Eof => v(w, 12),
            Op::ReadError => v(w, 13),
            Op::WriteError => v(w, 14),
            Op::Close => v(w, 15),
        }
    }
}

impl PeerLine {
    const COUNT: u32 = 7;

    fn encode(&self, w: &mut SeedWriter) {
        let v = |w: &mut SeedWriter, i| w.variant(i, Self::COUNT);
        match self {
            PeerLine::Challenge(n) => {
                v(w, 0);
                w.u32(*n);
            }
            PeerLine::TheChallenge => v(w, 1),
            PeerLine::Ok => v(w, 2),
            PeerLine::BuildKey => v(w, 3),
            PeerLine::Refused => v(w, 4),
            PeerLine::Reply(c) => {
                v(w, 5);
                w.chunk(c);
            }
            PeerLine::EncReply(c) => {
                v(w, 6);
                w.chunk(c);
            }
        }
    }
}

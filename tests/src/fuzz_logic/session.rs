//! `session`: the lond side of the handshake and request exchange fed arbitrary client bytes,
//! chunked, on a monotonic virtual clock, interleaved with replies, refusals, timeouts,
//! partial writes and hang-ups.
//!
//! The input decodes (with [`arbitrary`]) into a [`Script`]: limits, the numbers of the build
//! key, whether the harness first drives the handshake to Ready, then a list of [`Op`]s. After
//! every operation the harness drains the session and checks:
//! * no panic; events only while open: at most one `Ready`; `Request`s only once Ready; one
//!   `Closed`; nothing after it; the state matches the events;
//! * each handshake line the session sends is the one lond sends (challenge, `ok`, build key),
//!   a reply goes out as given (or as its `enc:` form), `refused` goes out on a refusal;
//! * a well-formed request (plain or `enc:`) delivered whole to a Ready session comes up as
//!   that request, `encrypted` as sent;
//! * no wedge: a session that is neither Ready nor closed always has a deadline; after
//!   `handle_timeout(now)` the deadline is never at or before `now`;
//! * memory: received bytes held never exceed `max_line`.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use bytes::{Bytes, BytesMut};
use lonc_core::enc;
use lonc_core::key::{KeySeed, build_key};
use lonc_core::session::{Session, SessionConfig, SessionEvent, SessionState};

use super::{Chunk, FixedKeyCipher, SeedWriter};

#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// `max_line`: 0 is the 16 MiB default, else this many bytes.
    pub max_line: u8,
    /// Step timeout in seconds (0 allowed).
    pub step_secs: u8,
    pub pid: u32,
    pub time: u64,
    pub random: u32,
    /// Drive the handshake to Ready before the operations.
    pub start_ready: bool,
    pub ops: Vec<Op>,
}

#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Raw bytes from the client, one read.
    Client(Chunk),
    /// A well-formed line from the client, cut in two reads at `cut`.
    Line {
        line: ClientLine,
        cut: u8,
    },
    /// The driver writes `n` of the bytes it holds.
    Write(u16),
    WriteAll,
    WriteTooMuch(u8),
    /// lond answers in clear, encrypted, or sends any line.
    Reply(Chunk),
    ReplyEncrypted(Chunk),
    SendRaw(Chunk),
    /// lond refuses the client.
    Refuse,
    /// Time passes by this many milliseconds; the driver calls `handle_timeout`.
    Advance(u16),
    AdvanceSecs(u8),
    /// Time passes and the next call comes late.
    Sleep(u16),
    Timeout,
    Eof,
    ReadError,
    WriteError,
}

#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum ClientLine {
    Init,
    /// The challenge echoed back.
    Echo,
    Ekey,
    Request(Chunk),
    EncRequest(Chunk),
}

pub fn run(data: &[u8]) {
    let Ok(script) = Script::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let _ = run_script(&script);
}

struct Harness {
    s: Session<FixedKeyCipher>,
    config: SessionConfig,
    seed: KeySeed,
    now: Instant,
    pending: BytesMut,
    ready: bool,
    closed: bool,
    requests: usize,
}

/// What a script did, for the seeds' own tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub ready: bool,
    pub requests: usize,
    pub closed: bool,
}

pub fn run_script(script: &Script) -> Outcome {
    let config = SessionConfig {
        step_timeout: Duration::from_secs(u64::from(script.step_secs)),
        max_line: match script.max_line {
            0 => lonc_core::framing::DEFAULT_MAX_LINE,
            n => usize::from(n),
        },
    };
    let seed = KeySeed {
        time: script.time,
        pid: script.pid,
        random: script.random,
        prefix: 777,
        suffix: 12,
    };
    let now = Instant::now();
    let mut h = Harness {
        s: Session::new(now, config.clone(), "msul1", "msul2", seed),
        config,
        seed,
        now,
        pending: BytesMut::new(),
        ready: false,
        closed: false,
        requests: 0,
    };
    h.settle(None);
    if script.start_ready {
        h.handshake();
    }
    for op in &script.ops {
        h.step(op);
    }
    Outcome {
        ready: h.ready,
        requests: h.requests,
        closed: h.closed,
    }
}

impl Harness {
    fn challenge(&self) -> Vec<u8> {
        format!("{}{}", self.seed.pid, self.seed.time).into_bytes()
    }

    fn handshake(&mut self) {
        let challenge = self.challenge();
        // `init` and `ekey` are 4 bytes: a smaller limit refuses the handshake itself.
        if self.config.max_line < challenge.len().max(4) {
            return;
        }
        self.feed(b"init\n");
        assert_eq!(self.take_all(), [&challenge[..], b"\n"].concat());
        self.feed(&[&challenge[..], b"\n"].concat());
        assert_eq!(self.take_all(), b"ok\n");
        self.feed(b"ekey\n");
        let key = format!("{}\n", build_key(&self.seed));
        assert_eq!(self.take_all(), key.as_bytes());
        assert!(self.ready && self.s.state() == SessionState::Ready);
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.s.handle_input(self.now, bytes);
        self.settle(None);
    }

    fn take_all(&mut self) -> Vec<u8> {
        let out = self.pending.split().to_vec();
        self.s
            .handle_written(self.now, out.len())
            .expect("reports what it was handed");
        self.settle(None);
        out
    }

    fn line_bytes(&self, line: &ClientLine) -> Vec<u8> {
        let mut bytes = match line {
            ClientLine::Init => b"init".to_vec(),
            ClientLine::Echo => self.challenge(),
            ClientLine::Ekey => b"ekey".to_vec(),
            ClientLine::Request(c) => c.line(),
            ClientLine::EncRequest(c) => {
                let mut out = BytesMut::new();
                enc::encode(&FixedKeyCipher, &c.line(), &mut out);
                out.to_vec()
            }
        };
        bytes.push(b'\n');
        bytes
    }

    fn step(&mut self, op: &Op) {
        let mut expected = None;
        let before = self.pending.len();
        // What the session must send for this op, if it is fully determined.
        let mut must_send: Option<Vec<u8>> = None;
        let state = self.s.state();
        match op {
            Op::Client(c) => self.s.handle_input(self.now, &c.0),
            Op::Line { line, cut } => {
                let bytes = self.line_bytes(line);
                if state == SessionState::Ready && self.s.buffered_input() == 0 {
                    expected = match line {
                        ClientLine::Request(c) if !c.line().starts_with(enc::ENC_PREFIX) => {
                            Some((c.line(), false))
                        }
                        ClientLine::EncRequest(c) => Some((c.line(), true)),
                        ClientLine::Init | ClientLine::Echo | ClientLine::Ekey => {
                            Some((bytes[..bytes.len() - 1].to_vec(), false))
                        }
                        ClientLine::Request(_) => None,
                    };
                }
                if state == SessionState::AwaitingInit
                    && self.s.buffered_input() == 0
                    && *line == ClientLine::Init
                {
                    must_send = Some([&self.challenge()[..], b"\n"].concat());
                }
                let (a, b) = bytes.split_at(usize::from(*cut).min(bytes.len()));
                self.s.handle_input(self.now, a);
                self.s.handle_input(self.now, b);
            }
            Op::Write(n) => {
                let n = usize::from(*n).min(self.pending.len());
                let _ = self.pending.split_to(n);
                self.s
                    .handle_written(self.now, n)
                    .expect("reports what it was handed");
            }
            Op::WriteAll => {
                let n = self.pending.split().len();
                self.s
                    .handle_written(self.now, n)
                    .expect("reports what it was handed");
            }
            Op::WriteTooMuch(extra) => {
                let n = self.pending.len() + 1 + usize::from(*extra);
                let r = self.s.handle_written(self.now, n);
                assert_eq!(r.is_ok(), self.closed, "over-reporting: {r:?}");
            }
            Op::Reply(c) => {
                if state == SessionState::Ready {
                    must_send = Some([&c.line()[..], b"\n"].concat());
                }
                self.s.reply(&c.line());
            }
            Op::ReplyEncrypted(c) => {
                if state == SessionState::Ready {
                    let mut out = BytesMut::new();
                    enc::encode(&FixedKeyCipher, &c.line(), &mut out);
                    out.extend_from_slice(b"\n");
                    must_send = Some(out.to_vec());
                }
                self.s.reply_encrypted(&c.line());
            }
            Op::SendRaw(c) => {
                if state != SessionState::Closed {
                    must_send = Some([&c.line()[..], b"\n"].concat());
                }
                self.s.send_raw_line(&c.line());
            }
            Op::Refuse => {
                if state != SessionState::Closed {
                    must_send = Some(b"refused\n".to_vec());
                }
                self.s.refuse(self.now);
            }
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
            Op::Eof => self.s.handle_eof(self.now),
            Op::ReadError => self
                .s
                .handle_read_error(self.now, ErrorKind::ConnectionReset),
            Op::WriteError => self.s.handle_write_error(self.now, ErrorKind::BrokenPipe),
        }
        self.settle(expected);
        if let Some(want) = must_send
            && !self.closed
        {
            assert_eq!(&self.pending[before..], &want[..], "sent for {op:?}");
        }
    }

    fn timeout(&mut self) {
        self.s.handle_timeout(self.now);
        if let Some(t) = self.s.poll_timeout() {
            assert!(
                t > self.now,
                "deadline not after now once timeouts are handled"
            );
        }
    }

    fn settle(&mut self, expected: Option<(Vec<u8>, bool)>) {
        let mut requests = Vec::new();
        while let Some(event) = self.s.poll_event() {
            assert!(!self.closed, "event after Closed: {event:?}");
            match event {
                SessionEvent::Ready => {
                    assert!(!self.ready, "a second Ready");
                    self.ready = true;
                }
                SessionEvent::Request { line, encrypted } => {
                    assert!(self.ready, "a request before the handshake completed");
                    self.requests += 1;
                    requests.push((line, encrypted));
                }
                SessionEvent::Closed(_) => {
                    self.closed = true;
                    self.pending.clear();
                }
            }
        }
        if let Some((line, encrypted)) = expected
            && !self.closed
        {
            assert_eq!(requests, vec![(Bytes::from(line), encrypted)]);
        }
        self.s.poll_transmit(&mut self.pending);
        let state = self.s.state();
        assert_eq!(state == SessionState::Closed, self.closed);
        if state == SessionState::Ready {
            assert!(self.ready && !self.closed);
        } else if self.ready && !self.closed {
            assert_eq!(
                state,
                SessionState::Refusing,
                "a Ready session only refuses"
            );
        }
        assert!(
            self.s.buffered_input() <= self.config.max_line,
            "holds {} received bytes, max_line {}",
            self.s.buffered_input(),
            self.config.max_line
        );
        match state {
            SessionState::Ready => {}
            SessionState::Closed => {
                assert_eq!(self.s.poll_timeout(), None);
                assert_eq!(self.s.buffered_input(), 0);
            }
            _ => assert!(
                self.s.poll_timeout().is_some(),
                "wedged: {state:?} with no deadline"
            ),
        }
    }
}

// ----- seed encoding -----

impl Script {
    /// The input bytes that decode into this script.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = SeedWriter::default();
        w.u8(self.max_line);
        w.u8(self.step_secs);
        w.u32(self.pid);
        w.u64(self.time);
        w.u32(self.random);
        w.bool(self.start_ready);
        w.items(&self.ops, |w, op| op.encode(w));
        w.0
    }
}

impl Op {
    const COUNT: u32 = 16;

    fn encode(&self, w: &mut SeedWriter) {
        let v = |w: &mut SeedWriter, i| w.variant(i, Self::COUNT);
        match self {
            Op::Client(c) => {
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
            Op::Reply(c) => {
                v(w, 5);
                w.chunk(c);
            }
            Op::ReplyEncrypted(c) => {
                v(w, 6);
                w.chunk(c);
            }
            Op::SendRaw(c) => {
                v(w, 7);
                w.chunk(c);
            }
            Op::Refuse => v(w, 8),
            Op::Advance(ms) => {
                v(w, 9);
                w.u16(*ms);
            }
            Op::AdvanceSecs(s) => {
                v(w, 10);
                w.u8(*s);
            }
            Op::Sleep(ms) => {
                v(w, 11);
                w.u16(*ms);
            }
            Op::Timeout => v(w, 12),
            Op::Eof => v(w, 13),
            Op::ReadError => v(w, 14),
            Op::WriteError => v(w, 15),
        }
    }
}

impl ClientLine {
    const COUNT: u32 = 5;

    fn encode(&self, w: &mut SeedWriter) {
        let v = |w: &mut SeedWriter, i| w.variant(i, Self::COUNT);
        match self {
            ClientLine::Init => v(w, 0),
            ClientLine::Echo => v(w, 1),
            ClientLine::Ekey => v(w, 2),
            ClientLine::Request(c) => {
                v(w, 3);
                w.chunk(c);
            }
            ClientLine::EncRequest(c) => {
                v(w, 4);
                w.chunk(c);
            }
        }
    }
}

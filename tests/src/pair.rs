//! The pair harness: a client [`Link`] and a server [`Session`] talking in memory on a virtual
//! clock, every byte stream cut into pseudo-random chunks and every write partial.
//!
//! The outcome (the events both sides report) must not depend on the cut: run the same script
//! under many chunk seeds and compare [`Pair::transcript`]s.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lonc_core::key::KeySeed;
use lonc_core::link::{Link, LinkConfig, LinkEvent};
use lonc_core::session::{Session, SessionConfig, SessionEvent};

use crate::rng::SplitMix;

/// What the simulated server does with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Reply with this line in clear.
    Plain(Vec<u8>),
    /// Reply with this line as `enc:`.
    Encrypted(Vec<u8>),
    /// Do not answer.
    Silent,
}

/// The server's request handler.
pub type Server = Box<dyn FnMut(&[u8], bool) -> Answer>;

/// An echo server: answers every request with its own text (as lond-sim's `echo:` does).
pub fn echo_server() -> Server {
    Box::new(|line, _| Answer::Plain(line.to_vec()))
}

/// The fixed build-key numbers of protocol.md Appendix A.
pub const APPENDIX_SEED: KeySeed = KeySeed {
    time: 1_050_000_000,
    pid: 4242,
    random: 31337,
    prefix: 777,
    suffix: 12,
};

/// Everything both ends reported, in order, for comparison across cuts.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Transcript {
    pub link: Vec<LinkEvent>,
    pub session: Vec<SessionEvent>,
}

/// A link and a session joined by two in-memory byte pipes.
pub struct Pair {
    pub link: Link,
    pub session: Session,
    pub now: Instant,
    pub server: Server,
    pub transcript: Transcript,
    rng: SplitMix,
    max_chunk: usize,
    /// Bytes the link handed out but that have not been "written" yet.
    c2s: BytesMut,
    s2c: BytesMut,
}

impl Pair {
    /// A pair between the lond `server_id` and the client `client_id`, with the chunking drawn
    /// from `cut_seed` in chunks of 1 to `max_chunk` bytes. The TCP connect has succeeded.
    pub fn new(server_id: &str, client_id: &str, cut_seed: u64, max_chunk: usize) -> Pair {
        let now = Instant::now();
        let mut link = Link::new(now, LinkConfig::default(), server_id, client_id);
        link.handle_connected(now);
        let session = Session::new(
            now,
            SessionConfig::default(),
            server_id,
            client_id,
            APPENDIX_SEED,
        );
        Pair {
            link,
            session,
            now,
            server: echo_server(),
            transcript: Transcript::default(),
            rng: SplitMix::new(cut_seed),
            max_chunk,
            c2s: BytesMut::new(),
            s2c: BytesMut::new(),
        }
    }

    /// Moves bytes both ways, one random chunk at a time, until neither side has anything left
    /// to send. Returns the number of chunks moved.
    pub fn run(&mut self) -> usize {
        let mut moved = 0;
        loop {
            self.drain_events();
            self.link.poll_transmit(&mut self.c2s);
            self.session.poll_transmit(&mut self.s2c);
            let (c, s) = (!self.c2s.is_empty(), !self.s2c.is_empty());
            let client_first = match (c, s) {
                (false, false) => return moved,
                (true, false) => true,
                (false, true) => false,
                (true, true) => self.rng.next_u64() & 1 == 0,
            };
            if client_first {
                let n = self.rng.between_1_and(self.max_chunk).min(self.c2s.len());
                let chunk = self.c2s.split_to(n);
                self.link
                    .handle_written(self.now, n)
                    .expect("harness reports only what it was handed");
                self.session.handle_input(self.now, &chunk);
            } else {
                let n = self.rng.between_1_and(self.max_chunk).min(self.s2c.len());
                let chunk = self.s2c.split_to(n);
                self.session
                    .handle_written(self.now, n)
                    .expect("harness reports only what it was handed");
                self.link.handle_input(self.now, &chunk);
            }
            moved += 1;
        }
    }

    /// Starts a transaction and runs until quiet; returns the link's events of the exchange.
    pub fn transact(&mut self, request: &[u8]) -> Vec<LinkEvent> {
        let before = self.transcript.link.len();
        self.link
            .start(self.now, request)
            .expect("link is Idle when the script transacts");
        self.run();
        self.transcript.link[before..].to_vec()
    }

    /// Moves the virtual clock and fires both sides' timers.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.link.handle_timeout(self.now);
        self.session.handle_timeout(self.now);
        self.drain_events();
    }

    /// True when the link completed its handshake and is Idle.
    pub fn link_ready(&self) -> bool {
        self.transcript.link.contains(&LinkEvent::Ready)
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.link.poll_event() {
            self.transcript.link.push(e);
        }
        while let Some(e) = self.session.poll_event() {
            if let SessionEvent::Request { line, encrypted } = &e {
                match (self.server)(line, *encrypted) {
                    Answer::Plain(r) => self.session.reply(&r),
                    Answer::Encrypted(r) => self.session.reply_encrypted(&r),
                    Answer::Silent => {}
                }
            }
            self.transcript.session.push(e);
        }
    }
}

/// The link's replies in a transcript, as byte vectors.
pub fn replies(events: &[LinkEvent]) -> Vec<Bytes> {
    events
        .iter()
        .filter_map(|e| match e {
            LinkEvent::Reply(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

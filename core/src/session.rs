//! The lond side of connection set-up (profile A) and of the request/reply exchange that
//! follows, as a sans-IO state machine. It is what a simulated lond and the fuzzers stand on.
//!
//! ```text
//! AwaitingInit ─init→ SendingChallenge ─sent→ AwaitingEcho ─echo ok→ SendingOk ─sent→
//!   AwaitingEkey ─ekey→ SendingKey ─sent→ Ready (requests in, replies out)
//! any ─failure→ Closed (sticky)
//! ```
//!
//! The caller supplies every number lond would draw (pid, time, random numbers); the session
//! draws none. It is driven by the crate's drive contract (see the crate root), as a
//! [`Link`](crate::link::Link) is: its outputs are [`Session::poll_transmit`] and
//! [`Session::poll_event`].

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::cipher::{BlockCipher, IdeaCipher};
use crate::enc::{self, ENC_PREFIX};
use crate::framing::DEFAULT_MAX_LINE;
use crate::key::{KeySeed, SessionKey, build_key};
use crate::reason::CloseReason;
use crate::timer::{TimerKind, Timers};
use crate::wire::{Wire, WrittenTooMuch};

/// Timeouts and bounds of one session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// How long a handshake step may go without a byte of progress.
    pub step_timeout: Duration,
    /// The longest line accepted from the client, LF not counted.
    pub max_line: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            step_timeout: Duration::from_secs(30),
            max_line: DEFAULT_MAX_LINE,
        }
    }
}

/// Where the lond side of the handshake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionState {
    AwaitingInit,
    SendingChallenge,
    AwaitingEcho,
    SendingOk,
    AwaitingEkey,
    SendingKey,
    Ready,
    /// `refused` is being sent; the session closes once it is out.
    Refusing,
    Closed,
}

impl SessionState {
    pub fn name(self) -> &'static str {
        match self {
            SessionState::AwaitingInit => "AwaitingInit",
            SessionState::SendingChallenge => "SendingChallenge",
            SessionState::AwaitingEcho => "AwaitingEcho",
            SessionState::SendingOk => "SendingOk",
            SessionState::AwaitingEkey => "AwaitingEkey",
            SessionState::SendingKey => "SendingKey",
            SessionState::Ready => "Ready",
            SessionState::Refusing => "Refusing",
            SessionState::Closed => "Closed",
        }
    }

    fn expects_line(self) -> bool {
        matches!(
            self,
            SessionState::AwaitingInit
                | SessionState::AwaitingEcho
                | SessionState::AwaitingEkey
                | SessionState::Ready
        )
    }

    fn after_send(self) -> Option<SessionState> {
        Some(match self {
            SessionState::SendingChallenge => SessionState::AwaitingEcho,
            SessionState::SendingOk => SessionState::AwaitingEkey,
            SessionState::SendingKey => SessionState::Ready,
            SessionState::Refusing => SessionState::Closed,
            _ => return None,
        })
    }
}

/// What a session tells its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// The handshake is complete; requests follow.
    Ready,
    /// A request from the client, without its LF; `encrypted` when it came as `enc:` (it is
    /// decrypted here).
    Request { line: Bytes, encrypted: bool },
    /// The session closed; the driver closes the socket once the transmit buffer is drained.
    Closed(CloseReason),
}

/// The session's one timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// The current handshake step must make progress by then.
    Step,
}

impl TimerKind for Timer {
    const ALL: &'static [Timer] = &[Timer::Step];
    fn slot(self) -> usize {
        0
    }
}

/// The server half of one lonc↔lond connection.
pub struct Session<C: BlockCipher = IdeaCipher> {
    state: SessionState,
    config: SessionConfig,
    own_id: Box<[u8]>,
    client_id: Box<[u8]>,
    seed: KeySeed,
    challenge: Box<[u8]>,
    wire: Wire,
    cipher: Option<C>,
    timers: Timers<Timer, 1>,
    events: VecDeque<SessionEvent>,
}

impl<C: BlockCipher> std::fmt::Debug for Session<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<C: BlockCipher> Session<C> {
    /// A session of the lond `own_id` with the client host `client_id` (as lond identified it
    /// by its address). `seed` gives the pid and time of the challenge and the numbers of the
    /// build key.
    pub fn new(
        now: Instant,
        config: SessionConfig,
        own_id: &str,
        client_id: &str,
        seed: KeySeed,
    ) -> Self {
        let mut timers = Timers::new();
        timers.set_after(Timer::Step, now, config.step_timeout);
        Session {
            state: SessionState::AwaitingInit,
            wire: Wire::new(config.max_line),
            config,
            own_id: own_id.as_bytes().into(),
            client_id: client_id.as_bytes().into(),
            challenge: format!("{}{}", seed.pid, seed.time).into_bytes().into(),
            seed,
            cipher: None,
            timers,
            events: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Bytes received from the client and not yet consumed. Never more than the configured
    /// `max_line` once an input call returns: more makes the session close.
    pub fn buffered_input(&self) -> usize {
        self.wire.framer.buffered()
    }

    /// Refuses the client (unknown address): sends `refused` and closes.
    pub fn refuse(&mut self, now: Instant) {
        if self.state == SessionState::Closed {
            return;
        }
        self.wire.queue_line(b"refused");
        self.enter(now, SessionState::Refusing);
    }

    /// Bytes read from the client.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if matches!(self.state, SessionState::Closed | SessionState::Refusing) || data.is_empty() {
            return;
        }
        if self.wire.push(data).is_err() {
            return self.fail(CloseReason::LineTooLong);
        }
        self.progress(now);
        self.process_lines(now);
        if !self.state.expects_line() && self.wire.framer.buffered() > self.config.max_line {
            self.fail(CloseReason::UnsolicitedData);
        }
    }

    /// The client closed its side.
    pub fn handle_eof(&mut self, _now: Instant) {
        self.fail(CloseReason::Eof);
    }

    /// Reading from the socket failed.
    pub fn handle_read_error(&mut self, _now: Instant, kind: io::ErrorKind) {
        self.fail(CloseReason::ReadError(kind));
    }

    /// Writing to the socket failed.
    pub fn handle_write_error(&mut self, _now: Instant, kind: io::ErrorKind) {
        self.fail(CloseReason::WriteError(kind));
    }

    /// Moves the bytes waiting to be sent into `out`; returns how many.
    pub fn poll_transmit(&mut self, out: &mut BytesMut) -> usize {
        self.wire.poll_transmit(out)
    }

    /// `n` of the bytes taken from [`Session::poll_transmit`] were written.
    pub fn handle_written(&mut self, now: Instant, n: usize) -> Result<(), WrittenTooMuch> {
        if self.state == SessionState::Closed {
            return Ok(());
        }
        let all_sent = self.wire.written(n)?;
        if n > 0 {
            self.progress(now);
        }
        if all_sent && let Some(next) = self.state.after_send() {
            if next == SessionState::Closed {
                self.fail(CloseReason::Local);
            } else {
                self.enter(now, next);
                if next == SessionState::Ready {
                    self.events.push_back(SessionEvent::Ready);
                }
                self.process_lines(now);
            }
        }
        Ok(())
    }

    /// Sends a reply line (no LF) to a request; ignored unless the session is Ready.
    pub fn reply(&mut self, line: &[u8]) {
        if self.state == SessionState::Ready {
            self.wire.queue_line(line);
        }
    }

    /// Sends a reply line encrypted as `enc:<len>:<hex>`; ignored unless the session is Ready.
    pub fn reply_encrypted(&mut self, line: &[u8]) {
        if let (SessionState::Ready, Some(cipher)) = (self.state, &self.cipher) {
            enc::encode(cipher, line, self.wire.tx());
            self.wire.tx().extend_from_slice(b"\n");
        }
    }

    /// Sends an arbitrary line (for fault injection); ignored once closed.
    pub fn send_raw_line(&mut self, line: &[u8]) {
        if self.state != SessionState::Closed {
            self.wire.queue_line(line);
        }
    }

    /// Fires the step timeout if it is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Timer::Step) = self.timers.pop_expired(now) {
            self.fail(CloseReason::StepTimeout);
        }
    }

    /// The next instant at which [`Session::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The next event for the owner.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    fn enter(&mut self, now: Instant, state: SessionState) {
        self.state = state;
        match state {
            SessionState::Ready | SessionState::Closed => self.timers.clear(Timer::Step),
            _ => self
                .timers
                .set_after(Timer::Step, now, self.config.step_timeout),
        }
    }

    /// A byte of progress in either direction restarts a running step timeout.
    fn progress(&mut self, now: Instant) {
        self.timers
            .restart(Timer::Step, now, self.config.step_timeout);
    }

    fn process_lines(&mut self, now: Instant) {
        while self.state.expects_line() {
            let Some(line) = self.wire.framer.next_line() else {
                return;
            };
            self.on_line(now, line);
        }
    }

    fn on_line(&mut self, now: Instant, line: Bytes) {
        match self.state {
            // [R] How strictly lond matched `init` is an open point; non-word characters are
            // ignored here as they are for the echo.
            SessionState::AwaitingInit if word_chars_equal(&line, b"init") => {
                let challenge = self.challenge.clone();
                self.wire.queue_line(&challenge);
                self.enter(now, SessionState::SendingChallenge);
            }
            SessionState::AwaitingEcho if word_chars_equal(&line, &self.challenge) => {
                self.wire.queue_line(b"ok");
                self.enter(now, SessionState::SendingOk);
            }
            SessionState::AwaitingEkey if line.as_ref() == b"ekey" => {
                let build = build_key(&self.seed);
                let key = SessionKey::derive(&self.own_id, &self.client_id, build.as_bytes());
                self.cipher = Some(C::from_key(&key));
                self.wire.queue_line(build.as_bytes());
                self.enter(now, SessionState::SendingKey);
            }
            SessionState::Ready => self.on_request(line),
            state => self.fail(CloseReason::UnexpectedLine {
                state: state.name(),
            }),
        }
    }

    fn on_request(&mut self, line: Bytes) {
        match (line.starts_with(ENC_PREFIX), &self.cipher) {
            (true, Some(cipher)) => match enc::decode(cipher, &line) {
                Ok(plain) => self.events.push_back(SessionEvent::Request {
                    line: plain.freeze(),
                    encrypted: true,
                }),
                Err(e) => self.fail(CloseReason::BadEnc(e)),
            },
            _ => self.events.push_back(SessionEvent::Request {
                line,
                encrypted: false,
            }),
        }
    }

    fn fail(&mut self, reason: CloseReason) {
        if self.state == SessionState::Closed {
            return;
        }
        self.state = SessionState::Closed;
        self.timers.clear_all();
        self.wire.reset();
        self.cipher = None;
        self.events.push_back(SessionEvent::Closed(reason));
    }
}

/// Compares `got` with `want` after removing non-word characters (Perl's `\W`) from `got`.
fn word_chars_equal(got: &[u8], want: &[u8]) -> bool {
    let mut words = got
        .iter()
        .filter(|c| c.is_ascii_alphanumeric() || **c == b'_');
    want.iter().all(|w| words.next() == Some(w)) && words.next().is_none()
}

//! One TCP link to a lond, client side (LondConnection, profile A), as a sans-IO state machine.
//!
//! ```text
//! Connecting ─connected→ Connected ─init sent→ Initialized ─challenge→ ChallengeReceived
//!   ─echo sent→ ChallengeReplied ─ok→ RequestingKey ─ekey sent→ ReceivingKey ─key→ Idle
//! Idle ─start→ SendingRequest ─sent→ ReceivingReply ─reply→ Idle
//! any ─failure→ Disconnected (sticky)
//! ```
//!
//! A link is driven by the crate's drive contract (see the crate root). Its outputs are
//! [`Link::poll_transmit`] (the bytes to write; every write, partial or whole, is reported with
//! [`Link::handle_written`]) and [`Link::poll_event`]. The connect timeout is the link's too:
//! the driver gives up connecting when the link says so.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::cipher::{BlockCipher, IdeaCipher};
use crate::enc::{self, ENC_PREFIX};
use crate::framing::DEFAULT_MAX_LINE;
use crate::key::SessionKey;
use crate::log::LogEvent;
use crate::reason::CloseReason;
use crate::request::ENCRYPT_PREFIX;
use crate::timer::{TimerKind, Timers};
use crate::wire::{Wire, WrittenTooMuch};

/// Timeouts and bounds of one link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// How long the TCP connect may take (LondConnection 1.8: 5 s).
    pub connect_timeout: Duration,
    /// How long any step (a handshake line, a request, a reply) may go without a byte of
    /// progress in either direction (LondConnection: 30 s).
    pub step_timeout: Duration,
    /// The longest line accepted from the peer, LF not counted.
    pub max_line: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            connect_timeout: Duration::from_secs(5),
            step_timeout: Duration::from_secs(30),
            max_line: DEFAULT_MAX_LINE,
        }
    }
}

/// The states of LondConnection, profile A, plus `Connecting` before the TCP connection exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkState {
    Connecting,
    Connected,
    Initialized,
    ChallengeReceived,
    ChallengeReplied,
    RequestingKey,
    ReceivingKey,
    Idle,
    SendingRequest,
    ReceivingReply,
    Disconnected,
}

impl LinkState {
    /// The state's name as LondConnection spelled it.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connecting => "Connecting",
            LinkState::Connected => "Connected",
            LinkState::Initialized => "Initialized",
            LinkState::ChallengeReceived => "ChallengeReceived",
            LinkState::ChallengeReplied => "ChallengeReplied",
            LinkState::RequestingKey => "RequestingKey",
            LinkState::ReceivingKey => "ReceivingKey",
            LinkState::Idle => "Idle",
            LinkState::SendingRequest => "SendingRequest",
            LinkState::ReceivingReply => "ReceivingReply",
            LinkState::Disconnected => "Disconnected",
        }
    }

    /// True before the link first becomes Idle.
    pub fn in_handshake(self) -> bool {
        matches!(
            self,
            LinkState::Connecting
                | LinkState::Connected
                | LinkState::Initialized
                | LinkState::ChallengeReceived
                | LinkState::ChallengeReplied
                | LinkState::RequestingKey
                | LinkState::ReceivingKey
        )
    }

    /// The state that follows once everything queued has been written, for states that send.
    fn after_send(self) -> Option<LinkState> {
        Some(match self {
            LinkState::Connected => LinkState::Initialized,
            LinkState::ChallengeReceived => LinkState::ChallengeReplied,
            LinkState::RequestingKey => LinkState::ReceivingKey,
            LinkState::SendingRequest => LinkState::ReceivingReply,
            _ => return None,
        })
    }

    /// States in which a line from the peer is due.
    fn expects_line(self) -> bool {
        matches!(
            self,
            LinkState::Initialized
                | LinkState::ChallengeReplied
                | LinkState::ReceivingKey
                | LinkState::ReceivingReply
        )
    }
}

/// What a link tells its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// The handshake is complete; the link is Idle and accepts a transaction.
    Ready,
    /// The transaction is complete: the reply line (decrypted if it came as `enc:`), without
    /// its LF. The link is Idle again.
    Reply(Bytes),
    /// The link closed. `failed_request` is true when a transaction was in flight: it failed.
    /// `unread` is true when the peer cannot have read that request: no byte of it was
    /// written, or the peer's kernel reset the connection before a byte of reply came (a lond
    /// executes only whole lines it has read, and a socket closed with data unread answers
    /// with a reset, not an end of stream). Such a request may be sent again elsewhere.
    Closed {
        reason: CloseReason,
        failed_request: bool,
        unread: bool,
    },
    /// The peer's end of stream came while a request was out and before a byte of reply, and
    /// [`RESET_WAIT`] has passed: ask the socket whether a reset (or another error) came since
    /// (`SO_ERROR`) and report it with [`Link::handle_read_error`], or else report the end of
    /// stream again with [`Link::handle_eof`]. A reset says the peer never read the request.
    ProbeReset,
    /// Something worth a log line.
    Log(LogEvent),
}

/// How long a link whose peer ended the stream in the middle of a transaction, before a byte
/// of reply, waits for the reset that would say the peer never read the request (bounded by
/// the step timeout). A lond that closes a link (its child's idle timeout, a restart, or after
/// each reply) sends its end of stream first; the request that crossed it on the wire is
/// answered by its kernel with a reset about a round trip later.
pub const RESET_WAIT: Duration = Duration::from_secs(1);

/// A command the link cannot carry out: a bug in the caller, not the peer's doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkMisuse {
    /// A transaction can only start on an Idle link.
    NotIdle(LinkState),
    /// A request must be one line: it may not contain LF.
    RequestHasNewline,
    /// The driver reported more bytes written than it was handed.
    WrittenTooMuch(WrittenTooMuch),
}

impl std::fmt::Display for LinkMisuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkMisuse::NotIdle(s) => write!(f, "link is {}, not Idle", s.name()),
            LinkMisuse::RequestHasNewline => f.write_str("request contains a newline"),
            LinkMisuse::WrittenTooMuch(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LinkMisuse {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// The TCP connect must complete by then.
    Connect,
    /// The current step (a handshake line, a request, a reply) must make progress by then.
    Step,
    /// After an end of stream in the middle of a transaction: probe for a reset.
    ResetWait,
}

impl TimerKind for Timer {
    const ALL: &'static [Timer] = &[Timer::Connect, Timer::Step, Timer::ResetWait];
    fn slot(self) -> usize {
        self as usize
    }
}

/// The client side of one lond connection. See the module docs for the driving rule.
pub struct Link<C: BlockCipher = IdeaCipher> {
    state: LinkState,
    config: LinkConfig,
    peer_id: Box<[u8]>,
    own_id: Box<[u8]>,
    wire: Wire,
    cipher: Option<C>,
    timers: Timers<Timer, 3>,
    /// The peer ended the stream during the current transaction ([`LinkEvent::ProbeReset`]).
    eof_seen: bool,
    /// Bytes of the current request reported written.
    request_written: usize,
    /// A byte came from the peer since the current request started.
    reply_started: bool,
    events: VecDeque<LinkEvent>,
}

impl<C: BlockCipher> std::fmt::Debug for Link<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("state", &self.state)
            .field("peer_id", &String::from_utf8_lossy(&self.peer_id))
            .finish_non_exhaustive()
    }
}

impl<C: BlockCipher> Link<C> {
    /// A link to the lond of `peer_id`, from the host `own_id` (LON-CAPA ids; they make the
    /// session key). The driver starts connecting now; the connect timeout runs from `now`.
    pub fn new(now: Instant, config: LinkConfig, peer_id: &str, own_id: &str) -> Self {
        let mut timers = Timers::new();
        timers.set_after(Timer::Connect, now, config.connect_timeout);
        Link {
            state: LinkState::Connecting,
            wire: Wire::new(config.max_line),
            config,
            peer_id: peer_id.as_bytes().into(),
            own_id: own_id.as_bytes().into(),
            cipher: None,
            timers,
            eof_seen: false,
            request_written: 0,
            reply_started: false,
            events: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> LinkState {
        self.state
    }

    /// True when a transaction can start.
    pub fn is_idle(&self) -> bool {
        self.state == LinkState::Idle
    }

    /// True once the link has closed; it never reopens.
    pub fn is_closed(&self) -> bool {
        self.state == LinkState::Disconnected
    }

    /// True when bytes are waiting for [`Link::poll_transmit`].
    pub fn wants_write(&self) -> bool {
        self.wire.wants_write()
    }

    /// Bytes received from the peer and not yet consumed (a partial line, or lines waiting
    /// while the link still sends). Never more than the configured `max_line` once an input
    /// call returns: more makes the link close.
    pub fn buffered_input(&self) -> usize {
        self.wire.framer.buffered()
    }

    /// The TCP connection is established: the handshake starts with `init`.
    pub fn handle_connected(&mut self, now: Instant) {
        if self.state != LinkState::Connecting {
            return;
        }
        self.timers.clear(Timer::Connect);
        self.wire.queue_line(b"init");
        self.enter(now, LinkState::Connected);
    }

    /// The TCP connection could not be established.
    pub fn handle_connect_failed(&mut self, _now: Instant, kind: io::ErrorKind) {
        self.fail(CloseReason::ConnectFailed(kind));
    }

    /// Bytes read from the socket.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.state == LinkState::Disconnected || data.is_empty() {
            return;
        }
        if self.transacting() {
            self.reply_started = true;
        }
        if self.wire.push(data).is_err() {
            return self.fail(CloseReason::LineTooLong);
        }
        self.progress(now);
        self.process_lines(now);
        self.check_unsolicited();
    }

    /// The peer closed its side (read returned 0). In the middle of a transaction whose request
    /// went out and before a byte of reply, the link waits [`RESET_WAIT`] (at most the step
    /// timeout) and asks for a probe ([`LinkEvent::ProbeReset`]) before it closes: the driver
    /// stops reading the socket meanwhile and keeps it open. Otherwise, and at the probe's
    /// second end of stream, the link closes.
    pub fn handle_eof(&mut self, now: Instant) {
        if self.state == LinkState::Disconnected {
            return;
        }
        if self.transacting() && self.request_written > 0 && !self.reply_started && !self.eof_seen {
            self.eof_seen = true;
            let wait = RESET_WAIT.min(self.config.step_timeout);
            self.timers.set_after(Timer::ResetWait, now, wait);
            return;
        }
        self.fail(CloseReason::Eof);
    }

    /// Reading from the socket failed.
    pub fn handle_read_error(&mut self, _now: Instant, kind: io::ErrorKind) {
        self.fail(CloseReason::ReadError(kind));
    }

    /// Writing to the socket failed (including a write of 0 bytes: the peer hung up).
    pub fn handle_write_error(&mut self, _now: Instant, kind: io::ErrorKind) {
        self.fail(CloseReason::WriteError(kind));
    }

    /// Moves the bytes waiting to be sent into `out`; returns how many.
    pub fn poll_transmit(&mut self, out: &mut BytesMut) -> usize {
        self.wire.poll_transmit(out)
    }

    /// `n` of the bytes taken from [`Link::poll_transmit`] were written.
    pub fn handle_written(&mut self, now: Instant, n: usize) -> Result<(), LinkMisuse> {
        if self.state == LinkState::Disconnected {
            return Ok(());
        }
        let all_sent = self.wire.written(n).map_err(LinkMisuse::WrittenTooMuch)?;
        if n > 0 {
            self.progress(now);
            if self.transacting() {
                self.request_written += n;
            }
        }
        if all_sent && let Some(next) = self.state.after_send() {
            self.enter(now, next);
            self.process_lines(now);
            self.check_unsolicited();
        }
        Ok(())
    }

    /// Starts a transaction on an Idle link: `request` (one line, no LF) is sent in clear, or as
    /// an `enc:` line if it starts with `encrypt:`.
    pub fn start(&mut self, now: Instant, request: &[u8]) -> Result<(), LinkMisuse> {
        if self.state != LinkState::Idle {
            return Err(LinkMisuse::NotIdle(self.state));
        }
        if memchr::memchr(b'\n', request).is_some() {
            return Err(LinkMisuse::RequestHasNewline);
        }
        match (request.strip_prefix(ENCRYPT_PREFIX), &self.cipher) {
            (Some(cmd), Some(cipher)) => {
                enc::encode(cipher, cmd, self.wire.tx());
                self.wire.tx().extend_from_slice(b"\n");
            }
            _ => self.wire.queue_line(request),
        }
        self.request_written = 0;
        self.reply_started = false;
        self.enter(now, LinkState::SendingRequest);
        Ok(())
    }

    /// Closes the link on the owner's decision. An Idle link queues a best-effort `exit` line
    /// for the driver to send before it shuts the socket (recalled, \[R\] in protocol.md: LondConnection's `Shutdown`).
    pub fn close(&mut self, _now: Instant) {
        if self.state == LinkState::Disconnected {
            return;
        }
        let was_idle = self.state == LinkState::Idle;
        self.fail(CloseReason::Local);
        if was_idle {
            self.wire.queue_line(b"exit");
        }
    }

    /// Fires the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                Timer::Connect => self.fail(CloseReason::ConnectTimeout),
                Timer::Step => self.fail(CloseReason::StepTimeout),
                Timer::ResetWait => self.events.push_back(LinkEvent::ProbeReset),
            }
        }
    }

    /// The next instant at which [`Link::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The next event for the owner.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        self.events.pop_front()
    }

    fn enter(&mut self, now: Instant, state: LinkState) {
        self.state = state;
        match state {
            LinkState::Idle | LinkState::Disconnected | LinkState::Connecting => {
                self.timers.clear(Timer::Step)
            }
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

    /// Acts on every buffered line the current state can take. While the link is still sending
    /// a handshake line, a `refused` from the peer is taken at once; any other line waits until
    /// the send completes.
    fn process_lines(&mut self, now: Instant) {
        loop {
            if self.state.expects_line() {
                let Some(line) = self.wire.framer.next_line() else {
                    return;
                };
                self.on_line(now, line);
            } else if self.state.in_handshake() && self.wire.framer.peek_line() == Some(b"refused")
            {
                return self.fail(CloseReason::Refused);
            } else {
                return;
            }
        }
    }

    /// Bytes from the peer when no reply is due are a protocol violation; bytes waiting while
    /// the link still sends are bounded by the maximum line length.
    fn check_unsolicited(&mut self) {
        let buffered = self.wire.framer.buffered();
        let violation = match self.state {
            LinkState::Idle => buffered > 0,
            LinkState::Disconnected => false,
            _ => buffered > self.config.max_line,
        };
        if violation {
            self.fail(CloseReason::UnsolicitedData);
        }
    }

    fn on_line(&mut self, now: Instant, line: Bytes) {
        if line.as_ref() == b"refused" && self.state.in_handshake() {
            return self.fail(CloseReason::Refused);
        }
        match self.state {
            // [R] The challenge is the lond child's pid and time, digits only; recognising it by
            // that is also how later clients told an old lond's challenge apart.
            LinkState::Initialized if !line.is_empty() && line.iter().all(u8::is_ascii_digit) => {
                self.wire.queue_line(&line);
                self.enter(now, LinkState::ChallengeReceived);
            }
            LinkState::ChallengeReplied if line.as_ref() == b"ok" => {
                self.wire.queue_line(b"ekey");
                self.enter(now, LinkState::RequestingKey);
            }
            LinkState::ReceivingKey if !line.is_empty() => {
                // Protocol 3.3 open point: the LF of the build key is stripped (the framer never
                // keeps it); that only matters for very short ids, so say so in the log.
                if SessionKey::is_short(&self.peer_id, &self.own_id, &line) {
                    self.events
                        .push_back(LinkEvent::Log(LogEvent::ShortSessionKey));
                }
                let key = SessionKey::derive(&self.peer_id, &self.own_id, &line);
                self.cipher = Some(C::from_key(&key));
                self.enter(now, LinkState::Idle);
                self.events.push_back(LinkEvent::Ready);
            }
            LinkState::ReceivingReply => self.on_reply(now, line),
            state => self.fail(CloseReason::UnexpectedLine {
                state: state.name(),
            }),
        }
    }

    fn on_reply(&mut self, now: Instant, line: Bytes) {
        let reply = match (line.starts_with(ENC_PREFIX), &self.cipher) {
            (true, Some(cipher)) => match enc::decode(cipher, &line) {
                Ok(plain) if memchr::memchr(b'\n', &plain).is_some() => {
                    return self.fail(CloseReason::ReplyHasLineFeed);
                }
                Ok(plain) => plain.freeze(),
                Err(e) => return self.fail(CloseReason::BadEnc(e)),
            },
            _ => line,
        };
        self.enter(now, LinkState::Idle);
        self.events.push_back(LinkEvent::Reply(reply));
    }

    /// Closes the link for `reason` (sticky) and reports it, with the in-flight transaction.
    fn fail(&mut self, reason: CloseReason) {
        if self.state == LinkState::Disconnected {
            return;
        }
        let failed_request = self.transacting();
        let unread = failed_request
            && (self.request_written == 0 || (reason.is_reset() && !self.reply_started));
        self.state = LinkState::Disconnected;
        self.timers.clear_all();
        self.wire.reset();
        self.cipher = None;
        self.events.push_back(LinkEvent::Closed {
            reason,
            failed_request,
            unread,
        });
    }

    /// True while a transaction is in flight.
    fn transacting(&self) -> bool {
        matches!(
            self.state,
            LinkState::SendingRequest | LinkState::ReceivingReply
        )
    }
}

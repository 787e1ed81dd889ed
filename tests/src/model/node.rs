//! Drives a whole [`Node`] as a runtime does, against in-memory londs (core [`Session`]s that
//! echo) and lonnet clients on a virtual clock, and checks every output against rules any
//! correct daemon keeps. `tests/tests/node_model.rs` runs it on random [`Op`] sequences.
//!
//! The driver is a faithful runtime: it drains the node after every call and carries each output
//! out in order, writes what a link transmits (reporting every byte with `handle_written`,
//! partially while a host's sockets are stalled), reads a client only while
//! `client_wants_input` (so an EOF is seen once the bytes before it are read), answers
//! `ScanDelayed` and `ReadDelayed` from its delayed directory, carries out `Delivered` (or, while
//! `lonnet.perm.log` cannot be written, reports `record_failed`), answers `ReloadConfig` when
//! told to, and stops calling the node once it has exited.
//!
//! It models each client as the node's framer must see it (the complete lines read, the partial
//! one, the line bound) and checks, as they happen:
//! * **answers**: only to a client that is open, not hung up and waiting; each to its oldest
//!   unanswered line, in order; each the lond's echo of that very line (a reply some lond of the
//!   client's own host sent) or `con_lost`; `close_connection_exit` and a line over the bound
//!   get `con_lost`; a `con_lost` otherwise only with a cause (see [`NodeDriver`]);
//! * **handles**: `Connect` with a fresh link id for a served host, at its address, never beyond
//!   `max_links`; `Transmit` only on a connected link not closed, and a client's request only
//!   while it is that client's request out (never one of a client that hung up); one
//!   `CloseLink` per link (with no farewell or `exit`), at once for a link that failed;
//!   `CloseClient` once, and exactly for a client whose input ended (EOF, error, over-long
//!   line); `Listen`/`Unlisten` balanced, a key never reused, one socket per id; `accept` gives
//!   an id exactly while the host is served and the node has not stopped accepting;
//! * **daemon**: `WriteStatus` lists the served hosts; a reload serves exactly the new table
//!   (unchanged hosts keep their key, moved ones get a new one; an empty table is refused);
//!   no log shows an `encrypt:` password;
//! * **delayed directory**: a `ReadDelayed` only for a served host and its own files, never after
//!   TERM; `Delivered` (with the `S:` record of its request) only for a file in the directory
//!   whose request a lond of its host answered, once (a file whose record could not be written
//!   is delivered again at a later scan without being sent to a lond again); a bad name or a
//!   file for a host not served warned about once while it stays, a file for our own id or a
//!   hidden one never; `spool delete` (`RemoveDelayed`) only for delayed-request names (never
//!   `../x`), never for a file whose request a lond received and has not answered, nor one
//!   delivered, and a deleted file's request never reaches a lond afterwards;
//! * **shutdown**: after TERM/INT no `Listen`, `ReloadConfig`, scan or read of the delayed
//!   directory, delayed request sent or accepted client; `Exit(0)` once no client waits and no
//!   delayed request is on a link (a drained exit never cuts a delivery off: no delayed request
//!   a lond received is left without its reply or its link's close), and by the grace deadline at
//!   the latest, with no client left waiting, `RemoveFiles` (every socket and the pid file) right
//!   before it (log lines aside), nothing after it;
//! * **after every step**: a client whose input ended is closed; `client_wants_input` is the
//!   framer rule (input not ended, and not waiting or at most a line's worth buffered);
//!   `client_count`, each host's `link_count` and the driver's open links agree; a dead host
//!   has at most its probe; `poll_timeout()` is never at or before `now` and never after a
//!   host's own deadline; a shutdown is still within its grace and some client still waits or
//!   some host is not drained; calls about a gone handle produce nothing; the summary last
//!   shown (`ShowStatus`, never two within `STATUS_INTERVAL`) is the node's `summary()`, unless
//!   it was shown less than the interval ago.
//!
//! [`NodeDriver::finish`] then lets everything recover (every lond up, every socket writable,
//! time run to each deadline in turn): every client that did not hang up must have all its lines
//! answered, each client must close on EOF, and a TERM must exit at once.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lonc_core::control::{COMMAND_TIMEOUT, MAX_CONTROL_CLIENTS};
use lonc_core::daemon::{HostSpec, Signal};
use lonc_core::host::DelayedFile;
use lonc_core::hosts_tab;
use lonc_core::ids::{ClientId, HostKey, LinkId};
use lonc_core::link::RESET_WAIT;
use lonc_core::log::LogEvent;
use lonc_core::logfmt::message;
use lonc_core::node::{Node, NodeConfig, Output, STATUS_INTERVAL};
use lonc_core::request::{CLOSE_CONNECTION_EXIT, CON_LOST, ENCRYPT_PREFIX, perm_loggable};
use lonc_core::session::{Session, SessionConfig, SessionEvent};
use lonc_core::spool::DelayedName;

use crate::cluster::test_settings;
use crate::pair::APPENDIX_SEED;

/// The password in `encrypt:` requests: no log may show it.
pub const SECRET: &str = "hunter2";

/// The remote host ids a table may name (our own id is `msul2`).
pub const IDS: [&str; 4] = ["msul1", "msul3", "msul4", "msul5"];

/// The bytes of [`Payload::Binary`]: LF and bytes that are not text, never a line the lond or
/// the scheduler treats specially (`enc:`, `encrypt:`, `close_connection_exit`).
const BINARY: [u8; 12] = [
    0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, b'\r', b'\t', b' ', b':', b'\n', b'x',
];

/// How the lond of a host id behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LondMode {
    /// Accepts, handshakes, echoes every request at once.
    Up,
    /// Refuses connections (pending connects fail when it turns so).
    Refusing,
    /// Connections never complete (pending ones complete when it turns up or holding).
    Hanging,
    /// Accepts and handshakes, then holds every reply until [`Op::LondAnswer`] or it turns up.
    Holding,
}

/// What a client writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// One request line (`encrypt:` with the password when `enc`), padded by `pad` bytes.
    Line { enc: bool, pad: u8 },
    /// Several request lines in one write.
    Pipelined { count: u8, enc: bool },
    /// The first `cut` bytes (at least one) of a new request line; the rest waits for
    /// [`Payload::Rest`].
    Piece { enc: bool, cut: u8 },
    /// The rest of the line begun with [`Payload::Piece`], or a bare LF.
    Rest,
    /// `max_line + 1 + extra` bytes with no LF.
    OverLong { extra: u8 },
    /// Bytes picked from a binary alphabet (LF included) by these indexes.
    Binary(Vec<u8>),
    /// The line `close_connection_exit`.
    CloseConnectionExit,
}

/// A failure of a link's socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkFault {
    /// The lond closed the connection (a pending connect: refused).
    Eof,
    /// A read failed (a pending connect: timed out).
    ReadError,
    /// A write failed.
    WriteError,
}

/// The answer to a pending `ReloadConfig`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reload {
    /// A new `hosts.tab`: `(id index, address variant)` entries, see [`hosts_text`].
    Table(Vec<(u8, u8)>),
    /// Re-reading failed.
    Failed,
}

/// One thing a runtime or the world does. Indexes pick among the candidates modulo their number
/// (in id order); an op without a candidate does nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A client connects to the socket of the n-th host key ever listened (gone ones included).
    Connect(u8),
    /// The n-th open client writes.
    Write { client: u8, payload: Payload },
    /// The n-th open client closes its side (seen once its bytes are read).
    Eof(u8),
    /// The n-th open client's socket fails.
    ClientError(u8),
    /// The lond of `IDS[host]` changes its behaviour.
    Lond { host: u8, mode: LondMode },
    /// The n-th link fails.
    LinkFault { link: u8, fault: LinkFault },
    /// The sockets to the lond of `IDS[host]` stop taking bytes (its links' and those of links
    /// opened later, handshakes included), or take them again (all at once).
    Stall(u8),
    /// The n-th stalled link's socket takes `n` more bytes (at least one).
    WriteSome { link: u8, n: u8 },
    /// The n-th holding lond connection sends its held reply.
    LondAnswer(u8),
    /// The clock moves on; `handle_timeout` runs.
    Advance(Duration),
    /// The clock moves to `poll_timeout()`, as a sleeping runtime does; `handle_timeout` runs.
    AdvanceToDeadline,
    /// A signal (a HUP's `ReloadConfig` waits for [`Op::Reload`]).
    Signal(Signal),
    /// The runtime has re-read the configuration after `ReloadConfig` (nothing if none is
    /// pending).
    Reload(Reload),
    /// lonnet spools a delayed request for `IDS[host]`.
    Spool { host: u8, enc: bool },
    /// A file that is not a delayed request of a served host appears in the delayed directory,
    /// by `n % 3`: a bad name, a file for our own id, a hidden (temporary) file.
    SpoolOdd(u8),
    /// `lonnet.perm.log` cannot be written (true) or can again (false).
    PermLogFails(bool),
    /// An administrator runs `lonc spool delete` on the n-th name of the delayed directory
    /// (`n % 8 == 7`: on `../x` instead, which must be refused).
    SpoolDelete(u8),
    /// A call about a handle that is gone: a closed link or client (even `n`, if any) or one
    /// that never existed; kind by `n / 2 % 4`.
    Stale(u8),
    /// A client of the control socket connects and sends the command [`CONTROL_LINES`]`[n %
    /// 8]`; the last sends nothing and is left to its timeout.
    Control(u8),
}

/// The control commands an [`Op::Control`] sends (`%H` becomes a host id).
pub const CONTROL_LINES: [&str; 8] = [
    "status",
    "status --json",
    "status %H",
    "revive %H",
    "reload",
    "debug on",
    "shutdown now",
    "",
];

/// A control client as the driver sees it.
struct ControlClient {
    /// Everything it was answered.
    answer: String,
    closed: bool,
    accepted: Instant,
    /// It asked for a reload, not answered yet.
    reload: bool,
}

/// A `hosts.tab` with our own id and, per entry, `IDS[i % 4]` at `127.0.<v % 2>.<i % 4 + 10>`.
pub fn hosts_text(table: &[(u8, u8)]) -> String {
    let mut text = String::from("msul2:msu:library:me.example:127.0.0.1\n");
    for (i, v) in table {
        let i = usize::from(*i) % IDS.len();
        let id = IDS[i];
        text.push_str(&format!(
            "{id}:msu:access:{id}.example:127.0.{}.{}\n",
            v % 2,
            i + 10
        ));
    }
    text
}

/// What a run did, for tests that want to know the generator reaches its points.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Answers that were lond replies.
    pub replies: usize,
    /// Control commands answered `ok`, and answered `error:`.
    pub control_ok: usize,
    pub control_errors: usize,
    /// Answers that were replies while the client had further lines read (pipelining).
    pub pipelined: usize,
    /// `con_lost` answers, by the cause that allowed them.
    pub con_lost: BTreeMap<&'static str, usize>,
    /// Clients that hung up with a request out.
    pub hung_up: usize,
    /// Accepts refused (host gone or shutting down).
    pub refused_accepts: usize,
    /// Delayed files deleted after their reply.
    pub deleted: usize,
    /// Delivered files whose `S:` record could not be written, and those delivered again.
    pub record_failed: usize,
    pub redelivered: usize,
    /// Warnings about names in the delayed directory (bad, or for a host not served).
    pub spool_warnings: usize,
    /// Delayed files deleted by `spool delete`, and deletions refused because the file was
    /// being delivered.
    pub spool_deleted: usize,
    pub spool_delete_busy: usize,
    /// Links closed with a farewell `exit` (idle links closed by the node).
    pub farewells: usize,
    /// Partial writes to a stalled link.
    pub partial_writes: usize,
    /// Steps after which some host was dead.
    pub dead: usize,
    /// Reloads that changed the served hosts.
    pub reloads: usize,
    /// Exits once every client was answered.
    pub drained_exits: usize,
    /// Exits forced by the grace deadline or a second signal.
    pub forced_exits: usize,
    /// Second TERM/INT signals during a shutdown.
    pub second_signals: usize,
}

/// A request line read by the node and not yet answered.
#[derive(Clone, Debug)]
struct Line {
    text: Bytes,
    /// Why a `con_lost` to it is allowed, if a cause arose while it was out.
    excuse: Option<&'static str>,
    /// A lond received it: it is on a link, not in the queue.
    sent: bool,
    /// When it became the client's request out (submitted to its host): its deadline runs
    /// from then.
    since: Instant,
}

#[derive(Debug)]
struct Client {
    key: HostKey,
    /// Written by lonnet, not yet read by the runtime.
    unread: Vec<u8>,
    eof_pending: bool,
    /// The rest of a line begun with [`Payload::Piece`].
    rest: Vec<u8>,
    /// What the node must hold: the incomplete last line read...
    partial: Vec<u8>,
    /// ...and the complete lines not yet answered (the first is out).
    lines: VecDeque<Line>,
    /// A line over the bound arrived while no request was out: one `con_lost` is due.
    owe_con_lost: bool,
    /// EOF, an error or an over-long line: no more input.
    ended: bool,
    /// It hung up (or failed) with a request out: nothing more may be answered.
    gone: bool,
    closed: bool,
}

impl Client {
    fn waiting(&self) -> bool {
        !self.closed && !self.gone && (!self.lines.is_empty() || self.owe_con_lost)
    }

    /// What the node's framer holds besides the request out.
    fn buffered(&self) -> usize {
        let lines: usize = self.lines.iter().skip(1).map(|l| l.text.len() + 1).sum();
        lines + self.partial.len()
    }
}

#[derive(Debug)]
struct LinkSim {
    key: HostKey,
    id: String,
    /// The lond's side once connected.
    session: Option<Session>,
    /// The socket failed: the lond side is gone; waiting for the node's `CloseLink`.
    broken: bool,
    stalled: bool,
    /// Handed out by `Transmit`, not yet written.
    unwritten: BytesMut,
    /// Requests the lond holds the reply of (text, encrypted).
    held: VecDeque<(Bytes, bool)>,
}

/// A [`Node`] and everything around it. See the module documentation.
///
/// A `con_lost` to a request line is allowed only for a cause a daemon has, noted on the line
/// while it is out (checked before every call that may answer it) or holding when the answer
/// comes: the daemon is shutting down; its host is gone (removed or moved by a reload); its host
/// is dead; a link of its host closed without being asked to (a failed connect or handshake, a
/// timeout, a link failure: the node's `CloseLink` with no farewell comes before the answers it
/// causes); a `close_connection_exit` of a client of its host is out; or the host's queue may
/// be full (the requests of its waiting clients that no lond has received, and its delayed
/// files, exceed `max_queue_len` or `max_queue_bytes`). A lond that holds its replies, refuses or
/// hangs, or a stalled socket, is no cause by itself. So a `con_lost` to a request on an up lond
/// with no fault, no shutdown and room in the queue fails the run.
pub struct NodeDriver {
    node: Node,
    config: NodeConfig,
    start: Instant,
    now: Instant,
    modes: BTreeMap<String, LondMode>,
    /// Host ids whose sockets take no bytes but through [`Op::WriteSome`].
    slow: BTreeSet<String>,
    listening: BTreeMap<HostKey, HostSpec>,
    /// Every key ever listened, in order.
    ever: Vec<HostKey>,
    /// The host id of every key ever listened.
    id_of: BTreeMap<HostKey, String>,
    accepting: bool,
    clients: BTreeMap<ClientId, Client>,
    links: BTreeMap<LinkId, LinkSim>,
    closed_links: BTreeSet<LinkId>,
    /// Links that failed in this step: the node must close them before it ends.
    must_close_links: BTreeSet<LinkId>,
    /// Links whose lond ended the stream: the node may wait up to `RESET_WAIT` to probe one
    /// for a reset (a transaction's request out, no reply byte yet); it must have closed it
    /// by then.
    eof_links: BTreeMap<LinkId, Instant>,
    /// Replies the londs sent and no answer or deletion has consumed: host, text, encrypted.
    replies: Vec<(HostKey, Bytes, bool)>,
    /// The delayed directory: name → request.
    dir: BTreeMap<String, Bytes>,
    /// Names warned about (bad, or for a host not served) while they stay.
    spool_warned: BTreeSet<String>,
    /// While set, `Delivered` cannot be recorded: the runtime calls `record_failed`.
    perm_fails: bool,
    /// Delivered files whose record failed: never sent to a lond again, delivered again later.
    unrecorded: BTreeSet<String>,
    /// The delayed file whose request a lond received on each link, until its reply is
    /// delivered or the link closes.
    delayed_on_link: BTreeMap<LinkId, String>,
    /// Control clients of `spool delete` and what each was answered.
    spool_controls: BTreeMap<ClientId, String>,
    /// Delayed files deleted by `spool delete`: name → request; none may reach a lond again.
    deleted: BTreeMap<String, Bytes>,
    spooled: u64,
    seq: u64,
    reload_pending: bool,
    term_at: Option<Instant>,
    /// `RemoveFiles` was emitted: only log lines may come before `Exit`.
    files_removed: bool,
    /// `Ready` was emitted (once; every `Listen` succeeds here).
    ready: bool,
    drained: bool,
    /// A line not sent as `encrypt:` carried [`SECRET`]: logs may then show it.
    secret_in_clear: bool,
    /// A drain held `Exit`: the node is called no more.
    exiting: bool,
    exit: Option<i32>,
    /// The last `ShowStatus`: when, and the summary shown.
    status: Option<(Instant, String)>,
    controls: BTreeMap<ClientId, ControlClient>,
    steps: usize,
    tally: Tally,
}

fn text(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.len() > 60 {
        format!("{:?}…", &s[..s.floor_char_boundary(60)])
    } else {
        format!("{s:?}")
    }
}

/// The lond's echo of a request: the request, without `encrypt:` (it arrives decrypted).
fn echo(request: &[u8]) -> (&[u8], bool) {
    match request.strip_prefix(ENCRYPT_PREFIX) {
        Some(rest) => (rest, true),
        None => (request, false),
    }
}

fn nth<T: Copy>(items: &[T], n: u8) -> Option<T> {
    (!items.is_empty()).then(|| items[usize::from(n) % items.len()])
}

impl NodeDriver {
    /// A node serving the hosts of [`hosts_text`]`(table)`, started at a fixed instant.
    pub fn new(config: NodeConfig, table: &[(u8, u8)], seed: u64) -> Result<NodeDriver, String> {
        let now = Instant::now();
        let (entries, problems) = hosts_tab::parse(&hosts_text(table));
        let node = Node::new(
            config.clone(),
            test_settings(),
            &entries,
            &problems,
            now,
            seed,
        );
        let mut d = NodeDriver {
            node,
            config,
            start: now,
            now,
            modes: BTreeMap::new(),
            slow: BTreeSet::new(),
            listening: BTreeMap::new(),
            ever: Vec::new(),
            id_of: BTreeMap::new(),
            accepting: true,
            clients: BTreeMap::new(),
            links: BTreeMap::new(),
            closed_links: BTreeSet::new(),
            must_close_links: BTreeSet::new(),
            eof_links: BTreeMap::new(),
            replies: Vec::new(),
            dir: BTreeMap::new(),
            spool_warned: BTreeSet::new(),
            perm_fails: false,
            unrecorded: BTreeSet::new(),
            delayed_on_link: BTreeMap::new(),
            spool_controls: BTreeMap::new(),
            deleted: BTreeMap::new(),
            spooled: 0,
            seq: 0,
            reload_pending: false,
            term_at: None,
            files_removed: false,
            ready: false,
            drained: false,
            secret_in_clear: false,
            exiting: false,
            exit: None,
            status: None,
            controls: BTreeMap::new(),
            steps: 0,
            tally: Tally::default(),
        };
        d.settle()
            .and_then(|()| d.check_step())
            .map_err(|e| format!("at start: {e}"))?;
        let want: BTreeSet<&str> = entries
            .iter()
            .map(|e| e.id.as_str())
            .filter(|id| *id != "msul2")
            .collect();
        let got: BTreeSet<&str> = d.listening.values().map(HostSpec::id).collect();
        if got != want {
            return Err(format!(
                "at start: listening on {got:?}, hosts.tab has {want:?}"
            ));
        }
        Ok(d)
    }

    /// What the run did so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// True once the node has exited.
    pub fn has_exited(&self) -> bool {
        self.exit.is_some()
    }

    /// Applies one op and checks everything; the error says which step, what failed and the
    /// state before the step.
    pub fn step(&mut self, op: &Op) -> Result<(), String> {
        self.steps += 1;
        if self.exit.is_some() {
            return Ok(());
        }
        let before = self.summary();
        self.must_close_links.clear();
        self.apply(op)
            .and_then(|()| self.check_step())
            .map_err(|e| {
                format!(
                    "step {} ({op:?}): {e}\n  before the step: {before}",
                    self.steps
                )
            })
    }

    /// Lets everything recover and run out (see the module documentation); then every client
    /// must be answered, close on EOF, and a TERM must exit at once. With `signals` 1 or more, a
    /// TERM comes first, while requests may still be out, a client tries every socket, with 2 an
    /// INT follows, and the clock runs to three deadlines before the recovery: the shutdown must
    /// end by itself, drained, forced or at its grace deadline.
    pub fn finish(&mut self, signals: u8) -> Result<(), String> {
        if signals > 0 {
            self.step(&Op::Signal(Signal::Term))?;
            for n in 0..self.ever.len() as u8 {
                self.step(&Op::Connect(n))?;
            }
            if signals > 1 {
                self.step(&Op::Signal(Signal::Int))?;
            }
            for _ in 0..3 {
                self.step(&Op::AdvanceToDeadline)?;
            }
        }
        let mut ops: Vec<Op> = (0..IDS.len() as u8)
            .map(|host| Op::Lond {
                host,
                mode: LondMode::Up,
            })
            .collect();
        ops.push(Op::Reload(Reload::Failed));
        for op in &ops {
            self.step(op)?;
        }
        self.step_with("unstall every link", |d| {
            d.slow.clear();
            for link in d.links_where(|l| l.stalled) {
                d.unstall(link)?;
            }
            d.settle()
        })?;
        // The scan timer always runs: go on until no client waits (or the node exited).
        for _ in 0..500 {
            if self.exit.is_some()
                || self.node.poll_timeout().is_none()
                || !self.clients.values().any(Client::waiting)
            {
                break;
            }
            self.step(&Op::AdvanceToDeadline)?;
        }
        if self.exit.is_some() {
            return Ok(());
        }
        if let Some((id, c)) = self.clients.iter().find(|(_, c)| c.waiting()) {
            let head = c
                .lines
                .front()
                .map_or("a con_lost for a line over the bound".into(), |l| {
                    text(&l.text)
                });
            return Err(format!(
                "client {} never answered {head}, once every lond was up and every timer had \
                 run\n  {}",
                id.0,
                self.summary()
            ));
        }
        self.step_with("EOF from every open client", |d| {
            for c in d.clients.values_mut().filter(|c| !c.closed) {
                c.eof_pending = true;
            }
            d.settle()
        })?;
        if let Some((id, _)) = self.clients.iter().find(|(_, c)| !c.closed) {
            return Err(format!(
                "client {} not closed after its EOF, with nothing out",
                id.0
            ));
        }
        self.step(&Op::Signal(Signal::Term))?;
        if self.exit.is_none() {
            return Err("TERM with no client waiting did not exit at once".into());
        }
        Ok(())
    }

    fn step_with(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut NodeDriver) -> Result<(), String>,
    ) -> Result<(), String> {
        self.steps += 1;
        if self.exit.is_some() {
            return Ok(());
        }
        self.must_close_links.clear();
        f(self)
            .and_then(|()| self.check_step())
            .map_err(|e| format!("step {} ({what}): {e}", self.steps))
    }

    // ------------------------------------------------------------------ ops

    fn open_clients(&self) -> Vec<ClientId> {
        self.clients
            .iter()
            .filter(|(_, c)| !c.closed)
            .map(|(id, _)| *id)
            .collect()
    }

    fn links_where(&self, f: impl Fn(&LinkSim) -> bool) -> Vec<LinkId> {
        self.links
            .iter()
            .filter(|(_, l)| f(l))
            .map(|(id, _)| *id)
            .collect()
    }

    fn mode(&self, id: &str) -> LondMode {
        self.modes.get(id).copied().unwrap_or(LondMode::Up)
    }

    fn request(&mut self, client: ClientId, enc: bool, pad: u8) -> Vec<u8> {
        self.seq += 1;
        let pad = "x".repeat(usize::from(pad));
        let (c, n) = (client.0, self.seq);
        if enc {
            format!("encrypt:passwd:msu:c{c}r{n}:{SECRET}{pad}\n").into_bytes()
        } else {
            format!("get:msu:c{c}r{n}:{pad}\n").into_bytes()
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), String> {
        let now = self.now;
        match op {
            Op::Connect(n) => {
                let Some(key) = nth(&self.ever, *n) else {
                    return Ok(());
                };
                let open =
                    self.listening.contains_key(&key) && self.accepting && self.term_at.is_none();
                match (self.node.accept(now, key), open) {
                    (Some(id), true) => {
                        if self.clients.contains_key(&id) {
                            return Err(format!("accept reused client id {}", id.0));
                        }
                        self.clients.insert(
                            id,
                            Client {
                                key,
                                unread: Vec::new(),
                                eof_pending: false,
                                rest: Vec::new(),
                                partial: Vec::new(),
                                lines: VecDeque::new(),
                                owe_con_lost: false,
                                ended: false,
                                gone: false,
                                closed: false,
                            },
                        );
                    }
                    (None, false) => self.tally.refused_accepts += 1,
                    (Some(id), false) => {
                        let why = if self.listening.contains_key(&key) {
                            "after StopAccepting"
                        } else {
                            "for a host no longer served"
                        };
                        return Err(format!("accept gave client {} {why}", id.0));
                    }
                    (None, true) => {
                        return Err(format!(
                            "accept refused a client of the served host {}",
                            self.listening[&key].id()
                        ));
                    }
                }
                self.settle()
            }
            Op::Write { client, payload } => {
                let Some(id) = nth(&self.open_clients(), *client) else {
                    return Ok(());
                };
                let bytes = match payload {
                    Payload::Line { enc, pad } => self.request(id, *enc, *pad),
                    Payload::Pipelined { count, enc } => {
                        let mut all = Vec::new();
                        for i in 0..count % 4 + 2 {
                            let enc = *enc && i % 2 == 0;
                            all.extend(self.request(id, enc, i * 3));
                        }
                        all
                    }
                    Payload::Piece { enc, cut } => {
                        let mut line = self.request(id, *enc, 0);
                        let cut = 1 + usize::from(*cut) % (line.len() - 1);
                        let rest = line.split_off(cut);
                        self.clients.get_mut(&id).unwrap().rest = rest;
                        line
                    }
                    Payload::Rest => {
                        let c = self.clients.get_mut(&id).unwrap();
                        let mut rest = std::mem::take(&mut c.rest);
                        if rest.is_empty() {
                            rest.push(b'\n');
                        }
                        rest
                    }
                    Payload::OverLong { extra } => {
                        vec![b'x'; self.config.link.max_line + 1 + usize::from(*extra)]
                    }
                    Payload::Binary(picks) => picks
                        .iter()
                        .map(|p| BINARY[usize::from(*p) % BINARY.len()])
                        .collect(),
                    Payload::CloseConnectionExit => [CLOSE_CONNECTION_EXIT, b"\n"].concat(),
                };
                self.clients.get_mut(&id).unwrap().unread.extend(bytes);
                self.settle()
            }
            Op::Eof(n) => {
                let Some(id) = nth(&self.open_clients(), *n) else {
                    return Ok(());
                };
                self.clients.get_mut(&id).unwrap().eof_pending = true;
                self.settle()
            }
            Op::ClientError(n) => {
                let Some(id) = nth(&self.open_clients(), *n) else {
                    return Ok(());
                };
                let c = self.clients.get_mut(&id).unwrap();
                c.ended = true;
                if !c.lines.is_empty() {
                    c.gone = true;
                    self.tally.hung_up += 1;
                }
                c.lines.clear();
                c.partial.clear();
                self.node
                    .handle_client_error(now, id, ErrorKind::ConnectionReset);
                self.settle()
            }
            Op::Lond { host, mode } => {
                let id = IDS[usize::from(*host) % IDS.len()].to_owned();
                self.mark_excuses();
                self.modes.insert(id.clone(), *mode);
                let pending = self.links_where(|l| l.id == id && l.session.is_none() && !l.broken);
                for link in pending {
                    match mode {
                        LondMode::Up | LondMode::Holding => self.connected(link),
                        LondMode::Refusing => {
                            self.must_close_links.insert(link);
                            self.node.handle_connect_failed(
                                now,
                                link,
                                ErrorKind::ConnectionRefused,
                            );
                        }
                        LondMode::Hanging => {}
                    }
                }
                if *mode == LondMode::Up {
                    for link in self.links_where(|l| l.id == id && !l.held.is_empty()) {
                        while self.lond_answer(link) {}
                    }
                }
                self.settle()
            }
            Op::LinkFault { link, fault } => {
                let all: Vec<LinkId> = self.links_where(|l| !l.broken);
                let Some(link) = nth(&all, *link) else {
                    return Ok(());
                };
                let l = self.links.get_mut(&link).unwrap();
                l.broken = true;
                let connected = l.session.is_some();
                // A reset before a byte of the reply says the lond never read the request (the
                // in-memory lond did, but the node cannot know): the node may put it back in
                // the queue, where it takes a place again.
                if connected && *fault != LinkFault::Eof {
                    let key = l.key;
                    let unreplied: Vec<(Bytes, bool)> = l
                        .held
                        .iter()
                        .cloned()
                        .chain(
                            self.replies
                                .iter()
                                .filter(|(k, _, _)| *k == key)
                                .map(|(_, t, e)| (t.clone(), *e)),
                        )
                        .collect();
                    for head in self
                        .clients
                        .values_mut()
                        .filter(|c| c.key == key && !c.gone)
                        .filter_map(|c| c.lines.front_mut())
                        .filter(|h| h.sent)
                    {
                        if unreplied
                            .iter()
                            .any(|(t, e)| echo(&head.text) == (&t[..], *e))
                        {
                            head.sent = false;
                        }
                    }
                }
                self.must_close_links.insert(link);
                match (connected, fault) {
                    (false, LinkFault::Eof | LinkFault::WriteError) => self
                        .node
                        .handle_connect_failed(now, link, ErrorKind::ConnectionRefused),
                    (false, LinkFault::ReadError) => {
                        self.node
                            .handle_connect_failed(now, link, ErrorKind::TimedOut)
                    }
                    (true, LinkFault::Eof) => {
                        self.must_close_links.remove(&link);
                        self.eof_links.insert(link, now + RESET_WAIT);
                        self.node.handle_link_eof(now, link);
                    }
                    (true, LinkFault::ReadError) => {
                        self.node
                            .handle_read_error(now, link, ErrorKind::ConnectionReset)
                    }
                    (true, LinkFault::WriteError) => {
                        self.node
                            .handle_write_error(now, link, ErrorKind::BrokenPipe)
                    }
                }
                self.settle()
            }
            Op::Stall(host) => {
                let id = IDS[usize::from(*host) % IDS.len()].to_owned();
                if self.slow.remove(&id) {
                    for link in self.links_where(|l| l.id == id) {
                        self.unstall(link)?;
                    }
                } else {
                    self.slow.insert(id.clone());
                    for l in self.links.values_mut().filter(|l| l.id == id) {
                        l.stalled = true;
                    }
                }
                self.settle()
            }
            Op::WriteSome { link, n } => {
                let stalled = self.links_where(|l| l.stalled && !l.unwritten.is_empty());
                let Some(link) = nth(&stalled, *link) else {
                    return Ok(());
                };
                self.mark_excuses();
                self.write(link, usize::from(*n).max(1));
                self.tally.partial_writes += 1;
                self.settle()
            }
            Op::LondAnswer(n) => {
                let holding = self.links_where(|l| !l.held.is_empty() && !l.broken);
                let Some(link) = nth(&holding, *n) else {
                    return Ok(());
                };
                self.lond_answer(link);
                self.settle()
            }
            Op::Advance(by) => {
                self.now += *by;
                self.timeout()
            }
            Op::AdvanceToDeadline => {
                if let Some(t) = self.node.poll_timeout() {
                    self.now = self.now.max(t);
                }
                self.timeout()
            }
            Op::Signal(signal) => {
                if matches!(signal, Signal::Term | Signal::Int) && self.term_at.is_none() {
                    self.term_at = Some(now);
                }
                self.mark_excuses();
                self.node.handle_signal(now, *signal);
                self.settle()
            }
            Op::Reload(choice) => {
                if !self.reload_pending {
                    return Ok(());
                }
                self.reload_pending = false;
                self.mark_excuses();
                match choice {
                    Reload::Failed => {
                        self.node.reload_failed(now, "hosts.tab: unreadable");
                        self.settle()
                    }
                    Reload::Table(table) => self.reload(table),
                }
            }
            Op::Spool { host, enc } => {
                let id = IDS[usize::from(*host) % IDS.len()];
                self.spooled += 1;
                let n = self.spooled;
                let name = format!("{}.1.77.put.{id}", 1_100_000_000 + n);
                let request = if *enc {
                    format!("encrypt:passwd:msu:d{n}:{SECRET}")
                } else {
                    format!("put:msu:d{n}")
                };
                self.dir.insert(name, Bytes::from(request));
                Ok(())
            }
            Op::SpoolOdd(n) => {
                self.spooled += 1;
                let k = self.spooled;
                let name = match n % 3 {
                    0 => format!("junk{k}"),
                    1 => format!("{}.1.77.put.msul2", 1_100_000_000 + k),
                    _ => format!(".{}.1.77.put.msul1.tmp", 1_100_000_000 + k),
                };
                self.dir
                    .insert(name, Bytes::from(format!("put:msu:odd{k}")));
                Ok(())
            }
            Op::PermLogFails(fails) => {
                self.perm_fails = *fails;
                Ok(())
            }
            Op::SpoolDelete(n) => {
                let name = if n % 8 == 7 {
                    "../x".to_owned()
                } else {
                    let names: Vec<&String> = self.dir.keys().collect();
                    if names.is_empty() {
                        return Ok(());
                    }
                    names[usize::from(*n) % names.len()].clone()
                };
                let Some(id) = self.node.accept_control_from(self.now, Some(0)) else {
                    return Ok(());
                };
                self.spool_controls.insert(id, String::new());
                let line = format!("spool delete {name}\n");
                self.node.handle_client_input(self.now, id, line.as_bytes());
                self.settle()
            }
            Op::Stale(n) => self.stale(*n),
            Op::Control(n) => self.control(*n),
        }
    }

    fn control(&mut self, n: u8) -> Result<(), String> {
        let now = self.now;
        self.mark_excuses();
        let Some(id) = self.node.accept_control(now) else {
            let open =
                self.controls.values().filter(|c| !c.closed).count() + self.spool_controls.len();
            if open < MAX_CONTROL_CLIENTS {
                return Err(format!("a control client refused with {open} open"));
            }
            return Ok(());
        };
        if self.clients.contains_key(&id)
            || self.controls.contains_key(&id)
            || self.spool_controls.contains_key(&id)
        {
            return Err(format!("control client id {} already in use", id.0));
        }
        let line = CONTROL_LINES[usize::from(n) % CONTROL_LINES.len()];
        let host = self
            .listening
            .values()
            .nth(usize::from(n / 8))
            .map_or("nosuch", HostSpec::id);
        let line = line.replace("%H", host);
        self.controls.insert(
            id,
            ControlClient {
                answer: String::new(),
                closed: false,
                accepted: now,
                reload: line == "reload",
            },
        );
        if !line.is_empty() {
            self.node
                .handle_client_input(now, id, format!("{line}\n").as_bytes());
        }
        self.settle()
    }

    /// An answer to a control client: before it is closed, and, once closed, ending in `ok`
    /// or a lone `error:` line.
    fn control_output(&mut self, out: &Output) -> Result<bool, String> {
        match out {
            Output::Answer { client, bytes } => {
                let Some(c) = self.controls.get_mut(client) else {
                    return Ok(false);
                };
                if c.closed {
                    return Err(format!(
                        "Answer to control client {} after its close",
                        client.0
                    ));
                }
                c.answer.push_str(&String::from_utf8_lossy(bytes));
                Ok(true)
            }
            Output::CloseClient { client } => {
                let Some(c) = self.controls.get_mut(client) else {
                    return Ok(false);
                };
                if c.closed {
                    return Err(format!("CloseClient {} twice (control)", client.0));
                }
                c.closed = true;
                c.reload = false;
                let a = &c.answer;
                let error = a.starts_with("error: ") && a.ends_with('\n') && a.lines().count() == 1;
                if !error && !a.ends_with("\nok\n") && a != "ok\n" {
                    return Err(format!("control client {} answered {a:?}", client.0));
                }
                if error {
                    self.tally.control_errors += 1;
                } else {
                    self.tally.control_ok += 1;
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn reload(&mut self, table: &[(u8, u8)]) -> Result<(), String> {
        let old: BTreeMap<String, (HostKey, SocketAddr)> = self
            .listening
            .iter()
            .map(|(k, s)| (s.id().to_owned(), (*k, s.addr)))
            .collect();
        let (entries, problems) = hosts_tab::parse(&hosts_text(table));
        let table: BTreeMap<String, SocketAddr> = entries
            .iter()
            .filter(|e| e.id != "msul2")
            .map(|e| (e.id.clone(), SocketAddr::new(e.ip, 5663)))
            .collect();
        let _ = self
            .node
            .reload(self.now, test_settings(), &entries, &problems);
        // A host whose address changed keeps its socket (its key): its new links go to the
        // new address, which `Connect` is checked against from now on.
        let applies = self.term_at.is_none() && !table.is_empty();
        if applies {
            for spec in self.listening.values_mut() {
                if let Some(e) = entries.iter().find(|e| e.id == spec.id())
                    && SocketAddr::new(e.ip, 5663) != spec.addr
                {
                    *spec = HostSpec::new(e.clone(), &test_settings());
                }
            }
        }
        self.settle()?;
        let new: BTreeMap<String, (HostKey, SocketAddr)> = self
            .listening
            .iter()
            .map(|(k, s)| (s.id().to_owned(), (*k, s.addr)))
            .collect();
        let kept = self.term_at.is_some() || (table.is_empty() && !old.is_empty());
        let want: BTreeMap<String, SocketAddr> = if kept {
            old.iter().map(|(id, (_, a))| (id.clone(), *a)).collect()
        } else {
            table
        };
        let got: BTreeMap<String, SocketAddr> =
            new.iter().map(|(id, (_, a))| (id.clone(), *a)).collect();
        if got != want {
            return Err(format!(
                "after the reload the node serves {got:?}, the table says {want:?}{}",
                if kept { " (refused or ignored)" } else { "" }
            ));
        }
        for (id, (key, _)) in &new {
            if let Some((old_key, _)) = old.get(id)
                && old_key != key
            {
                return Err(format!(
                    "{id} changed its key (its socket) across a reload that kept it"
                ));
            }
        }
        if old != new {
            self.tally.reloads += 1;
        }
        Ok(())
    }

    fn stale(&mut self, n: u8) -> Result<(), String> {
        let now = self.now;
        let closed_links: Vec<LinkId> = self.closed_links.iter().copied().collect();
        let closed_clients: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| c.closed)
            .map(|(id, _)| *id)
            .collect();
        let link = match nth(&closed_links, n) {
            Some(l) if n.is_multiple_of(2) => l,
            _ => LinkId::new(HostKey(u32::MAX), 7),
        };
        let client = match nth(&closed_clients, n) {
            Some(c) if n.is_multiple_of(2) => c,
            _ => ClientId(u64::MAX),
        };
        let what = match n / 2 % 4 {
            0 => {
                self.node.handle_link_input(now, link, b"ok\n");
                self.node.handle_written(now, link, 3);
                "link input and a write"
            }
            1 => {
                self.node.handle_connected(now, link);
                self.node.handle_link_eof(now, link);
                "a connect and EOF on a link"
            }
            2 => {
                self.node.handle_client_input(now, client, b"ping\n");
                self.node.handle_client_eof(now, client);
                "client input and EOF"
            }
            _ => {
                self.node
                    .handle_client_error(now, client, ErrorKind::BrokenPipe);
                self.node
                    .delayed_read(now, HostKey(u32::MAX), Vec::new(), Vec::new());
                "a client error and a read for an unknown host"
            }
        };
        if let Some(out) = self.node.poll_output() {
            return Err(format!(
                "{what} about a gone handle (link {}, client {}) produced {out:?}",
                link.0, client.0
            ));
        }
        Ok(())
    }

    fn timeout(&mut self) -> Result<(), String> {
        self.mark_excuses();
        self.node.handle_timeout(self.now);
        self.settle()?;
        if self.exit.is_none()
            && let Some(t) = self.node.poll_timeout()
            && t <= self.now
        {
            return Err(format!(
                "poll_timeout() is {:?} before now after handle_timeout(now): a busy loop",
                self.now - t
            ));
        }
        Ok(())
    }

    /// The lond accepted the link's connection.
    fn connected(&mut self, link: LinkId) {
        let l = self.links.get_mut(&link).unwrap();
        l.session = Some(Session::new(
            self.now,
            SessionConfig::default(),
            &l.id,
            "msul2",
            APPENDIX_SEED,
        ));
        self.node.handle_connected(self.now, link);
    }

    fn unstall(&mut self, link: LinkId) -> Result<(), String> {
        self.mark_excuses();
        let l = self.links.get_mut(&link).unwrap();
        l.stalled = false;
        let n = l.unwritten.len();
        if n > 0 {
            self.write(link, n);
        }
        Ok(())
    }

    /// The link's socket takes `n` of the bytes handed out (fewer if fewer wait).
    fn write(&mut self, link: LinkId, n: usize) {
        let l = self.links.get_mut(&link).unwrap();
        let n = n.min(l.unwritten.len());
        let bytes = l.unwritten.split_to(n);
        if let Some(s) = l.session.as_mut().filter(|_| !l.broken) {
            s.handle_input(self.now, &bytes);
        }
        self.node.handle_written(self.now, link, n);
    }

    /// The lond sends the reply it holds on `link`; false if it holds none.
    fn lond_answer(&mut self, link: LinkId) -> bool {
        let l = self.links.get_mut(&link).unwrap();
        let (Some((line, enc)), Some(s)) = (l.held.pop_front(), l.session.as_mut()) else {
            return false;
        };
        s.reply(&line);
        self.replies.push((l.key, line, enc));
        true
    }

    // ------------------------------------------------------------------ the drive loop

    /// Drains the node's outputs and carries them out, lets the londs answer and the runtime
    /// read clients, until nothing moves. As a runtime does, it drains every output before
    /// acting on any, and once a drain holds `Exit` it carries out what comes before and calls
    /// the node no more. Clients are read one call at a time, each after the node is drained, so
    /// that the client model is in step with the node when it reads.
    fn settle(&mut self) -> Result<(), String> {
        for _ in 0..1_000_000 {
            let batch: Vec<Output> = std::iter::from_fn(|| self.node.poll_output()).collect();
            if !batch.is_empty() {
                if let Some(i) = batch.iter().position(|o| matches!(o, Output::Exit(_))) {
                    self.exiting = true;
                    self.check_after_exit(&batch[i + 1..])?;
                }
                for out in batch {
                    let exit = matches!(out, Output::Exit(_));
                    self.act(out)?;
                    if exit {
                        break;
                    }
                }
                continue;
            }
            if self.exiting {
                return Ok(());
            }
            if self.pump_londs()? || self.read_one_client()? {
                continue;
            }
            return Ok(());
        }
        Err("the node never stops producing work".into())
    }

    fn check_after_exit(&self, after: &[Output]) -> Result<(), String> {
        match after.first() {
            Some(out) => Err(format!("{out:?} after Exit")),
            None => Ok(()),
        }
    }

    /// Lets every lond take what it received; hands the first lond's bytes to the node.
    fn pump_londs(&mut self) -> Result<bool, String> {
        let mut moved = false;
        for link in self.links_where(|l| l.session.is_some() && !l.broken) {
            let holding = self.mode(&self.links[&link].id) == LondMode::Holding;
            let l = self.links.get_mut(&link).unwrap();
            let s = l.session.as_mut().unwrap();
            while let Some(event) = s.poll_event() {
                match event {
                    SessionEvent::Ready => {}
                    SessionEvent::Request { line, encrypted } => {
                        moved = true;
                        let key = l.key;
                        let request = if encrypted {
                            Bytes::from([ENCRYPT_PREFIX, &line[..]].concat())
                        } else {
                            line.clone()
                        };
                        let suffix = format!(".{}", l.id);
                        if let Some((name, _)) = self
                            .dir
                            .iter()
                            .find(|(n, r)| n.ends_with(&suffix) && **r == request)
                        {
                            if self.unrecorded.contains(name) {
                                return Err(format!(
                                    "the delayed request of {name:?} was sent to a lond again \
                                     after its delivery (its record failed)"
                                ));
                            }
                            self.delayed_on_link.insert(link, name.clone());
                        } else if let Some((name, _)) = self
                            .deleted
                            .iter()
                            .find(|(n, r)| n.ends_with(&suffix) && **r == request)
                        {
                            return Err(format!(
                                "the delayed request of {name:?} was sent to a lond after \
                                 `spool delete` deleted its file"
                            ));
                        }
                        if let Some(head) = self
                            .clients
                            .values_mut()
                            .filter(|c| c.key == key && !c.gone)
                            .filter_map(|c| c.lines.front_mut())
                            .find(|h| echo(&h.text) == (&line[..], encrypted))
                        {
                            head.sent = true;
                        }
                        if holding {
                            l.held.push_back((line, encrypted));
                        } else {
                            s.reply(&line);
                            self.replies.push((l.key, line, encrypted));
                        }
                    }
                    SessionEvent::Closed(reason) => {
                        return Err(format!(
                            "the lond closed link {} of {}: {reason} (the node broke the lond \
                             protocol)",
                            link.0, l.id
                        ));
                    }
                }
            }
            let mut bytes = BytesMut::new();
            let n = s.poll_transmit(&mut bytes);
            if n > 0 {
                s.handle_written(self.now, n)
                    .map_err(|e| format!("lond write: {e:?}"))?;
                self.node.handle_link_input(self.now, link, &bytes);
                // Drained before the node is called again, as a runtime does.
                return Ok(true);
            }
        }
        Ok(moved)
    }

    fn read_one_client(&mut self) -> Result<bool, String> {
        let Some(id) = self
            .clients
            .iter()
            .filter(|(_, c)| !c.closed && !c.ended && (!c.unread.is_empty() || c.eof_pending))
            .map(|(id, _)| *id)
            .find(|id| self.node.client_wants_input(*id))
        else {
            return Ok(false);
        };
        let max = self.config.link.max_line;
        let c = self.clients.get_mut(&id).unwrap();
        if c.unread.is_empty() {
            c.ended = true;
            c.partial.clear();
            if !c.lines.is_empty() {
                c.gone = true;
                c.lines.clear();
                self.tally.hung_up += 1;
            }
            self.mark_excuses();
            self.node.handle_client_eof(self.now, id);
            return Ok(true);
        }
        let data = std::mem::take(&mut c.unread);
        if over_long(c.partial.len(), &data, max) {
            c.ended = true;
            c.partial.clear();
            if c.lines.is_empty() {
                c.owe_con_lost = true;
            } else {
                c.gone = true;
                c.lines.clear();
                self.tally.hung_up += 1;
            }
        } else {
            for &b in &data {
                if b == b'\n' {
                    let text = Bytes::from(std::mem::take(&mut c.partial));
                    if !text.starts_with(ENCRYPT_PREFIX)
                        && text.windows(SECRET.len()).any(|w| w == SECRET.as_bytes())
                    {
                        self.secret_in_clear = true;
                    }
                    c.lines.push_back(Line {
                        text,
                        excuse: None,
                        sent: false,
                        since: self.now,
                    });
                } else {
                    c.partial.push(b);
                }
            }
        }
        self.mark_excuses();
        self.node.handle_client_input(self.now, id, &data);
        Ok(true)
    }

    fn act(&mut self, out: Output) -> Result<(), String> {
        if self.files_removed && !matches!(out, Output::Log { .. } | Output::Exit(_)) {
            return Err(format!("{out:?} between RemoveFiles and Exit"));
        }
        let now = self.now;
        if self.control_output(&out)? {
            return Ok(());
        }
        match out {
            Output::ShowStatus(summary) => {
                if let Some((at, _)) = &self.status
                    && now < *at + STATUS_INTERVAL
                {
                    return Err(format!(
                        "ShowStatus {summary:?} {:?} after the last",
                        now - *at
                    ));
                }
                self.status = Some((now, summary));
            }
            Output::ProbeReset { link } => {
                match self.eof_links.get(&link) {
                    Some(&due) if due <= now => {}
                    Some(due) => {
                        return Err(format!(
                            "ProbeReset of link {} {:?} before its wait is over",
                            link.0,
                            *due - now
                        ));
                    }
                    None => {
                        return Err(format!("ProbeReset of link {}, no end of stream", link.0));
                    }
                }
                // No reset came: the end of stream again, and the link must close at once.
                self.must_close_links.insert(link);
                self.node.handle_link_eof(now, link);
            }
            Output::Listen { host, spec } => {
                if self.term_at.is_some() {
                    return Err(format!("Listen on {} after the shutdown began", spec.id()));
                }
                if self.ever.contains(&host) {
                    return Err(format!("Listen with key {} used before", host.0));
                }
                if self.listening.values().any(|s| s.id() == spec.id()) {
                    return Err(format!("a second Listen for {}", spec.id()));
                }
                self.ever.push(host);
                self.id_of.insert(host, spec.id().to_owned());
                self.listening.insert(host, spec);
                self.node.listened(now, host, true);
            }
            Output::ListenControl { path } => {
                if path != test_settings().control_socket() {
                    return Err(format!("ListenControl on {path:?}"));
                }
                self.node.control_listened(now, true);
            }
            // The model's nodes serve no metrics over HTTP, and have no client to abort.
            Output::ListenMetrics { addr } => return Err(format!("ListenMetrics on {addr}")),
            Output::AbortClient { client } => {
                return Err(format!("AbortClient {}, not a metrics client", client.0));
            }
            Output::Ready => {
                if self.ready {
                    return Err("Ready twice".into());
                }
                self.ready = true;
            }
            Output::Unlisten { host, spec } => {
                if self.term_at.is_some() {
                    return Err(format!("Unlisten {} after the shutdown began", spec.id()));
                }
                match self.listening.remove(&host) {
                    Some(s) if s == spec => {}
                    Some(s) => {
                        return Err(format!(
                            "Unlisten of key {} with {spec:?}, not {s:?}",
                            host.0
                        ));
                    }
                    None => return Err(format!("Unlisten of key {}, not listening", host.0)),
                }
            }
            Output::StopAccepting => {
                if self.term_at.is_none() || !self.accepting {
                    return Err("StopAccepting without a TERM, or twice".into());
                }
                self.accepting = false;
            }
            Output::Connect { link, addr } => {
                if self.links.contains_key(&link) || self.closed_links.contains(&link) {
                    return Err(format!("Connect with link id {} used before", link.0));
                }
                let key = link.host();
                let Some(spec) = self.listening.get(&key) else {
                    return Err(format!("Connect {} for a host not served", link.0));
                };
                if addr != spec.addr {
                    return Err(format!(
                        "Connect {} to {addr}, {} is at {}",
                        link.0,
                        spec.id(),
                        spec.addr
                    ));
                }
                let open = self.links.values().filter(|l| l.key == key).count();
                let max = self.config.host.max_links.max(1);
                if open + 1 > max {
                    return Err(format!(
                        "Connect {}: {} links to {} with max_links {max}",
                        link.0,
                        open + 1,
                        spec.id()
                    ));
                }
                let id = spec.id().to_owned();
                self.links.insert(
                    link,
                    LinkSim {
                        key,
                        id: id.clone(),
                        session: None,
                        broken: false,
                        stalled: self.slow.contains(&id),
                        unwritten: BytesMut::new(),
                        held: VecDeque::new(),
                    },
                );
                match self.mode(&id) {
                    _ if self.exiting => {}
                    LondMode::Up | LondMode::Holding => self.connected(link),
                    LondMode::Refusing => {
                        self.must_close_links.insert(link);
                        self.node
                            .handle_connect_failed(now, link, ErrorKind::ConnectionRefused);
                    }
                    LondMode::Hanging => {}
                }
            }
            Output::Transmit {
                link,
                bytes,
                begins: _,
            } => {
                let Some(l) = self.links.get_mut(&link) else {
                    return Err(format!(
                        "Transmit on link {}, {}",
                        link.0,
                        if self.closed_links.contains(&link) {
                            "already closed"
                        } else {
                            "never opened"
                        }
                    ));
                };
                if l.session.is_none() {
                    return Err(format!("Transmit on link {}, not connected", link.0));
                }
                self.check_sent(&bytes)?;
                if self.term_at.is_some()
                    && let Some(at) = bytes.windows(9).position(|w| w == b"put:msu:d")
                {
                    return Err(format!(
                        "a delayed request {} started after the shutdown began",
                        text(&bytes[at..])
                    ));
                }
                let l = self.links.get_mut(&link).unwrap();
                l.unwritten.extend_from_slice(&bytes);
                if !l.stalled && !self.exiting {
                    let n = l.unwritten.len();
                    self.write(link, n);
                }
            }
            Output::CloseLink { link, farewell } => {
                let Some(l) = self.links.remove(&link) else {
                    return Err(format!(
                        "CloseLink {}, {}",
                        link.0,
                        if self.closed_links.contains(&link) {
                            "closed twice"
                        } else {
                            "never opened"
                        }
                    ));
                };
                match &farewell[..] {
                    b"" => self.mark_key(l.key, "link failed"),
                    b"exit\n" => self.tally.farewells += 1,
                    other => {
                        return Err(format!(
                            "CloseLink {} with farewell {}",
                            link.0,
                            text(other)
                        ));
                    }
                }
                self.closed_links.insert(link);
                self.must_close_links.remove(&link);
                self.eof_links.remove(&link);
                self.delayed_on_link.remove(&link);
            }
            Output::Answer { client, bytes } if self.spool_controls.contains_key(&client) => {
                let answer = self.spool_controls.entry(client).or_default();
                answer.push_str(&String::from_utf8_lossy(&bytes));
                if !(answer.ends_with("ok\n") || answer.contains("error: ")) {
                    return Err(format!("control answer {answer:?} without its last line"));
                }
                if answer.lines().any(|l| l.starts_with("deleted ../x")) {
                    return Err(format!("../x deleted: {answer:?}"));
                }
                if answer.contains("being delivered now") {
                    self.tally.spool_delete_busy += 1;
                }
            }
            Output::CloseClient { client } if self.spool_controls.contains_key(&client) => {
                self.spool_controls.remove(&client);
            }
            Output::RemoveDelayed { client, names, uid } => {
                self.remove_delayed(client, names, uid)?
            }
            Output::Answer { client, bytes } => self.answer(client, &bytes)?,
            Output::CloseClient { client } => {
                let Some(c) = self.clients.get_mut(&client) else {
                    return Err(format!("CloseClient {}, never accepted", client.0));
                };
                if c.closed {
                    return Err(format!("CloseClient {} twice", client.0));
                }
                if !c.ended {
                    return Err(format!(
                        "CloseClient {} whose input has not ended ({} line(s) out)",
                        client.0,
                        c.lines.len()
                    ));
                }
                if c.waiting() {
                    return Err(format!(
                        "CloseClient {} before its answer (it did not hang up)",
                        client.0
                    ));
                }
                c.closed = true;
            }
            Output::ScanDelayed => {
                if self.term_at.is_some() {
                    return Err("ScanDelayed after the shutdown began".into());
                }
                // Names warned about are warned again only once they went and came back, or
                // their host stopped being served and is unknown again.
                let served: BTreeSet<&str> = self.listening.values().map(HostSpec::id).collect();
                let dir = &self.dir;
                self.spool_warned.retain(|name| {
                    dir.contains_key(name)
                        && DelayedName::parse(name)
                            .map_or(true, |n| !served.contains(n.host.as_str()))
                });
                let names: Vec<String> = self.dir.keys().cloned().collect();
                if !self.exiting {
                    self.node.delayed_listed(now, names);
                }
            }
            Output::ReadDelayed { host, names } => {
                if self.term_at.is_some() {
                    return Err(format!("ReadDelayed {names:?} after the shutdown began"));
                }
                let Some(spec) = self.listening.get(&host) else {
                    return Err(format!(
                        "ReadDelayed {names:?} for key {}: not served",
                        host.0
                    ));
                };
                let id = spec.id().to_owned();
                let max = self.config.host.max_links.max(1);
                if names.is_empty() || names.len() > max {
                    return Err(format!(
                        "ReadDelayed of {} names for {id}, with max_links {max}",
                        names.len()
                    ));
                }
                let mut files = Vec::new();
                let mut unreadable = Vec::new();
                for name in names {
                    if DelayedName::parse(&name).map_or(true, |n| n.host != id) {
                        return Err(format!("ReadDelayed {name:?} for {id}: not its file"));
                    }
                    if self.unrecorded.contains(&name) {
                        return Err(format!(
                            "ReadDelayed {name:?}, delivered already (its record failed)"
                        ));
                    }
                    match self.dir.get(&name) {
                        Some(request) => files.push(DelayedFile {
                            name,
                            request: request.clone(),
                        }),
                        None => unreadable.push((name, "No such file or directory".into())),
                    }
                }
                if !self.exiting {
                    self.node.delayed_read(now, host, files, unreadable);
                }
            }
            Output::Delivered { name, record } => self.delivered(name, record)?,
            Output::Log { host, event, .. } => {
                let line = message(&event, &host);
                if !self.secret_in_clear && line.contains(SECRET) {
                    return Err(format!("a log shows a password: {line:?}"));
                }
                match &event {
                    LogEvent::AllAnswered => self.drained = true,
                    LogEvent::SignalDuringShutdown { .. } => self.tally.second_signals += 1,
                    LogEvent::BadDelayedName { name, .. }
                    | LogEvent::DelayedForUnknownHost { name, .. } => {
                        self.spool_warning(&event, name)?;
                    }
                    _ => {}
                }
            }
            Output::WriteStatus(hosts) => {
                let got: Vec<&str> = hosts.iter().map(|h| h.host.as_str()).collect();
                let mut want: Vec<&str> = self.listening.values().map(HostSpec::id).collect();
                want.sort();
                if got != want {
                    return Err(format!(
                        "WriteStatus lists {got:?}, the node serves {want:?}"
                    ));
                }
            }
            Output::ReloadConfig => {
                if self.term_at.is_some() || self.reload_pending {
                    return Err("ReloadConfig while shutting down or already reloading".into());
                }
                self.reload_pending = true;
            }
            Output::RemoveFiles(files) => {
                if self.term_at.is_none() {
                    return Err("RemoveFiles without a TERM".into());
                }
                let mut specs: Vec<&HostSpec> = self.listening.values().collect();
                specs.sort_by(|a, b| a.id().cmp(b.id()));
                let mut want: Vec<PathBuf> = specs.iter().map(|s| s.socket_path.clone()).collect();
                want.push(test_settings().pid_file());
                want.push(test_settings().control_socket());
                if files != want {
                    return Err(format!("RemoveFiles {files:?}, expected {want:?}"));
                }
                self.files_removed = true;
            }
            Output::Exit(code) => {
                if code != 0 || !self.files_removed {
                    return Err(format!("Exit({code}) without RemoveFiles right before it"));
                }
                if let Some((id, c)) = self.clients.iter().find(|(_, c)| c.waiting()) {
                    return Err(format!(
                        "Exit while client {} still waits for {}",
                        id.0,
                        c.lines
                            .front()
                            .map_or("a con_lost".into(), |l| text(&l.text))
                    ));
                }
                if self.drained
                    && let Some((link, name)) = self.delayed_on_link.iter().next()
                {
                    return Err(format!(
                        "a drained Exit while the delayed request of {name:?} is on link {}: a \
                         delivery cut off half-way",
                        link.0
                    ));
                }
                if self.drained {
                    self.tally.drained_exits += 1;
                } else {
                    self.tally.forced_exits += 1;
                }
                self.exit = Some(code);
            }
        }
        Ok(())
    }

    /// A client's plain request (`get:msu:c<id>r…`) goes to a lond only while it is that
    /// client's request out: never one of a client that hung up or was answered.
    fn check_sent(&self, bytes: &[u8]) -> Result<(), String> {
        for line in bytes.split(|b| *b == b'\n') {
            let Some(rest) = line.strip_prefix(b"get:msu:c") else {
                continue;
            };
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            let Some(id) = std::str::from_utf8(&rest[..digits])
                .ok()
                .and_then(|d| d.parse().ok())
                .map(ClientId)
            else {
                continue;
            };
            let state = match self.clients.get(&id) {
                None => "never accepted",
                Some(c) if c.gone => "which hung up",
                Some(c) if c.closed => "which is closed",
                Some(c) if c.lines.front().is_none_or(|h| h.text[..] != *line) => {
                    "whose request out is another"
                }
                Some(_) => continue,
            };
            return Err(format!(
                "{} of client {}, {state}, was sent to a lond",
                text(line),
                id.0
            ));
        }
        Ok(())
    }

    fn answer(&mut self, client: ClientId, bytes: &[u8]) -> Result<(), String> {
        let Some(c) = self.clients.get(&client) else {
            return Err(format!("Answer to client {}, never accepted", client.0));
        };
        let key = c.key;
        if c.closed || c.gone {
            return Err(format!(
                "Answer {} to client {}, {}",
                text(bytes),
                client.0,
                if c.closed {
                    "already closed"
                } else {
                    "which hung up"
                }
            ));
        }
        let line = match bytes.strip_suffix(b"\n") {
            Some(l) if !l.contains(&b'\n') => l,
            _ => return Err(format!("Answer {} is not one line and its LF", text(bytes))),
        };
        let fault = self.fault(key);
        let c = self.clients.get_mut(&client).unwrap();
        if c.owe_con_lost {
            c.owe_con_lost = false;
            if line != CON_LOST {
                return Err(format!(
                    "client {} sent a line over the bound and got {}, not con_lost",
                    client.0,
                    text(line)
                ));
            }
            *self.tally.con_lost.entry("over-long line").or_default() += 1;
            return Ok(());
        }
        let pipelined = c.lines.len() > 1;
        let Some(head) = c.lines.pop_front() else {
            return Err(format!(
                "Answer {} to client {}, which has no request out",
                text(line),
                client.0
            ));
        };
        // The next line, read already, is submitted now: its deadline runs from now.
        if let Some(next) = c.lines.front_mut() {
            next.since = self.now;
        }
        if head.text == CLOSE_CONNECTION_EXIT {
            if line != CON_LOST {
                return Err(format!("close_connection_exit answered {}", text(line)));
            }
            *self
                .tally
                .con_lost
                .entry("close_connection_exit")
                .or_default() += 1;
            return Ok(());
        }
        if line == CON_LOST {
            let late = self
                .now
                .checked_sub(self.config.host.request_timeout)
                .is_some_and(|t| t >= head.since);
            let Some(why) = late.then_some("deadline").or(head.excuse).or(fault) else {
                return Err(format!(
                    "con_lost to {} of client {}: its lond is up, with no fault, no shutdown and \
                     room in the queue",
                    text(&head.text),
                    client.0
                ));
            };
            *self.tally.con_lost.entry(why).or_default() += 1;
            return Ok(());
        }
        let (want, enc) = echo(&head.text);
        if line != want {
            return Err(format!(
                "client {} got {}, the reply to its request {} would be {}",
                client.0,
                text(line),
                text(&head.text),
                text(want)
            ));
        }
        let Some(i) = self
            .replies
            .iter()
            .position(|(k, r, e)| *k == key && r[..] == *line && *e == enc)
        else {
            return Err(format!(
                "client {} got {}, which no lond of its host sent",
                client.0,
                text(line)
            ));
        };
        self.replies.swap_remove(i);
        self.tally.replies += 1;
        self.tally.pipelined += usize::from(pipelined);
        Ok(())
    }

    /// `Delivered`: the file must be in the directory, its record the `S:` record of its
    /// request, and a lond of its host must have answered that request (unless it was delivered
    /// before and its record failed). Then the record is written and the file deleted, or, while
    /// the perm log fails, `record_failed` is called and the file stays.
    fn delivered(&mut self, name: String, record: String) -> Result<(), String> {
        let Some(request) = self.dir.get(&name).cloned() else {
            return Err(format!("Delivered {name:?}, not in the directory"));
        };
        let host = name.rsplit('.').next().unwrap_or_default().to_owned();
        let want = format!("S:{host}:{}", perm_loggable(&request));
        if record != want {
            return Err(format!("Delivered {name:?} with {record:?}, not {want:?}"));
        }
        if self.unrecorded.remove(&name) {
            self.tally.redelivered += 1;
        } else {
            let (reply, enc) = echo(&request);
            let Some(i) = self.replies.iter().position(|(k, r, e)| {
                r[..] == *reply && *e == enc && self.id_of.get(k).is_some_and(|id| *id == host)
            }) else {
                return Err(format!(
                    "Delivered {name:?}: no lond of {host} answered {}",
                    text(&request)
                ));
            };
            self.replies.swap_remove(i);
            self.delayed_on_link.retain(|_, n| *n != name);
        }
        if self.perm_fails && !self.exiting {
            self.unrecorded.insert(name.clone());
            self.tally.record_failed += 1;
            self.node.record_failed(self.now, name, record);
        } else {
            self.dir.remove(&name);
            self.tally.deleted += 1;
        }
        Ok(())
    }

    /// `RemoveDelayed`: only delayed-request names, never a file whose request a lond received
    /// and has not answered, nor one delivered (its record failed); then each file's `R:`
    /// record and its deletion, as a runtime does (nothing while the perm log fails).
    fn remove_delayed(
        &mut self,
        client: ClientId,
        names: Vec<String>,
        uid: Option<u32>,
    ) -> Result<(), String> {
        use lonc_core::control::Removal;
        if !self.spool_controls.contains_key(&client) {
            return Err(format!("RemoveDelayed for {}, no control client", client.0));
        }
        if uid != Some(0) {
            return Err(format!(
                "RemoveDelayed with uid {uid:?}, not the client's 0"
            ));
        }
        let mut done = Vec::new();
        for name in names {
            let Ok(parsed) = lonc_core::spool::removable(&name) else {
                return Err(format!("RemoveDelayed {name:?}: not a delayed file's name"));
            };
            if self.delayed_on_link.values().any(|n| *n == name) {
                return Err(format!("RemoveDelayed {name:?}: its request is on a link"));
            }
            if self.unrecorded.contains(&name) {
                return Err(format!("RemoveDelayed {name:?}: delivered already"));
            }
            let outcome = match self.dir.get(&name).cloned() {
                None => Removal::Missing,
                Some(_) if self.perm_fails => Removal::Unrecorded {
                    why: "Permission denied".into(),
                },
                Some(request) => {
                    let who = lonc_core::spool::who(Some(0), Some("root"));
                    let _ = lonc_core::spool::removal_record(&parsed, &who, Some(&request));
                    self.dir.remove(&name);
                    self.deleted.insert(name.clone(), request.clone());
                    self.tally.spool_deleted += 1;
                    Removal::Deleted {
                        command: perm_loggable(&request),
                    }
                }
            };
            done.push((name, outcome));
        }
        if !self.exiting {
            self.node.delayed_removed(self.now, client, done);
        }
        Ok(())
    }

    /// A warning about a name of the delayed directory: a bad name, or a file for a host not
    /// served, once while it stays; never for our own files or hidden ones.
    fn spool_warning(&mut self, event: &LogEvent, name: &str) -> Result<(), String> {
        if !self.dir.contains_key(name) {
            return Err(format!("{event:?} about a name not in the directory"));
        }
        if name.starts_with('.') {
            return Err(format!("{event:?}: a hidden file is no spool file yet"));
        }
        if let Ok(n) = DelayedName::parse(name) {
            if n.host == "msul2" {
                return Err(format!("{event:?}: our own files are left alone quietly"));
            }
            if self.listening.values().any(|s| s.id() == n.host) {
                return Err(format!("{event:?}, but {} is served", n.host));
            }
        }
        if !self.spool_warned.insert(name.to_owned()) {
            return Err(format!("{event:?} a second time while the file stays"));
        }
        self.tally.spool_warnings += 1;
        Ok(())
    }

    // ------------------------------------------------------------------ causes of con_lost

    /// A cause that allows a `con_lost` to a request of the host `key` now, if any.
    fn fault(&self, key: HostKey) -> Option<&'static str> {
        if self.term_at.is_some() {
            return Some("shutdown");
        }
        let Some(host) = self.node.host(key) else {
            return Some("host removed");
        };
        if host.is_dead() {
            return Some("host dead");
        }
        let mut count = 0;
        let mut bytes = 0;
        for c in self
            .clients
            .values()
            .filter(|c| c.key == key && c.waiting())
        {
            if c.lines.iter().any(|l| l.text == CLOSE_CONNECTION_EXIT) {
                return Some("close_connection_exit");
            }
            if let Some(l) = c.lines.front().filter(|l| !l.sent) {
                count += 1;
                bytes += l.text.len();
            }
        }
        let suffix = format!(".{}", self.id_of[&key]);
        for (name, request) in &self.dir {
            if name.ends_with(&suffix) {
                count += 1;
                bytes += request.len();
            }
        }
        if count > self.config.host.max_queue_len || bytes > self.config.host.max_queue_bytes {
            return Some("queue may be full");
        }
        None
    }

    /// Notes on every line out the cause that holds for its host now.
    fn mark_excuses(&mut self) {
        let keys: BTreeSet<HostKey> = self.clients.values().map(|c| c.key).collect();
        for key in keys {
            if let Some(why) = self.fault(key) {
                self.mark_key(key, why);
            }
        }
    }

    fn mark_key(&mut self, key: HostKey, why: &'static str) {
        for c in self.clients.values_mut().filter(|c| c.key == key) {
            for l in &mut c.lines {
                l.excuse.get_or_insert(why);
            }
        }
    }

    // ------------------------------------------------------------------ after every step

    fn check_step(&mut self) -> Result<(), String> {
        if self.exit.is_some() {
            return Ok(());
        }
        // A control client is answered within its time to send a command, or (a reload) once
        // the reload is over.
        for (id, c) in &self.controls {
            if !c.closed && !c.reload && self.now >= c.accepted + COMMAND_TIMEOUT {
                return Err(format!(
                    "control client {} not closed {:?} after it connected",
                    id.0,
                    self.now - c.accepted
                ));
            }
            if c.reload && !self.reload_pending && !c.closed {
                return Err(format!(
                    "control client {} not answered after its reload",
                    id.0
                ));
            }
        }
        // The summary shown is the node's, unless the last was shown less than the interval
        // ago (then the change waits for it).
        let summary = self.node.summary();
        match &self.status {
            Some((at, shown)) if *shown != summary && self.now >= *at + STATUS_INTERVAL => {
                return Err(format!(
                    "the summary is {summary:?}, {:?} after {shown:?} was shown, and not shown",
                    self.now - *at
                ));
            }
            None if !self.exiting => {
                return Err(format!("the summary {summary:?} was never shown"));
            }
            _ => {}
        }
        self.mark_excuses();
        let max = self.config.link.max_line;
        let mut open = 0;
        for (id, c) in &self.clients {
            let wants = self.node.client_wants_input(*id);
            if c.closed {
                if wants {
                    return Err(format!("client {} is closed but wants input", id.0));
                }
                continue;
            }
            open += 1;
            if c.ended {
                return Err(format!(
                    "client {} ended its input (EOF, error or a line over the bound) and is \
                     still open",
                    id.0
                ));
            }
            let model = c.lines.is_empty() || c.buffered() <= max;
            if wants != model {
                return Err(format!(
                    "client_wants_input({}) is {wants}; {} line(s) out and {} bytes buffered \
                     (bound {max})",
                    id.0,
                    c.lines.len(),
                    c.buffered()
                ));
            }
        }
        if self.node.client_count() != open {
            return Err(format!(
                "client_count() is {}, {open} clients are open",
                self.node.client_count()
            ));
        }
        if let Some((l, _)) = self.eof_links.iter().find(|(_, due)| **due < self.now) {
            return Err(format!(
                "link {} ended its stream {RESET_WAIT:?} ago and was not closed",
                l.0
            ));
        }
        if let Some(l) = self.must_close_links.iter().next() {
            return Err(format!("link {} failed and was not closed", l.0));
        }
        let mut any_dead = false;
        for key in &self.ever {
            let links = self.links.values().filter(|l| l.key == *key).count();
            let Some(spec) = self.listening.get(key) else {
                if self.node.host(*key).is_some() {
                    return Err(format!("key {} was unlistened but is still served", key.0));
                }
                if links > 0 {
                    return Err(format!(
                        "key {} is gone but {links} link(s) are open",
                        key.0
                    ));
                }
                continue;
            };
            let Some(host) = self.node.host(*key) else {
                return Err(format!("{} is listened on but not served", spec.id()));
            };
            if self.node.key_of(spec.id()) != Some(*key) {
                return Err(format!("key_of({}) is not {}", spec.id(), key.0));
            }
            if host.link_count() != links {
                return Err(format!(
                    "{} counts {} link(s), {links} are open (Connect without CloseLink?)",
                    spec.id(),
                    host.link_count()
                ));
            }
            if host.is_dead() {
                any_dead = true;
                if links > 1 {
                    return Err(format!("{} is dead with {links} links open", spec.id()));
                }
            }
            if let Some(t) = host.poll_timeout()
                && self.node.poll_timeout().is_none_or(|n| n > t)
            {
                return Err(format!(
                    "poll_timeout() is {:?}, after {}'s own deadline now + {:?}",
                    self.node
                        .poll_timeout()
                        .map(|n| n.saturating_duration_since(self.now)),
                    spec.id(),
                    t.saturating_duration_since(self.now)
                ));
            }
        }
        self.tally.dead += usize::from(any_dead);
        if let Some(t) = self.node.poll_timeout()
            && t <= self.now
        {
            return Err(format!(
                "poll_timeout() is {:?} before now: a deadline was missed",
                self.now - t
            ));
        }
        if let Some(at) = self.term_at {
            if self.accepting {
                return Err("still accepting after TERM".into());
            }
            let grace = self.config.daemon.shutdown_grace;
            if self.now >= at + grace {
                return Err(format!(
                    "no Exit {:?} after TERM, with a grace of {grace:?}",
                    self.now - at
                ));
            }
            let drained = self
                .listening
                .keys()
                .all(|k| self.node.host(*k).is_none_or(|h| h.is_drained()));
            if !self.clients.values().any(Client::waiting) && drained {
                return Err(
                    "every client is answered and every host drained after TERM, but no Exit"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// The state, for error messages.
    fn summary(&self) -> String {
        let hosts: Vec<String> = self
            .listening
            .iter()
            .map(|(k, s)| {
                let host = self.node.host(*k);
                format!(
                    "{} (key {}, lond {:?}{}, {} link(s))",
                    s.id(),
                    k.0,
                    self.mode(s.id()),
                    if host.is_some_and(|h| h.is_dead()) {
                        ", dead"
                    } else {
                        ""
                    },
                    host.map_or(0, |h| h.link_count())
                )
            })
            .collect();
        let waiting: Vec<String> = self
            .clients
            .iter()
            .filter(|(_, c)| c.waiting())
            .map(|(id, c)| {
                format!(
                    "{} on key {}: {}",
                    id.0,
                    c.key.0,
                    c.lines
                        .front()
                        .map_or("con_lost due".into(), |l| text(&l.text))
                )
            })
            .collect();
        format!(
            "t+{:?}; hosts [{}]; waiting clients [{}]{}",
            self.now - self.start,
            hosts.join(", "),
            waiting.join("; "),
            if self.term_at.is_some() {
                "; shutting down"
            } else {
                ""
            }
        )
    }
}

/// True when framing `data` after `open` bytes of a partial line makes a line longer than `max`
/// (the framer then keeps nothing of it).
fn over_long(mut open: usize, data: &[u8], max: usize) -> bool {
    let mut rest = data;
    loop {
        match rest.iter().position(|b| *b == b'\n') {
            Some(i) => {
                if open + i > max {
                    return true;
                }
                open = 0;
                rest = &rest[i + 1..];
            }
            None => return open + rest.len() > max,
        }
    }
}

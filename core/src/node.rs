//! The whole daemon as one sans-IO state machine, and the only one a runtime drives: the
//! parent's [`Daemon`] decisions, one [`Host`] scheduler per remote host with the [`Link`]s it
//! opens, and one [`ClientConn`] per lonnet connection. A runtime owns the sockets, files,
//! clock and signals, and nothing else.
//!
//! The crate root documents how a node is driven (the drive loop); [`Output`] says what each
//! output asks of the runtime.
//!
//! # Routing
//!
//! Everything a runtime and the node share is named by a flat handle: a [`HostKey`] per served
//! host (from [`Output::Listen`] to [`Output::Unlisten`]), a [`LinkId`] per link (from
//! [`Output::Connect`] to [`Output::CloseLink`]; it carries its host's key), a [`ClientId`] per
//! client connection (from [`Node::accept`] to [`Output::CloseClient`]). Calls about a handle
//! that is gone are ignored.
//!
//! One request: the client's bytes ([`Node::handle_client_input`]) are framed by its
//! [`ClientConn`] and submitted to its host's scheduler; the scheduler starts it on a link
//! ([`HostAction::Start`]) and the node hands the link's bytes out at once
//! ([`Output::Transmit`]); the lond's reply ([`Node::handle_link_input`]) comes back through
//! the link to the scheduler, which answers the client ([`Output::Answer`]).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

use crate::client_conn::ClientConn;
use crate::conf::Settings;
use crate::control::{
    BadCommand, COMMAND_TIMEOUT, Command, DaemonReport, HostReport, MAX_COMMAND,
    MAX_CONTROL_CLIENTS, Removal, StatusReport,
};
use crate::daemon::{
    Action, Daemon, DaemonConfig, HostDiff, HostSpec, PARENT_LOG_HOST, Phase, Signal,
};
use crate::host::{DelayedFile, Host, HostAction, HostConfig};
use crate::hosts_tab::{HostEntry, LineProblem};
pub use crate::ids::{ClientId, HostKey, IdMap, LinkId};
use crate::link::{Link, LinkConfig, LinkEvent};
use crate::log::LogEvent;
use crate::logfmt::HostStatus;
use crate::metrics::{self, HostMetrics, Route};
use crate::quote;
use crate::request::CON_LOST;
use crate::spool::{self, DelayedName};
use crate::stats::LostCause;
use crate::timer::{Deadlines, TimerKind, Timers};

/// Tunables of the whole daemon. `link.max_line` bounds the lines of lonnet clients too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    pub daemon: DaemonConfig,
    pub host: HostConfig,
    pub link: LinkConfig,
    /// How often the delayed directory is scanned (besides at start-up, after a reload and
    /// when a host comes back). Default 5 s.
    pub scan_interval: Duration,
    /// Where to serve the metrics over HTTP (`--metrics-listen`): none by default.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            daemon: DaemonConfig::default(),
            host: HostConfig::default(),
            link: LinkConfig::default(),
            scan_interval: DEFAULT_SCAN_INTERVAL,
            metrics_listen: None,
        }
    }
}

/// The default interval between two scans of the delayed directory.
pub const DEFAULT_SCAN_INTERVAL: Duration = Duration::from_secs(5);

/// The node's own timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeTimer {
    /// Scan the delayed directory.
    Scan,
    /// Show the summary, if it changed since it was last shown.
    Status,
    /// The earliest deadline of a control client to send its command.
    Control,
    /// The earliest deadline of a metrics client (to send its request, or to be gone).
    Scrape,
}

impl TimerKind for NodeTimer {
    const ALL: &'static [NodeTimer] = &[
        NodeTimer::Scan,
        NodeTimer::Status,
        NodeTimer::Control,
        NodeTimer::Scrape,
    ];
    fn slot(self) -> usize {
        match self {
            NodeTimer::Scan => 0,
            NodeTimer::Status => 1,
            NodeTimer::Control => 2,
            NodeTimer::Scrape => 3,
        }
    }
}

/// The summary ([`Node::summary`]) is shown at most once per this interval.
pub const STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// At most this many dead hosts are named in the summary; the rest are counted.
pub const MAX_NAMED_DEAD: usize = 5;

/// What the node asks its runtime to do, in order. Every variant must be carried out.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum Output {
    /// Listen on the host's UNIX socket (`spec.socket_path`, replacing a stale file but not one
    /// a process answers on), report the outcome with [`Node::listened`], then each connection
    /// with [`Node::accept`].
    Listen { host: HostKey, spec: HostSpec },
    /// Stop listening on the host's socket and remove the file. Only for a host that listens.
    Unlisten { host: HostKey, spec: HostSpec },
    /// Listen on the control socket (`path`, mode 0600, replacing a stale file but not one a
    /// process answers on); report the outcome with [`Node::control_listened`], then each
    /// connection with [`Node::accept_control`] (a `None` there: close it at once). A control
    /// client is then a client like the others ([`Node::handle_client_input`],
    /// [`Output::Answer`], [`Output::CloseClient`]). Keep listening until the process exits.
    ListenControl { path: PathBuf },
    /// Listen for HTTP on this TCP address (`--metrics-listen`; emitted once, at start, only
    /// when it is given). A failure is the runtime's to log: the daemon serves without it.
    /// Hand each connection to [`Node::accept_metrics`] (a `None` there: close it at once);
    /// it is then a client like the others ([`Node::handle_client_input`],
    /// [`Output::Answer`], [`Output::CloseClient`], [`Output::AbortClient`]), and the runtime
    /// reports when it has closed it ([`Node::client_closed`]). Keep listening until the
    /// process exits.
    ListenMetrics { addr: SocketAddr },
    /// Start-up is over: every host's `Listen` is reported and some socket listens. Tell
    /// whoever waits for the daemon (a detaching parent, systemd's `READY=1`). Emitted once; if
    /// no socket listens, the daemon exits instead (status 1).
    Ready,
    /// Orderly shutdown: stop accepting on every socket; keep serving connected clients.
    StopAccepting,
    /// Open a TCP connection to `addr` for this link (TCP_NODELAY, keep-alive); report
    /// [`Node::handle_connected`] or [`Node::handle_connect_failed`]. The connect timeout is
    /// the node's.
    Connect { link: LinkId, addr: SocketAddr },
    /// Write these bytes to the link's socket, after any not yet written; report every write,
    /// partial or whole, with [`Node::handle_written`]. `begins` marks the first bytes of a
    /// request on a link that was idle: first make sure the peer has not closed the link (an
    /// end of stream or a reset already waiting on the socket, e.g. `recv` with `MSG_PEEK`)
    /// and, if it has, report that ([`Node::handle_link_eof`], [`Node::handle_read_error`])
    /// instead of writing: the request then goes to another link.
    Transmit {
        link: LinkId,
        bytes: Bytes,
        begins: bool,
    },
    /// The link's peer ended the stream during a transaction (reported with
    /// [`Node::handle_link_eof`]; since then the socket is kept open and not read): report an
    /// error waiting on the socket (`SO_ERROR`, e.g. a reset) with [`Node::handle_read_error`],
    /// or else the end of stream again with [`Node::handle_link_eof`].
    ProbeReset { link: LinkId },
    /// Close the link's socket now (or abandon its connect), after writing `farewell` (if any)
    /// best effort, without waiting. The link is forgotten.
    CloseLink { link: LinkId, farewell: Bytes },
    /// Write these bytes (one answer line, LF included) to the client, after any not yet
    /// written.
    Answer { client: ClientId, bytes: Bytes },
    /// Close the client's connection once everything answered is written (or writing fails).
    /// The client is forgotten.
    CloseClient { client: ClientId },
    /// Close the client's connection now, dropping what it has not read of its answers (a
    /// metrics client that does not read). Nothing if it is closed already.
    AbortClient { client: ClientId },
    /// List the names in the delayed directory ([`Settings::delayed_dir`]; reading nothing
    /// else, never blocking the loop) and call [`Node::delayed_listed`] with them.
    ScanDelayed,
    /// Read the first line of each of these files of the delayed directory — open without
    /// blocking, only a regular file (`fstat` on the open descriptor), at most the line limit —
    /// and call [`Node::delayed_read`] with what came and what could not be read, and why.
    ReadDelayed { host: HostKey, names: Vec<String> },
    /// A delayed request was delivered: append `record` to `lonnet.perm.log`
    /// ([`crate::logfmt::perm_log_line`]), then delete the file `name`. If the record cannot
    /// be written, keep the file and call [`Node::record_failed`].
    Delivered { name: String, record: String },
    /// `lonc spool delete`, for the control client `client` (`uid`: its peer's user id, from
    /// the control socket's credentials, as given to [`Node::accept_control_from`]): for each
    /// file of the delayed directory named (each a checked delayed-request name, never a
    /// path), read its first line as for `ReadDelayed` (a file that is not there:
    /// [`Removal::Missing`], nothing written), append [`crate::spool::removal_record`] (the
    /// user name of `uid` resolved if it can be) to `lonnet.perm.log`, then delete the file.
    /// A record that cannot be written keeps the file ([`Removal::Unrecorded`]). Report every
    /// file with [`Node::delayed_removed`].
    RemoveDelayed {
        client: ClientId,
        names: Vec<String>,
        uid: Option<u32>,
    },
    /// Write a `lonc.log` line ([`crate::logfmt::log_event_line`]) with this host field and
    /// state (the status string is `<localtime>: <state>`); keep the host's last line for the
    /// status file.
    Log {
        host: String,
        state: String,
        event: LogEvent,
    },
    /// Replace `loncstatus.txt` ([`Settings::status_file`]) with
    /// [`crate::logfmt::status_file`] of these hosts.
    WriteStatus(Vec<HostStatus>),
    /// Re-read the configuration and `hosts.tab`; call [`Node::reload`] or
    /// [`Node::reload_failed`].
    ReloadConfig,
    /// Remove these files, ignoring those already gone.
    RemoveFiles(Vec<PathBuf>),
    /// The daemon's summary ([`Node::summary`]) changed: show it in the process title
    /// ([`crate::logfmt::process_title`]) and to the service manager (`STATUS=`). Emitted when
    /// the number of hosts, dead hosts or links or the names of the dead hosts change, at most
    /// once per [`STATUS_INTERVAL`], and once soon after start.
    ShowStatus(String),
    /// Write what was answered (for a bounded time), then exit with this code.
    Exit(i32),
}

/// One remote host: its scheduler and the links it opened.
struct Served {
    spec: HostSpec,
    host: Host,
    /// Its socket listens ([`Node::listened`]): the socket file is ours to remove.
    listening: bool,
    links: Vec<LinkSlot>,
    /// The earliest deadline of the host and its links, as filed in `deadlines`.
    deadline: Option<Instant>,
    /// Its number of links and whether it is dead, as the summary last counted them.
    counted: (usize, bool),
}

struct LinkSlot {
    id: LinkId,
    link: Link,
}

impl Served {
    fn link_mut(&mut self, id: LinkId) -> Option<&mut Link> {
        self.links
            .iter_mut()
            .find(|s| s.id == id)
            .map(|s| &mut s.link)
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.links
            .iter()
            .filter_map(|s| s.link.poll_timeout())
            .chain(self.host.poll_timeout())
            .min()
    }
}

struct ClientSlot {
    host: HostKey,
    conn: ClientConn,
}

/// A client of the control socket.
struct ControlSlot {
    conn: ClientConn,
    /// When it is closed if no command came.
    deadline: Instant,
    /// Its command is being carried out (a reload): further input is ignored.
    busy: bool,
    /// The user id of the process at the other end (`SO_PEERCRED`), if the runtime knows it.
    uid: Option<u32>,
}

/// A client of the metrics' HTTP address.
struct ScrapeSlot {
    /// The request's bytes so far (at most [`metrics::MAX_REQUEST`]).
    request: Vec<u8>,
    /// Answered (and closed): the runtime is writing the answer.
    answered: bool,
    /// Until then: when it is answered `408`; once answered, when its connection is dropped.
    deadline: Instant,
}

/// The daemon. See the module and crate documentation.
pub struct Node {
    daemon: Daemon,
    host_config: HostConfig,
    link_config: LinkConfig,
    served: IdMap<HostKey, Served>,
    by_id: HashMap<String, HostKey>,
    clients: IdMap<ClientId, ClientSlot>,
    next_client: u64,
    deadlines: Deadlines<HostKey>,
    next_key: u32,
    seed: u64,
    draining: bool,
    /// The parent's state as of the daemon's last `SetState`: the state of its log lines.
    parent_state: String,
    /// The scan interval, and the node's scan timer.
    scan_interval: Duration,
    timers: Timers<NodeTimer, 4>,
    /// The summary last shown ([`Output::ShowStatus`]), and when.
    status_shown: String,
    status_at: Option<Instant>,
    /// The summary may have changed at this instant and may be shown at once: it is, once the
    /// call's other outputs are out.
    status_due: Option<Instant>,
    /// A `ScanDelayed` is out and not answered; `rescan`: another was asked for meanwhile.
    scanning: bool,
    rescan: bool,
    /// Names in the delayed directory warned about (bad name, host not served): once each,
    /// while they stay.
    spool_warned: HashSet<String>,
    /// Delivered files whose `S:` record could not be written: kept on disk, never replayed,
    /// and recorded (then deleted) again at each scan.
    unrecorded: BTreeMap<String, String>,
    /// Until [`Output::Ready`]: the start-up's hosts whose `Listen` is not reported yet.
    starting: Option<HashSet<HostKey>>,
    /// Control clients (their ids share the clients' numbering), whether the control socket
    /// listens (its file is then ours to remove), and the clients waiting for a reload.
    controls: IdMap<ClientId, ControlSlot>,
    control_listening: bool,
    reload_waiters: Vec<ClientId>,
    /// Where the metrics are served over HTTP, and the HTTP clients (their ids share the
    /// clients' numbering too), until the runtime has closed them.
    metrics_listen: Option<SocketAddr>,
    scrapers: IdMap<ClientId, ScrapeSlot>,
    /// `spool flush` clients waiting for the next scan, with the host each named.
    flush_waiters: Vec<(ClientId, Option<String>)>,
    /// Delayed files handed to the runtime to delete ([`Output::RemoveDelayed`]) and not
    /// reported yet.
    removing: HashSet<String>,
    /// Per `spool delete` client: each file it named, in order, and why it was refused (`None`:
    /// handed to the runtime).
    removals: HashMap<ClientId, Vec<(String, Option<String>)>>,
    /// When the node started, the process id and the version, for `lonc status`.
    started: Instant,
    pid: u32,
    version: String,
    /// The user the daemon runs as: with root, the only one a control client may be.
    uid: Option<u32>,
    /// Where transmits and answers are put together before they are handed out.
    scratch: BytesMut,
    out: VecDeque<Output>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("hosts", &self.served.len())
            .field("clients", &self.clients.len())
            .field("phase", &self.daemon.phase())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Starts the daemon for `settings` and the parsed `hosts.tab`; `seed` feeds the hosts'
    /// probe jitter. The first outputs listen on every remote host's socket.
    pub fn new(
        config: NodeConfig,
        settings: Settings,
        hosts: &[HostEntry],
        problems: &[LineProblem],
        now: Instant,
        seed: u64,
    ) -> Node {
        let mut node = Node {
            daemon: Daemon::new(config.daemon, settings, hosts, problems),
            host_config: config.host,
            link_config: config.link,
            served: IdMap::default(),
            by_id: HashMap::new(),
            clients: IdMap::default(),
            next_client: 0,
            deadlines: Deadlines::default(),
            next_key: 0,
            seed,
            draining: false,
            parent_state: String::new(),
            scan_interval: config.scan_interval,
            timers: Timers::new(),
            status_shown: String::new(),
            status_at: None,
            status_due: None,
            scanning: false,
            rescan: false,
            spool_warned: HashSet::new(),
            unrecorded: BTreeMap::new(),
            starting: None,
            controls: IdMap::default(),
            control_listening: false,
            reload_waiters: Vec::new(),
            metrics_listen: config.metrics_listen,
            scrapers: IdMap::default(),
            flush_waiters: Vec::new(),
            removing: HashSet::new(),
            removals: HashMap::new(),
            started: now,
            pid: 0,
            version: String::new(),
            uid: None,
            scratch: BytesMut::new(),
            out: VecDeque::new(),
        };
        // The control socket first: if no host's socket listens, the daemon exits at once,
        // removing it.
        let path = node.settings().control_socket();
        node.out.push_back(Output::ListenControl { path });
        if let Some(addr) = node.metrics_listen {
            node.out.push_back(Output::ListenMetrics { addr });
        }
        node.settle(now);
        node.status_may_change(now);
        node.starting = Some(node.served.keys().copied().collect());
        node.request_scan();
        node.check_started(now);
        node
    }

    /// The outcome of [`Output::Listen`]: `false` if the host's socket could not be listened
    /// on (the runtime has said why; the host then takes no clients, and its socket file is
    /// left alone). At start-up, once every host is reported, the node emits
    /// [`Output::Ready`], or exits with status 1 if no socket listens.
    pub fn listened(&mut self, now: Instant, host: HostKey, listening: bool) {
        let Some(s) = self.served.get_mut(&host) else {
            return;
        };
        s.listening = listening;
        if let Some(pending) = &mut self.starting {
            pending.remove(&host);
        }
        self.check_started(now);
    }

    fn check_started(&mut self, now: Instant) {
        if !self.starting.as_ref().is_some_and(HashSet::is_empty) {
            return;
        }
        self.starting = None;
        if self.daemon.has_exited() {
            return;
        }
        if !self.served.is_empty() && !self.served.values().any(|s| s.listening) {
            self.daemon.give_up(1);
            self.settle(now);
            return;
        }
        self.out.push_back(Output::Ready);
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        self.daemon.settings()
    }

    /// The parent's decisions, for inspection.
    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    /// The key of a served host.
    pub fn key_of(&self, host_id: &str) -> Option<HostKey> {
        self.by_id.get(host_id).copied()
    }

    /// A served host's scheduler, for inspection.
    pub fn host(&self, key: HostKey) -> Option<&Host> {
        self.served.get(&key).map(|s| &s.host)
    }

    /// One line on the daemon's state, for a service manager and the process title:
    /// `<hosts> hosts, <dead> dead, <links> links`, then ` - dead: <id> <id>…` naming the dead
    /// hosts in order (at most [`MAX_NAMED_DEAD`], then `and <n> more`), all after `stopping: `
    /// once an orderly shutdown waits for its clients.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut dead: Vec<&str> = self
            .served
            .values()
            .filter(|s| s.host.is_dead())
            .map(|s| s.spec.id())
            .collect();
        dead.sort_unstable();
        let links: usize = self.served.values().map(|s| s.links.len()).sum();
        let mut line = String::new();
        if self.draining {
            line.push_str("stopping: ");
        }
        let _ = write!(
            line,
            "{} hosts, {} dead, {links} links",
            self.served.len(),
            dead.len()
        );
        if !dead.is_empty() {
            line.push_str(" - dead:");
            for id in dead.iter().take(MAX_NAMED_DEAD) {
                line.push(' ');
                line.push_str(id);
            }
            if dead.len() > MAX_NAMED_DEAD {
                let _ = write!(line, " and {} more", dead.len() - MAX_NAMED_DEAD);
            }
        }
        line
    }

    /// The number of client connections open.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    // ------------------------------------------------------------------ clients

    /// A lonnet client connected to the socket of `host`: its id, or `None` when the host
    /// takes no new connections (gone, or shutting down); then drop the connection.
    pub fn accept(&mut self, _now: Instant, host: HostKey) -> Option<ClientId> {
        // (Draining is part of shutting down.)
        if self.daemon.is_shutting_down() || !self.served.contains_key(&host) {
            return None;
        }
        let id = ClientId(self.next_client);
        self.next_client += 1;
        let conn = ClientConn::new(self.link_config.max_line);
        self.clients.insert(id, ClientSlot { host, conn });
        Some(id)
    }

    /// True when the runtime should read more from the client (see
    /// [`ClientConn::wants_input`]); false for a client that is gone.
    pub fn client_wants_input(&self, client: ClientId) -> bool {
        if let Some(c) = self.controls.get(&client) {
            return !c.busy && c.conn.wants_input();
        }
        if let Some(s) = self.scrapers.get(&client) {
            return !s.answered;
        }
        self.clients
            .get(&client)
            .is_some_and(|c| c.conn.wants_input())
    }

    /// True while the client has a request out whose answer is not given yet; false for a
    /// client that is gone. Until then a runtime need not watch the client's socket: its next
    /// output is that answer (or [`Output::CloseClient`]).
    pub fn client_waiting(&self, client: ClientId) -> bool {
        if let Some(c) = self.controls.get(&client) {
            return c.busy;
        }
        if self.scrapers.contains_key(&client) {
            return false;
        }
        self.clients
            .get(&client)
            .is_some_and(|c| c.conn.is_waiting())
    }

    /// Bytes read from the client.
    pub fn handle_client_input(&mut self, now: Instant, client: ClientId, data: &[u8]) {
        if self.controls.contains_key(&client) {
            return self.control_input(now, client, Some(data));
        }
        if self.scrapers.contains_key(&client) {
            return self.scrape_input(now, client, Some(data));
        }
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        if c.conn.handle_input(data).is_err() {
            let (key, waiting) = (c.host, c.conn.is_waiting());
            let max = self.link_config.max_line;
            self.log_host(key, LogEvent::ClientLineTooLong { max });
            if waiting {
                // Gone, as far as its request is concerned.
                return self.client_gone(now, client);
            }
            if let Some(s) = self.served.get_mut(&key) {
                s.host.count_lost_by_node(LostCause::TooLong);
            }
            self.out.push_back(Output::Answer {
                client,
                bytes: answer_bytes(&mut self.scratch, CON_LOST),
            });
            self.close_client(client);
            return;
        }
        self.client_step(now, client);
    }

    /// The client closed its side (read returned 0). Lines it sent complete are still
    /// answered, unless it was waiting for an answer: then it has hung up.
    pub fn handle_client_eof(&mut self, now: Instant, client: ClientId) {
        if self.controls.contains_key(&client) {
            return self.control_input(now, client, None);
        }
        if self.scrapers.contains_key(&client) {
            return self.scrape_input(now, client, None);
        }
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        c.conn.handle_eof();
        if c.conn.is_waiting() {
            self.client_gone(now, client);
        } else {
            self.client_step(now, client);
        }
    }

    /// Reading from or writing to the client failed: it is gone.
    pub fn handle_client_error(&mut self, now: Instant, client: ClientId, _kind: io::ErrorKind) {
        if self.controls.remove(&client).is_some() {
            self.reload_waiters.retain(|&c| c != client);
            self.out.push_back(Output::CloseClient { client });
            return;
        }
        if self.scrapers.remove(&client).is_some() {
            self.out.push_back(Output::CloseClient { client });
            return;
        }
        self.client_gone(now, client);
    }

    /// Submits the client's next request, or closes it once nothing more can come.
    fn client_step(&mut self, now: Instant, client: ClientId) {
        loop {
            let Some(c) = self.clients.get_mut(&client) else {
                return;
            };
            let key = c.host;
            let Some(request) = c.conn.next_request() else {
                if c.conn.is_finished() {
                    self.close_client(client);
                }
                return;
            };
            match self.served.get_mut(&key) {
                Some(s) if !self.draining => {
                    s.host.submit(now, client, request);
                    return self.pump(now, key);
                }
                // Its host is no longer served, or the daemon is shutting down.
                served => {
                    if let Some(s) = served {
                        s.host.count_lost_by_node(LostCause::Shutdown);
                    }
                    c.conn.answered();
                    self.out.push_back(Output::Answer {
                        client,
                        bytes: answer_bytes(&mut self.scratch, CON_LOST),
                    });
                }
            }
        }
    }

    /// The client is gone: its host drops its queued request (or discards the reply of the one
    /// on a link) and the connection is closed.
    fn client_gone(&mut self, now: Instant, client: ClientId) {
        let Some(c) = self.clients.get(&client) else {
            return;
        };
        let (key, waiting) = (c.host, c.conn.is_waiting());
        self.close_client(client);
        if waiting && let Some(s) = self.served.get_mut(&key) {
            s.host.client_gone(now, client);
            self.pump(now, key);
        }
    }

    fn close_client(&mut self, client: ClientId) {
        self.clients.remove(&client);
        self.out.push_back(Output::CloseClient { client });
        self.compact_clients();
    }

    /// Gives back the client table's memory once a burst of connections is over.
    fn compact_clients(&mut self) {
        if self.clients.capacity() > 64 && self.clients.len() < self.clients.capacity() / 8 {
            self.clients.shrink_to(self.clients.len() * 2);
        }
    }

    // ------------------------------------------------------------------ control

    /// Sets what `lonc status` says of the process: its id and the daemon's version.
    pub fn set_identity(&mut self, pid: u32, version: &str, uid: Option<u32>) {
        self.pid = pid;
        self.version = version.to_owned();
        self.uid = uid;
    }

    /// The outcome of [`Output::ListenControl`]: whether the control socket listens (then its
    /// file is removed at exit).
    pub fn control_listened(&mut self, _now: Instant, listening: bool) {
        self.control_listening = listening;
    }

    /// A connection to the control socket: its id, or `None` (close it) when
    /// [`MAX_CONTROL_CLIENTS`] are open already or the daemon has exited. It has
    /// [`COMMAND_TIMEOUT`] to send its command line.
    pub fn accept_control(&mut self, now: Instant) -> Option<ClientId> {
        self.accept_control_from(now, None)
    }

    /// [`Node::accept_control`] for a client whose user id (`SO_PEERCRED`) the runtime knows:
    /// the `R:` record of a `spool delete` names it. A user other than the daemon's (as given
    /// to [`Node::set_identity`]) and root is refused and logged, whatever the socket's mode
    /// let through.
    pub fn accept_control_from(&mut self, now: Instant, uid: Option<u32>) -> Option<ClientId> {
        if self.daemon.has_exited() || self.controls.len() >= MAX_CONTROL_CLIENTS {
            return None;
        }
        if let (Some(own), Some(peer)) = (self.uid, uid)
            && peer != own
            && peer != 0
        {
            self.log_parent(LogEvent::ControlRefused { uid: peer });
            return None;
        }
        let id = ClientId(self.next_client);
        self.next_client += 1;
        let deadline = now + COMMAND_TIMEOUT;
        self.controls.insert(
            id,
            ControlSlot {
                conn: ClientConn::new(MAX_COMMAND),
                deadline,
                busy: false,
                uid,
            },
        );
        self.arm_for_client(NodeTimer::Control, deadline);
        Some(id)
    }

    /// Bytes (or, with `None`, the end of the stream) from a control client.
    fn control_input(&mut self, now: Instant, client: ClientId, data: Option<&[u8]>) {
        let Some(c) = self.controls.get_mut(&client) else {
            return;
        };
        if c.busy {
            return;
        }
        match data {
            Some(data) => {
                if c.conn.handle_input(data).is_err() {
                    let why = format!("the command is longer than {MAX_COMMAND} bytes");
                    return self.control_done(client, Err(why));
                }
            }
            None => c.conn.handle_eof(),
        }
        match c.conn.next_request() {
            Some(line) => {
                c.busy = true;
                self.control_command(now, client, &line);
            }
            None if data.is_none() => self.control_done(client, Err("no command".into())),
            None => {}
        }
    }

    fn control_command(&mut self, now: Instant, client: ClientId, line: &[u8]) {
        let command = match Command::parse(line) {
            Ok(command) => command,
            Err(BadCommand(why)) => return self.control_done(client, Err(why)),
        };
        let answer = match command {
            Command::Status { hosts, json } => self.status_report(now, &hosts).map(|r| {
                if json {
                    r.to_json() + "\n"
                } else {
                    r.to_text(!hosts.is_empty())
                }
            }),
            Command::Revive(id) => match self.by_id.get(&id).copied() {
                None => Err(format!("no such host: {}", quote::excerpt(&id))),
                Some(key) => {
                    let was_dead = self.served.get(&key).is_some_and(|s| s.host.is_dead());
                    if let Some(s) = self.served.get_mut(&key) {
                        s.host.reset(now);
                    }
                    self.pump(now, key);
                    Ok(if was_dead {
                        format!("{id} was dead: revived, and a link is opening to probe it\n")
                    } else {
                        format!("{id} was not dead: its retry budget is full again\n")
                    })
                }
            },
            Command::Reload => match self.daemon.phase() {
                Phase::Running => {
                    self.reload_waiters.push(client);
                    self.daemon.handle_command(now, Signal::Hup);
                    self.settle(now);
                    return;
                }
                Phase::Reloading => Err("a reload is already under way".into()),
                Phase::ShuttingDown | Phase::Exited => Err("the daemon is stopping".into()),
            },
            Command::Metrics => Ok(self.metrics_text(now)),
            Command::Debug(on) => {
                let was = self.daemon.debug();
                if was != on {
                    self.daemon.handle_command(now, Signal::Usr2);
                    self.settle(now);
                }
                let word = |on: bool| if on { "on" } else { "off" };
                Ok(format!("debug logging {} (was {})\n", word(on), word(was)))
            }
            Command::SpoolFlush(host) => return self.spool_flush(client, host),
            Command::SpoolDelete(names) => return self.spool_delete(client, names),
        };
        self.control_done(client, answer);
    }

    /// Answers a control client (`ok` or `error:` last) and closes it.
    fn control_done(&mut self, client: ClientId, answer: Result<String, String>) {
        if self.controls.remove(&client).is_none() {
            return;
        }
        let text = match answer {
            Ok(text) => text + "ok\n",
            Err(why) => format!("error: {why}\n"),
        };
        self.out.push_back(Output::Answer {
            client,
            bytes: Bytes::from(text),
        });
        self.out.push_back(Output::CloseClient { client });
    }

    /// Answers a control client with `text`, then `error: <why>` (some of what it asked was
    /// done, and `text` says what), and closes it.
    fn control_done_after(&mut self, client: ClientId, text: String, why: String) {
        if self.controls.remove(&client).is_none() {
            return;
        }
        self.out.push_back(Output::Answer {
            client,
            bytes: Bytes::from(format!("{text}error: {why}\n")),
        });
        self.out.push_back(Output::CloseClient { client });
    }

    /// `spool flush [HOST]`: files that could not be read are tried again, the delayed
    /// directory is scanned now, and the client is answered once that scan is in.
    fn spool_flush(&mut self, client: ClientId, host: Option<String>) {
        if self.daemon.is_shutting_down() {
            let why = "the daemon is stopping: it replays nothing more".to_owned();
            return self.control_done(client, Err(why));
        }
        let keys: Vec<HostKey> = match &host {
            Some(id) => match self.by_id.get(id) {
                Some(key) => vec![*key],
                None => {
                    let why = format!("no such host: {}", quote::excerpt(id));
                    return self.control_done(client, Err(why));
                }
            },
            None => self.served.keys().copied().collect(),
        };
        for key in keys {
            if let Some(s) = self.served.get_mut(&key) {
                s.host.spool_retry();
            }
        }
        self.flush_waiters.push((client, host));
        self.request_scan();
    }

    /// What `spool flush` answers once its scan is in: each host's files (those named, or all
    /// with files), and what a dead host's files wait for.
    fn flush_answer(&self, only: Option<&str>) -> Result<String, String> {
        let mut text = String::new();
        let (mut files, mut hosts) = (0, 0);
        for spec in self.daemon.hosts() {
            if only.is_some_and(|id| id != spec.id()) {
                continue;
            }
            let Some(s) = self.by_id.get(spec.id()).and_then(|k| self.served.get(k)) else {
                continue;
            };
            let (waiting, in_use) = (s.host.delayed_waiting(), s.host.delayed_in_use());
            if only.is_none() && waiting + in_use == 0 {
                continue;
            }
            files += waiting + in_use;
            hosts += 1;
            text.push_str(&format!(
                "{}: {waiting} waiting, {in_use} being delivered",
                spec.id()
            ));
            if s.host.is_dead() && waiting > 0 {
                text.push_str(&format!(
                    "; the host is dead: they go once it is back (`lonc revive {}` probes it now)",
                    spec.id()
                ));
            }
            text.push('\n');
        }
        match only {
            Some(id) if hosts == 0 => Err(format!("no such host: {}", quote::excerpt(id))),
            _ if files == 0 => Ok(text + "flushed: no delayed file waits\n"),
            _ => Ok(text
                + &format!(
                    "flushed: {files} delayed {} of {hosts} {}\n",
                    if files == 1 { "file" } else { "files" },
                    if hosts == 1 { "host" } else { "hosts" }
                )),
        }
    }

    /// `spool delete FILE…`: each file the node may delete (a delayed-request name, not being
    /// delivered) leaves the replay and goes to the runtime; the others are refused with why.
    fn spool_delete(&mut self, client: ClientId, names: Vec<String>) {
        if self.daemon.is_shutting_down() {
            let why = "the daemon is stopping: delete the files once it is stopped, or after \
                       it starts again"
                .to_owned();
            return self.control_done(client, Err(why));
        }
        let uid = self.controls.get(&client).and_then(|c| c.uid);
        let mut plan = Vec::new();
        let mut go = Vec::new();
        for name in names {
            match self.claim_removal(&name) {
                Ok(()) => {
                    go.push(name.clone());
                    plan.push((name, None));
                }
                Err(why) => plan.push((name, Some(why))),
            }
        }
        if go.is_empty() {
            return self.removal_answer(client, plan, &[]);
        }
        self.removals.insert(client, plan);
        self.out.push_back(Output::RemoveDelayed {
            client,
            names: go,
            uid,
        });
    }

    /// Takes `name` out of the replay for its deletion, or says why it may not be deleted.
    fn claim_removal(&mut self, name: &str) -> Result<(), String> {
        let n = spool::removable(name)?;
        if self.removing.contains(name) {
            return Err("already being deleted".into());
        }
        if self.unrecorded.contains_key(name) {
            return Err("already delivered (its S: record waits to be written)".into());
        }
        if let Some(key) = self.by_id.get(&n.host)
            && let Some(s) = self.served.get_mut(key)
        {
            s.host.spool_remove(name)?;
        }
        self.removing.insert(name.to_owned());
        Ok(())
    }

    /// The runtime's report of [`Output::RemoveDelayed`]: what became of each file. A file
    /// not deleted for want of its record (or not there) goes back to the replay; the client
    /// is answered, file by file.
    pub fn delayed_removed(
        &mut self,
        now: Instant,
        client: ClientId,
        done: Vec<(String, Removal)>,
    ) {
        for (name, outcome) in &done {
            self.removing.remove(name);
            if matches!(
                outcome,
                Removal::Deleted { .. } | Removal::NotDeleted { .. }
            ) {
                continue;
            }
            let key = DelayedName::parse(name)
                .ok()
                .and_then(|n| self.by_id.get(&n.host).copied());
            if let Some(key) = key
                && let Some(s) = self.served.get_mut(&key)
            {
                s.host.spool_unremove(name);
                self.pump(now, key);
            }
        }
        if let Some(plan) = self.removals.remove(&client) {
            self.removal_answer(client, plan, &done);
        }
        if self.draining {
            self.check_drained(now);
        }
    }

    /// One line per file named: `deleted <file> (<host>: <request>)` or `not deleted <file>:
    /// <why>`; `ok` if every one was deleted.
    fn removal_answer(
        &mut self,
        client: ClientId,
        plan: Vec<(String, Option<String>)>,
        done: &[(String, Removal)],
    ) {
        let mut text = String::new();
        let mut failed = 0;
        let total = plan.len();
        for (name, refused) in plan {
            let shown = quote::excerpt(&name.escape_debug().to_string());
            let outcome = done.iter().find(|(n, _)| *n == name).map(|(_, o)| o);
            let why = match (refused, outcome) {
                (Some(why), _) => why,
                (None, Some(Removal::Deleted { command })) => {
                    let host = DelayedName::parse(&name)
                        .map(|n| n.host)
                        .unwrap_or_default();
                    text.push_str(&format!("deleted {shown} ({host}: {command})\n"));
                    continue;
                }
                (None, Some(Removal::NotDeleted { why, .. })) => {
                    format!("recorded, but the file could not be deleted: {why}")
                }
                (None, Some(Removal::Missing)) => "no such file".into(),
                (None, Some(Removal::Unrecorded { why })) => {
                    format!("lonnet.perm.log cannot be written ({why}); the file is kept")
                }
                (None, None) => "not reported by the daemon".into(),
            };
            failed += 1;
            text.push_str(&format!("not deleted {shown}: {why}\n"));
        }
        if failed == 0 {
            self.control_done(client, Ok(text));
        } else {
            let files = if total == 1 { "file" } else { "files" };
            let why = format!("{failed} of {total} {files} not deleted");
            self.control_done_after(client, text, why);
        }
    }

    /// Closes the control clients that sent no command in time; re-arms for the next.
    fn expire_controls(&mut self, now: Instant) {
        let late: Vec<ClientId> = self
            .controls
            .iter()
            .filter(|(_, c)| !c.busy && c.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for client in late {
            let why = format!("no command within {} s", COMMAND_TIMEOUT.as_secs());
            self.control_done(client, Err(why));
        }
        if let Some(next) = self
            .controls
            .values()
            .filter(|c| !c.busy)
            .map(|c| c.deadline)
            .min()
        {
            self.timers.set(NodeTimer::Control, next);
        }
    }

    /// The metrics of the daemon and every host, in Prometheus' text format
    /// ([`metrics::render`]): the control command `metrics` and `GET /metrics`.
    pub fn metrics_text(&self, now: Instant) -> String {
        let Ok(report) = self.status_report(now, &[]) else {
            return String::new();
        };
        let hosts: Vec<HostMetrics> = report
            .hosts
            .into_iter()
            .map(|r| {
                let latency = self
                    .by_id
                    .get(&r.id)
                    .and_then(|k| self.served.get(k))
                    .map(|s| s.host.stats().latency().clone())
                    .unwrap_or_default();
                HostMetrics { report: r, latency }
            })
            .collect();
        metrics::render(&report.daemon, &hosts)
    }

    /// A connection to the metrics' HTTP address ([`Output::ListenMetrics`]): its id, or
    /// `None` (close it) when [`metrics::MAX_SCRAPERS`] are open already or the daemon has
    /// exited. It has [`metrics::SCRAPE_TIMEOUT`] to send its request, and as long again to
    /// read the answer.
    pub fn accept_metrics(&mut self, now: Instant) -> Option<ClientId> {
        if self.daemon.has_exited() || self.scrapers.len() >= metrics::MAX_SCRAPERS {
            return None;
        }
        let id = ClientId(self.next_client);
        self.next_client += 1;
        let deadline = now + metrics::SCRAPE_TIMEOUT;
        self.scrapers.insert(
            id,
            ScrapeSlot {
                request: Vec::new(),
                answered: false,
                deadline,
            },
        );
        self.arm_for_client(NodeTimer::Scrape, deadline);
        Some(id)
    }

    /// Metrics clients open (answered ones included, until the runtime has closed them).
    pub fn metrics_client_count(&self) -> usize {
        self.scrapers.len()
    }

    /// The runtime has closed the client's connection (after [`Output::CloseClient`] once the
    /// answers were written, or after a failure). Only a metrics client's slot waits for this;
    /// for other clients it changes nothing.
    pub fn client_closed(&mut self, _now: Instant, client: ClientId) {
        self.scrapers.remove(&client);
    }

    /// Arms `timer` for a client's `deadline` unless it is armed already: deadlines come in
    /// the order of the clients, so an armed timer is for an earlier one, and when it fires
    /// (`expire_controls`, `expire_scrapers`) it is armed again for the next.
    fn arm_for_client(&mut self, timer: NodeTimer, deadline: Instant) {
        if self.timers.get(timer).is_none() {
            self.timers.set(timer, deadline);
        }
    }

    /// Bytes (or, with `None`, the end of the stream) from a metrics client: once its request
    /// is complete (or cannot be), it is answered and closed.
    fn scrape_input(&mut self, now: Instant, client: ClientId, data: Option<&[u8]>) {
        let Some(s) = self.scrapers.get_mut(&client) else {
            return;
        };
        if s.answered {
            return;
        }
        let route = match data {
            Some(data) => {
                let room = metrics::MAX_REQUEST - s.request.len();
                s.request.extend_from_slice(&data[..data.len().min(room)]);
                match metrics::route(&s.request) {
                    Some(route) => route,
                    None => return,
                }
            }
            // Nothing came: nothing to answer.
            None if s.request.is_empty() => {
                s.answered = true;
                s.request = Vec::new();
                self.out.push_back(Output::CloseClient { client });
                return;
            }
            None => Route::BadRequest,
        };
        self.scrape_answer(now, client, route);
    }

    /// Answers a metrics client and closes it; its slot is kept until the runtime has closed
    /// it, or dropped after [`metrics::SCRAPE_TIMEOUT`].
    fn scrape_answer(&mut self, now: Instant, client: ClientId, route: Route) {
        let bytes = metrics::response(route, || self.metrics_text(now));
        let Some(s) = self.scrapers.get_mut(&client) else {
            return;
        };
        s.answered = true;
        s.request = Vec::new();
        s.deadline = now + metrics::SCRAPE_TIMEOUT;
        let deadline = s.deadline;
        self.out.push_back(Output::Answer {
            client,
            bytes: Bytes::from(bytes),
        });
        self.out.push_back(Output::CloseClient { client });
        self.arm_for_client(NodeTimer::Scrape, deadline);
    }

    /// Answers `408` to the metrics clients whose request did not come in time, drops those
    /// that have not read their answer in time; re-arms for the next.
    fn expire_scrapers(&mut self, now: Instant) {
        if self.daemon.has_exited() {
            return;
        }
        let due: Vec<(ClientId, bool)> = self
            .scrapers
            .iter()
            .filter(|(_, s)| s.deadline <= now)
            .map(|(id, s)| (*id, s.answered))
            .collect();
        for (client, answered) in due {
            if answered {
                self.scrapers.remove(&client);
                self.out.push_back(Output::AbortClient { client });
            } else {
                self.scrape_answer(now, client, Route::Timeout);
            }
        }
        if let Some(next) = self.scrapers.values().map(|s| s.deadline).min() {
            self.timers.set(NodeTimer::Scrape, next);
        }
    }

    /// `lonc status` of the hosts named (all if none), or the first name not served.
    pub fn status_report(&self, now: Instant, only: &[String]) -> Result<StatusReport, String> {
        let report = |key: &HostKey| self.served.get(key).map(|s| s.host.report(now));
        let hosts: Vec<HostReport> = if only.is_empty() {
            self.daemon
                .hosts()
                .filter_map(|spec| self.by_id.get(spec.id()))
                .filter_map(report)
                .collect()
        } else {
            let mut hosts = Vec::new();
            for id in only {
                let key = self
                    .by_id
                    .get(id)
                    .ok_or_else(|| format!("no such host: {}", quote::excerpt(id)))?;
                hosts.extend(report(key));
            }
            hosts
        };
        let phase = match self.daemon.phase() {
            Phase::Running => "running",
            Phase::Reloading => "reloading",
            Phase::ShuttingDown | Phase::Exited => "stopping",
        };
        Ok(StatusReport {
            daemon: DaemonReport {
                version: self.version.clone(),
                pid: self.pid,
                uptime_seconds: now.saturating_duration_since(self.started).as_secs(),
                phase,
                hosts: self.served.len(),
                dead: self.served.values().filter(|s| s.host.is_dead()).count(),
                links: self.served.values().map(|s| s.links.len()).sum(),
                clients: self.clients.len(),
                debug: self.daemon.debug(),
            },
            hosts,
        })
    }

    // ------------------------------------------------------------------ links

    /// The link's TCP connection is established.
    pub fn handle_connected(&mut self, now: Instant, link: LinkId) {
        self.on_link(now, link, |l| l.handle_connected(now));
    }

    /// The link's TCP connection could not be established.
    pub fn handle_connect_failed(&mut self, now: Instant, link: LinkId, kind: io::ErrorKind) {
        self.on_link(now, link, |l| l.handle_connect_failed(now, kind));
    }

    /// Bytes read from the link's socket.
    pub fn handle_link_input(&mut self, now: Instant, link: LinkId, data: &[u8]) {
        self.on_link(now, link, |l| l.handle_input(now, data));
    }

    /// The lond closed the link's connection.
    pub fn handle_link_eof(&mut self, now: Instant, link: LinkId) {
        self.on_link(now, link, |l| l.handle_eof(now));
    }

    /// Reading from the link's socket failed.
    pub fn handle_read_error(&mut self, now: Instant, link: LinkId, kind: io::ErrorKind) {
        self.on_link(now, link, |l| l.handle_read_error(now, kind));
    }

    /// Writing to the link's socket failed (a write of 0 bytes included).
    pub fn handle_write_error(&mut self, now: Instant, link: LinkId, kind: io::ErrorKind) {
        self.on_link(now, link, |l| l.handle_write_error(now, kind));
    }

    /// `n` bytes handed out with [`Output::Transmit`] were written to the link's socket. A
    /// report beyond what was handed out is a runtime bug: the link is closed and the fact
    /// logged.
    pub fn handle_written(&mut self, now: Instant, link: LinkId, n: usize) {
        let mut misuse = None;
        self.on_link(now, link, |l| {
            if let Err(e) = l.handle_written(now, n) {
                l.close(now);
                misuse = Some(e);
            }
        });
        if let Some(e) = misuse {
            let link_n = link.number();
            self.log_host(
                link.host(),
                LogEvent::LinkMisused {
                    link: link_n,
                    error: e,
                },
            );
        }
    }

    fn on_link(&mut self, now: Instant, link: LinkId, f: impl FnOnce(&mut Link)) {
        let key = link.host();
        let Some(l) = self.served.get_mut(&key).and_then(|s| s.link_mut(link)) else {
            // A socket event for a link already closed and forgotten: nothing to do.
            return;
        };
        f(l);
        self.pump(now, key);
    }

    // ------------------------------------------------------------------ daemon

    /// A signal arrived.
    pub fn handle_signal(&mut self, now: Instant, signal: Signal) {
        self.daemon.handle_signal(now, signal);
        self.settle(now);
    }

    /// The answer to [`Output::ScanDelayed`]: the names in the delayed directory (an empty
    /// list if it cannot be read). Each served host learns its files; names that are not
    /// delayed-file names, or are for a host not served, are warned about once.
    pub fn delayed_listed(&mut self, now: Instant, names: Vec<String>) {
        self.scanning = false;
        if self.daemon.is_shutting_down() {
            for (client, _) in std::mem::take(&mut self.flush_waiters) {
                let why = "the daemon is stopping: it replays nothing more".to_owned();
                self.control_done(client, Err(why));
            }
            return;
        }
        let own_id = self.daemon.settings().host_id.clone();
        let mut by_host: HashMap<HostKey, Vec<String>> = HashMap::new();
        let mut warned = HashSet::new();
        for name in names {
            // lonnet's temporary names and anything hidden are not spool files yet.
            if name.starts_with('.') || self.unrecorded.contains_key(&name) {
                continue;
            }
            let event = match DelayedName::parse(&name) {
                Err(error) => LogEvent::BadDelayedName {
                    name: name.clone(),
                    error,
                },
                Ok(n) => match self.by_id.get(&n.host) {
                    Some(key) => {
                        by_host.entry(*key).or_default().push(name);
                        continue;
                    }
                    // Files for our own id are not ours to deliver; they stay.
                    None if n.host == own_id => continue,
                    None => LogEvent::DelayedForUnknownHost {
                        name: name.clone(),
                        owner: n.host,
                    },
                },
            };
            if !self.spool_warned.contains(&name) {
                self.log_parent(event);
            }
            warned.insert(name);
        }
        self.spool_warned = warned;
        let keys: Vec<HostKey> = self.served.keys().copied().collect();
        for key in keys {
            let names = by_host.remove(&key).unwrap_or_default();
            if let Some(s) = self.served.get_mut(&key) {
                s.host.spool_listed(now, names);
                self.pump(now, key);
            }
        }
        for (name, record) in std::mem::take(&mut self.unrecorded) {
            self.out.push_back(Output::Delivered { name, record });
        }
        self.timers
            .set_after(NodeTimer::Scan, now, self.scan_interval);
        if std::mem::take(&mut self.rescan) {
            // A `spool flush` waits for the scan that started after it.
            self.request_scan();
        } else {
            for (client, only) in std::mem::take(&mut self.flush_waiters) {
                let answer = self.flush_answer(only.as_deref());
                self.control_done(client, answer);
            }
        }
    }

    /// The answer to [`Output::ReadDelayed`]: the files read, and those that could not be read
    /// with why.
    pub fn delayed_read(
        &mut self,
        now: Instant,
        host: HostKey,
        files: Vec<DelayedFile>,
        unreadable: Vec<(String, String)>,
    ) {
        if let Some(s) = self.served.get_mut(&host) {
            s.host.delayed_read(now, files, unreadable);
            self.pump(now, host);
        }
    }

    /// The `S:` record of a delivered file could not be written ([`Output::Delivered`]): the
    /// file stays, is not replayed, and its record is written (and the file deleted) at the
    /// next scan.
    pub fn record_failed(&mut self, _now: Instant, name: String, record: String) {
        self.unrecorded.insert(name, record);
    }

    /// The configuration was re-read after [`Output::ReloadConfig`].
    pub fn reload(
        &mut self,
        now: Instant,
        settings: Settings,
        hosts: &[HostEntry],
        problems: &[LineProblem],
    ) -> HostDiff {
        let diff = self.daemon.reload(now, settings, hosts, problems);
        self.settle(now);
        self.request_scan();
        let answer = if diff == HostDiff::default() {
            Err(format!(
                "hosts.tab has no usable remote host: reload refused, keeping the {} hosts \
                 served",
                self.served.len()
            ))
        } else {
            Ok(reload_answer(&diff))
        };
        for client in std::mem::take(&mut self.reload_waiters) {
            self.control_done(client, answer.clone());
        }
        diff
    }

    /// Re-reading the configuration failed; `reason` is logged and nothing changes.
    pub fn reload_failed(&mut self, now: Instant, reason: &str) {
        self.daemon.reload_failed(now, reason);
        self.settle(now);
        for client in std::mem::take(&mut self.reload_waiters) {
            self.control_done(client, Err(format!("reload failed: {reason}")));
        }
    }

    /// Fires every expired timer of the daemon, the hosts and their links.
    pub fn handle_timeout(&mut self, now: Instant) {
        for key in self.deadlines.due(now) {
            // A host's timer may answer the last client of a shutdown: then nothing follows.
            if self.daemon.has_exited() {
                return;
            }
            let Some(s) = self.served.get_mut(&key) else {
                continue;
            };
            if s.host.poll_timeout().is_some_and(|t| t <= now) {
                s.host.handle_timeout(now);
            }
            for slot in &mut s.links {
                if slot.link.poll_timeout().is_some_and(|t| t <= now) {
                    slot.link.handle_timeout(now);
                }
            }
            self.pump(now, key);
        }
        // The last host's timer may have answered the last client of a shutdown.
        if self.daemon.has_exited() {
            return;
        }
        if self.daemon.poll_timeout().is_some_and(|t| t <= now) {
            self.daemon.handle_timeout(now);
        }
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                NodeTimer::Scan => self.request_scan(),
                NodeTimer::Status => self.status_due = Some(now),
                NodeTimer::Control => self.expire_controls(now),
                NodeTimer::Scrape => self.expire_scrapers(now),
            }
        }
        self.settle(now);
    }

    /// The next instant at which [`Node::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines
            .next()
            .into_iter()
            .chain(self.daemon.poll_timeout())
            .chain(self.timers.next())
            .min()
    }

    /// The next output, in order. Drain until `None` after every call.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.out.is_empty()
            && let Some(at) = self.status_due.take()
        {
            // Last, once the call is over: a summary of the state it left, not of a step on
            // the way (one host of those starting, a link between two others).
            self.show_status(at);
        }
        self.out.pop_front()
    }

    // ------------------------------------------------------------------ internals

    /// Runs the host `key` until it is quiet: its links' events go to its scheduler, the
    /// scheduler's actions to its links, clients and the runtime. Then files its deadline.
    fn pump(&mut self, now: Instant, key: HostKey) {
        let Node {
            daemon,
            link_config,
            served,
            clients,
            deadlines,
            scratch,
            out,
            draining,
            ..
        } = self;
        let mut scan = false;
        let scan_wanted = &mut scan;
        let Some(s) = served.get_mut(&key) else {
            return;
        };
        let debug = daemon.debug();
        loop {
            let mut moved = false;
            let mut i = 0;
            while i < s.links.len() {
                let id = s.links[i].id;
                let mut closed = false;
                while let Some(event) = s.links[i].link.poll_event() {
                    moved = true;
                    match event {
                        LinkEvent::Ready => s.host.handle_link_ready(now, id),
                        LinkEvent::Reply(reply) => s.host.handle_reply(now, id, reply),
                        LinkEvent::Closed { reason, unread, .. } => {
                            s.host.handle_link_closed(now, id, reason, unread);
                            closed = true;
                        }
                        LinkEvent::ProbeReset => out.push_back(Output::ProbeReset { link: id }),
                        LinkEvent::Log(e) => host_log(out, &s.spec, &s.host, debug, e),
                    }
                }
                if closed {
                    s.links.swap_remove(i);
                    out.push_back(Output::CloseLink {
                        link: id,
                        farewell: Bytes::new(),
                    });
                } else {
                    transmit(out, scratch, &mut s.links[i], false);
                    i += 1;
                }
            }
            while let Some(action) = s.host.poll_action() {
                moved = true;
                match action {
                    HostAction::OpenLink(id) => {
                        let own_id = &daemon.settings().host_id;
                        let link = Link::new(now, link_config.clone(), s.spec.id(), own_id);
                        s.links.push(LinkSlot { id, link });
                        out.push_back(Output::Connect {
                            link: id,
                            addr: s.spec.addr,
                        });
                    }
                    HostAction::Start { link, request } => {
                        let Some(slot) = s.links.iter_mut().find(|l| l.id == link) else {
                            let e = LogEvent::StartOnUnknownLink {
                                link: link.number(),
                            };
                            host_log(out, &s.spec, &s.host, debug, e);
                            continue;
                        };
                        match slot.link.start(now, &request) {
                            Ok(()) => transmit(out, scratch, slot, true),
                            // The scheduler starts only links it knows idle, and takes back
                            // the start of a link whose close reaches it first: a failure here
                            // is a bug, worth a close and a log line.
                            Err(e) => {
                                slot.link.close(now);
                                let e = LogEvent::StartFailed {
                                    link: link.number(),
                                    error: e,
                                };
                                host_log(out, &s.spec, &s.host, debug, e);
                            }
                        }
                    }
                    HostAction::CloseLink(id) => {
                        if let Some(i) = s.links.iter().position(|l| l.id == id) {
                            let mut slot = s.links.swap_remove(i);
                            slot.link.close(now);
                            // The scheduler has forgotten this link: its last events go nowhere.
                            while slot.link.poll_event().is_some() {}
                            let mut farewell = BytesMut::new();
                            slot.link.poll_transmit(&mut farewell);
                            out.push_back(Output::CloseLink {
                                link: id,
                                farewell: farewell.freeze(),
                            });
                        }
                    }
                    HostAction::Answer { client, line } => {
                        let Some(c) = clients.get_mut(&client) else {
                            continue;
                        };
                        c.conn.answered();
                        out.push_back(Output::Answer {
                            client,
                            bytes: answer_bytes(scratch, &line),
                        });
                        // The next pipelined line, if any: no new work once the shutdown
                        // began, so those are answered `con_lost`.
                        loop {
                            match c.conn.next_request() {
                                Some(_) if *draining => {
                                    s.host.count_lost_by_node(LostCause::Shutdown);
                                    c.conn.answered();
                                    out.push_back(Output::Answer {
                                        client,
                                        bytes: answer_bytes(scratch, CON_LOST),
                                    });
                                }
                                Some(next) => break s.host.submit(now, client, next),
                                None => {
                                    if c.conn.is_finished() {
                                        clients.remove(&client);
                                        out.push_back(Output::CloseClient { client });
                                    }
                                    break;
                                }
                            }
                        }
                    }
                    HostAction::ReadDelayed(names) => {
                        out.push_back(Output::ReadDelayed { host: key, names })
                    }
                    HostAction::ScanDelayed => *scan_wanted = true,
                    HostAction::Delivered { name, record } => {
                        out.push_back(Output::Delivered { name, record })
                    }
                    HostAction::Log(e) => host_log(out, &s.spec, &s.host, debug, e),
                }
            }
            if !moved {
                break;
            }
        }
        s.deadline = deadlines.refile(key, s.deadline, s.next_deadline());
        // Compared with the last count rather than with the state on entry: the host may have
        // changed before this pump (a timer, a submitted request).
        let counted = (s.links.len(), s.host.is_dead());
        let status_changed = counted != s.counted;
        s.counted = counted;
        let draining = *draining;
        if status_changed {
            self.status_may_change(now);
        }
        if draining {
            self.check_drained(now);
        }
        if scan {
            self.request_scan();
        }
    }

    fn check_drained(&mut self, now: Instant) {
        // A `spool delete` handed to the runtime is finished first: a record written and the
        // process gone before the file is deleted would deliver a file recorded as deleted.
        if self.removing.is_empty() && self.served.values().all(|s| s.host.is_drained()) {
            self.draining = false;
            self.status_may_change(now);
            self.daemon.handle_shutdown_drained(now);
            self.settle(now);
        }
    }

    /// Carries out the daemon's actions that concern the hosts and passes the rest on.
    fn settle(&mut self, now: Instant) {
        while let Some(action) = self.daemon.poll_action() {
            match action {
                Action::Log(event) => self.out.push_back(Output::Log {
                    host: PARENT_LOG_HOST.to_owned(),
                    state: self.parent_state.clone(),
                    event,
                }),
                Action::SetState(state) => self.parent_state = state,
                Action::StartHost(spec) => self.start_host(now, spec),
                Action::StopHost(spec) => self.stop_host(now, spec),
                Action::MoveHost(spec) => {
                    if let Some(&key) = self.by_id.get(spec.id())
                        && let Some(s) = self.served.get_mut(&key)
                    {
                        s.spec = spec; // new links connect to the new address
                        s.host.moved(now);
                        self.pump(now, key);
                    }
                }
                Action::ResetHosts => self.for_each_host(now, |h| h.reset(now)),
                Action::WriteStatus => {
                    let hosts = self
                        .daemon
                        .hosts()
                        .filter_map(|spec| {
                            let s = self.served.get(self.by_id.get(spec.id())?)?;
                            Some(HostStatus {
                                host: spec.id().to_owned(),
                                state: s.host.status(),
                            })
                        })
                        .collect();
                    self.out.push_back(Output::WriteStatus(hosts));
                }
                Action::ReloadConfig => self.out.push_back(Output::ReloadConfig),
                Action::BeginShutdown => {
                    self.out.push_back(Output::StopAccepting);
                    self.timers.clear(NodeTimer::Scan);
                    self.for_each_host(now, |h| h.stop_replay(now));
                    self.draining = true;
                    self.status_may_change(now);
                    self.check_drained(now);
                }
                Action::ForceClose => {
                    self.draining = false;
                    self.status_may_change(now);
                    self.for_each_host(now, |h| h.close_all(now));
                }
                Action::RemoveFiles(mut files) => {
                    // A socket that never listened is another process's (or nobody's).
                    let not_ours: HashSet<&PathBuf> = self
                        .served
                        .values()
                        .filter(|s| !s.listening)
                        .map(|s| &s.spec.socket_path)
                        .collect();
                    files.retain(|f| !not_ours.contains(f));
                    if self.control_listening {
                        files.push(self.daemon.settings().control_socket());
                    }
                    self.out.push_back(Output::RemoveFiles(files));
                }
                Action::Exit(code) => self.out.push_back(Output::Exit(code)),
            }
        }
    }

    fn for_each_host(&mut self, now: Instant, f: impl Fn(&mut Host)) {
        let mut keys: Vec<HostKey> = self.served.keys().copied().collect();
        keys.sort();
        for key in keys {
            if let Some(s) = self.served.get_mut(&key) {
                f(&mut s.host);
                self.pump(now, key);
            }
        }
    }

    fn start_host(&mut self, now: Instant, spec: HostSpec) {
        let key = HostKey(self.next_key);
        self.next_key += 1;
        let seed = self.seed ^ u64::from(key.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let host = Host::new(key, spec.id(), self.host_config.clone(), now, seed);
        self.by_id.insert(spec.id().to_owned(), key);
        self.out.push_back(Output::Listen {
            host: key,
            spec: spec.clone(),
        });
        self.served.insert(
            key,
            Served {
                spec,
                host,
                listening: false,
                links: Vec::new(),
                deadline: None,
                counted: (0, false),
            },
        );
        self.status_may_change(now);
    }

    fn stop_host(&mut self, now: Instant, spec: HostSpec) {
        let Some(key) = self.by_id.remove(spec.id()) else {
            return;
        };
        if let Some(s) = self.served.get_mut(&key) {
            s.host.close_all(now);
            self.pump(now, key);
        }
        if let Some(s) = self.served.remove(&key) {
            self.deadlines.refile(key, s.deadline, None);
            if s.listening {
                self.out.push_back(Output::Unlisten {
                    host: key,
                    spec: s.spec,
                });
            }
        }
        if let Some(pending) = &mut self.starting {
            pending.remove(&key);
        }
        self.status_may_change(now);
    }

    /// Something the summary counts may have changed: show it at the end of this call if
    /// nothing was shown in the last [`STATUS_INTERVAL`], or else when that interval is over.
    fn status_may_change(&mut self, now: Instant) {
        match self.status_at {
            Some(shown) if now < shown + STATUS_INTERVAL => {
                self.timers.set(NodeTimer::Status, shown + STATUS_INTERVAL);
            }
            _ => self.status_due = Some(now),
        }
    }

    fn show_status(&mut self, now: Instant) {
        if self.daemon.has_exited() {
            return;
        }
        let summary = self.summary();
        if summary != self.status_shown {
            self.status_at = Some(now);
            self.status_shown.clone_from(&summary);
            self.out.push_back(Output::ShowStatus(summary));
        }
    }

    /// Asks for a scan of the delayed directory, unless one is out (then one more follows it).
    fn request_scan(&mut self) {
        if self.daemon.is_shutting_down() {
            return;
        }
        if self.scanning {
            self.rescan = true;
        } else {
            self.scanning = true;
            self.out.push_back(Output::ScanDelayed);
        }
    }

    /// A line of the parent's that the node itself logs: a refused control connection, a
    /// delayed file's name. These are warnings, shown with or without `--debug`.
    fn log_parent(&mut self, event: LogEvent) {
        debug_assert!(!event.is_debug(), "{event:?}");
        self.out.push_back(Output::Log {
            host: PARENT_LOG_HOST.to_owned(),
            state: self.parent_state.clone(),
            event,
        });
    }

    fn log_host(&mut self, key: HostKey, event: LogEvent) {
        if let Some(s) = self.served.get(&key) {
            host_log(&mut self.out, &s.spec, &s.host, self.daemon.debug(), event);
        }
    }
}

/// A host's log line, unless it is a debug line and debug logging is off.
fn host_log(
    out: &mut VecDeque<Output>,
    spec: &HostSpec,
    host: &Host,
    debug: bool,
    event: LogEvent,
) {
    if event.is_debug() && !debug {
        return;
    }
    out.push_back(Output::Log {
        host: spec.id().to_owned(),
        state: host.status(),
        event,
    });
}

/// Hands out what the link has to send, if anything; `begins` as in [`Output::Transmit`].
fn transmit(out: &mut VecDeque<Output>, scratch: &mut BytesMut, slot: &mut LinkSlot, begins: bool) {
    if slot.link.wants_write() {
        slot.link.poll_transmit(scratch);
        out.push_back(Output::Transmit {
            link: slot.id,
            bytes: scratch.split().freeze(),
            begins,
        });
    }
}

/// `line` and its LF, as the bytes of an [`Output::Answer`].
fn answer_bytes(scratch: &mut BytesMut, line: &[u8]) -> Bytes {
    scratch.reserve(line.len() + 1);
    scratch.put_slice(line);
    scratch.put_u8(b'\n');
    scratch.split().freeze()
}

/// What a reload did, for `lonc reload`.
fn reload_answer(diff: &HostDiff) -> String {
    let ids = |specs: &mut dyn Iterator<Item = &HostSpec>| {
        let ids: Vec<&str> = specs.map(HostSpec::id).collect();
        if ids.is_empty() {
            "none".to_owned()
        } else {
            ids.join(" ")
        }
    };
    format!(
        "reloaded: {} hosts served; added: {}; removed: {}; changed: {}\n",
        diff.added.len() + diff.changed.len() + diff.unchanged.len(),
        ids(&mut diff.added.iter()),
        ids(&mut diff.removed.iter()),
        ids(&mut diff.changed.iter().map(|(_, new)| new)),
    )
}

//! The whole daemon as one sans-IO state machine: the parent's [`Daemon`] decisions composed
//! with one [`Peer`] per remote host. A runtime owns the sockets, files, clock and signals,
//! and nothing else: every decision both runtimes share lives here.
//!
//! # Driving a node
//!
//! * Create it with [`Node::new`] once the settings are resolved and `hosts.tab` is parsed.
//! * **Drain rule:** after creating it and after every call (`submit`, `handle_*`,
//!   `offer_delayed`, `reload`, `status_report`, ...) drain [`Node::poll_action`] until `None`,
//!   carrying the actions out in order; then wait for a socket, a signal or
//!   [`Node::poll_timeout`], and call [`Node::handle_timeout`] with the clock read then.
//! * Hosts are addressed by [`HostKey`], handed out with [`NodeAction::Listen`] and valid until
//!   [`NodeAction::Unlisten`]; links by the host's key and the [`LinkId`] of
//!   [`NodeAction::Connect`]. Calls for keys or links that are gone are ignored (a request for
//!   a host that is gone is answered `con_lost`).
//! * Signals: record them in the handler, call [`Node::handle_signal`] from the loop.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::conf::Settings;
use crate::daemon::{
    Action, Daemon, DaemonConfig, HostDiff, HostReport, HostSpec, PARENT_LOG_HOST, Signal,
};
use crate::host::DelayedFile;
use crate::hosts_tab::{HostEntry, LineProblem};
use crate::ids::{ClientId, LinkId};
use crate::log::{LogEvent, Severity};
use crate::logfmt::{LocalTime, status_string};
use crate::peer::{Peer, PeerAction, PeerConfig};
use crate::request::CON_LOST;
use crate::timer::Deadlines;

/// A served host, as the node and its runtime name it. Keys are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostKey(pub u32);

/// Tunables of the whole daemon.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeConfig {
    pub daemon: DaemonConfig,
    pub peer: PeerConfig,
}

/// What the node asks its runtime to do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum NodeAction {
    /// Listen on the host's UNIX socket (`spec.socket_path`, replacing a stale file) and submit
    /// what its clients send under `key`.
    Listen { key: HostKey, spec: HostSpec },
    /// Stop listening on the host's socket and remove the file. Its waiting clients have been
    /// answered; later requests under `key` are answered `con_lost`.
    Unlisten { key: HostKey, spec: HostSpec },
    /// Orderly shutdown: stop accepting on every socket; keep serving connected clients.
    StopAccepting,
    /// Open a TCP connection for this link to `addr`; report `handle_connected` or
    /// `handle_connect_failed`. Set TCP_NODELAY and keep-alive.
    Connect {
        key: HostKey,
        link: LinkId,
        addr: SocketAddr,
    },
    /// The link has bytes to send: take them with [`Node::poll_transmit`].
    Send { key: HostKey, link: LinkId },
    /// Close the link's socket (or abandon its connect), writing `farewell` first, best effort.
    Disconnect {
        key: HostKey,
        link: LinkId,
        farewell: Bytes,
    },
    /// Write `line` plus one `\n` to the client.
    Answer { client: ClientId, line: Bytes },
    /// Read the delayed directory ([`Settings::delayed_dir`]) for files of `host_id` and call
    /// [`Node::offer_delayed`] with their names and first lines.
    ListDelayed { key: HostKey, host_id: String },
    /// Delete this file of the delayed directory.
    DeleteDelayed(String),
    /// Append this record to `lonnet.perm.log` ([`crate::logfmt::perm_log_line`]).
    PermLog(String),
    /// Write a `lonc.log` line ([`crate::logfmt::log_event_line`]) with this host and status
    /// field. Keep the host's last line for the status report.
    Log {
        host: String,
        status: String,
        event: LogEvent,
    },
    /// The parent's state changed: the process title becomes `lonc: <state> <time>`.
    SetState(String),
    /// Call [`Node::status_report`] now, before any other call, with each host's last
    /// `lonc.log` line. The daemon's next decisions (the reset of dead hosts) wait for it.
    CollectStatus,
    /// Truncate `loncstatus.txt` ([`Settings::status_file`]) and write this text.
    WriteStatus(String),
    /// Re-read the configuration and `hosts.tab`; call [`Node::reload`] or
    /// [`Node::reload_failed`].
    ReloadConfig,
    /// Debug logging was toggled (debug lines already come filtered).
    SetDebug(bool),
    /// Remove these files, ignoring those already gone.
    RemoveFiles(Vec<PathBuf>),
    /// Flush what was answered, then exit with this code.
    Exit(i32),
}

struct Served {
    spec: HostSpec,
    peer: Peer,
    /// The peer's deadline as entered in `deadlines`.
    deadline: Option<Instant>,
}

/// The daemon: decisions of the parent plus one peer per remote host.
pub struct Node {
    daemon: Daemon,
    config: PeerConfig,
    served: HashMap<HostKey, Served>,
    by_id: HashMap<String, HostKey>,
    deadlines: Deadlines<HostKey>,
    next_key: u32,
    seed: u64,
    draining: bool,
    /// A `CollectStatus` is out: the daemon's later actions wait for [`Node::status_report`],
    /// so that the report shows the hosts as they were when it was asked for.
    awaiting_status: bool,
    actions: VecDeque<NodeAction>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("hosts", &self.served.len())
            .field("phase", &self.daemon.phase())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Starts the daemon for `settings` and the parsed `hosts.tab`; `seed` feeds the hosts'
    /// probe jitter. The first actions listen on every remote host's socket.
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
            config: config.peer,
            served: HashMap::new(),
            by_id: HashMap::new(),
            deadlines: Deadlines::default(),
            next_key: 0,
            seed,
            draining: false,
            awaiting_status: false,
            actions: VecDeque::new(),
        };
        node.settle(now);
        node
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

    /// A served host's peer, for inspection.
    pub fn peer(&self, key: HostKey) -> Option<&Peer> {
        self.served.get(&key).map(|s| &s.peer)
    }

    /// The served hosts' keys and specs, in no particular order.
    pub fn hosts(&self) -> impl Iterator<Item = (HostKey, &HostSpec)> {
        self.served.iter().map(|(k, s)| (*k, &s.spec))
    }

    /// A request line (no LF) from a client of the host `key`.
    pub fn submit(&mut self, now: Instant, key: HostKey, client: ClientId, request: Bytes) {
        match self.served.get_mut(&key) {
            Some(s) if !self.draining => s.peer.submit(now, client, request),
            _ => self.actions.push_back(NodeAction::Answer {
                client,
                line: Bytes::from_static(CON_LOST),
            }),
        }
        self.after_peer(now, key);
    }

    /// A client of the host `key` hung up.
    pub fn client_gone(&mut self, now: Instant, key: HostKey, client: ClientId) {
        self.on_peer(now, key, |p| p.client_gone(now, client));
    }

    /// The answer to [`NodeAction::ListDelayed`].
    pub fn offer_delayed(&mut self, now: Instant, key: HostKey, files: Vec<DelayedFile>) {
        self.on_peer(now, key, |p| p.offer_delayed(now, files));
    }

    /// The link's TCP connection is established.
    pub fn handle_connected(&mut self, now: Instant, key: HostKey, link: LinkId) {
        self.on_peer(now, key, |p| p.handle_connected(now, link));
    }

    /// The link's TCP connection could not be established.
    pub fn handle_connect_failed(
        &mut self,
        now: Instant,
        key: HostKey,
        link: LinkId,
        kind: io::ErrorKind,
    ) {
        self.on_peer(now, key, |p| p.handle_connect_failed(now, link, kind));
    }

    /// Bytes read from the link's socket.
    pub fn handle_input(&mut self, now: Instant, key: HostKey, link: LinkId, data: &[u8]) {
        self.on_peer(now, key, |p| p.handle_input(now, link, data));
    }

    /// The lond closed the link's connection.
    pub fn handle_eof(&mut self, now: Instant, key: HostKey, link: LinkId) {
        self.on_peer(now, key, |p| p.handle_eof(now, link));
    }

    /// Reading from the link's socket failed.
    pub fn handle_read_error(
        &mut self,
        now: Instant,
        key: HostKey,
        link: LinkId,
        kind: io::ErrorKind,
    ) {
        self.on_peer(now, key, |p| p.handle_read_error(now, link, kind));
    }

    /// Writing to the link's socket failed.
    pub fn handle_write_error(
        &mut self,
        now: Instant,
        key: HostKey,
        link: LinkId,
        kind: io::ErrorKind,
    ) {
        self.on_peer(now, key, |p| p.handle_write_error(now, link, kind));
    }

    /// Moves the link's bytes to send into `out`; returns how many.
    pub fn poll_transmit(&mut self, key: HostKey, link: LinkId, out: &mut BytesMut) -> usize {
        match self.served.get_mut(&key) {
            Some(s) => s.peer.poll_transmit(link, out),
            None => 0,
        }
    }

    /// `n` bytes taken with [`Node::poll_transmit`] were written to the link's socket.
    pub fn handle_written(&mut self, now: Instant, key: HostKey, link: LinkId, n: usize) {
        self.on_peer(now, key, |p| p.handle_written(now, link, n));
    }

    /// A signal arrived.
    pub fn handle_signal(&mut self, now: Instant, signal: Signal) {
        if self.awaiting_status {
            // The runtime never answered the last CollectStatus: do not hold everything up.
            self.awaiting_status = false;
            self.actions.push_back(NodeAction::Log {
                host: PARENT_LOG_HOST.to_owned(),
                status: self.daemon.state().to_owned(),
                event: LogEvent::new(Severity::Warning, "Status report skipped"),
            });
        }
        self.daemon.handle_signal(now, signal);
        self.settle(now);
    }

    /// Fires every expired timer of the daemon and the hosts.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Each expired host fires once per call, whatever deadline it files next.
        for key in self.deadlines.due(now) {
            self.on_peer(now, key, |p| p.handle_timeout(now));
        }
        if self.daemon.poll_timeout().is_some_and(|t| t <= now) {
            self.daemon.handle_timeout(now);
        }
        self.settle(now);
    }

    /// The next instant at which [`Node::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines
            .next()
            .into_iter()
            .chain(self.daemon.poll_timeout())
            .min()
    }

    /// The configuration was re-read after [`NodeAction::ReloadConfig`].
    pub fn reload(
        &mut self,
        now: Instant,
        settings: Settings,
        hosts: &[HostEntry],
        problems: &[LineProblem],
    ) -> HostDiff {
        let diff = self.daemon.reload(now, settings, hosts, problems);
        self.settle(now);
        diff
    }

    /// Re-reading the configuration failed; `reason` is logged and nothing changes.
    pub fn reload_failed(&mut self, now: Instant, reason: &str) {
        self.daemon.reload_failed(now, reason);
        self.settle(now);
    }

    /// The answer to [`NodeAction::CollectStatus`]: `time` is the local time now, `pid` ours,
    /// `last_line` gives a host's last `lonc.log` line.
    pub fn status_report(
        &mut self,
        now: Instant,
        time: &LocalTime,
        pid: u32,
        last_line: impl Fn(&str) -> String,
    ) {
        let reports: Vec<HostReport> = self
            .served
            .values()
            .map(|s| HostReport {
                host: s.spec.id().to_owned(),
                pid,
                status: status_string(time, &s.peer.status()),
                last_log_line: last_line(s.spec.id()),
            })
            .collect();
        self.awaiting_status = false;
        self.daemon.status_report(time, pid, &reports);
        self.settle(now);
    }

    /// The next action, in order.
    pub fn poll_action(&mut self) -> Option<NodeAction> {
        self.actions.pop_front()
    }

    /// True once [`NodeAction::Exit`] was emitted.
    pub fn has_exited(&self) -> bool {
        self.daemon.has_exited()
    }

    fn on_peer(&mut self, now: Instant, key: HostKey, f: impl FnOnce(&mut Peer)) {
        if let Some(s) = self.served.get_mut(&key) {
            f(&mut s.peer);
            self.after_peer(now, key);
        }
    }

    /// Moves a peer's actions out and re-files its deadline; checks the shutdown drain.
    fn after_peer(&mut self, now: Instant, key: HostKey) {
        if let Some(s) = self.served.get_mut(&key) {
            let debug = self.daemon.debug();
            while let Some(action) = s.peer.poll_action() {
                let action = match action {
                    PeerAction::Connect(link) => NodeAction::Connect {
                        key,
                        link,
                        addr: s.spec.addr,
                    },
                    PeerAction::Send(link) => NodeAction::Send { key, link },
                    PeerAction::Disconnect { link, farewell } => NodeAction::Disconnect {
                        key,
                        link,
                        farewell,
                    },
                    PeerAction::Answer { client, line } => NodeAction::Answer { client, line },
                    PeerAction::ListDelayed => NodeAction::ListDelayed {
                        key,
                        host_id: s.spec.id().to_owned(),
                    },
                    PeerAction::DeleteDelayed(name) => NodeAction::DeleteDelayed(name),
                    PeerAction::PermLog(record) => NodeAction::PermLog(record),
                    PeerAction::Log(event) if event.severity == Severity::Debug && !debug => {
                        continue;
                    }
                    PeerAction::Log(event) => NodeAction::Log {
                        host: s.spec.id().to_owned(),
                        status: s.peer.status(),
                        event,
                    },
                };
                self.actions.push_back(action);
            }
            s.deadline = self
                .deadlines
                .refile(key, s.deadline, s.peer.poll_timeout());
        }
        if self.draining {
            self.check_drained(now);
        }
    }

    fn check_drained(&mut self, now: Instant) {
        if self
            .served
            .values()
            .all(|s| s.peer.host().waiting_clients() == 0)
        {
            self.draining = false;
            self.daemon.handle_shutdown_drained(now);
            self.settle(now);
        }
    }

    /// Carries out the daemon's actions that concern the hosts and passes the rest on.
    fn settle(&mut self, now: Instant) {
        while !self.awaiting_status
            && let Some(action) = self.daemon.poll_action()
        {
            match action {
                Action::Log(event) => self.actions.push_back(NodeAction::Log {
                    host: PARENT_LOG_HOST.to_owned(),
                    status: self.daemon.state().to_owned(),
                    event,
                }),
                Action::SetState(state) => self.actions.push_back(NodeAction::SetState(state)),
                Action::StartHost(spec) => self.start_host(now, spec),
                Action::StopHost(spec) => self.stop_host(now, spec),
                Action::ResetHosts => self.for_each_peer(now, |p| p.reset(now)),
                Action::CollectStatus => {
                    self.awaiting_status = true;
                    self.actions.push_back(NodeAction::CollectStatus);
                }
                Action::WriteStatus(text) => self.actions.push_back(NodeAction::WriteStatus(text)),
                Action::ReloadConfig => self.actions.push_back(NodeAction::ReloadConfig),
                Action::SetDebug(on) => self.actions.push_back(NodeAction::SetDebug(on)),
                Action::BeginShutdown => {
                    self.actions.push_back(NodeAction::StopAccepting);
                    self.draining = true;
                    self.check_drained(now);
                }
                Action::ForceClose => {
                    self.draining = false;
                    self.for_each_peer(now, |p| p.close_all(now));
                }
                Action::RemoveFiles(files) => {
                    self.actions.push_back(NodeAction::RemoveFiles(files))
                }
                Action::Exit(code) => self.actions.push_back(NodeAction::Exit(code)),
            }
        }
    }

    fn for_each_peer(&mut self, now: Instant, f: impl Fn(&mut Peer)) {
        let mut keys: Vec<HostKey> = self.served.keys().copied().collect();
        keys.sort();
        for key in keys {
            self.on_peer(now, key, &f);
        }
    }

    fn start_host(&mut self, now: Instant, spec: HostSpec) {
        let key = HostKey(self.next_key);
        self.next_key += 1;
        let seed = self.seed ^ u64::from(key.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let own_id = self.daemon.settings().host_id.clone();
        let peer = Peer::new(spec.id(), &own_id, self.config.clone(), now, seed);
        self.by_id.insert(spec.id().to_owned(), key);
        self.actions.push_back(NodeAction::Listen {
            key,
            spec: spec.clone(),
        });
        self.served.insert(
            key,
            Served {
                spec,
                peer,
                deadline: None,
            },
        );
    }

    fn stop_host(&mut self, now: Instant, spec: HostSpec) {
        let Some(key) = self.by_id.remove(spec.id()) else {
            return;
        };
        self.on_peer(now, key, |p| p.close_all(now));
        if let Some(s) = self.served.remove(&key) {
            self.deadlines.refile(key, s.deadline, None);
            self.actions
                .push_back(NodeAction::Unlisten { key, spec: s.spec });
        }
    }
}

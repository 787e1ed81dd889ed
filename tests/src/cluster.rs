//! A whole [`Node`] in memory: lonnet clients that connect and write bytes, and behind every
//! link the node opens a core [`Session`] that answers like lond-sim's `echo:` (or not at all,
//! as the host's [`Lond`] mode says); an in-memory delayed directory and `lonnet.perm.log`.
//! Virtual clock; no sockets, no files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lonc_core::conf::Settings;
use lonc_core::daemon::Signal;
use lonc_core::host::DelayedFile;
use lonc_core::hosts_tab;
use lonc_core::ids::{ClientId, HostKey, LinkId};
use lonc_core::log::LogEvent;
use lonc_core::logfmt::{HostStatus, LocalTime, message, status_file};
use lonc_core::node::{Node, NodeConfig, Output};
use lonc_core::session::{Session, SessionConfig, SessionEvent};

use crate::pair::APPENDIX_SEED;

/// How the simulated lond of a host behaves towards new connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lond {
    /// Accepts, handshakes and answers every request with its text.
    Up,
    /// Connections are refused at the TCP level.
    Down,
    /// Connections never complete (the connect timeout decides).
    Hanging,
    /// Accepts and handshakes, then never answers a request.
    Silent,
    /// Accepts and handshakes, then holds its replies until [`NodeHarness::release_held`].
    Holding,
}

/// In-memory londs: one core [`Session`] per open connection.
#[derive(Default)]
pub struct Londs {
    sessions: HashMap<LinkId, (Session, Lond)>,
    /// Requests the londs received: the text and whether it came encrypted.
    pub saw: Vec<(Bytes, bool)>,
    /// Requests a holding lond has not answered yet, per link.
    held: HashMap<LinkId, Vec<Bytes>>,
}

impl Londs {
    /// A lond `server_id` accepts a connection from `client_id`.
    pub fn open(
        &mut self,
        link: LinkId,
        now: Instant,
        server_id: &str,
        client_id: &str,
        mode: Lond,
    ) {
        let session = Session::new(
            now,
            SessionConfig::default(),
            server_id,
            client_id,
            APPENDIX_SEED,
        );
        self.sessions.insert(link, (session, mode));
    }

    pub fn close(&mut self, link: LinkId) {
        self.sessions.remove(&link);
        self.held.remove(&link);
    }

    /// Every holding lond answers what it holds.
    pub fn release(&mut self) {
        for (link, lines) in self.held.drain() {
            if let Some((session, _)) = self.sessions.get_mut(&link) {
                for line in lines {
                    session.reply(&line);
                }
            }
        }
    }

    /// Requests held, not answered yet.
    pub fn held(&self) -> usize {
        self.held.values().map(Vec::len).sum()
    }

    pub fn links(&self) -> Vec<LinkId> {
        let mut links: Vec<LinkId> = self.sessions.keys().copied().collect();
        links.sort();
        links
    }

    /// Bytes from the client to the lond.
    pub fn deliver(&mut self, link: LinkId, now: Instant, bytes: &[u8]) {
        if let Some((s, _)) = self.sessions.get_mut(&link) {
            s.handle_input(now, bytes);
        }
    }

    /// Lets the lond answer what it has; returns the bytes it sends back (empty if none) and
    /// whether anything happened.
    pub fn pump(&mut self, link: LinkId, now: Instant) -> (BytesMut, bool) {
        let mut out = BytesMut::new();
        let Some((session, mode)) = self.sessions.get_mut(&link) else {
            return (out, false);
        };
        let mut moved = false;
        while let Some(event) = session.poll_event() {
            moved = true;
            if let SessionEvent::Request { line, encrypted } = event {
                match mode {
                    Lond::Silent => {}
                    Lond::Holding => self.held.entry(link).or_default().push(line.clone()),
                    _ => session.reply(&line),
                }
                self.saw.push((line, encrypted));
            }
        }
        let n = session.poll_transmit(&mut out);
        if n > 0 {
            moved = true;
            let _ = session.handle_written(now, n);
        }
        (out, moved)
    }
}

/// The settings of a node harness: our id `msul2`, paths under `/lonc`.
pub fn test_settings() -> Settings {
    Settings {
        host_id: "msul2".into(),
        sock_dir: "/lonc/sockets".into(),
        daemons_dir: "/lonc/perl".into(),
        doc_root: "/lonc/html".into(),
        hosts_file: "/lonc/hosts.tab".into(),
        lond_port: 5663,
    }
}

/// A `hosts.tab` with our own id and the given remote ids, on loopback addresses.
pub fn hosts_text(remote: &[&str]) -> String {
    let mut text = String::from("msul2:msu:library:me.example:127.0.0.1\n");
    for (i, id) in remote.iter().enumerate() {
        text.push_str(&format!("{id}:msu:access:{id}.example:127.0.0.{}\n", i + 2));
    }
    text
}

/// The local time the harness's status files are written at.
pub const STATUS_TIME: i64 = 1_118_259_062;

/// The pid the harness's status files show.
pub const STATUS_PID: u32 = 4242;

/// A whole [`Node`] with in-memory londs behind every host, in-memory clients in front, and a
/// record of everything it did.
pub struct NodeHarness {
    pub node: Node,
    pub now: Instant,
    /// Per host id; hosts not listed are `Up`.
    pub lond: HashMap<String, Lond>,
    pub londs: Londs,
    pub listening: BTreeMap<String, HostKey>,
    /// Hosts whose socket cannot be listened on (`Node::listened` false).
    pub unlistenable: BTreeSet<String>,
    /// How many `Ready` the node emitted.
    pub ready: usize,
    pub accepting: bool,
    /// Clients by the tag a test gave them.
    pub clients: BTreeMap<u64, ClientId>,
    /// Every answer line (without its LF), per client.
    pub answers: Vec<(ClientId, Bytes)>,
    /// Clients the node closed.
    pub closed_clients: Vec<ClientId>,
    /// `(host field, event)` of every log line.
    pub logs: Vec<(String, LogEvent)>,
    pub perm_log: Vec<String>,
    /// The delayed directory: file name → first line. Listed on `ScanDelayed`, read on
    /// `ReadDelayed`, removed once `Delivered` is recorded.
    pub delayed_dir: BTreeMap<String, Bytes>,
    /// Names in the delayed directory that cannot be read (listed, never read).
    pub unreadable: BTreeSet<String>,
    /// While set, `lonnet.perm.log` cannot be written: a `Delivered` file is kept and
    /// `Node::record_failed` is called.
    pub perm_log_fails: bool,
    /// Every `ScanDelayed` answered, and every `ReadDelayed`: its names.
    pub scans: usize,
    pub reads: Vec<Vec<String>>,
    pub status_files: Vec<String>,
    pub removed_files: Vec<PathBuf>,
    pub reload_requests: usize,
    pub exit: Option<i32>,
    pub connects: usize,
    /// The address of every `Connect`, in order.
    pub connected_to: Vec<std::net::SocketAddr>,
    /// Links whose socket is open (connected and not closed).
    pub open_links: Vec<LinkId>,
    pub farewells: Vec<Bytes>,
    /// Every `ShowStatus`: when, and the summary.
    pub statuses: Vec<(Instant, String)>,
    /// Control clients, and what each was answered (all its bytes).
    pub controls: BTreeMap<ClientId, String>,
    /// The address of `Output::ListenMetrics`, if the node asked for it.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Metrics (HTTP) clients, and what each was answered (all its bytes).
    pub scrapers: BTreeMap<ClientId, Vec<u8>>,
    /// Clients the node aborted (`Output::AbortClient`).
    pub aborted: Vec<ClientId>,
    /// While set (the default), a metrics client the node closes is closed at once, as a
    /// runtime does once the answer is written ([`Node::client_closed`]); unset, the answer is
    /// never read (a client that does not read).
    pub scrapers_read: bool,
    /// Every `RemoveDelayed`: the client, the names, the uid.
    pub removals: Vec<(ClientId, Vec<String>, Option<u32>)>,
    /// While set, `RemoveDelayed` is not carried out (a test calls
    /// [`NodeHarness::remove_delayed`] when it likes).
    pub hold_removals: bool,
}

impl NodeHarness {
    /// A node serving `remote` hosts (and knowing our own id `msul2`).
    pub fn new(config: NodeConfig, remote: &[&str]) -> NodeHarness {
        Self::with_spool(config, remote, &[])
    }

    /// A node serving `remote` hosts, started with these `(name, request)` files in its
    /// delayed directory.
    pub fn with_spool(config: NodeConfig, remote: &[&str], files: &[(&str, &str)]) -> NodeHarness {
        Self::build(config, remote, files, &[])
    }

    /// A node serving `remote` hosts, of which the sockets of `unlistenable` cannot be
    /// listened on.
    pub fn with_unlistenable(config: NodeConfig, remote: &[&str], unlistenable: &[&str]) -> Self {
        Self::build(config, remote, &[], unlistenable)
    }

    fn build(
        config: NodeConfig,
        remote: &[&str],
        files: &[(&str, &str)],
        unlistenable: &[&str],
    ) -> NodeHarness {
        let now = Instant::now();
        let (entries, problems) = hosts_tab::parse(&hosts_text(remote));
        let node = Node::new(config, test_settings(), &entries, &problems, now, 1);
        let mut h = NodeHarness {
            node,
            now,
            lond: HashMap::new(),
            londs: Londs::default(),
            listening: BTreeMap::new(),
            unlistenable: unlistenable.iter().map(|h| h.to_string()).collect(),
            ready: 0,
            accepting: true,
            clients: BTreeMap::new(),
            answers: Vec::new(),
            closed_clients: Vec::new(),
            logs: Vec::new(),
            perm_log: Vec::new(),
            delayed_dir: files
                .iter()
                .map(|(n, r)| (n.to_string(), Bytes::copy_from_slice(r.as_bytes())))
                .collect(),
            unreadable: BTreeSet::new(),
            perm_log_fails: false,
            scans: 0,
            reads: Vec::new(),
            status_files: Vec::new(),
            removed_files: Vec::new(),
            reload_requests: 0,
            exit: None,
            connects: 0,
            connected_to: Vec::new(),
            open_links: Vec::new(),
            farewells: Vec::new(),
            statuses: Vec::new(),
            controls: BTreeMap::new(),
            metrics_listen: None,
            scrapers: BTreeMap::new(),
            aborted: Vec::new(),
            scrapers_read: true,
            removals: Vec::new(),
            hold_removals: false,
        };
        h.run();
        h
    }

    /// A client connects to the control socket (`None`: refused).
    pub fn control_connect(&mut self) -> Option<ClientId> {
        let id = self.node.accept_control(self.now)?;
        self.controls.insert(id, String::new());
        Some(id)
    }

    /// A control client sends `bytes`.
    pub fn control_send(&mut self, id: ClientId, bytes: &[u8]) {
        self.node.handle_client_input(self.now, id, bytes);
        self.run();
    }

    /// One control command on a new connection; what was answered so far.
    pub fn control(&mut self, line: &str) -> String {
        let id = self.control_connect().expect("a control slot");
        self.control_send(id, format!("{line}\n").as_bytes());
        self.controls[&id].clone()
    }

    /// A client connects to the metrics' HTTP address (`None`: refused).
    pub fn scrape_connect(&mut self) -> Option<ClientId> {
        let id = self.node.accept_metrics(self.now)?;
        self.scrapers.insert(id, Vec::new());
        Some(id)
    }

    /// A metrics client sends `bytes` (`None`: closes its side).
    pub fn scrape_send(&mut self, id: ClientId, bytes: Option<&[u8]>) {
        match bytes {
            Some(bytes) => self.node.handle_client_input(self.now, id, bytes),
            None => self.node.handle_client_eof(self.now, id),
        }
        self.run();
    }

    /// One HTTP request on a new connection; what was answered.
    pub fn scrape(&mut self, request: &str) -> String {
        let id = self.scrape_connect().expect("a metrics slot");
        self.scrape_send(id, Some(request.as_bytes()));
        String::from_utf8_lossy(&self.scrapers[&id]).into_owned()
    }

    /// Carries out a `RemoveDelayed` as the runtimes do (`lonc_edge::files::remove_delayed`):
    /// each file's `R:` record (user `root` for uid 0), then its deletion; a file not in the
    /// directory writes nothing; with `perm_log_fails`, nothing is recorded or deleted.
    pub fn remove_delayed(&mut self, client: ClientId, names: Vec<String>, uid: Option<u32>) {
        use lonc_core::control::Removal;
        let user = (uid == Some(0)).then_some("root");
        let who = lonc_core::spool::who(uid, user);
        let mut done = Vec::new();
        for name in names {
            let parsed = lonc_core::spool::removable(&name).expect("the node checks names");
            let outcome = match self.delayed_dir.get(&name).cloned() {
                None => Removal::Missing,
                Some(_) if self.perm_log_fails => Removal::Unrecorded {
                    why: "Permission denied".into(),
                },
                Some(request) => {
                    let record = lonc_core::spool::removal_record(&parsed, &who, Some(&request));
                    self.perm_log.push(record);
                    self.delayed_dir.remove(&name);
                    Removal::Deleted {
                        command: lonc_core::request::perm_loggable(&request),
                    }
                }
            };
            done.push((name, outcome));
        }
        self.node.delayed_removed(self.now, client, done);
    }

    /// lonnet spools a request into the delayed directory.
    pub fn spool(&mut self, name: &str, request: &str) {
        self.delayed_dir
            .insert(name.to_owned(), Bytes::copy_from_slice(request.as_bytes()));
    }

    /// The key of a listening host.
    pub fn key(&self, host: &str) -> HostKey {
        self.listening[host]
    }

    /// A client connects to the socket of `host` and is known by `tag`; false when nothing
    /// listens there (or the node refused it).
    pub fn connect(&mut self, host: &str, tag: u64) -> bool {
        let Some(key) = self.listening.get(host).copied() else {
            return false;
        };
        if !self.accepting {
            return false;
        }
        let Some(id) = self.node.accept(self.now, key) else {
            return false;
        };
        self.clients.insert(tag, id);
        self.run();
        true
    }

    /// The client `tag` writes `bytes`.
    pub fn send(&mut self, tag: u64, bytes: &[u8]) {
        let id = self.clients[&tag];
        self.node.handle_client_input(self.now, id, bytes);
        self.run();
    }

    /// Every holding lond answers the requests it holds.
    pub fn release_held(&mut self) {
        self.londs.release();
        self.run();
    }

    /// The client `tag` closes its side.
    pub fn hang_up(&mut self, tag: u64) {
        let id = self.clients[&tag];
        self.node.handle_client_eof(self.now, id);
        self.run();
    }

    /// lonnet's `reply`: a new connection `tag` to `host` sends one request line. A host
    /// that is not listening (or a node that does not accept) gives `con_lost`, as lonnet's
    /// failed connect does.
    pub fn submit(&mut self, host: &str, tag: u64, request: &[u8]) {
        if self.connect(host, tag) {
            self.send(tag, &[request, b"\n"].concat());
        } else {
            self.answers
                .push((ClientId(u64::MAX - tag), Bytes::from_static(b"con_lost")));
            self.clients.insert(tag, ClientId(u64::MAX - tag));
        }
    }

    /// True while the node wants the client's input.
    pub fn wants_input(&self, tag: u64) -> bool {
        self.node.client_wants_input(self.clients[&tag])
    }

    /// True once the node closed the client.
    pub fn is_closed(&self, tag: u64) -> bool {
        self.closed_clients.contains(&self.clients[&tag])
    }

    pub fn signal(&mut self, signal: Signal) {
        self.node.handle_signal(self.now, signal);
        self.run();
    }

    /// Moves the clock, fires the timers and runs until quiet.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.node.handle_timeout(self.now);
        self.run();
    }

    /// Re-reads a new `hosts.tab` (after a HUP).
    pub fn reload(&mut self, remote: &[&str]) {
        let (entries, problems) = hosts_tab::parse(&hosts_text(remote));
        self.node
            .reload(self.now, test_settings(), &entries, &problems);
        self.run();
    }

    /// The answer lines to the client `tag`.
    pub fn answers_to(&self, tag: u64) -> Vec<Bytes> {
        let Some(id) = self.clients.get(&tag) else {
            return Vec::new();
        };
        self.answers
            .iter()
            .filter(|(c, _)| c == id)
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Requests the londs received: the text and whether it came encrypted.
    pub fn lond_saw(&self) -> &[(Bytes, bool)] {
        &self.londs.saw
    }

    /// Messages logged with this host field.
    pub fn logged(&self, host: &str) -> Vec<String> {
        self.logs
            .iter()
            .filter(|(h, _)| h == host)
            .map(|(h, e)| message(e, h))
            .collect()
    }

    /// Carries out the node's outputs and moves bytes until nothing moves.
    pub fn run(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(output) = self.node.poll_output() {
                progressed = true;
                self.act(output);
            }
            for link in self.londs.links() {
                let (bytes, moved) = self.londs.pump(link, self.now);
                progressed |= moved;
                if !bytes.is_empty() {
                    self.node.handle_link_input(self.now, link, &bytes);
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn host_of(&self, key: HostKey) -> String {
        self.listening
            .iter()
            .find(|(_, k)| **k == key)
            .map(|(h, _)| h.clone())
            .unwrap_or_default()
    }

    fn act(&mut self, output: Output) {
        match output {
            // In memory there is no reset: the end of stream again.
            Output::ProbeReset { link } => self.node.handle_link_eof(self.now, link),
            Output::Listen { host, spec } => {
                let ok = !self.unlistenable.contains(spec.id());
                if ok {
                    self.listening.insert(spec.id().to_owned(), host);
                }
                self.node.listened(self.now, host, ok);
            }
            Output::ListenControl { .. } => self.node.control_listened(self.now, true),
            Output::ListenMetrics { addr } => self.metrics_listen = Some(addr),
            Output::Ready => self.ready += 1,
            Output::Unlisten { spec, .. } => {
                let was = self.listening.remove(spec.id());
                assert!(was.is_some(), "Unlisten of {}, not listening", spec.id());
            }
            Output::StopAccepting => self.accepting = false,
            Output::Connect { link, addr } => {
                self.connects += 1;
                self.connected_to.push(addr);
                let host = self.host_of(link.host());
                match self.lond.get(&host).copied().unwrap_or(Lond::Up) {
                    mode @ (Lond::Up | Lond::Silent | Lond::Holding) => {
                        self.londs.open(link, self.now, &host, "msul2", mode);
                        self.open_links.push(link);
                        self.node.handle_connected(self.now, link);
                    }
                    Lond::Down => self.node.handle_connect_failed(
                        self.now,
                        link,
                        std::io::ErrorKind::ConnectionRefused,
                    ),
                    Lond::Hanging => {}
                }
            }
            Output::Transmit { link, bytes, .. } => {
                self.londs.deliver(link, self.now, &bytes);
                self.node.handle_written(self.now, link, bytes.len());
            }
            Output::CloseLink { link, farewell } => {
                self.londs.close(link);
                self.open_links.retain(|l| *l != link);
                if !farewell.is_empty() {
                    self.farewells.push(farewell);
                }
            }
            Output::Answer { client, bytes } if self.scrapers.contains_key(&client) => {
                self.scrapers
                    .entry(client)
                    .or_default()
                    .extend_from_slice(&bytes);
            }
            Output::Answer { client, bytes } if self.controls.contains_key(&client) => {
                let text = String::from_utf8_lossy(&bytes);
                self.controls.entry(client).or_default().push_str(&text);
            }
            Output::Answer { client, bytes } => {
                let line = bytes
                    .strip_suffix(b"\n")
                    .expect("an answer is a line and its LF");
                assert!(!line.contains(&b'\n'), "one line per answer: {bytes:?}");
                self.answers.push((client, Bytes::copy_from_slice(line)));
            }
            Output::CloseClient { client } => {
                self.closed_clients.push(client);
                if self.scrapers.contains_key(&client) && self.scrapers_read {
                    self.node.client_closed(self.now, client);
                }
            }
            Output::AbortClient { client } => self.aborted.push(client),
            Output::ScanDelayed => {
                self.scans += 1;
                let mut names: Vec<String> = self.delayed_dir.keys().cloned().collect();
                names.extend(self.unreadable.iter().cloned());
                self.node.delayed_listed(self.now, names);
            }
            Output::ReadDelayed { host, names } => {
                let mut files = Vec::new();
                let mut unreadable = Vec::new();
                for name in &names {
                    match self.delayed_dir.get(name) {
                        Some(request) if !self.unreadable.contains(name) => {
                            files.push(DelayedFile {
                                name: name.clone(),
                                request: request.clone(),
                            });
                        }
                        Some(_) => unreadable.push((name.clone(), "Permission denied".into())),
                        None if self.unreadable.contains(name) => {
                            unreadable.push((name.clone(), "Permission denied".into()));
                        }
                        None => unreadable.push((name.clone(), "No such file or directory".into())),
                    }
                }
                self.reads.push(names);
                self.node.delayed_read(self.now, host, files, unreadable);
            }
            Output::Delivered { name, record } => {
                if self.perm_log_fails {
                    self.node.record_failed(self.now, name, record);
                } else {
                    self.perm_log.push(record);
                    self.delayed_dir.remove(&name);
                }
            }
            Output::RemoveDelayed { client, names, uid } => {
                self.removals.push((client, names.clone(), uid));
                if !self.hold_removals {
                    self.remove_delayed(client, names, uid);
                }
            }
            Output::Log { host, event, .. } => self.logs.push((host, event)),
            Output::WriteStatus(hosts) => {
                let time = LocalTime::from_unix(STATUS_TIME, 0);
                let text = status_file(&time, STATUS_PID, &hosts, |host| self.last_line(host));
                self.status_files.push(text);
            }
            Output::ReloadConfig => self.reload_requests += 1,
            Output::RemoveFiles(files) => self.removed_files.extend(files),
            Output::ShowStatus(summary) => self.statuses.push((self.now, summary)),
            Output::Exit(code) => self.exit = Some(code),
        }
    }

    /// The last message logged for `host` (what the status file shows as its last line).
    fn last_line(&self, host: &str) -> String {
        self.logs
            .iter()
            .rev()
            .find(|(h, _)| h == host)
            .map(|(h, e)| message(e, h))
            .unwrap_or_default()
    }

    /// The status of every served host, as the status file would show it.
    pub fn host_status(&self) -> Vec<HostStatus> {
        self.listening
            .iter()
            .filter_map(|(id, key)| {
                Some(HostStatus {
                    host: id.clone(),
                    state: self.node.host(*key)?.status(),
                })
            })
            .collect()
    }
}

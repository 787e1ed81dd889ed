//! A [`Peer`] talking to simulated londs in memory: every link the peer opens is served by a
//! core [`Session`] that answers like lond-sim's `echo:` (or not at all, as the mode says).
//! Virtual clock; no sockets.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lonc_core::conf::Settings;
use lonc_core::daemon::Signal;
use lonc_core::host::DelayedFile;
use lonc_core::hosts_tab;
use lonc_core::ids::{ClientId, LinkId};
use lonc_core::log::LogEvent;
use lonc_core::logfmt::LocalTime;
use lonc_core::node::{HostKey, Node, NodeAction, NodeConfig};
use lonc_core::peer::{Peer, PeerAction, PeerConfig};
use lonc_core::session::{Session, SessionConfig, SessionEvent};

use crate::pair::APPENDIX_SEED;

/// How the simulated lond behaves towards new connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lond {
    /// Accepts, handshakes and answers every request with its text.
    Up,
    /// Connections are refused at the TCP level.
    Down,
    /// Connections never complete (the connect timeout decides).
    Hanging,
}

/// In-memory londs: one core [`Session`] per open connection, answering every request with
/// its own text.
pub struct Londs<K> {
    sessions: HashMap<K, Session>,
    /// Requests the londs received: the text and whether it came encrypted.
    pub saw: Vec<(Bytes, bool)>,
}

impl<K: Hash + Eq + Copy> Default for Londs<K> {
    fn default() -> Self {
        Londs {
            sessions: HashMap::new(),
            saw: Vec::new(),
        }
    }
}

impl<K: Hash + Eq + Copy> Londs<K> {
    /// A lond `server_id` accepts a connection from `client_id`.
    pub fn open(&mut self, key: K, now: Instant, server_id: &str, client_id: &str) {
        let session = Session::new(
            now,
            SessionConfig::default(),
            server_id,
            client_id,
            APPENDIX_SEED,
        );
        self.sessions.insert(key, session);
    }

    pub fn close(&mut self, key: K) {
        self.sessions.remove(&key);
    }

    pub fn keys(&self) -> Vec<K> {
        self.sessions.keys().copied().collect()
    }

    /// Bytes from the client to the lond.
    pub fn deliver(&mut self, key: K, now: Instant, bytes: &[u8]) {
        if let Some(s) = self.sessions.get_mut(&key) {
            s.handle_input(now, bytes);
        }
    }

    /// Lets the lond answer what it has; returns the bytes it sends back (empty if none) and
    /// whether anything happened.
    pub fn pump(&mut self, key: K, now: Instant) -> (BytesMut, bool) {
        let mut out = BytesMut::new();
        let Some(session) = self.sessions.get_mut(&key) else {
            return (out, false);
        };
        let mut moved = false;
        while let Some(event) = session.poll_event() {
            moved = true;
            if let SessionEvent::Request { line, encrypted } = event {
                session.reply(&line);
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

/// A peer, its londs and everything the peer told its driver.
pub struct PeerHarness {
    pub peer: Peer,
    pub now: Instant,
    pub lond: Lond,
    londs: Londs<LinkId>,
    /// Links whose socket is open (connected and not disconnected).
    pub open_links: Vec<LinkId>,
    pub answers: Vec<(ClientId, Bytes)>,
    pub logs: Vec<LogEvent>,
    pub perm_log: Vec<String>,
    /// The delayed directory: files offered on `ListDelayed`, removed on `DeleteDelayed`.
    pub delayed_dir: Vec<DelayedFile>,
    pub farewells: Vec<Bytes>,
    pub connects: usize,
}

impl PeerHarness {
    pub fn new(config: PeerConfig) -> PeerHarness {
        let now = Instant::now();
        PeerHarness {
            peer: Peer::new("msul1", "msul2", config, now, 7),
            now,
            lond: Lond::Up,
            londs: Londs::default(),
            open_links: Vec::new(),
            answers: Vec::new(),
            logs: Vec::new(),
            perm_log: Vec::new(),
            delayed_dir: Vec::new(),
            farewells: Vec::new(),
            connects: 0,
        }
    }

    /// Submits a request and runs until quiet.
    pub fn submit(&mut self, client: u64, request: &[u8]) {
        self.peer
            .submit(self.now, ClientId(client), Bytes::copy_from_slice(request));
        self.run();
    }

    /// Moves the clock, fires the timers and runs until quiet.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.peer.handle_timeout(self.now);
        self.run();
    }

    /// Requests the londs received: the text and whether it came encrypted.
    pub fn lond_saw(&self) -> &[(Bytes, bool)] {
        &self.londs.saw
    }

    /// The answers to one client.
    pub fn answers_to(&self, client: u64) -> Vec<Bytes> {
        self.answers
            .iter()
            .filter(|(c, _)| *c == ClientId(client))
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Carries out the peer's actions and moves bytes until nothing moves.
    pub fn run(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(action) = self.peer.poll_action() {
                progressed = true;
                self.act(action);
            }
            for link in self.londs.keys() {
                let (bytes, moved) = self.londs.pump(link, self.now);
                progressed |= moved;
                if !bytes.is_empty() {
                    self.peer.handle_input(self.now, link, &bytes);
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn act(&mut self, action: PeerAction) {
        match action {
            PeerAction::Connect(link) => {
                self.connects += 1;
                match self.lond {
                    Lond::Up => {
                        self.londs.open(link, self.now, "msul1", "msul2");
                        self.open_links.push(link);
                        self.peer.handle_connected(self.now, link);
                    }
                    Lond::Down => self.peer.handle_connect_failed(
                        self.now,
                        link,
                        std::io::ErrorKind::ConnectionRefused,
                    ),
                    Lond::Hanging => {}
                }
            }
            PeerAction::Send(link) => {
                let mut out = BytesMut::new();
                let n = self.peer.poll_transmit(link, &mut out);
                self.londs.deliver(link, self.now, &out);
                self.peer.handle_written(self.now, link, n);
            }
            PeerAction::Disconnect { link, farewell } => {
                self.londs.close(link);
                self.open_links.retain(|l| *l != link);
                if !farewell.is_empty() {
                    self.farewells.push(farewell);
                }
            }
            PeerAction::Answer { client, line } => self.answers.push((client, line)),
            PeerAction::ListDelayed => {
                let files = self.delayed_dir.clone();
                self.peer.offer_delayed(self.now, files);
            }
            PeerAction::DeleteDelayed(name) => self.delayed_dir.retain(|f| f.name != name),
            PeerAction::PermLog(record) => self.perm_log.push(record),
            PeerAction::Log(e) => self.logs.push(e),
        }
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

/// A whole [`Node`] with in-memory londs behind every host and a record of what it did.
pub struct NodeHarness {
    pub node: Node,
    pub now: Instant,
    /// Per host id; hosts not listed are `Up`.
    pub lond: HashMap<String, Lond>,
    londs: Londs<(HostKey, LinkId)>,
    pub listening: BTreeMap<String, HostKey>,
    pub accepting: bool,
    pub answers: Vec<(ClientId, Bytes)>,
    /// `(host field, event)` of every log line.
    pub logs: Vec<(String, LogEvent)>,
    pub perm_log: Vec<String>,
    pub status_files: Vec<String>,
    pub removed_files: Vec<PathBuf>,
    pub reload_requests: usize,
    pub exit: Option<i32>,
    pub connects: usize,
}

impl NodeHarness {
    /// A node serving `remote` hosts (and knowing our own id `msul2`).
    pub fn new(config: NodeConfig, remote: &[&str]) -> NodeHarness {
        let now = Instant::now();
        let (entries, problems) = hosts_tab::parse(&hosts_text(remote));
        let node = Node::new(config, test_settings(), &entries, &problems, now, 1);
        let mut h = NodeHarness {
            node,
            now,
            lond: HashMap::new(),
            londs: Londs::default(),
            listening: BTreeMap::new(),
            accepting: true,
            answers: Vec::new(),
            logs: Vec::new(),
            perm_log: Vec::new(),
            status_files: Vec::new(),
            removed_files: Vec::new(),
            reload_requests: 0,
            exit: None,
            connects: 0,
        };
        h.run();
        h
    }

    /// The key of a listening host.
    pub fn key(&self, host: &str) -> HostKey {
        self.listening[host]
    }

    /// A client of `host` sends a request.
    pub fn submit(&mut self, host: &str, client: u64, request: &[u8]) {
        let key = self
            .listening
            .get(host)
            .copied()
            .unwrap_or(HostKey(u32::MAX));
        self.node.submit(
            self.now,
            key,
            ClientId(client),
            Bytes::copy_from_slice(request),
        );
        self.run();
    }

    pub fn signal(&mut self, signal: Signal) {
        self.node.handle_signal(self.now, signal);
        self.run();
    }

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

    pub fn answers_to(&self, client: u64) -> Vec<Bytes> {
        self.answers
            .iter()
            .filter(|(c, _)| *c == ClientId(client))
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Messages logged with this host field.
    pub fn logged(&self, host: &str) -> Vec<String> {
        self.logs
            .iter()
            .filter(|(h, _)| h == host)
            .map(|(_, e)| e.message.clone())
            .collect()
    }

    pub fn run(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(action) = self.node.poll_action() {
                progressed = true;
                self.act(action);
            }
            for (key, link) in self.londs.keys() {
                let (bytes, moved) = self.londs.pump((key, link), self.now);
                progressed |= moved;
                if !bytes.is_empty() {
                    self.node.handle_input(self.now, key, link, &bytes);
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

    fn act(&mut self, action: NodeAction) {
        match action {
            NodeAction::Listen { key, spec } => {
                self.listening.insert(spec.id().to_owned(), key);
            }
            NodeAction::Unlisten { spec, .. } => {
                self.listening.remove(spec.id());
            }
            NodeAction::StopAccepting => self.accepting = false,
            NodeAction::Connect { key, link, .. } => {
                self.connects += 1;
                let host = self.host_of(key);
                match self.lond.get(&host).copied().unwrap_or(Lond::Up) {
                    Lond::Up => {
                        self.londs.open((key, link), self.now, &host, "msul2");
                        self.node.handle_connected(self.now, key, link);
                    }
                    Lond::Down => self.node.handle_connect_failed(
                        self.now,
                        key,
                        link,
                        std::io::ErrorKind::ConnectionRefused,
                    ),
                    Lond::Hanging => {}
                }
            }
            NodeAction::Send { key, link } => {
                let mut out = BytesMut::new();
                let n = self.node.poll_transmit(key, link, &mut out);
                self.londs.deliver((key, link), self.now, &out);
                self.node.handle_written(self.now, key, link, n);
            }
            NodeAction::Disconnect { key, link, .. } => self.londs.close((key, link)),
            NodeAction::Answer { client, line } => self.answers.push((client, line)),
            NodeAction::ListDelayed { key, .. } => self.node.offer_delayed(self.now, key, vec![]),
            NodeAction::DeleteDelayed(_) | NodeAction::SetState(_) | NodeAction::SetDebug(_) => {}
            NodeAction::PermLog(record) => self.perm_log.push(record),
            NodeAction::Log { host, event, .. } => self.logs.push((host, event)),
            NodeAction::CollectStatus => {
                let time = LocalTime::from_unix(1_118_259_062, 0);
                let logs = self.logs.clone();
                self.node.status_report(self.now, &time, 4242, |host| {
                    logs.iter()
                        .rev()
                        .find(|(h, _)| h == host)
                        .map(|(_, e)| e.message.clone())
                        .unwrap_or_default()
                });
            }
            NodeAction::WriteStatus(text) => self.status_files.push(text),
            NodeAction::ReloadConfig => self.reload_requests += 1,
            NodeAction::RemoveFiles(files) => self.removed_files.extend(files),
            NodeAction::Exit(code) => self.exit = Some(code),
        }
    }
}

//! A [`Peer`] talking to simulated londs in memory: every link the peer opens is served by a
//! core [`Session`] that answers like lond-sim's `echo:` (or not at all, as the mode says).
//! Virtual clock; no sockets.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lonc_core::host::DelayedFile;
use lonc_core::ids::{ClientId, LinkId};
use lonc_core::log::LogEvent;
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

/// A peer, its londs and everything the peer told its driver.
pub struct PeerHarness {
    pub peer: Peer,
    pub now: Instant,
    pub lond: Lond,
    sessions: HashMap<LinkId, Session>,
    /// Links whose socket is open (connected and not disconnected).
    pub open_links: Vec<LinkId>,
    pub answers: Vec<(ClientId, Bytes)>,
    pub logs: Vec<LogEvent>,
    pub perm_log: Vec<String>,
    /// The delayed directory: files offered on `ListDelayed`, removed on `DeleteDelayed`.
    pub delayed_dir: Vec<DelayedFile>,
    /// Requests the londs received: the text and whether it came encrypted.
    pub lond_saw: Vec<(Bytes, bool)>,
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
            sessions: HashMap::new(),
            open_links: Vec::new(),
            answers: Vec::new(),
            logs: Vec::new(),
            perm_log: Vec::new(),
            delayed_dir: Vec::new(),
            lond_saw: Vec::new(),
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
            let links: Vec<LinkId> = self.sessions.keys().copied().collect();
            for link in links {
                progressed |= self.pump_session(link);
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
                        let session = Session::new(
                            self.now,
                            SessionConfig::default(),
                            "msul1",
                            "msul2",
                            APPENDIX_SEED,
                        );
                        self.sessions.insert(link, session);
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
                if let Some(s) = self.sessions.get_mut(&link) {
                    s.handle_input(self.now, &out);
                }
                self.peer.handle_written(self.now, link, n);
            }
            PeerAction::Disconnect { link, farewell } => {
                self.sessions.remove(&link);
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

    /// Lets one lond session answer and deliver its bytes; true if anything moved.
    fn pump_session(&mut self, link: LinkId) -> bool {
        let Some(session) = self.sessions.get_mut(&link) else {
            return false;
        };
        let mut moved = false;
        while let Some(event) = session.poll_event() {
            moved = true;
            match event {
                SessionEvent::Request { line, encrypted } => {
                    session.reply(&line);
                    self.lond_saw.push((line, encrypted));
                }
                SessionEvent::Ready | SessionEvent::Closed(_) => {}
            }
        }
        let mut out = BytesMut::new();
        let n = session.poll_transmit(&mut out);
        if n > 0 {
            moved = true;
            let _ = session.handle_written(self.now, n);
            self.peer.handle_input(self.now, link, &out);
        }
        moved
    }
}

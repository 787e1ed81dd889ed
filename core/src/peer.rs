//! One remote host with its links: the [`Host`] scheduler composed with one [`Link`] state
//! machine per link it opens. What a runtime drives per peer: sockets in, sockets out.
//!
//! # Driving a peer
//!
//! After **every** call (commands such as [`Peer::submit`], socket inputs such as
//! [`Peer::handle_input`], [`Peer::handle_timeout`]) drain [`Peer::poll_action`] until `None`
//! and carry the actions out in order; then wait for a socket or [`Peer::poll_timeout`].
//! For each [`PeerAction::Send`] the driver takes the link's bytes with
//! [`Peer::poll_transmit`] and reports every write, partial or not, with
//! [`Peer::handle_written`].

use std::collections::VecDeque;
use std::io;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::cipher::{BlockCipher, IdeaCipher};
use crate::host::{DelayedFile, Host, HostAction, HostConfig};
use crate::ids::{ClientId, LinkId};
use crate::link::{Link, LinkConfig, LinkEvent};
use crate::log::{LogEvent, Severity};

/// Tunables of a peer: its scheduler's and its links'.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerConfig {
    pub host: HostConfig,
    pub link: LinkConfig,
}

/// What a peer asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerAction {
    /// Open a TCP connection for this link to the peer's lond; report
    /// [`Peer::handle_connected`] or [`Peer::handle_connect_failed`]. The link's connect
    /// timeout is in [`Peer::poll_timeout`].
    Connect(LinkId),
    /// The link has bytes to send: take them with [`Peer::poll_transmit`].
    Send(LinkId),
    /// Close this link's socket (or abandon its connect). `farewell`, if not empty, may be
    /// written first, best effort, without waiting.
    Disconnect { link: LinkId, farewell: Bytes },
    /// Write this line plus one `\n` to that client.
    Answer { client: ClientId, line: Bytes },
    /// List the delayed directory for this host and call [`Peer::offer_delayed`].
    ListDelayed,
    /// Delete this delayed file (a name in the delayed directory).
    DeleteDelayed(String),
    /// Append this record to `lonnet.perm.log`.
    PermLog(String),
    /// Write this to `lonc.log`.
    Log(LogEvent),
}

struct Slot<C: BlockCipher> {
    id: LinkId,
    link: Link<C>,
    /// A `Send` was emitted and the driver has not taken the bytes yet.
    signaled: bool,
}

/// A remote host and its links. See the module docs for the driving rule.
pub struct Peer<C: BlockCipher = IdeaCipher> {
    host: Host,
    own_id: Box<str>,
    link_config: LinkConfig,
    slots: Vec<Slot<C>>,
    actions: VecDeque<PeerAction>,
}

impl<C: BlockCipher> std::fmt::Debug for Peer<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("host", &self.host.host_id())
            .field("links", &self.slots.len())
            .finish_non_exhaustive()
    }
}

impl<C: BlockCipher> Peer<C> {
    /// The peer `host_id`, served from our own host `own_id`; `seed` feeds the scheduler's
    /// probe jitter.
    pub fn new(host_id: &str, own_id: &str, config: PeerConfig, now: Instant, seed: u64) -> Self {
        Peer {
            host: Host::new(host_id, config.host, now, seed),
            own_id: own_id.into(),
            link_config: config.link,
            slots: Vec::new(),
            actions: VecDeque::new(),
        }
    }

    /// The scheduler, for status and counts.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// A request line (no LF) from a local client. See [`Host::submit`].
    pub fn submit(&mut self, now: Instant, client: ClientId, request: Bytes) {
        self.host.submit(now, client, request);
        self.pump(now);
    }

    /// A local client hung up. See [`Host::client_gone`].
    pub fn client_gone(&mut self, now: Instant, client: ClientId) {
        self.host.client_gone(now, client);
        self.pump(now);
    }

    /// Restore the retry budget and revive a dead host (SIGUSR1).
    pub fn reset(&mut self, now: Instant) {
        self.host.reset(now);
        self.pump(now);
    }

    /// Close every link and answer every waiting client `con_lost`; nothing opens afterwards.
    pub fn close_all(&mut self, now: Instant) {
        self.host.close_all(now);
        self.pump(now);
    }

    /// The answer to [`PeerAction::ListDelayed`].
    pub fn offer_delayed(&mut self, now: Instant, files: Vec<DelayedFile>) {
        self.host.offer_delayed(now, files);
        self.pump(now);
    }

    /// The TCP connection of `link` is established.
    pub fn handle_connected(&mut self, now: Instant, link: LinkId) {
        self.with_link(now, link, |l| l.handle_connected(now));
    }

    /// The TCP connection of `link` could not be established.
    pub fn handle_connect_failed(&mut self, now: Instant, link: LinkId, kind: io::ErrorKind) {
        self.with_link(now, link, |l| l.handle_connect_failed(now, kind));
    }

    /// Bytes read from the socket of `link`.
    pub fn handle_input(&mut self, now: Instant, link: LinkId, data: &[u8]) {
        self.with_link(now, link, |l| l.handle_input(now, data));
    }

    /// The lond closed the connection of `link`.
    pub fn handle_eof(&mut self, now: Instant, link: LinkId) {
        self.with_link(now, link, |l| l.handle_eof(now));
    }

    /// Reading from the socket of `link` failed.
    pub fn handle_read_error(&mut self, now: Instant, link: LinkId, kind: io::ErrorKind) {
        self.with_link(now, link, |l| l.handle_read_error(now, kind));
    }

    /// Writing to the socket of `link` failed.
    pub fn handle_write_error(&mut self, now: Instant, link: LinkId, kind: io::ErrorKind) {
        self.with_link(now, link, |l| l.handle_write_error(now, kind));
    }

    /// Moves the bytes `link` has to send into `out`; returns how many (0 for an unknown link).
    pub fn poll_transmit(&mut self, link: LinkId, out: &mut BytesMut) -> usize {
        match self.slot_mut(link) {
            Some(slot) => {
                slot.signaled = false;
                slot.link.poll_transmit(out)
            }
            None => 0,
        }
    }

    /// `n` of the bytes taken with [`Peer::poll_transmit`] for `link` were written. A report
    /// beyond what was handed out is a driver bug: the link is closed and the fact logged.
    pub fn handle_written(&mut self, now: Instant, link: LinkId, n: usize) {
        let mut misuse = None;
        self.with_link(now, link, |l| {
            if let Err(e) = l.handle_written(now, n) {
                l.close(now);
                misuse = Some(e);
            }
        });
        if let Some(e) = misuse {
            self.log(Severity::Critical, format!("Link {}: {e}", link.0));
        }
    }

    /// Fires the scheduler's and the links' expired timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.host.poll_timeout().is_some_and(|t| t <= now) {
            self.host.handle_timeout(now);
        }
        for slot in &mut self.slots {
            if slot.link.poll_timeout().is_some_and(|t| t <= now) {
                slot.link.handle_timeout(now);
            }
        }
        self.pump(now);
    }

    /// The next instant at which [`Peer::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| s.link.poll_timeout())
            .chain(self.host.poll_timeout())
            .min()
    }

    /// The next action, in order.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<PeerAction> {
        self.actions.pop_front()
    }

    /// loncnew's status line for this host.
    pub fn status(&self) -> String {
        self.host.status()
    }

    fn slot_mut(&mut self, link: LinkId) -> Option<&mut Slot<C>> {
        self.slots.iter_mut().find(|s| s.id == link)
    }

    fn with_link(&mut self, now: Instant, link: LinkId, f: impl FnOnce(&mut Link<C>)) {
        match self.slot_mut(link) {
            Some(slot) => f(&mut slot.link),
            // A socket event for a link already closed and forgotten: nothing to do.
            None => return,
        }
        self.pump(now);
    }

    fn log(&mut self, severity: Severity, message: String) {
        self.actions
            .push_back(PeerAction::Log(LogEvent::new(severity, message)));
    }

    /// Routes link events to the scheduler and scheduler actions to links and the driver,
    /// until both are quiet.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut progressed = self.route_link_events(now);
            while let Some(action) = self.host.poll_action() {
                progressed = true;
                self.on_host_action(now, action);
            }
            if !progressed {
                break;
            }
        }
        for slot in &mut self.slots {
            if !slot.signaled && slot.link.wants_write() {
                slot.signaled = true;
                self.actions.push_back(PeerAction::Send(slot.id));
            }
        }
    }

    fn route_link_events(&mut self, now: Instant) -> bool {
        let mut progressed = false;
        let mut i = 0;
        while i < self.slots.len() {
            let id = self.slots[i].id;
            let mut closed = false;
            while let Some(event) = self.slots[i].link.poll_event() {
                progressed = true;
                match event {
                    LinkEvent::Ready => self.host.handle_link_ready(now, id),
                    LinkEvent::Reply(reply) => self.host.handle_reply(now, id, reply),
                    LinkEvent::Closed { reason, .. } => {
                        self.host.handle_link_closed(now, id, reason);
                        closed = true;
                    }
                    LinkEvent::Log(e) => self.actions.push_back(PeerAction::Log(e)),
                }
            }
            if closed {
                self.remove_slot(i);
            } else {
                i += 1;
            }
        }
        progressed
    }

    fn on_host_action(&mut self, now: Instant, action: HostAction) {
        match action {
            HostAction::OpenLink(id) => {
                let link = Link::new(
                    now,
                    self.link_config.clone(),
                    self.host.host_id(),
                    &self.own_id,
                );
                self.slots.push(Slot {
                    id,
                    link,
                    signaled: false,
                });
                self.actions.push_back(PeerAction::Connect(id));
            }
            HostAction::Start { link, request } => {
                let Some(slot) = self.slot_mut(link) else {
                    return self.log(
                        Severity::Critical,
                        format!("Scheduler started a transaction on unknown link {}", link.0),
                    );
                };
                if let Err(e) = slot.link.start(now, &request) {
                    // A link that closed a moment ago still holds its Closed event, which fails
                    // the transaction; anything else is a bug worth a close and a log line.
                    if !slot.link.is_closed() {
                        slot.link.close(now);
                        self.log(
                            Severity::Critical,
                            format!("Link {} could not start a transaction: {e}", link.0),
                        );
                    }
                }
            }
            HostAction::CloseLink(id) => {
                if let Some(i) = self.slots.iter().position(|s| s.id == id) {
                    self.slots[i].link.close(now);
                    // The scheduler has forgotten this link: its last events go nowhere.
                    while self.slots[i].link.poll_event().is_some() {}
                    self.remove_slot(i);
                }
            }
            HostAction::Answer { client, line } => {
                self.actions.push_back(PeerAction::Answer { client, line })
            }
            HostAction::ListDelayed => self.actions.push_back(PeerAction::ListDelayed),
            HostAction::DeleteDelayed(name) => {
                self.actions.push_back(PeerAction::DeleteDelayed(name))
            }
            HostAction::PermLog(record) => self.actions.push_back(PeerAction::PermLog(record)),
            HostAction::Log(e) => self.actions.push_back(PeerAction::Log(e)),
        }
    }

    fn remove_slot(&mut self, i: usize) {
        let mut slot = self.slots.swap_remove(i);
        let mut farewell = BytesMut::new();
        slot.link.poll_transmit(&mut farewell);
        self.actions.push_back(PeerAction::Disconnect {
            link: slot.id,
            farewell: farewell.freeze(),
        });
    }
}

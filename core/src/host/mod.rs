//! The per-host scheduler: what one loncnew child decides for its remote host (protocol 5).
//!
//! A [`Host`] owns the work queue of one peer, its pool of links (by id only: the driver owns
//! the link state machines), the retry budget and dead state, dead-host probing, idle pruning
//! and the replay of delayed requests. It never does I/O, never reads a clock and draws its
//! jitter from an injected seed.

mod action;
mod config;
mod links;
mod queue;
mod replay;
mod rng;
mod txn;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use action::{DelayedFile, HostAction};
pub use config::HostConfig;

use crate::control::{ConLostReport, HostReport, LinkCounts, QueueReport};
use crate::ids::{ClientId, HostKey, LinkId};
use crate::log::LogEvent;
use crate::reason::CloseReason;
use crate::request;
use crate::spool::DelayedName;
use crate::stats::{HostStats, LostCause};
use crate::timer::{TimerKind, Timers};
use links::{LinkUse, Links};
use queue::WorkQueue;
use replay::Replay;
use rng::SplitMix64;
use txn::{Origin, Txn};

/// The host's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// Close one idle link.
    Prune,
    /// Probe a dead host.
    Probe,
    /// The earliest request deadline.
    Deadline,
}

impl TimerKind for Timer {
    const ALL: &'static [Timer] = &[Timer::Prune, Timer::Probe, Timer::Deadline];
    fn slot(self) -> usize {
        self as usize
    }
}

/// Life of the host as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Health {
    /// Serving requests.
    Alive,
    /// Retries exhausted: requests are answered `con_lost` at once; `probes` probes have
    /// failed since.
    Dead { probes: u32 },
    /// `close_all` was called: everything is answered `con_lost`, nothing is opened again.
    Closed,
}

/// The scheduler of one remote host (one loncnew child).
///
/// # Driving it
///
/// By the crate's drive contract (see the crate root), with [`poll_action`](Host::poll_action)
/// as its output. The driver (the node) owns one link per [`LinkId`] the host asked for with
/// [`HostAction::OpenLink`], and reports: `handle_link_ready` when its handshake is done,
/// `handle_reply` when a transaction started with [`HostAction::Start`] has its reply, and
/// `handle_link_closed` on any failure or close, before or after the handshake. After
/// [`HostAction::CloseLink`] the host has forgotten that link: events about it are ignored.
/// A driver may report a link's events one after another before it drains the actions they
/// caused (a reply and then the close that the same read brought): a [`HostAction::Start`]
/// still undrained for a link reported closed is withdrawn, and its request waits again.
///
/// # Failure rules
///
/// * A link that closes before it is ready (connect or handshake failure) means the peer is
///   unreachable: every queued request is answered `con_lost` and one retry is used. With no
///   retry left the host is marked dead: its links are closed, their transactions fail, and
///   requests are answered `con_lost` at once. A link becoming ready or delivering a reply
///   restores the budget.
/// * A link that closes while running a transaction fails that transaction only (`con_lost`;
///   a delayed file stays on disk); the link is dropped and replaced if work is queued.
/// * A dead host is probed with one link after `probe_min`, then after back-off delays drawn
///   uniformly from `[probe_min, min(probe_max, probe_min * 2^n)]` (full jitter from the seed
///   given to [`Host::new`]); a probe whose handshake completes revives the host. `reset`
///   revives it at once and opens a link.
///
/// # Guarantees
///
/// * Every submitted request is answered exactly once (the reply or `con_lost`), unless its
///   client hangs up first. A delayed file is deleted only after its reply, and is never queued
///   or in flight twice.
/// * At most `max_links` links exist, and at most one of them is in its handshake.
/// * A dead host touches no network except its probes (and a `reset`).
/// * Nothing the peer or a client sends can make it panic; stale events are ignored.
#[derive(Debug)]
pub struct Host {
    id: Box<str>,
    config: HostConfig,
    rng: SplitMix64,
    links: Links,
    queue: WorkQueue,
    /// The host's files in the delayed directory.
    replay: Replay,
    /// False once the host stops replaying (shutdown, `close_all`).
    replaying: bool,
    /// A file read did not fit in the queue: nothing more is read until the queue has room
    /// for this many bytes (that file, read again, keeps its turn).
    need: Option<usize>,
    /// Busy links to an old address ([`Host::moved`]): closed once their reply is in.
    retiring: Vec<LinkId>,
    retries_left: u32,
    health: Health,
    timers: Timers<Timer, 3>,
    actions: VecDeque<HostAction>,
    stats: HostStats,
    /// When it was last marked dead.
    dead_since: Option<Instant>,
}

fn con_lost() -> Bytes {
    Bytes::from_static(request::CON_LOST)
}

impl Host {
    /// A host scheduler for the peer `host_id`, with no links yet; the node knows it as `key`
    /// (the namespace of its [`LinkId`]s).
    pub fn new(
        key: HostKey,
        host_id: &str,
        mut config: HostConfig,
        now: Instant,
        seed: u64,
    ) -> Host {
        config.max_links = config.max_links.max(1);
        Host {
            id: host_id.into(),
            rng: SplitMix64::new(seed),
            links: Links::new(key),
            queue: WorkQueue::new(config.max_queue_len, config.max_queue_bytes),
            replay: Replay::default(),
            replaying: true,
            need: None,
            retiring: Vec::new(),
            retries_left: config.retries,
            health: Health::Alive,
            timers: Timers::with_tick(now, config.tick),
            actions: VecDeque::new(),
            stats: HostStats::default(),
            dead_since: None,
            config,
        }
    }

    /// What the host has done since it was started, counted.
    pub fn stats(&self) -> &HostStats {
        &self.stats
    }

    /// A request the node answered `con_lost` itself for this host (a line over the limit,
    /// a line that came while the daemon stops), counted as one more request lost.
    pub fn count_lost_by_node(&mut self, cause: LostCause) {
        self.stats.count_request();
        self.stats.count_lost(cause);
    }

    /// A request line (no LF) from a local client.
    ///
    /// Started at once on the most recently idle link if there is one; otherwise queued (FIFO)
    /// and a link is opened if none is connecting and fewer than `max_links` exist. Answered
    /// `con_lost` at once when the host is dead or closed, or when the queue is full.
    ///
    /// The exact line `close_connection_exit` logs a CRITICAL message, closes every link,
    /// answers every waiting client `con_lost` (the sender included), restores the retry budget
    /// (reviving a dead host) and the host keeps serving.
    pub fn submit(&mut self, now: Instant, client: ClientId, request: Bytes) {
        self.stats.count_request();
        if request::is_close_connection_exit(&request) {
            self.close_connection_exit(now, client);
            return;
        }
        match self.health {
            Health::Alive => {}
            Health::Dead { .. } | Health::Closed => {
                self.log(LogEvent::HostUnavailable {
                    request: request.clone(),
                });
                let cause = if self.health == Health::Closed {
                    LostCause::Shutdown
                } else {
                    LostCause::Dead
                };
                self.lose(client, cause);
                return;
            }
        }
        let txn = Txn {
            origin: Origin::Client(client),
            request,
            arrived: now,
            deadline: now.checked_add(self.config.request_timeout),
            resent: false,
        };
        if let Some(link) = self.links.pop_idle() {
            self.start(link, txn);
        } else if self.queue.fits(txn.request.len()) {
            self.queue.push(txn);
        } else {
            self.log(LogEvent::QueueFull {
                requests: self.queue.len(),
                bytes: self.queue.bytes(),
                request: txn.request,
            });
            self.lose(client, LostCause::QueueFull);
        }
        self.settle(now);
    }

    /// A local client hung up: its queued requests are dropped unsent; a request of it already
    /// on a link completes there (to keep the link in step) and the reply is discarded.
    pub fn client_gone(&mut self, now: Instant, client: ClientId) {
        let mine = |t: &Txn| t.origin == Origin::Client(client);
        let dropped = self.queue.remove_if(mine);
        let mut orphaned = 0;
        for txn in self.links.busy_txns_mut() {
            if txn.origin == Origin::Client(client) {
                txn.origin = Origin::Gone;
                orphaned += 1;
            }
        }
        if dropped + orphaned > 0 {
            self.log(LogEvent::ClientHungUp {
                client,
                dropped,
                orphaned,
            });
        }
        self.settle(now);
    }

    /// SIGUSR1: restore the retry budget; a dead host is revived and a link is opened at once
    /// (unless one is already connecting) to find out whether the peer is back.
    pub fn reset(&mut self, now: Instant) {
        if self.health == Health::Closed {
            return;
        }
        if self.revive() && !self.links.connecting() && self.links.len() < self.config.max_links {
            self.open_link();
        }
        self.settle(now);
    }

    /// The host's address changed (a reload): its links are replaced. Idle and connecting
    /// links close now, a busy one once its reply is in (its request went to the old address);
    /// queued requests and waiting clients stay and go out on links to the new address, with
    /// a fresh retry budget (a dead host is alive again). The runtime connects new links to
    /// the new address.
    pub fn moved(&mut self, now: Instant) {
        if self.health == Health::Closed {
            return;
        }
        for (link, busy) in self.links.ids() {
            if busy {
                self.retiring.push(link);
            } else {
                self.links.remove(link);
                self.actions.push_back(HostAction::CloseLink(link));
            }
        }
        self.revive();
        self.settle(now);
    }

    /// A fresh retry budget; a dead host is alive again (logged, and its spool scanned).
    /// True if it was dead.
    fn revive(&mut self) -> bool {
        self.retries_left = self.config.retries;
        if !matches!(self.health, Health::Dead { .. }) {
            return false;
        }
        self.health = Health::Alive;
        self.timers.clear(Timer::Probe);
        self.log(LogEvent::HostReset);
        self.actions.push_back(HostAction::ScanDelayed);
        true
    }

    /// The orderly shutdown begins: no delayed file is read or started any more (those queued
    /// go back to disk); those in flight finish, so that none is delivered twice.
    pub fn stop_replay(&mut self, now: Instant) {
        self.replaying = false;
        self.need = None;
        self.replay.stop();
        let replay = &mut self.replay;
        self.queue.remove_if(|t| match &t.origin {
            Origin::Delayed(name) => {
                replay.finish(name);
                true
            }
            _ => false,
        });
        self.settle(now);
    }

    /// Shutdown: close every link and answer every waiting client `con_lost`; delayed files
    /// stay on disk. Afterwards every request is answered `con_lost` at once and no link is
    /// ever opened again.
    pub fn close_all(&mut self, now: Instant) {
        if self.health != Health::Closed {
            self.log(LogEvent::ClosingAll);
        }
        self.health = Health::Closed;
        self.replaying = false;
        self.need = None;
        self.replay.stop();
        self.drop_everything(LostCause::Shutdown);
        self.timers.clear_all();
        self.settle(now);
    }

    /// The link finished its handshake and is Idle.
    pub fn handle_link_ready(&mut self, now: Instant, link: LinkId) {
        if !matches!(self.links.usage(link), Some(LinkUse::Connecting)) {
            self.log(LogEvent::StaleReady {
                link: link.number(),
            });
            return;
        }
        if let Health::Dead { .. } = self.health {
            self.health = Health::Alive;
            self.timers.clear(Timer::Probe);
            self.log(LogEvent::HostReachable);
            self.actions.push_back(HostAction::ScanDelayed);
        }
        self.log(LogEvent::LinkReady {
            count: self.links.ready_count() + 1,
        });
        self.link_idle(link);
        self.settle(now);
    }

    /// The transaction on `link` completed with `reply`; the link is Idle again.
    pub fn handle_reply(&mut self, now: Instant, link: LinkId, reply: Bytes) {
        if !matches!(self.links.usage(link), Some(LinkUse::Busy(_))) {
            self.log(LogEvent::StaleReply {
                link: link.number(),
            });
            return;
        }
        if let Some(txn) = self.links.take_busy(link) {
            self.complete(now, txn, reply);
        }
        if let Some(at) = self.retiring.iter().position(|&l| l == link) {
            self.retiring.swap_remove(at);
            self.links.remove(link);
            self.actions.push_back(HostAction::CloseLink(link));
        } else {
            self.link_idle(link);
        }
        self.settle(now);
    }

    /// The link failed or closed (connect failure, handshake failure, EOF, error, step
    /// timeout), whatever state it was in. `unread` says the peer cannot have read the request
    /// on it ([`crate::link::LinkEvent::Closed`]): that request goes back to the head of the
    /// queue, once; a request that may have been read is never sent twice.
    pub fn handle_link_closed(
        &mut self,
        now: Instant,
        link: LinkId,
        reason: CloseReason,
        unread: bool,
    ) {
        self.retiring.retain(|&l| l != link);
        let handed_over = self.withdraw_start(link);
        match self.links.remove(link) {
            None => {
                self.log(LogEvent::StaleClose {
                    link: link.number(),
                    reason,
                });
                return;
            }
            Some(LinkUse::Connecting) => self.connect_failed(now, &reason),
            Some(LinkUse::Idle) => self.log(LogEvent::IdleLinkClosed { reason }),
            // Handed to the link (by its reply) since the driver last drained the actions: it
            // was never started, so it waits at the head of the queue as it did before.
            Some(LinkUse::Busy(txn)) if handed_over => {
                self.log(LogEvent::IdleLinkClosed { reason });
                self.queue.push_front(txn);
                self.dispatch_idle();
            }
            Some(LinkUse::Busy(mut txn)) if unread && !txn.resent && self.may_resend(&txn) => {
                self.log(LogEvent::RequestResent { reason });
                txn.resent = true;
                self.queue.push_front(txn);
                self.dispatch_idle();
            }
            Some(LinkUse::Busy(txn)) => {
                self.log(LogEvent::LinkLost { reason });
                self.fail(txn, LostCause::LinkLost);
            }
        }
        self.settle(now);
    }

    /// A scan of the delayed directory: the names of this host's files now there (names that
    /// do not parse or are another host's are ignored; the node warns about those). Waiting
    /// files are read, a few at a time, while the host is alive; each is queued at most once.
    /// Once the host has stopped replaying, scans are ignored.
    pub fn spool_listed(&mut self, now: Instant, names: Vec<String>) {
        if !self.replaying {
            return;
        }
        let mine = names
            .into_iter()
            .filter_map(|name| {
                let n = DelayedName::parse(&name).ok()?;
                (*n.host == *self.id).then_some((n, name))
            })
            .collect();
        self.replay.listed(mine);
        self.settle(now);
    }

    /// The driver's answer to [`HostAction::ReadDelayed`]: the files read, and the ones that
    /// could not be (not a regular file, unreadable, a first line over the limit) with why.
    ///
    /// Files are queued in replay order (whatever order they come in) while they fit in the
    /// queue; from the first that does not, they wait, and nothing more is read until the queue
    /// has room for it. A file that could not be read, or whose request is more than the queue
    /// ever holds, is skipped, with one warning, as long as scans list it.
    pub fn delayed_read(
        &mut self,
        now: Instant,
        mut files: Vec<DelayedFile>,
        unreadable: Vec<(String, String)>,
    ) {
        for (name, why) in unreadable {
            if self.replay.read_back(&name) && self.replay.skip(&name) {
                self.log(LogEvent::DelayedUnreadable { name, why });
            }
        }
        files.sort_by_cached_key(|f| {
            let n = DelayedName::parse(&f.name).ok();
            (n.map(|n| (n.time, n.count, n.pid)), f.name.clone())
        });
        for file in files {
            if !self.replay.read_back(&file.name) {
                continue; // not asked for, or the host stopped replaying meanwhile
            }
            if self.health != Health::Alive || !self.replaying {
                self.replay.put_back(&file.name);
                continue;
            }
            let len = file.request.len();
            if !self.queue.could_hold(len) {
                if self.replay.skip(&file.name) {
                    self.log(LogEvent::DelayedUnreadable {
                        name: file.name,
                        why: format!("its request ({len} bytes) is more than the queue holds"),
                    });
                }
                continue;
            }
            if self.need.is_some() || !self.queue.fits(len) {
                self.need.get_or_insert(len);
                self.replay.put_back(&file.name);
                continue;
            }
            self.replay.activate(&file.name);
            self.queue.push(Txn {
                origin: Origin::Delayed(file.name.into()),
                request: file.request,
                arrived: now,
                deadline: now.checked_add(self.config.request_timeout),
                resent: false,
            });
        }
        self.dispatch_idle();
        self.settle(now);
    }

    /// Fire every expired timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                Timer::Probe => {
                    if matches!(self.health, Health::Dead { .. }) && !self.links.connecting() {
                        self.log(LogEvent::Probing);
                        self.open_link();
                    }
                }
                Timer::Deadline => self.expire(now),
                Timer::Prune => {
                    let idle = self
                        .queue
                        .is_empty()
                        .then(|| self.links.remove_oldest_idle());
                    if let Some(link) = idle.flatten() {
                        self.log(LogEvent::IdleLinkPruned {
                            left: self.links.len(),
                        });
                        self.actions.push_back(HostAction::CloseLink(link));
                    }
                }
            }
        }
        self.settle(now);
    }

    /// The next action for the driver, in order. Drain until `None` after every call.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<HostAction> {
        let action = self.actions.pop_front();
        if action.is_none() && self.actions.capacity() > 8 && self.links.len() == 0 {
            self.actions = VecDeque::new();
        }
        action
    }

    /// When to call [`handle_timeout`](Host::handle_timeout) next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// loncnew's status line: `<host> Connection count: <n> Retries remaining: <r>`, or
    /// `<host> >>> DEAD !!!! <<<`.
    pub fn status(&self) -> String {
        match self.health {
            Health::Dead { .. } => format!("{} >>> DEAD !!!! <<<", self.id),
            _ => format!(
                "{} Connection count: {} Retries remaining: {}",
                self.id,
                self.links.len(),
                self.retries_left
            ),
        }
    }

    /// True while the host is marked dead.
    pub fn is_dead(&self) -> bool {
        matches!(self.health, Health::Dead { .. })
    }

    /// Number of links (connecting ones included).
    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    /// Number of requests waiting for a link.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Number of client requests not yet answered, queued or on a link (delayed requests and
    /// requests of clients that hung up not counted).
    pub fn waiting_clients(&self) -> usize {
        let waits = |t: &&Txn| matches!(t.origin, Origin::Client(_));
        self.queue.iter().filter(waits).count() + self.links.busy_txns().filter(waits).count()
    }

    /// True when nothing keeps an orderly shutdown waiting: no client waits, and no delayed
    /// file is on a link (one cut off now might be delivered again after a restart).
    pub fn is_drained(&self) -> bool {
        self.waiting_clients() == 0
            && !self
                .links
                .busy_txns()
                .any(|t| matches!(t.origin, Origin::Delayed(_)))
    }

    /// Delayed files waiting to be read (known from the last scan).
    pub fn delayed_waiting(&self) -> usize {
        self.replay.waiting()
    }

    /// Delayed files being read, queued or on a link.
    pub fn delayed_in_use(&self) -> usize {
        self.replay.in_use()
    }

    /// `lonc spool delete`: the file `name` (this host's) leaves the replay for good, before
    /// the driver deletes it. Refused, with why, while its request is being read, queued or on
    /// a link (it may be running on the lond), and for a file already delivered or deleted.
    pub fn spool_remove(&mut self, name: &str) -> Result<(), &'static str> {
        self.replay.remove(name)
    }

    /// The deletion of `name` did not happen: it is replayed again from the next scan.
    pub fn spool_unremove(&mut self, name: &str) {
        self.replay.unremove(name);
    }

    /// `lonc spool flush`: files that could not be read are tried again at the next scan.
    pub fn spool_retry(&mut self) {
        self.replay.retry_skipped();
    }

    /// The host as `lonc status` shows it, at `now`.
    pub fn report(&self, now: Instant) -> HostReport {
        let ready = self.links.ready_count();
        let idle = self.links.idle_count();
        let (state, dead_for, next_probe) = match self.health {
            Health::Alive => ("ok", None, None),
            Health::Dead { .. } => (
                "dead",
                self.dead_since
                    .map(|t| now.saturating_duration_since(t).as_secs()),
                self.timers
                    .get(Timer::Probe)
                    .map(|t| t.saturating_duration_since(now).as_secs_f64()),
            ),
            Health::Closed => ("stopped", None, None),
        };
        HostReport {
            id: self.id.to_string(),
            state,
            dead_for_seconds: dead_for,
            next_probe_seconds: next_probe,
            links: LinkCounts {
                handshaking: self.links.len() - ready,
                idle,
                busy: ready - idle,
            },
            queue: QueueReport {
                requests: self.queue.len(),
                bytes: self.queue.bytes(),
            },
            retries_left: self.retries_left,
            spooled: self.replay.waiting(),
            requests: self.stats.requests(),
            replies: self.stats.replies(),
            con_lost: ConLostReport::of(&self.stats),
            con_lost_total: self.stats.lost_total(),
            replayed: self.stats.replayed(),
            latency: self.stats.last_minute(now).into(),
        }
    }

    // ----- internals -----

    /// Answers the requests whose deadline has come: queued ones are dropped, one on a link
    /// closes that link (a reply can no longer be told from the next one's).
    fn expire(&mut self, now: Instant) {
        for txn in self.queue.take_expired(now) {
            self.time_out(txn);
        }
        let due: Vec<LinkId> = self
            .links
            .busy()
            .filter(|(_, t)| t.deadline.is_some_and(|d| d <= now))
            .map(|(l, _)| l)
            .collect();
        for link in due {
            self.retiring.retain(|&l| l != link);
            if let Some(LinkUse::Busy(txn)) = self.links.remove(link) {
                self.actions.push_back(HostAction::CloseLink(link));
                self.time_out(txn);
            }
        }
    }

    fn time_out(&mut self, txn: Txn) {
        self.log(LogEvent::RequestTimedOut {
            request: txn.request.clone(),
            after: self.config.request_timeout,
        });
        self.drop_txn(txn, LostCause::Timeout);
    }

    fn close_connection_exit(&mut self, now: Instant, client: ClientId) {
        self.log(LogEvent::CloseConnectionExit);
        if self.health == Health::Closed {
            self.lose(client, LostCause::CloseConnectionExit);
            return;
        }
        self.drop_everything(LostCause::CloseConnectionExit);
        self.lose(client, LostCause::CloseConnectionExit);
        self.retries_left = self.config.retries;
        self.health = Health::Alive;
        self.timers.clear(Timer::Probe);
        self.settle(now);
    }

    /// Close every link and fail every transaction, queued or in flight.
    fn drop_everything(&mut self, cause: LostCause) {
        self.retiring.clear();
        for (link, state) in self.links.remove_all() {
            self.actions.push_back(HostAction::CloseLink(link));
            if let LinkUse::Busy(txn) = state {
                self.fail(txn, cause);
            }
        }
        self.flush_queue(cause);
    }

    fn flush_queue(&mut self, cause: LostCause) {
        for txn in self.queue.take_all() {
            self.fail(txn, cause);
        }
    }

    /// A link that never became ready closed: the host is unreachable (loncnew 1.17).
    fn connect_failed(&mut self, now: Instant, reason: &CloseReason) {
        match self.health {
            Health::Closed => {}
            Health::Dead { probes } => {
                let probes = probes.saturating_add(1);
                self.health = Health::Dead { probes };
                let delay = self.probe_delay(probes);
                self.timers.set_after(Timer::Probe, now, delay);
                self.log(LogEvent::ProbeFailed {
                    reason: reason.clone(),
                    next_within: delay,
                });
            }
            Health::Alive => {
                self.retries_left = self.retries_left.saturating_sub(1);
                self.log(LogEvent::ConnectFailed {
                    reason: reason.clone(),
                    retries_left: self.retries_left,
                });
                self.flush_queue(LostCause::ConnectFailed);
                if self.retries_left == 0 {
                    self.mark_dead(now);
                }
            }
        }
    }

    fn mark_dead(&mut self, now: Instant) {
        self.log(LogEvent::HostMarkedDead);
        self.dead_since = Some(now);
        self.drop_everything(LostCause::ConnectFailed);
        self.health = Health::Dead { probes: 0 };
        let delay = self.probe_delay(0);
        self.timers.set_after(Timer::Probe, now, delay);
    }

    /// Exponential back-off with full jitter: uniform in `[probe_min, min(probe_max,
    /// probe_min * 2^attempt)]`.
    fn probe_delay(&mut self, attempt: u32) -> Duration {
        let min = self.config.probe_min;
        let cap = min
            .checked_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
            .unwrap_or(Duration::MAX)
            .min(self.config.probe_max)
            .max(min);
        let span = u64::try_from((cap - min).as_nanos()).unwrap_or(u64::MAX);
        min + Duration::from_nanos(self.rng.up_to(span))
    }

    fn open_link(&mut self) {
        let link = self.links.open();
        self.actions.push_back(HostAction::OpenLink(link));
    }

    /// A link is ready for work (handshake done or reply delivered): loncnew's `ServerToIdle`.
    fn link_idle(&mut self, link: LinkId) {
        self.retries_left = self.config.retries;
        match self.queue.pop_for(self.takes_resent(link)) {
            Some(txn) => self.start(link, txn),
            None => {
                self.links.set_idle(link);
            }
        }
    }

    /// A request sent again (its link closed under it unread) goes to a link that has carried
    /// nothing yet: the link that just answered may be closing too (a lond closes links after
    /// a reply or an idle time), and the request would meet the same race. With the pool full
    /// (no fresh link can come), any link takes it.
    fn takes_resent(&self, link: LinkId) -> bool {
        self.links.is_fresh(link) || self.links.len() >= self.config.max_links
    }

    fn start(&mut self, link: LinkId, txn: Txn) {
        self.actions.push_back(HostAction::Start {
            link,
            request: txn.request.clone(),
        });
        self.links.set_busy(link, txn);
    }

    /// Takes back the [`HostAction::Start`] for `link` that the driver has not polled yet;
    /// true if there was one.
    fn withdraw_start(&mut self, link: LinkId) -> bool {
        let before = self.actions.len();
        self.actions
            .retain(|a| !matches!(a, HostAction::Start { link: l, .. } if *l == link));
        self.actions.len() < before
    }

    /// Start queued work on idle links (after delayed files were queued).
    fn dispatch_idle(&mut self) {
        let mut passed = Vec::new();
        while !self.queue.is_empty() {
            let Some(link) = self.links.pop_idle() else {
                break;
            };
            match self.queue.pop_for(self.takes_resent(link)) {
                Some(txn) => self.start(link, txn),
                None => passed.push(link), // only requests waiting for a fresh link
            }
        }
        for link in passed.into_iter().rev() {
            self.links.set_idle(link);
        }
    }

    fn complete(&mut self, now: Instant, txn: Txn, reply: Bytes) {
        match txn.origin {
            Origin::Client(client) => {
                self.stats.count_reply(now, txn.arrived);
                self.answer(client, reply);
            }
            Origin::Delayed(name) => {
                self.stats.count_replayed();
                self.replay.deliver(&name);
                self.log(LogEvent::DelayedCompleted);
                let record = format!("S:{}:{}", self.id, request::perm_loggable(&txn.request));
                self.actions.push_back(HostAction::Delivered {
                    name: name.into_string(),
                    record,
                });
            }
            Origin::Gone => self.log(LogEvent::ReplyDiscarded),
        }
    }

    /// A transaction could not be carried: the client gets `con_lost`; a delayed file stays.
    fn fail(&mut self, txn: Txn, cause: LostCause) {
        let dead = matches!(self.health, Health::Dead { .. });
        if !dead {
            self.log(LogEvent::FailingTransaction {
                request: txn.request.clone(),
            });
        }
        self.drop_txn(txn, cause);
    }

    /// The client of a transaction that will not be carried gets `con_lost`; a delayed file
    /// stays on disk for a later scan.
    fn drop_txn(&mut self, txn: Txn, cause: LostCause) {
        match txn.origin {
            Origin::Client(client) => self.lose(client, cause),
            Origin::Delayed(name) => self.replay.finish(&name),
            Origin::Gone => {}
        }
    }

    /// Open a link if work waits and none is being set up; keep the prune timer in step.
    /// Runs at the end of every entry point.
    fn settle(&mut self, now: Instant) {
        self.replay_more();
        if self.health == Health::Alive
            && !self.queue.is_empty()
            && !self.links.connecting()
            && self.links.len() < self.config.max_links
        {
            self.open_link();
        }
        self.compact();
        let deadline = self
            .links
            .busy()
            .filter_map(|(_, t)| t.deadline)
            .chain(self.queue.next_deadline())
            .min();
        match deadline {
            Some(d) => self.timers.set(Timer::Deadline, d),
            None => self.timers.clear(Timer::Deadline),
        }
        let prunable =
            self.health != Health::Closed && self.queue.is_empty() && self.links.idle_count() > 0;
        if !prunable {
            self.timers.clear(Timer::Prune);
        } else if !self.timers.is_set(Timer::Prune) {
            self.timers
                .set_after(Timer::Prune, now, self.config.idle_timeout);
        }
    }

    /// Give back the memory of a burst once the host has no link and no work, so that an idle
    /// host costs a few hundred bytes however busy it once was.
    fn compact(&mut self) {
        if self.links.len() == 0 && self.queue.is_empty() {
            self.links.shrink();
            self.queue.shrink();
            self.replay.shrink();
        }
    }

    /// Asks to read the next waiting delayed files, as long as at most `max_links` of them
    /// are being read, queued or in flight: a live request waits behind at most that many.
    fn replay_more(&mut self) {
        if self.health != Health::Alive || !self.replaying {
            return;
        }
        if let Some(len) = self.need {
            if !self.queue.fits(len) {
                return;
            }
            self.need = None;
        }
        let room = self.config.max_links.saturating_sub(self.replay.in_use());
        let names = self.replay.take(room);
        if !names.is_empty() {
            self.actions.push_back(HostAction::ReadDelayed(names));
        }
    }

    /// An unread request is sent again if someone still wants it: a client that waits, or a
    /// delayed file while the host replays.
    fn may_resend(&self, txn: &Txn) -> bool {
        match txn.origin {
            Origin::Client(_) => true,
            Origin::Delayed(_) => self.replaying,
            Origin::Gone => false,
        }
    }

    fn answer(&mut self, client: ClientId, line: Bytes) {
        self.actions.push_back(HostAction::Answer { client, line });
    }

    /// Answers `con_lost`, counted for `cause`.
    fn lose(&mut self, client: ClientId, cause: LostCause) {
        self.stats.count_lost(cause);
        self.answer(client, con_lost());
    }

    fn log(&mut self, event: LogEvent) {
        self.actions.push_back(HostAction::Log(event));
    }
}

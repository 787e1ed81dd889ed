//! The reference model of the per-host scheduler, [`lonc_core::host::Host`].
//!
//! Written from the scheduler's documented rules (the README's "The per-host scheduler", the doc
//! comments of `Host` and `HostConfig`, loncnew's rules), never from its code: [`Model`] keeps
//! what the scheduler must believe (the FIFO queue of waiting jobs and its bounds, each link's
//! state with the idle links on a LIFO stack, the retry budget, alive / dead / closed, each
//! request's deadline and whether it was sent again, and the delayed directory as the host knows
//! it: the files waiting to be read, being read, queued or in flight, skipped, delivered) and,
//! for every input, returns an [`Expect`]: exactly which clients are answered and with what
//! (every `con_lost` with its [`Cause`]), which jobs start on which links, how many links open,
//! which close, which scans and reads of the delayed directory are asked for, which delayed
//! files are delivered with which `S:` record, which files are warned about, how many requests
//! are sent again or time out, and whether the host is marked dead.
//!
//! The delayed directory: a scan tells the host the names there; it keeps its own files waiting
//! in replay order (numeric time, count, pid, name) and, while alive and replaying, asks to read
//! the first of them, as long as at most `max_links` files are being read, queued or in flight
//! (the replay window). A file read is queued in replay order while it fits in the queue; from
//! the first that does not, the files read wait again and nothing more is read until the queue
//! has room for it. A file that cannot be read, or whose request is more than the queue ever
//! holds, is skipped with one warning while scans list it; a delivered file is not replayed
//! again while scans list it. A failed delayed request leaves its file for the next scan. A
//! revived host asks for a scan. `stop_replay` drops the queued files and reads nothing more.
//!
//! Every request has a deadline `request_timeout` after its arrival (a delayed one: after it was
//! read); then a queued one is dropped and one on a link closes its link, and a client gets
//! `con_lost` ([`Cause::Deadline`]). A request on a link that closes unread goes back to the
//! head of the queue, once, unless its client hung up or (for a delayed file) the host stopped
//! replaying; it keeps its deadline and goes at once to an idle link if there is one.
//!
//! Timers are the one loose part: the probe's jitter and the tick rounding are not predicted.
//! The model keeps when each timer was armed and bounds when it may fire: a probe (only while
//! dead and no link connects) at `[armed + probe_min, armed + cap + tick]`, a prune (the link
//! idle longest, only while the queue is empty) at `[armed + idle_timeout, armed +
//! idle_timeout + tick]`, the earliest request deadline `d` at `[d, d + tick]`. Before its
//! window a timer must not fire, after it it must; inside it either is accepted
//! ([`Chance::Maybe`]) and the harness tells the model what happened ([`Model::resolve`], and
//! [`Model::timeout`] is told whether the deadline timer fired). Nothing else comes from a
//! timer, and a `con_lost` only from a deadline.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lonc_core::host::HostConfig;
use lonc_core::ids::LinkId;
use lonc_core::request::{CLOSE_CONNECTION_EXIT, CON_LOST, perm_loggable};
use lonc_core::spool::DelayedName;

/// The peer's host id in every model run.
pub const HOST: &str = "msul1";

/// Work the scheduler carries: a live client's request or a delayed file's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Job {
    /// A request of a client that waits for its answer.
    Live { client: u64, request: Bytes },
    /// The request of a delayed file: on its reply the file is delivered, on failure it stays
    /// on disk.
    Delayed { name: String, request: Bytes },
    /// A request on a link whose client hung up: it completes there, the reply is discarded.
    Gone { request: Bytes },
}

impl Job {
    /// The request line.
    pub fn request(&self) -> &Bytes {
        match self {
            Job::Live { request, .. } | Job::Delayed { request, .. } | Job::Gone { request } => {
                request
            }
        }
    }
}

/// A job with its deadline (`None`: never) and whether it was sent again already.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Work {
    pub job: Job,
    pub deadline: Option<Instant>,
    pub resent: bool,
}

/// What the scheduler must believe about one of its links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Opened, its connect or handshake not finished.
    Connecting,
    /// Ready, on the idle stack.
    Idle,
    /// Running this job.
    Busy(Work),
}

/// Life of the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Alive,
    /// Retries exhausted; `failed_probes` probes failed since.
    Dead {
        failed_probes: u32,
    },
    /// After `close_all`.
    Closed,
}

/// Why a client gets its answer. Every cause but [`Cause::Reply`] is a `con_lost`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// The lond's reply to its request.
    Reply,
    /// Submitted while the host is dead.
    DeadAtSubmit,
    /// Submitted after `close_all`.
    ClosedAtSubmit,
    /// Submitted with no idle link and no room in the queue (`max_queue_len`/`max_queue_bytes`).
    QueueFull,
    /// Queued when a link closed before it was ready (connect or handshake failure).
    ConnectFailed,
    /// On a link when the last retry was used and the host was marked dead.
    MarkedDead,
    /// On a link lost during its transaction (one the peer may have read, or sent twice).
    BusyLinkLost,
    /// Waiting (queued or on a link) when `close_connection_exit` came, or its sender.
    CloseConnectionExit,
    /// Waiting at shutdown (`close_all`).
    Shutdown,
    /// Not answered within `request_timeout` of its arrival.
    Deadline,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cause::Reply => "its reply",
            Cause::DeadAtSubmit => "submitted to a dead host",
            Cause::ClosedAtSubmit => "submitted after close_all",
            Cause::QueueFull => "queue overflow at submit",
            Cause::ConnectFailed => "queued when a link failed before ready",
            Cause::MarkedDead => "on a link when the host was marked dead",
            Cause::BusyLinkLost => "its link was lost during the transaction",
            Cause::CloseConnectionExit => "close_connection_exit",
            Cause::Shutdown => "close_all (shutdown)",
            Cause::Deadline => "its deadline passed",
        })
    }
}

/// Whether a timer may fire at this `handle_timeout`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Chance {
    /// Not armed, not due yet, or not allowed.
    #[default]
    No,
    /// Within its window: the jitter and the tick rounding decide.
    Maybe,
    /// Past its window: it must fire now.
    Must,
}

/// Everything one input must produce, as the model predicts it.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    /// Every client answered in this step, with the line and the cause.
    pub answers: BTreeMap<u64, (Bytes, Cause)>,
    /// Jobs started, in order: link and request line.
    pub starts: Vec<(LinkId, Bytes)>,
    /// Links opened besides a probe (0 or 1).
    pub opens: usize,
    /// Why the links open (for messages).
    pub open_why: &'static str,
    /// Links closed by the host (not counting a prune).
    pub closes: BTreeSet<LinkId>,
    /// `ScanDelayed` actions (0 or 1).
    pub scans: usize,
    /// `ReadDelayed` actions: the names asked for, in order.
    pub reads: Vec<Vec<String>>,
    /// `Delivered` actions: the file and its `S:` record, in order.
    pub delivered: Vec<(String, String)>,
    /// Files warned about as unreadable (or too large for the queue), in order.
    pub skipped: Vec<String>,
    /// Requests sent again (`RequestResent`).
    pub resent: usize,
    /// Requests past their deadline (`RequestTimedOut`), clients' or not.
    pub timed_out: usize,
    /// The CRITICAL `Host marked DEAD: <host>` is due.
    pub marked_dead: bool,
    /// A probe (`OpenLink` while dead) at this `handle_timeout`.
    pub probe: Chance,
    /// A prune at this `handle_timeout`: `CloseLink` of this link, the one idle longest.
    pub prune: Option<(LinkId, Chance)>,
}

/// A timer window: `early` (none: never fires) and `late` (none: unbounded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    early: Option<Instant>,
    late: Option<Instant>,
}

impl Window {
    fn chance(self, now: Instant) -> Chance {
        match (self.early, self.late) {
            (Some(e), _) if now < e => Chance::No,
            (None, _) => Chance::No,
            (_, Some(l)) if now >= l => Chance::Must,
            _ => Chance::Maybe,
        }
    }
}

/// Replay order of a delayed file: numeric time, count, pid, then the name.
type Order = (u64, u64, u64, String);

fn order(name: &str) -> Option<Order> {
    let n = DelayedName::parse(name).ok()?;
    Some((n.time, n.count, n.pid, name.to_owned()))
}

/// The reference scheduler of one host.
#[derive(Clone, Debug)]
pub struct Model {
    max_links: usize,
    retries: u32,
    idle_timeout: Duration,
    tick: Duration,
    max_queue_len: usize,
    max_queue_bytes: usize,
    probe_min: Duration,
    probe_max: Duration,
    request_timeout: Duration,

    health: Health,
    retries_left: u32,
    /// Waiting jobs, oldest first (live and delayed only), in deadline order.
    queue: VecDeque<Work>,
    queue_bytes: usize,
    links: BTreeMap<LinkId, LinkState>,
    /// Links that have carried a request (a request sent again waits for one that has not,
    /// unless the pool is full).
    carried: BTreeSet<LinkId>,
    /// Idle links, most recently idle last.
    idle: Vec<LinkId>,
    /// False after `stop_replay` or `close_all`.
    replaying: bool,
    /// This host's files listed by the last scan and not being read, queued or in flight.
    waiting: BTreeSet<Order>,
    /// Asked for with `ReadDelayed`, not answered yet.
    reading: BTreeSet<String>,
    /// Queued or in flight.
    active: BTreeSet<String>,
    /// Unreadable (or too large), warned about; skipped while scans list them.
    skipped: BTreeSet<String>,
    /// Delivered; skipped while scans list them.
    delivered: BTreeSet<String>,
    /// A file read did not fit in the queue: nothing is read until this many bytes fit.
    need: Option<usize>,
    /// When the prune timer was armed.
    prune_armed: Option<Instant>,
    /// When the probe timer was armed, and its back-off step.
    probe_armed: Option<(Instant, u32)>,
}

fn con_lost() -> Bytes {
    Bytes::from_static(CON_LOST)
}

impl Model {
    /// A fresh host with this configuration (`max_links` 0 counts as 1, as documented).
    pub fn new(config: &HostConfig) -> Model {
        Model {
            max_links: config.max_links.max(1),
            retries: config.retries,
            idle_timeout: config.idle_timeout,
            tick: config.tick,
            max_queue_len: config.max_queue_len,
            max_queue_bytes: config.max_queue_bytes,
            probe_min: config.probe_min,
            probe_max: config.probe_max,
            request_timeout: config.request_timeout,
            health: Health::Alive,
            retries_left: config.retries,
            queue: VecDeque::new(),
            queue_bytes: 0,
            links: BTreeMap::new(),
            carried: BTreeSet::new(),
            idle: Vec::new(),
            replaying: true,
            waiting: BTreeSet::new(),
            reading: BTreeSet::new(),
            active: BTreeSet::new(),
            skipped: BTreeSet::new(),
            delivered: BTreeSet::new(),
            need: None,
            prune_armed: None,
            probe_armed: None,
        }
    }

    // ----- inputs -----

    /// A new client sends `request` at `now`.
    pub fn submit(&mut self, now: Instant, client: u64, request: &Bytes) -> Expect {
        let mut exp = Expect::default();
        if request[..] == *CLOSE_CONNECTION_EXIT {
            if self.health != Health::Closed {
                self.drop_everything(Cause::CloseConnectionExit, &mut exp);
                self.retries_left = self.retries;
                self.health = Health::Alive;
                self.probe_armed = None;
                exp.answers
                    .insert(client, (con_lost(), Cause::CloseConnectionExit));
                self.settle(&mut exp);
            } else {
                exp.answers
                    .insert(client, (con_lost(), Cause::CloseConnectionExit));
            }
            return exp;
        }
        match self.health {
            Health::Dead { .. } => {
                exp.answers
                    .insert(client, (con_lost(), Cause::DeadAtSubmit));
                return exp;
            }
            Health::Closed => {
                exp.answers
                    .insert(client, (con_lost(), Cause::ClosedAtSubmit));
                return exp;
            }
            Health::Alive => {}
        }
        let work = self.work(
            now,
            Job::Live {
                client,
                request: request.clone(),
            },
        );
        if let Some(link) = self.idle.pop() {
            self.start(link, work, &mut exp);
        } else if self.fits(request.len()) {
            self.push(work);
        } else {
            exp.answers.insert(client, (con_lost(), Cause::QueueFull));
        }
        self.settle(&mut exp);
        exp
    }

    /// The client hung up: its queued job is dropped, its job on a link becomes [`Job::Gone`].
    pub fn client_gone(&mut self, client: u64) -> Expect {
        let mut kept = VecDeque::with_capacity(self.queue.len());
        for work in self.queue.drain(..) {
            match &work.job {
                Job::Live { client: c, request } if *c == client => {
                    self.queue_bytes -= request.len();
                }
                _ => kept.push_back(work),
            }
        }
        self.queue = kept;
        for state in self.links.values_mut() {
            if let LinkState::Busy(work) = state
                && let Job::Live { client: c, request } = &work.job
                && *c == client
            {
                work.job = Job::Gone {
                    request: request.clone(),
                };
            }
        }
        let mut exp = Expect::default();
        self.settle(&mut exp);
        exp
    }

    /// The connecting `link` finished its handshake.
    pub fn link_ready(&mut self, link: LinkId) -> Expect {
        let mut exp = Expect::default();
        assert_eq!(self.links.get(&link), Some(&LinkState::Connecting));
        if let Health::Dead { .. } = self.health {
            self.health = Health::Alive;
            self.probe_armed = None;
            exp.scans = 1;
        }
        self.link_idle(link, &mut exp);
        self.settle(&mut exp);
        exp
    }

    /// The busy `link` delivered `reply`.
    pub fn reply(&mut self, link: LinkId, reply: &Bytes) -> Expect {
        let mut exp = Expect::default();
        let Some(LinkState::Busy(work)) = self.links.get(&link).cloned() else {
            panic!("the model's link {link:?} is not busy");
        };
        match work.job {
            Job::Live { client, .. } => {
                exp.answers.insert(client, (reply.clone(), Cause::Reply));
            }
            Job::Delayed { name, request } => {
                self.active.remove(&name);
                self.delivered.insert(name.clone());
                let record = format!("S:{HOST}:{}", perm_loggable(&request));
                exp.delivered.push((name, record));
            }
            Job::Gone { .. } => {}
        }
        self.link_idle(link, &mut exp);
        self.settle(&mut exp);
        exp
    }

    /// `link` closed (failure or EOF), whatever its state; `unread`: the peer cannot have read
    /// the request on it.
    pub fn link_closed(&mut self, now: Instant, link: LinkId, unread: bool) -> Expect {
        let mut exp = Expect::default();
        match self.links.remove(&link) {
            None => panic!("the model does not know link {link:?}"),
            Some(LinkState::Connecting) => self.connect_failed(now, &mut exp),
            Some(LinkState::Idle) => self.idle.retain(|l| *l != link),
            Some(LinkState::Busy(mut work))
                if unread && !work.resent && self.may_resend(&work.job) =>
            {
                exp.resent += 1;
                work.resent = true;
                self.push_front(work);
                self.dispatch_idle(&mut exp);
            }
            Some(LinkState::Busy(work)) => self.fail(work.job, Cause::BusyLinkLost, &mut exp),
        }
        self.settle(&mut exp);
        exp
    }

    /// A scan of the delayed directory lists these names.
    pub fn scan(&mut self, names: &[String]) -> Expect {
        let mut exp = Expect::default();
        if !self.replaying {
            return exp;
        }
        let mut waiting = BTreeSet::new();
        let mut skipped = BTreeSet::new();
        let mut delivered = BTreeSet::new();
        for name in names {
            let Ok(n) = DelayedName::parse(name) else {
                continue;
            };
            if n.host != HOST {
                continue;
            }
            if self.reading.contains(name) || self.active.contains(name) {
                continue;
            }
            if self.skipped.contains(name) {
                skipped.insert(name.clone());
            } else if self.delivered.contains(name) {
                delivered.insert(name.clone());
            } else {
                waiting.insert((n.time, n.count, n.pid, name.clone()));
            }
        }
        self.waiting = waiting;
        self.skipped = skipped;
        self.delivered = delivered;
        self.settle(&mut exp);
        exp
    }

    /// The driver's answer to a `ReadDelayed`: `(name, request)` of the files read, and the
    /// names that could not be read.
    pub fn read(
        &mut self,
        now: Instant,
        files: &[(String, Bytes)],
        unreadable: &[String],
    ) -> Expect {
        let mut exp = Expect::default();
        for name in unreadable {
            if self.reading.remove(name) && self.skipped.insert(name.clone()) {
                exp.skipped.push(name.clone());
            }
        }
        let mut files: Vec<&(String, Bytes)> = files.iter().collect();
        files.sort_by_key(|(name, _)| order(name));
        for (name, request) in files {
            if !self.reading.remove(name) {
                continue;
            }
            let back = order(name).expect("only this host's names are read");
            if self.health != Health::Alive || !self.replaying {
                self.waiting.insert(back);
                continue;
            }
            if self.max_queue_len == 0 || request.len() > self.max_queue_bytes {
                if self.skipped.insert(name.clone()) {
                    exp.skipped.push(name.clone());
                }
                continue;
            }
            if self.need.is_some() || !self.fits(request.len()) {
                self.need.get_or_insert(request.len());
                self.waiting.insert(back);
                continue;
            }
            self.active.insert(name.clone());
            let work = self.work(
                now,
                Job::Delayed {
                    name: name.clone(),
                    request: request.clone(),
                },
            );
            self.push(work);
        }
        self.dispatch_idle(&mut exp);
        self.settle(&mut exp);
        exp
    }

    /// SIGUSR1.
    pub fn reset(&mut self) -> Expect {
        let mut exp = Expect::default();
        if self.health == Health::Closed {
            return exp;
        }
        self.retries_left = self.retries;
        if let Health::Dead { .. } = self.health {
            self.health = Health::Alive;
            self.probe_armed = None;
            exp.scans = 1;
            if !self.connecting() && self.links.len() < self.max_links {
                exp.opens = 1;
                exp.open_why = "reset of a dead host";
            }
        }
        self.settle(&mut exp);
        exp
    }

    /// The orderly shutdown begins: queued delayed files go back to disk, nothing more is read.
    pub fn stop_replay(&mut self) -> Expect {
        let mut exp = Expect::default();
        self.stop();
        let mut kept = VecDeque::with_capacity(self.queue.len());
        for work in self.queue.drain(..) {
            match &work.job {
                Job::Delayed { name, request } => {
                    self.queue_bytes -= request.len();
                    self.active.remove(name);
                }
                _ => kept.push_back(work),
            }
        }
        self.queue = kept;
        self.settle(&mut exp);
        exp
    }

    /// Shutdown.
    pub fn close_all(&mut self) -> Expect {
        let mut exp = Expect::default();
        self.health = Health::Closed;
        self.stop();
        self.drop_everything(Cause::Shutdown, &mut exp);
        self.probe_armed = None;
        self.prune_armed = None;
        self.settle(&mut exp);
        exp
    }

    /// Whether the deadline timer may fire at a `handle_timeout(now)`.
    pub fn deadline_chance(&self, now: Instant) -> Chance {
        self.deadline_window().map_or(Chance::No, |w| w.chance(now))
    }

    /// `handle_timeout(now)`: which timers may or must fire, and what the deadline timer did
    /// if `deadline_fired` (the harness saw it: requests timed out; it must be allowed by
    /// [`deadline_chance`](Model::deadline_chance)). Apply the rest of the outcome with
    /// [`resolve`](Model::resolve).
    pub fn timeout(&mut self, now: Instant, deadline_fired: bool) -> Expect {
        let mut exp = Expect::default();
        if matches!(self.health, Health::Dead { .. }) && !self.connecting() {
            exp.probe = self.probe_window().map_or(Chance::No, |w| w.chance(now));
        }
        if self.queue.is_empty()
            && let (Some(&oldest), Some(w)) = (self.idle.first(), self.prune_window())
        {
            exp.prune = Some((oldest, w.chance(now)));
        }
        if deadline_fired {
            self.expire(now, &mut exp);
            self.settle(&mut exp);
        }
        exp
    }

    /// Apply what the host did where the model allowed a choice or where the host picks the id:
    /// the links it opened (`opened`, probe included), whether the probe fired and whether the
    /// prune closed its link. The harness calls this once the actions matched `exp`.
    pub fn resolve(&mut self, exp: &Expect, opened: &[LinkId], probed: bool, pruned: bool) {
        if probed {
            self.probe_armed = None;
        }
        if pruned && let Some((link, _)) = exp.prune {
            self.links.remove(&link);
            self.idle.retain(|l| *l != link);
            self.prune_armed = None;
        }
        for link in opened {
            self.links.insert(*link, LinkState::Connecting);
        }
    }

    /// End of an input at `now`: the prune timer runs while the queue is empty and idle links
    /// exist (and the host is not closed), armed from the moment that began.
    pub fn end_step(&mut self, now: Instant) {
        let prunable =
            self.health != Health::Closed && self.queue.is_empty() && !self.idle.is_empty();
        if !prunable {
            self.prune_armed = None;
        } else if self.prune_armed.is_none() {
            self.prune_armed = Some(now);
        }
    }

    // ----- what the host exposes -----

    /// loncnew's status line.
    pub fn status(&self) -> String {
        match self.health {
            Health::Dead { .. } => format!("{HOST} >>> DEAD !!!! <<<"),
            _ => format!(
                "{HOST} Connection count: {} Retries remaining: {}",
                self.links.len(),
                self.retries_left
            ),
        }
    }

    pub fn is_dead(&self) -> bool {
        matches!(self.health, Health::Dead { .. })
    }

    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Live jobs queued or on a link.
    pub fn waiting_clients(&self) -> usize {
        let busy = self
            .links
            .values()
            .filter(|s| matches!(s, LinkState::Busy(w) if matches!(w.job, Job::Live { .. })))
            .count();
        let queued = self
            .queue
            .iter()
            .filter(|w| matches!(w.job, Job::Live { .. }))
            .count();
        busy + queued
    }

    /// No client waits and no delayed file is on a link.
    pub fn is_drained(&self) -> bool {
        self.waiting_clients() == 0
            && !self
                .links
                .values()
                .any(|s| matches!(s, LinkState::Busy(w) if matches!(w.job, Job::Delayed { .. })))
    }

    /// Files listed and waiting to be read.
    pub fn delayed_waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Files being read, queued or in flight: never more than `max_links`.
    pub fn replay_window(&self) -> usize {
        self.reading.len() + self.active.len()
    }

    /// The bounds of `poll_timeout()`: `(least, most, required)`. `least` is `None` when no timer
    /// can ever fire (then `poll_timeout()` must be `None`); `most` is the latest instant it may
    /// name, if bounded; `required` says whether some timer surely has a deadline.
    pub fn timeout_bounds(&self) -> (Option<Instant>, Option<Instant>, bool) {
        let windows = [
            self.prune_window(),
            self.probe_window(),
            self.deadline_window(),
        ];
        let windows = windows.iter().flatten().filter(|w| w.early.is_some());
        let least = windows.clone().filter_map(|w| w.early).min();
        let most = windows.clone().filter_map(|w| w.late).min();
        let required = windows.clone().any(|w| w.late.is_some());
        (least, most, required)
    }

    /// The links whose state satisfies `pick`, by id.
    pub fn links_where(&self, pick: impl Fn(&LinkState) -> bool) -> Vec<LinkId> {
        self.links
            .iter()
            .filter(|(_, s)| pick(s))
            .map(|(l, _)| *l)
            .collect()
    }

    /// Where the model has this client's request, for messages.
    pub fn where_is(&self, client: u64) -> String {
        let mine = |w: &Work| matches!(w.job, Job::Live { client: c, .. } if c == client);
        if let Some(i) = self.queue.iter().position(mine) {
            return format!("queued at position {i} of {}", self.queue.len());
        }
        for (l, s) in &self.links {
            if let LinkState::Busy(w) = s
                && mine(w)
            {
                return format!("in flight on link {}", l.0);
            }
        }
        "not waiting in the model".into()
    }

    /// A one-line summary of the model's state, for messages.
    pub fn summary(&self) -> String {
        format!(
            "health {:?}, retries {}, queue {} job(s) / {} bytes (max {} / {}), links {:?}, \
             idle stack {:?}, delayed: {} waiting, reading {:?}, active {:?}, skipped {:?}, \
             delivered {:?}, need {:?}{}",
            self.health,
            self.retries_left,
            self.queue.len(),
            self.queue_bytes,
            self.max_queue_len,
            self.max_queue_bytes,
            self.links
                .iter()
                .map(|(l, s)| (
                    l.0,
                    match s {
                        LinkState::Connecting => "connecting",
                        LinkState::Idle => "idle",
                        LinkState::Busy(_) => "busy",
                    }
                ))
                .collect::<Vec<_>>(),
            self.idle.iter().map(|l| l.0).collect::<Vec<_>>(),
            self.waiting.len(),
            self.reading,
            self.active,
            self.skipped,
            self.delivered,
            self.need,
            if self.replaying {
                ""
            } else {
                ", replay stopped"
            },
        )
    }

    pub fn max_links(&self) -> usize {
        self.max_links
    }

    // ----- the rules -----

    fn work(&self, now: Instant, job: Job) -> Work {
        Work {
            job,
            deadline: now.checked_add(self.request_timeout),
            resent: false,
        }
    }

    fn fits(&self, len: usize) -> bool {
        self.queue.len() < self.max_queue_len
            && self
                .queue_bytes
                .checked_add(len)
                .is_some_and(|b| b <= self.max_queue_bytes)
    }

    fn push(&mut self, work: Work) {
        self.queue_bytes += work.job.request().len();
        self.queue.push_back(work);
    }

    /// Back at the head of the queue, before any job whose deadline is not earlier (a job with
    /// no deadline has the latest).
    fn push_front(&mut self, work: Work) {
        self.queue_bytes += work.job.request().len();
        let key = |d: Option<Instant>| (d.is_none(), d);
        let at = self
            .queue
            .iter()
            .position(|w| key(w.deadline) >= key(work.deadline))
            .unwrap_or(self.queue.len());
        self.queue.insert(at, work);
    }

    /// The first job `link` may carry: any for a link that has carried nothing (or when the
    /// pool is full), else the first that was not sent again.
    fn pop_for(&mut self, link: LinkId) -> Option<Work> {
        let any = !self.carried.contains(&link) || self.links.len() >= self.max_links;
        let at = if any {
            0
        } else {
            self.queue.iter().position(|w| !w.resent)?
        };
        let work = self.queue.remove(at)?;
        self.queue_bytes -= work.job.request().len();
        Some(work)
    }

    fn connecting(&self) -> bool {
        self.links.values().any(|s| *s == LinkState::Connecting)
    }

    fn start(&mut self, link: LinkId, work: Work, exp: &mut Expect) {
        exp.starts.push((link, work.job.request().clone()));
        self.carried.insert(link);
        self.links.insert(link, LinkState::Busy(work));
    }

    /// A link is ready for work (handshake done or reply delivered): the budget is restored and
    /// it takes the head of the queue or goes on top of the idle stack.
    fn link_idle(&mut self, link: LinkId, exp: &mut Expect) {
        self.retries_left = self.retries;
        match self.pop_for(link) {
            Some(work) => self.start(link, work, exp),
            None => {
                self.links.insert(link, LinkState::Idle);
                self.idle.push(link);
            }
        }
    }

    /// Queued jobs go to idle links, most recently idle first (a job sent again only to a
    /// link that may take it; the others stay idle, in their order).
    fn dispatch_idle(&mut self, exp: &mut Expect) {
        let mut passed = Vec::new();
        while !self.queue.is_empty() {
            let Some(link) = self.idle.pop() else { break };
            match self.pop_for(link) {
                Some(work) => self.start(link, work, exp),
                None => passed.push(link),
            }
        }
        self.idle.extend(passed.into_iter().rev());
    }

    /// An unread request is sent again for a client that waits, or a delayed file while the
    /// host replays.
    fn may_resend(&self, job: &Job) -> bool {
        match job {
            Job::Live { .. } => true,
            Job::Delayed { .. } => self.replaying,
            Job::Gone { .. } => false,
        }
    }

    /// A job could not be carried: a live client gets `con_lost`, a delayed file stays on disk.
    fn fail(&mut self, job: Job, cause: Cause, exp: &mut Expect) {
        match job {
            Job::Live { client, .. } => {
                exp.answers.insert(client, (con_lost(), cause));
            }
            Job::Delayed { name, .. } => {
                self.active.remove(&name);
            }
            Job::Gone { .. } => {}
        }
    }

    /// Close every link (failing its job) and fail the queue.
    fn drop_everything(&mut self, cause: Cause, exp: &mut Expect) {
        for (link, state) in std::mem::take(&mut self.links) {
            exp.closes.insert(link);
            if let LinkState::Busy(work) = state {
                self.fail(work.job, cause, exp);
            }
        }
        self.idle.clear();
        self.flush_queue(cause, exp);
    }

    fn flush_queue(&mut self, cause: Cause, exp: &mut Expect) {
        while let Some(work) = self.queue.pop_front() {
            self.queue_bytes -= work.job.request().len();
            self.fail(work.job, cause, exp);
        }
    }

    /// The jobs whose deadline has come: queued ones are dropped, one on a link closes it.
    fn expire(&mut self, now: Instant, exp: &mut Expect) {
        let due = |w: &Work| w.deadline.is_some_and(|d| d <= now);
        let mut kept = VecDeque::with_capacity(self.queue.len());
        for work in std::mem::take(&mut self.queue) {
            if due(&work) {
                self.queue_bytes -= work.job.request().len();
                exp.timed_out += 1;
                self.fail(work.job, Cause::Deadline, exp);
            } else {
                kept.push_back(work);
            }
        }
        self.queue = kept;
        let links = self.links_where(|s| matches!(s, LinkState::Busy(w) if due(w)));
        for link in links {
            if let Some(LinkState::Busy(work)) = self.links.remove(&link) {
                exp.closes.insert(link);
                exp.timed_out += 1;
                self.fail(work.job, Cause::Deadline, exp);
            }
        }
    }

    /// A link closed before it was ready: a failed probe of a dead host backs off; on a live
    /// host the queue is failed and a retry used, the last one marking the host dead.
    fn connect_failed(&mut self, now: Instant, exp: &mut Expect) {
        match self.health {
            Health::Closed => {}
            Health::Dead { failed_probes } => {
                let failed_probes = failed_probes.saturating_add(1);
                self.health = Health::Dead { failed_probes };
                self.probe_armed = Some((now, failed_probes));
            }
            Health::Alive => {
                self.retries_left = self.retries_left.saturating_sub(1);
                self.flush_queue(Cause::ConnectFailed, exp);
                if self.retries_left == 0 {
                    exp.marked_dead = true;
                    self.drop_everything(Cause::MarkedDead, exp);
                    self.health = Health::Dead { failed_probes: 0 };
                    self.probe_armed = Some((now, 0));
                }
            }
        }
    }

    /// Stop replaying: forget what waits and what is being read.
    fn stop(&mut self) {
        self.replaying = false;
        self.need = None;
        self.waiting.clear();
        self.reading.clear();
    }

    /// While alive and replaying, read the next waiting files: at most `max_links` are being
    /// read, queued or in flight; nothing while a file read waits for room in the queue.
    fn replay_more(&mut self, exp: &mut Expect) {
        if self.health != Health::Alive || !self.replaying {
            return;
        }
        if let Some(len) = self.need {
            if !self.fits(len) {
                return;
            }
            self.need = None;
        }
        let room = self.max_links.saturating_sub(self.replay_window());
        let mut names = Vec::new();
        while names.len() < room {
            let Some((_, _, _, name)) = self.waiting.pop_first() else {
                break;
            };
            self.reading.insert(name.clone());
            names.push(name);
        }
        if !names.is_empty() {
            exp.reads.push(names);
        }
    }

    /// End of every input: read more delayed files if there is room; work waits, no link
    /// connects and there is room: open one.
    fn settle(&mut self, exp: &mut Expect) {
        self.replay_more(exp);
        if self.health == Health::Alive
            && !self.queue.is_empty()
            && !self.connecting()
            && exp.opens == 0
            && self.links.len() < self.max_links
        {
            exp.opens = 1;
            exp.open_why = "work queued, no link connecting, room for a link";
        }
    }

    fn prune_window(&self) -> Option<Window> {
        let armed = self.prune_armed?;
        let early = armed.checked_add(self.idle_timeout);
        Some(Window {
            early,
            late: early.and_then(|e| e.checked_add(self.tick)),
        })
    }

    /// `[d, d + tick]` for the earliest deadline `d` of a job queued or on a link.
    fn deadline_window(&self) -> Option<Window> {
        let busy = self.links.values().filter_map(|s| match s {
            LinkState::Busy(w) => w.deadline,
            _ => None,
        });
        let d = self
            .queue
            .iter()
            .filter_map(|w| w.deadline)
            .chain(busy)
            .min()?;
        Some(Window {
            early: Some(d),
            late: d.checked_add(self.tick),
        })
    }

    /// `[armed + probe_min, armed + cap + tick]`, cap = `min(probe_max, probe_min * 2^step)`,
    /// at least `probe_min`.
    fn probe_window(&self) -> Option<Window> {
        let (armed, step) = self.probe_armed?;
        // Above 2^31 the doubling only needs to be at least as large (a looser bound).
        let doubled = 1u32
            .checked_shl(step)
            .and_then(|m| self.probe_min.checked_mul(m));
        let cap = doubled
            .unwrap_or(Duration::MAX)
            .min(self.probe_max)
            .max(self.probe_min);
        Some(Window {
            early: armed.checked_add(self.probe_min),
            late: armed
                .checked_add(cap)
                .and_then(|c| c.checked_add(self.tick)),
        })
    }
}

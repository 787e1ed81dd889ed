//! The reference model of the per-host scheduler, [`lonc_core::host::Host`].
//!
//! Written from the scheduler's documented rules (the README's "The per-host scheduler", the doc
//! comments of `Host` and `HostConfig`, loncnew's rules), never from its code: [`Model`] keeps
//! what the scheduler must believe (the FIFO queue of waiting jobs and its bounds, each link's
//! state with the idle links on a LIFO stack, the retry budget, alive / dead / closed, the delayed
//! files queued or in flight) and, for every input, returns an [`Expect`]: exactly which clients
//! are answered and with what (every `con_lost` with its [`Cause`]), which jobs start on which
//! links, how many links open, which close, whether the delayed directory is listed, which
//! delayed files get their `S:` record and are deleted, and whether the host is marked dead.
//!
//! Timers are the one loose part: the probe's jitter and the tick rounding are not predicted.
//! The model keeps when each timer was armed and bounds when it may fire: a probe (only while
//! dead and no link connects) at `[armed + probe_min, armed + cap + tick]`, a prune (the link
//! idle longest, only while the queue is empty) at `[armed + idle_timeout, armed + idle_timeout
//! + tick]`. Before its window a timer must not fire, after it it must; inside it either is
//! accepted ([`Chance::Maybe`]) and the harness tells the model what happened
//! ([`Model::resolve`]). Nothing else comes from a timer, and never a `con_lost`.

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
    /// The request of a delayed file: on its reply the file is logged and deleted, on failure
    /// it stays on disk.
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

/// What the scheduler must believe about one of its links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Opened, its connect or handshake not finished.
    Connecting,
    /// Ready, on the idle stack.
    Idle,
    /// Running this job.
    Busy(Job),
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
    /// On a link lost during its transaction.
    BusyLinkLost,
    /// Waiting (queued or on a link) when `close_connection_exit` came, or its sender.
    CloseConnectionExit,
    /// Waiting at shutdown (`close_all`).
    Shutdown,
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

/// A delayed-file action, in the order the scheduler must emit them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileAction {
    /// `lonnet.perm.log` record (`S:<host>:<request>`).
    PermLog(String),
    /// Delete the file of this name.
    Delete(String),
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
    /// `ListDelayed` actions (0 or 1).
    pub list_delayed: usize,
    /// `S:` records and deletions, in order.
    pub files: Vec<FileAction>,
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

    health: Health,
    retries_left: u32,
    /// Waiting jobs, oldest first (live and delayed only).
    queue: VecDeque<Job>,
    queue_bytes: usize,
    links: BTreeMap<LinkId, LinkState>,
    /// Idle links, most recently idle last.
    idle: Vec<LinkId>,
    /// Names of the delayed files queued or in flight.
    delayed: BTreeSet<String>,
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
            health: Health::Alive,
            retries_left: config.retries,
            queue: VecDeque::new(),
            queue_bytes: 0,
            links: BTreeMap::new(),
            idle: Vec::new(),
            delayed: BTreeSet::new(),
            prune_armed: None,
            probe_armed: None,
        }
    }

    // ----- inputs -----

    /// A new client sends `request`.
    pub fn submit(&mut self, client: u64, request: &Bytes) -> Expect {
        let mut exp = Expect::default();
        if request[..] == *CLOSE_CONNECTION_EXIT {
            if self.health != Health::Closed {
                self.drop_everything(Cause::CloseConnectionExit, &mut exp);
                self.retries_left = self.retries;
                self.health = Health::Alive;
                self.probe_armed = None;
            }
            exp.answers
                .insert(client, (con_lost(), Cause::CloseConnectionExit));
            self.settle(&mut exp);
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
        let job = Job::Live {
            client,
            request: request.clone(),
        };
        if let Some(link) = self.idle.pop() {
            self.start(link, job, &mut exp);
        } else if self.fits(request.len()) {
            self.push(job);
        } else {
            exp.answers.insert(client, (con_lost(), Cause::QueueFull));
        }
        self.settle(&mut exp);
        exp
    }

    /// The client hung up: its queued job is dropped, its job on a link becomes [`Job::Gone`].
    pub fn client_gone(&mut self, client: u64) -> Expect {
        let mut kept = VecDeque::with_capacity(self.queue.len());
        for job in self.queue.drain(..) {
            match job {
                Job::Live { client: c, request } if c == client => {
                    self.queue_bytes -= request.len();
                }
                other => kept.push_back(other),
            }
        }
        self.queue = kept;
        for state in self.links.values_mut() {
            if let LinkState::Busy(Job::Live { client: c, request }) = state
                && *c == client
            {
                *state = LinkState::Busy(Job::Gone {
                    request: request.clone(),
                });
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
        let first = self.ready_count() == 0;
        if let Health::Dead { .. } = self.health {
            self.health = Health::Alive;
            self.probe_armed = None;
        }
        self.link_idle(link, &mut exp);
        if first {
            exp.list_delayed = 1;
        }
        self.settle(&mut exp);
        exp
    }

    /// The busy `link` delivered `reply`.
    pub fn reply(&mut self, link: LinkId, reply: &Bytes) -> Expect {
        let mut exp = Expect::default();
        let Some(LinkState::Busy(job)) = self.links.get(&link).cloned() else {
            panic!("the model's link {link:?} is not busy");
        };
        match job {
            Job::Live { client, .. } => {
                exp.answers.insert(client, (reply.clone(), Cause::Reply));
            }
            Job::Delayed { name, request } => {
                self.delayed.remove(&name);
                exp.files.push(FileAction::PermLog(format!(
                    "S:{HOST}:{}",
                    perm_loggable(&request)
                )));
                exp.files.push(FileAction::Delete(name));
            }
            Job::Gone { .. } => {}
        }
        self.link_idle(link, &mut exp);
        self.settle(&mut exp);
        exp
    }

    /// `link` closed (failure or EOF), whatever its state.
    pub fn link_closed(&mut self, now: Instant, link: LinkId) -> Expect {
        let mut exp = Expect::default();
        match self.links.remove(&link) {
            None => panic!("the model does not know link {link:?}"),
            Some(LinkState::Connecting) => self.connect_failed(now, &mut exp),
            Some(LinkState::Idle) => self.idle.retain(|l| *l != link),
            Some(LinkState::Busy(job)) => self.fail(job, Cause::BusyLinkLost, &mut exp),
        }
        self.settle(&mut exp);
        exp
    }

    /// The driver offers the delayed directory: `(name, request)` per file.
    pub fn offer(&mut self, files: &[(String, Bytes)]) -> Expect {
        let mut exp = Expect::default();
        if self.health != Health::Alive {
            return exp;
        }
        let mut wanted: Vec<(DelayedName, &String, &Bytes)> = files
            .iter()
            .filter(|(name, _)| !self.delayed.contains(name))
            .filter_map(|(name, request)| {
                let parsed = DelayedName::parse(name).ok()?;
                (parsed.host == HOST).then_some((parsed, name, request))
            })
            .collect();
        // Numeric time, then count (then pid and the rest of the name: spool's order).
        wanted.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        for (_, name, request) in wanted {
            if self.delayed.contains(name) {
                continue;
            }
            if !self.fits(request.len()) {
                break;
            }
            self.delayed.insert(name.clone());
            self.push(Job::Delayed {
                name: name.clone(),
                request: request.clone(),
            });
        }
        while !self.queue.is_empty() {
            let Some(link) = self.idle.pop() else { break };
            let job = self.pop().expect("queue not empty");
            self.start(link, job, &mut exp);
        }
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
            if !self.connecting() && self.links.len() < self.max_links {
                exp.opens = 1;
                exp.open_why = "reset of a dead host";
            }
        }
        self.settle(&mut exp);
        exp
    }

    /// Shutdown.
    pub fn close_all(&mut self) -> Expect {
        let mut exp = Expect::default();
        self.health = Health::Closed;
        self.drop_everything(Cause::Shutdown, &mut exp);
        self.probe_armed = None;
        self.prune_armed = None;
        self.settle(&mut exp);
        exp
    }

    /// `handle_timeout(now)`: which timers may or must fire. Apply the outcome with
    /// [`resolve`](Model::resolve).
    pub fn timeout(&mut self, now: Instant) -> Expect {
        let mut exp = Expect::default();
        if matches!(self.health, Health::Dead { .. }) && !self.connecting() {
            exp.probe = self.probe_window().map_or(Chance::No, |w| w.chance(now));
        }
        if self.queue.is_empty()
            && let (Some(&oldest), Some(w)) = (self.idle.first(), self.prune_window())
        {
            exp.prune = Some((oldest, w.chance(now)));
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
            .filter(|s| matches!(s, LinkState::Busy(Job::Live { .. })))
            .count();
        let queued = self
            .queue
            .iter()
            .filter(|j| matches!(j, Job::Live { .. }))
            .count();
        busy + queued
    }

    /// The bounds of `poll_timeout()`: `(least, most, required)`. `least` is `None` when no timer
    /// can ever fire (then `poll_timeout()` must be `None`); `most` is the latest instant it may
    /// name, if bounded; `required` says whether some timer surely has a deadline.
    pub fn timeout_bounds(&self) -> (Option<Instant>, Option<Instant>, bool) {
        let windows = [self.prune_window(), self.probe_window()];
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
        let mine = |j: &Job| matches!(j, Job::Live { client: c, .. } if *c == client);
        if let Some(i) = self.queue.iter().position(mine) {
            return format!("queued at position {i} of {}", self.queue.len());
        }
        for (l, s) in &self.links {
            if let LinkState::Busy(j) = s
                && mine(j)
            {
                return format!("in flight on link {}", l.0);
            }
        }
        "not waiting in the model".into()
    }

    /// A one-line summary of the model's state, for messages.
    pub fn summary(&self) -> String {
        format!(
            "health {:?}, retries {}, queue {} job(s) / {} bytes (max {} / {}), links {:?}, idle stack {:?}",
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
        )
    }

    pub fn max_links(&self) -> usize {
        self.max_links
    }

    // ----- the rules -----

    fn fits(&self, len: usize) -> bool {
        self.queue.len() < self.max_queue_len
            && self
                .queue_bytes
                .checked_add(len)
                .is_some_and(|b| b <= self.max_queue_bytes)
    }

    fn push(&mut self, job: Job) {
        self.queue_bytes += job.request().len();
        self.queue.push_back(job);
    }

    fn pop(&mut self) -> Option<Job> {
        let job = self.queue.pop_front()?;
        self.queue_bytes -= job.request().len();
        Some(job)
    }

    fn connecting(&self) -> bool {
        self.links.values().any(|s| *s == LinkState::Connecting)
    }

    fn ready_count(&self) -> usize {
        self.links
            .values()
            .filter(|s| **s != LinkState::Connecting)
            .count()
    }

    fn start(&mut self, link: LinkId, job: Job, exp: &mut Expect) {
        exp.starts.push((link, job.request().clone()));
        self.links.insert(link, LinkState::Busy(job));
    }

    /// A link is ready for work (handshake done or reply delivered): the budget is restored and
    /// it takes the head of the queue or goes on top of the idle stack.
    fn link_idle(&mut self, link: LinkId, exp: &mut Expect) {
        self.retries_left = self.retries;
        match self.pop() {
            Some(job) => self.start(link, job, exp),
            None => {
                self.links.insert(link, LinkState::Idle);
                self.idle.push(link);
            }
        }
    }

    /// A job could not be carried: a live client gets `con_lost`, a delayed file stays on disk.
    fn fail(&mut self, job: Job, cause: Cause, exp: &mut Expect) {
        match job {
            Job::Live { client, .. } => {
                exp.answers.insert(client, (con_lost(), cause));
            }
            Job::Delayed { name, .. } => {
                self.delayed.remove(&name);
            }
            Job::Gone { .. } => {}
        }
    }

    /// Close every link (failing its job) and fail the queue.
    fn drop_everything(&mut self, cause: Cause, exp: &mut Expect) {
        for (link, state) in std::mem::take(&mut self.links) {
            exp.closes.insert(link);
            if let LinkState::Busy(job) = state {
                self.fail(job, cause, exp);
            }
        }
        self.idle.clear();
        self.flush_queue(cause, exp);
    }

    fn flush_queue(&mut self, cause: Cause, exp: &mut Expect) {
        while let Some(job) = self.pop() {
            self.fail(job, cause, exp);
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

    /// End of every input: work waits, no link connects and there is room: open one.
    fn settle(&mut self, exp: &mut Expect) {
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

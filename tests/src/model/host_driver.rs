//! Drives a real [`Host`] and the reference [`Model`] side by side.
//!
//! [`HostDriver`] plays the scheduler's driver: it owns the links the host asked for, the
//! clients waiting on the socket, the delayed directory (readable and unreadable files, the
//! reads the host asked for and not yet answered) and a virtual clock. Each [`Step`] goes to
//! both; then every action the host emitted is compared with the model's [`Expect`]:
//! * the answers, exactly: every client answered (each at most once, never after it hung up),
//!   with its lond reply or `con_lost`, and every `con_lost` only for the cause the model names
//!   (a missing or extra one fails, with that cause or where the model has the request);
//! * the `Start`s, in order (link and request line): FIFO from the queue head, a new request on
//!   the most recently idle link, a request sent again first;
//! * the links opened (how many; ids never reused) and closed (exactly which);
//! * `ScanDelayed` when the host comes back; every `ReadDelayed`, exactly (which names, in
//!   which order: the replay window and order); every `Delivered`, with its `S:` record, right
//!   after its reply; every file warned about as unreadable; how many requests are sent again
//!   and how many time out;
//! * the CRITICAL `Host marked DEAD: <host>` exactly when the model marks the host dead, and no
//!   log showing the arguments of an `encrypt:` request;
//! * timers: a probe, a prune or a request deadline only within the model's window, and surely
//!   after it.
//!
//! After every step `status()`, `link_count()`, `is_dead()`, `waiting_clients()`,
//! `queue_len()`, `is_drained()` and `delayed_waiting()` must equal the model's, and
//! `poll_timeout()` must lie within its timer windows. The driver calls `handle_timeout` on
//! [`Step::Advance`], and again while `poll_timeout()` is not after `now` (a few rounds at most:
//! no busy loop).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lonc_core::host::{DelayedFile, Host, HostAction, HostConfig};
use lonc_core::ids::{ClientId, HostKey, LinkId};
use lonc_core::log::{LogEvent, Severity};
use lonc_core::logfmt::message;
use lonc_core::reason::CloseReason;
use lonc_core::request::CON_LOST;
use lonc_core::stats::LostCause;

use super::host::{Cause, Chance, Expect, HOST, LinkState, Model};

/// The password in [`request`]'s `encrypt:` lines: no log may show it.
pub const SECRET: &str = "hunter2";

/// One thing that happens to the scheduler. Indexes pick among the candidates modulo their
/// number (by id or name); a step without a candidate does nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A new client sends this line (`close_connection_exit` included).
    Submit(Bytes),
    /// The n-th waiting client hangs up.
    ClientGone(usize),
    /// The n-th connecting link completes its handshake.
    LinkReady(usize),
    /// The n-th connecting link fails to connect or in its handshake.
    ConnectFail(usize),
    /// The n-th busy link delivers its reply.
    Reply(usize),
    /// The n-th link, whatever its state, closes for this reason; `unread`: the peer cannot
    /// have read its request.
    LinkLost(usize, CloseReason, bool),
    /// lonnet spools a file into the delayed directory (an existing name is kept).
    Spool { name: String, request: Bytes },
    /// A file that cannot be read appears in the delayed directory (a directory, no
    /// permission); it is listed, never read.
    SpoolUnreadable(String),
    /// The n-th name of the delayed directory disappears.
    Unspool(usize),
    /// The deletion of the n-th file delivered so far failed: it is in the directory again.
    DeletionFailed(usize),
    /// The driver scans the directory, then answers every read the host asks for until it asks
    /// for none.
    Offer,
    /// The driver scans the directory: the host gets its names.
    Scan,
    /// The driver answers the n-th `ReadDelayed` not answered yet.
    Read(usize),
    /// SIGUSR1.
    Reset,
    /// The orderly shutdown begins.
    StopReplay,
    /// Shutdown.
    CloseAll,
    /// The clock moves on; the driver calls `handle_timeout`.
    Advance(Duration),
    /// An event (reply, ready or close, by `n % 3`) about a link the host does not know: one it
    /// closed (even `n`, if any) or one it never opened.
    Stale(u8),
}

/// A request line for client-visible tests: `get:msu:r<n>:<pad>`, or with `encrypted`
/// `encrypt:passwd:msu:r<n>:<SECRET><pad>`.
pub fn request(encrypted: bool, n: u64, pad: usize) -> Bytes {
    let pad = "x".repeat(pad);
    Bytes::from(if encrypted {
        format!("encrypt:passwd:msu:r{n}:{SECRET}{pad}")
    } else {
        format!("get:msu:r{n}:{pad}")
    })
}

/// What a run did, for tests that want to know a script reached its point.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Answers that were lond replies.
    pub replies: usize,
    /// `con_lost` answers, by cause.
    pub con_lost: BTreeMap<Cause, usize>,
    /// Delayed files delivered (recorded and deleted) after their reply.
    pub deleted: usize,
    /// Delayed files read, and files skipped (unreadable or too large).
    pub read: usize,
    pub skipped: usize,
    /// Requests sent again, and requests (clients' or files') past their deadline.
    pub resent: usize,
    pub timed_out: usize,
    /// Probes opened by a timer.
    pub probes: usize,
    /// Idle links closed by a timer.
    pub prunes: usize,
    /// The host was dead after some step.
    pub was_dead: bool,
}

impl Tally {
    /// Every `con_lost`, whatever its cause.
    pub fn con_lost_total(&self) -> usize {
        self.con_lost.values().sum()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientState {
    Waiting,
    Answered,
    Gone,
}

/// A real host and the model, driven together. See the module documentation.
pub struct HostDriver {
    host: Host,
    model: Model,
    now: Instant,
    clients: BTreeMap<u64, ClientState>,
    next_client: u64,
    /// The delayed directory: readable files, and names that cannot be read.
    dir: BTreeMap<String, Bytes>,
    unreadable: BTreeSet<String>,
    /// `ReadDelayed` batches not answered yet, oldest first.
    pending_reads: Vec<Vec<String>>,
    /// Every file delivered so far, with its request.
    delivered: Vec<(String, Bytes)>,
    seen_links: BTreeSet<LinkId>,
    closed_links: Vec<LinkId>,
    replies_sent: u64,
    /// A line not sent as `encrypt:` carried [`SECRET`]: logs may then show it.
    secret_in_clear: bool,
    steps: usize,
    tally: Tally,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn starts_text(s: &[(LinkId, Bytes)]) -> String {
    let items: Vec<String> = s
        .iter()
        .map(|(l, r)| format!("{:?} on link {}", text(r), l.0))
        .collect();
    format!("[{}]", items.join(", "))
}

impl HostDriver {
    /// A host `msul1` with this configuration and jitter seed, and its model.
    pub fn new(config: HostConfig, seed: u64) -> HostDriver {
        let now = Instant::now();
        HostDriver {
            model: Model::new(&config),
            host: Host::new(HostKey(0), HOST, config, now, seed),
            now,
            clients: BTreeMap::new(),
            next_client: 0,
            dir: BTreeMap::new(),
            unreadable: BTreeSet::new(),
            pending_reads: Vec::new(),
            delivered: Vec::new(),
            seen_links: BTreeSet::new(),
            closed_links: Vec::new(),
            replies_sent: 0,
            secret_in_clear: false,
            steps: 0,
            tally: Tally::default(),
        }
    }

    /// What the run did so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Apply one step to the host and the model and compare; the error says which step, what
    /// differed and the model's state before the step.
    pub fn step(&mut self, step: &Step) -> Result<(), String> {
        self.steps += 1;
        let before = self.model.clone();
        self.apply(step, &before).map_err(|e| {
            format!(
                "step {} ({step:?}): {e}\n  model before the step: {}",
                self.steps,
                before.summary()
            )
        })
    }

    /// Let every link finish (handshakes succeed, reads are answered, replies arrive) until
    /// nothing moves; then every client that stayed must have its answer; then `close_all`.
    pub fn finish(&mut self) -> Result<(), String> {
        for _ in 0..10_000 {
            let step = if !self
                .model
                .links_where(|s| *s == LinkState::Connecting)
                .is_empty()
            {
                Step::LinkReady(0)
            } else if !self.pending_reads.is_empty() {
                Step::Read(0)
            } else if !self
                .model
                .links_where(|s| matches!(s, LinkState::Busy(_)))
                .is_empty()
            {
                Step::Reply(0)
            } else {
                break;
            };
            self.step(&step)?;
        }
        if let Some((c, _)) = self
            .clients
            .iter()
            .find(|(_, s)| **s == ClientState::Waiting)
        {
            return Err(format!(
                "client {c} never answered once every link finished ({})",
                self.model.where_is(*c)
            ));
        }
        self.step(&Step::CloseAll)
    }

    fn nth<T: Copy>(items: &[T], n: usize) -> Option<T> {
        (!items.is_empty()).then(|| items[n % items.len()])
    }

    /// Every name in the delayed directory, as a scan lists them.
    fn listing(&self) -> Vec<String> {
        let names: BTreeSet<&String> = self.dir.keys().chain(&self.unreadable).collect();
        names.into_iter().cloned().collect()
    }

    fn apply(&mut self, step: &Step, before: &Model) -> Result<(), String> {
        let now = self.now;
        match step {
            Step::Submit(line) => {
                let c = self.next_client;
                self.next_client += 1;
                self.clients.insert(c, ClientState::Waiting);
                if !line.starts_with(b"encrypt:") && contains(line, SECRET.as_bytes()) {
                    self.secret_in_clear = true;
                }
                let exp = self.model.submit(now, c, line);
                self.host.submit(now, ClientId(c), line.clone());
                self.check(exp, before)
            }
            Step::ClientGone(n) => {
                let waiting: Vec<u64> = self
                    .clients
                    .iter()
                    .filter(|(_, s)| **s == ClientState::Waiting)
                    .map(|(c, _)| *c)
                    .collect();
                let Some(c) = Self::nth(&waiting, *n) else {
                    return Ok(());
                };
                self.clients.insert(c, ClientState::Gone);
                let exp = self.model.client_gone(c);
                self.host.client_gone(now, ClientId(c));
                self.check(exp, before)
            }
            Step::LinkReady(n) => {
                let connecting = self.model.links_where(|s| *s == LinkState::Connecting);
                let Some(link) = Self::nth(&connecting, *n) else {
                    return Ok(());
                };
                let exp = self.model.link_ready(link);
                self.host.handle_link_ready(now, link);
                self.check(exp, before)
            }
            Step::ConnectFail(n) => {
                let connecting = self.model.links_where(|s| *s == LinkState::Connecting);
                let Some(link) = Self::nth(&connecting, *n) else {
                    return Ok(());
                };
                let exp = self.model.link_closed(now, link, false);
                let reason = CloseReason::ConnectFailed(std::io::ErrorKind::ConnectionRefused);
                self.host.handle_link_closed(now, link, reason, false);
                self.closed_links.push(link);
                self.check(exp, before)
            }
            Step::Reply(n) => {
                let busy = self.model.links_where(|s| matches!(s, LinkState::Busy(_)));
                let Some(link) = Self::nth(&busy, *n) else {
                    return Ok(());
                };
                self.replies_sent += 1;
                let reply = Bytes::from(format!("reply-{}", self.replies_sent));
                let exp = self.model.reply(link, &reply);
                self.host.handle_reply(now, link, reply);
                self.check(exp, before)
            }
            Step::LinkLost(n, reason, unread) => {
                let all = self.model.links_where(|_| true);
                let Some(link) = Self::nth(&all, *n) else {
                    return Ok(());
                };
                let exp = self.model.link_closed(now, link, *unread);
                self.host
                    .handle_link_closed(now, link, reason.clone(), *unread);
                self.closed_links.push(link);
                self.check(exp, before)
            }
            Step::Spool { name, request } => {
                if contains(name.as_bytes(), SECRET.as_bytes())
                    || contains(request, SECRET.as_bytes())
                {
                    self.secret_in_clear = true;
                }
                self.dir
                    .entry(name.clone())
                    .or_insert_with(|| request.clone());
                Ok(())
            }
            Step::SpoolUnreadable(name) => {
                if contains(name.as_bytes(), SECRET.as_bytes()) {
                    self.secret_in_clear = true;
                }
                self.unreadable.insert(name.clone());
                Ok(())
            }
            Step::Unspool(n) => {
                let names = self.listing();
                if !names.is_empty() {
                    let name = &names[n % names.len()];
                    self.dir.remove(name);
                    self.unreadable.remove(name);
                }
                Ok(())
            }
            Step::DeletionFailed(n) => {
                let i = (!self.delivered.is_empty()).then(|| n % self.delivered.len());
                if let Some((name, request)) = i.map(|i| self.delivered[i].clone()) {
                    self.dir.insert(name, request);
                }
                Ok(())
            }
            Step::Offer => {
                self.apply(&Step::Scan, before)?;
                for _ in 0..1000 {
                    if self.pending_reads.is_empty() {
                        return Ok(());
                    }
                    let before = self.model.clone();
                    self.apply(&Step::Read(0), &before)?;
                }
                Err("the host keeps asking to read delayed files".into())
            }
            Step::Scan => {
                let names = self.listing();
                let exp = self.model.scan(&names);
                self.host.spool_listed(now, names);
                self.check(exp, before)
            }
            Step::Read(n) => {
                if self.pending_reads.is_empty() {
                    return Ok(());
                }
                let names = self.pending_reads.remove(n % self.pending_reads.len());
                let mut files = Vec::new();
                let mut unreadable = Vec::new();
                for name in names {
                    match self.dir.get(&name) {
                        Some(request) if !self.unreadable.contains(&name) => {
                            files.push((name, request.clone()));
                        }
                        _ => unreadable.push(name),
                    }
                }
                self.tally.read += files.len();
                let exp = self.model.read(now, &files, &unreadable);
                let files = files
                    .into_iter()
                    .map(|(name, request)| DelayedFile { name, request })
                    .collect();
                let unreadable = unreadable
                    .into_iter()
                    .map(|n| (n, "Permission denied".to_string()))
                    .collect();
                self.host.delayed_read(now, files, unreadable);
                self.check(exp, before)
            }
            Step::Reset => {
                let exp = self.model.reset();
                self.host.reset(now);
                self.check(exp, before)
            }
            Step::StopReplay => {
                let exp = self.model.stop_replay();
                self.host.stop_replay(now);
                self.check(exp, before)
            }
            Step::CloseAll => {
                let exp = self.model.close_all();
                self.host.close_all(now);
                self.check(exp, before)
            }
            Step::Advance(d) => {
                self.now = self.now.checked_add(*d).unwrap_or(self.now);
                let rounds = self.model.max_links() + 4;
                for _ in 0..rounds {
                    let before = self.model.clone();
                    let chance = self.model.deadline_chance(self.now);
                    self.host.handle_timeout(self.now);
                    let actions = self.collect();
                    let fired = actions
                        .iter()
                        .any(|a| matches!(a, HostAction::Log(LogEvent::RequestTimedOut { .. })));
                    match (chance, fired) {
                        (Chance::No, true) => {
                            return Err("a request timed out before its deadline".into());
                        }
                        (Chance::Must, false) => {
                            return Err(
                                "a request deadline passed more than a tick ago and nothing \
                                 timed out"
                                    .into(),
                            );
                        }
                        _ => {}
                    }
                    let exp = self.model.timeout(self.now, fired);
                    self.check_actions(actions, exp, &before)?;
                    if self.host.poll_timeout().is_none_or(|t| t > self.now) {
                        return Ok(());
                    }
                }
                Err(format!(
                    "the host still asks for a timeout at or before now after {rounds} rounds"
                ))
            }
            Step::Stale(n) => {
                let link = match Self::nth(&self.closed_links, usize::from(*n)) {
                    Some(l) if n % 2 == 0 => l,
                    _ => LinkId(1_000_000 + u64::from(*n)),
                };
                match n % 3 {
                    0 => self
                        .host
                        .handle_reply(now, link, Bytes::from_static(b"stale")),
                    1 => self.host.handle_link_ready(now, link),
                    _ => self
                        .host
                        .handle_link_closed(now, link, CloseReason::Eof, n % 4 == 0),
                }
                self.check(Expect::default(), before)
            }
        }
    }

    /// Everything the host wants done, in order.
    fn collect(&mut self) -> Vec<HostAction> {
        std::iter::from_fn(|| self.host.poll_action()).collect()
    }

    /// Compare the host's actions with `exp`, then apply them to the model and the driver and
    /// compare what the host exposes.
    fn check(&mut self, exp: Expect, before: &Model) -> Result<(), String> {
        let actions = self.collect();
        self.check_actions(actions, exp, before)
    }

    fn check_actions(
        &mut self,
        actions: Vec<HostAction>,
        exp: Expect,
        before: &Model,
    ) -> Result<(), String> {
        let mut opened = Vec::new();
        let mut starts = Vec::new();
        let mut closes = BTreeSet::new();
        let mut answers: BTreeMap<u64, Bytes> = BTreeMap::new();
        let mut scans = 0;
        let mut reads = Vec::new();
        let mut delivered = Vec::new();
        let mut skipped = Vec::new();
        let (mut resent, mut timed_out) = (0, 0);
        let mut dead_logs = 0;
        for action in actions {
            match action {
                HostAction::OpenLink(l) => {
                    if !self.seen_links.insert(l) {
                        return Err(format!("link id {} reused", l.0));
                    }
                    opened.push(l);
                }
                HostAction::Start { link, request } => starts.push((link, request)),
                HostAction::CloseLink(l) => {
                    if !closes.insert(l) {
                        return Err(format!("link {} closed twice", l.0));
                    }
                }
                HostAction::Answer { client, line } => {
                    if answers.insert(client.0, line).is_some() {
                        return Err(format!("client {} answered twice", client.0));
                    }
                }
                HostAction::ScanDelayed => scans += 1,
                HostAction::ReadDelayed(names) => reads.push(names),
                HostAction::Delivered { name, record } => delivered.push((name, record)),
                HostAction::Log(e) => {
                    match &e {
                        LogEvent::HostMarkedDead if e.severity() == Severity::Critical => {
                            dead_logs += 1;
                        }
                        LogEvent::DelayedUnreadable { name, .. } => skipped.push(name.clone()),
                        LogEvent::RequestResent { .. } => resent += 1,
                        LogEvent::RequestTimedOut { .. } => timed_out += 1,
                        _ => {}
                    }
                    let text = message(&e, HOST);
                    if !self.secret_in_clear && text.contains(SECRET) {
                        return Err(format!("a log shows a password: {text:?}"));
                    }
                }
            }
        }

        // Answers: exactly the model's, each for its cause.
        for (c, line) in &answers {
            match exp.answers.get(c) {
                Some((want, _)) if want == line => {}
                Some((want, cause)) => {
                    return Err(format!(
                        "client {c} got {:?}, the model expects {:?} ({cause})",
                        text(line),
                        text(want)
                    ));
                }
                None => {
                    let at = match self.clients.get(c) {
                        None => "never submitted".to_string(),
                        Some(ClientState::Answered) => "already answered".to_string(),
                        Some(ClientState::Gone) => "hung up".to_string(),
                        Some(ClientState::Waiting) => {
                            format!("the model has it {}", self.model.where_is(*c))
                        }
                    };
                    return Err(if line[..] == *CON_LOST {
                        format!(
                            "client {c} got con_lost and no cause of con_lost applies to it ({at})"
                        )
                    } else {
                        format!(
                            "client {c} got {:?}, which the model does not expect ({at})",
                            text(line)
                        )
                    });
                }
            }
        }
        if let Some((c, (want, cause))) = exp.answers.iter().find(|(c, _)| !answers.contains_key(c))
        {
            let at = if self.clients.get(c) == Some(&ClientState::Waiting)
                && *c + 1 == self.next_client
            {
                "submitted in this step".to_string()
            } else {
                format!("it was {}", before.where_is(*c))
            };
            return Err(format!(
                "client {c} should get {:?} ({cause}) but got nothing ({at})",
                text(want)
            ));
        }

        if starts != exp.starts {
            return Err(format!(
                "started {}, the model expects {}",
                starts_text(&starts),
                starts_text(&exp.starts)
            ));
        }

        let base = exp.opens;
        let probe_ok = match exp.probe {
            Chance::No => opened.len() == base,
            Chance::Maybe => opened.len() == base || opened.len() == base + 1,
            Chance::Must => opened.len() == base + 1,
        };
        if !probe_ok {
            let why = if base > 0 {
                format!(" ({})", exp.open_why)
            } else {
                String::new()
            };
            let probe = match exp.probe {
                Chance::No => "",
                Chance::Maybe => ", plus maybe a probe",
                Chance::Must => ", plus a probe now due",
            };
            return Err(format!(
                "opened {} link(s), the model expects {base}{why}{probe}",
                opened.len()
            ));
        }
        let probed = opened.len() > base;

        if let Some(l) = exp.closes.difference(&closes).next() {
            return Err(format!("link {} should be closed but was not", l.0));
        }
        let extra: Vec<LinkId> = closes.difference(&exp.closes).copied().collect();
        let pruned = match (extra.as_slice(), exp.prune) {
            ([], Some((l, Chance::Must))) => {
                return Err(format!(
                    "the idle link {} should have been pruned by now",
                    l.0
                ));
            }
            ([], _) => false,
            ([one], Some((l, Chance::Maybe | Chance::Must))) if *one == l => true,
            _ => {
                return Err(format!(
                    "closed link(s) {:?} the model does not expect (prune: {:?})",
                    extra.iter().map(|l| l.0).collect::<Vec<_>>(),
                    exp.prune
                ));
            }
        };

        if scans != exp.scans {
            return Err(format!(
                "{scans} ScanDelayed, the model expects {} (only when the host comes back)",
                exp.scans
            ));
        }
        if reads != exp.reads {
            return Err(format!(
                "ReadDelayed {reads:?}, the model expects {:?}",
                exp.reads
            ));
        }
        if delivered != exp.delivered {
            return Err(format!(
                "delivered {delivered:?}, the model expects {:?}",
                exp.delivered
            ));
        }
        if skipped != exp.skipped {
            return Err(format!(
                "warned about unreadable files {skipped:?}, the model expects {:?}",
                exp.skipped
            ));
        }
        if resent != exp.resent {
            return Err(format!(
                "{resent} request(s) sent again, the model expects {}",
                exp.resent
            ));
        }
        if timed_out != exp.timed_out {
            return Err(format!(
                "{timed_out} request(s) timed out, the model expects {}",
                exp.timed_out
            ));
        }
        if dead_logs != usize::from(exp.marked_dead) {
            return Err(format!(
                "{dead_logs} \"Host marked DEAD\" log(s), the model expects {}",
                usize::from(exp.marked_dead)
            ));
        }

        // The host did what the model said: apply it.
        self.model.resolve(&exp, &opened, probed, pruned);
        self.tally.probes += usize::from(probed);
        self.tally.prunes += usize::from(pruned);
        self.tally.skipped += skipped.len();
        self.tally.resent += resent;
        self.tally.timed_out += timed_out;
        self.closed_links.extend(closes);
        self.pending_reads.extend(reads);
        for (c, (line, cause)) in exp.answers {
            self.clients.insert(c, ClientState::Answered);
            if cause == Cause::Reply {
                self.tally.replies += 1;
            } else {
                debug_assert_eq!(line[..], *CON_LOST);
                *self.tally.con_lost.entry(cause).or_default() += 1;
            }
        }
        for (name, _) in exp.delivered {
            // The runtime appends the record, then deletes the file.
            if let Some(request) = self.dir.remove(&name) {
                self.delivered.push((name, request));
            }
            self.tally.deleted += 1;
        }
        self.model.end_step(self.now);
        self.tally.was_dead |= self.host.is_dead();
        self.compare_stats()?;
        if self.model.replay_window() > self.model.max_links() {
            return Err(format!(
                "{} delayed files read, queued or in flight, more than max_links {}",
                self.model.replay_window(),
                self.model.max_links()
            ));
        }
        self.compare_observables()
    }

    /// The host's counters against the model's answers: every request counted, every reply,
    /// every `con_lost` under its own cause, every delivered file.
    fn compare_stats(&self) -> Result<(), String> {
        let stats = self.host.stats();
        let mut want = [0u64; LostCause::ALL.len()];
        for (cause, n) in &self.tally.con_lost {
            let counted = match cause {
                Cause::Reply => continue,
                Cause::DeadAtSubmit => LostCause::Dead,
                Cause::ClosedAtSubmit | Cause::Shutdown => LostCause::Shutdown,
                Cause::QueueFull => LostCause::QueueFull,
                Cause::ConnectFailed | Cause::MarkedDead => LostCause::ConnectFailed,
                Cause::BusyLinkLost => LostCause::LinkLost,
                Cause::CloseConnectionExit => LostCause::CloseConnectionExit,
                Cause::Deadline => LostCause::Timeout,
            };
            want[counted as usize] += *n as u64;
        }
        let got = (
            stats.requests(),
            stats.replies(),
            stats.lost_by_cause(),
            stats.replayed(),
        );
        let expected = (
            self.next_client,
            self.tally.replies as u64,
            want,
            self.tally.deleted as u64,
        );
        if got != expected {
            return Err(format!(
                "counters (requests, replies, con_lost by cause, replayed) {got:?}, \
                 expected {expected:?}"
            ));
        }
        Ok(())
    }

    fn compare_observables(&self) -> Result<(), String> {
        let (h, m) = (&self.host, &self.model);
        let pairs = [
            ("status()", h.status(), m.status()),
            (
                "link_count()",
                h.link_count().to_string(),
                m.link_count().to_string(),
            ),
            (
                "is_dead()",
                h.is_dead().to_string(),
                m.is_dead().to_string(),
            ),
            (
                "waiting_clients()",
                h.waiting_clients().to_string(),
                m.waiting_clients().to_string(),
            ),
            (
                "queue_len()",
                h.queue_len().to_string(),
                m.queue_len().to_string(),
            ),
            (
                "is_drained()",
                h.is_drained().to_string(),
                m.is_drained().to_string(),
            ),
            (
                "delayed_waiting()",
                h.delayed_waiting().to_string(),
                m.delayed_waiting().to_string(),
            ),
        ];
        for (what, got, want) in pairs {
            if got != want {
                return Err(format!("{what} is {got:?}, the model says {want:?}"));
            }
        }
        let (least, most, required) = m.timeout_bounds();
        let at = |t: Instant| {
            if t >= self.now {
                format!("now + {:?}", t - self.now)
            } else {
                format!("now - {:?}", self.now - t)
            }
        };
        let most_text = most.map_or("unbounded".to_string(), at);
        match (h.poll_timeout(), least) {
            (None, _) if required => Err(format!(
                "poll_timeout() is None, but a timer must be due by {most_text}"
            )),
            (None, _) => Ok(()),
            (Some(t), None) => Err(format!(
                "poll_timeout() is {}, but the model has no timer",
                at(t)
            )),
            (Some(t), Some(least)) if t < least || most.is_some_and(|m| t > m) => Err(format!(
                "poll_timeout() is {}, outside the model's window [{}, {most_text}]",
                at(t),
                at(least)
            )),
            (Some(_), Some(_)) => Ok(()),
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

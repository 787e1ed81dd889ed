//! `host`: arbitrary sequences of scheduler operations against [`Host`], with the invariants of
//! `core/tests/host_model.rs` asserted after every step (that test keeps the full reference
//! model with the retry budget; this target explores wilder configurations and sequences).
//!
//! The input decodes (with [`arbitrary`]) into a [`Script`]: a configuration (degenerate
//! values included: zero links, zero retries, zero durations, a queue of zero), the jitter
//! seed and a list of [`Op`]s. The harness plays the driver: it keeps the links the host asked
//! for, the clients waiting and the delayed directory. Checks after every step:
//! * every request is answered at most once, only while its client waits, with its own reply
//!   or `con_lost`; at the end, once every link was let finish, every waiting client has its
//!   answer (nothing is lost or wedged);
//! * never more links than `max_links`, never two links in their handshake, link ids never
//!   reused, `Start` only on an idle link, `CloseLink` only on a known one;
//! * a dead host opens no link except on a timer (its probe) or `reset`, and starts nothing;
//!   after `close_all` nothing is ever opened or started again;
//! * a delayed file runs only if its name is valid and for this host, is never in flight
//!   twice, and is deleted only right after its reply;
//! * timers: after `handle_timeout(now)`, calling it again at `now` settles within a few
//!   rounds (no busy loop).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use lonc_core::host::{DelayedFile, Host, HostAction, HostConfig};
use lonc_core::ids::{ClientId, HostKey, LinkId};
use lonc_core::logfmt::message;
use lonc_core::reason::CloseReason;
use lonc_core::spool::DelayedName;

use super::{Chunk, SeedWriter};

/// The peer's host id.
pub const HOST: &str = "msul1";

#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct Script {
    pub config: Config,
    pub seed: u64,
    pub ops: Vec<Op>,
}

/// The host's configuration, in small numbers.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `max_links = n % 5` (0 is treated as 1 by the host).
    pub max_links: u8,
    /// `retries = n % 5`.
    pub retries: u8,
    /// Seconds; 255 means `Duration::MAX`.
    pub idle_secs: u8,
    /// Milliseconds; 0 means exact deadlines.
    pub tick_ms: u16,
    /// `max_queue_len = n % 8`.
    pub queue_len: u8,
    /// `max_queue_bytes`.
    pub queue_bytes: u16,
    /// Seconds; 255 means `Duration::MAX`.
    pub probe_min_secs: u8,
    pub probe_max_secs: u8,
}

#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A client sends a request (`encrypt:` form if `encrypted`), padded by `pad` bytes.
    Submit { encrypted: bool, pad: u8 },
    /// A client sends `close_connection_exit`.
    CloseExit,
    /// A client sends any line.
    SubmitRaw(Chunk),
    /// The n-th waiting client hangs up.
    ClientGone(u8),
    /// The n-th connecting link finishes its handshake.
    ConnectOk(u8),
    /// The n-th connecting link fails.
    ConnectFail(u8),
    /// The n-th busy link delivers its reply.
    Reply(u8),
    /// The n-th link (any state) is lost.
    LinkLost(u8),
    /// lonnet spools a request for this host (kind 0), another host (1), a bad name (2).
    Spool { time: u16, count: u8, kind: u8 },
    /// A spool file of any name.
    SpoolRaw(Chunk),
    /// The driver offers the delayed directory.
    Offer,
    /// SIGUSR1.
    Reset,
    /// Shutdown.
    CloseAll,
    /// Time passes; the driver calls `handle_timeout`.
    Advance { secs: u16, millis: u16 },
    /// An event about a link that does not exist or was closed.
    Stale(u8),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Job {
    Live(u64),
    Delayed(String),
    /// A raw request (its client id).
    Raw(u64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum LinkSt {
    Connecting,
    Idle,
    Busy(Job),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqSt {
    Waiting,
    Answered,
    Gone,
}

pub fn run(data: &[u8]) {
    let Ok(script) = Script::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let _ = run_script(&script);
}

/// What a script did, for the seeds' own tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Answers other than `con_lost`.
    pub replies: usize,
    pub con_lost: usize,
    pub deleted: usize,
    pub was_dead: bool,
}

pub fn run_script(script: &Script) -> Outcome {
    let mut sim = Sim::new(&script.config, script.seed);
    for op in &script.ops {
        sim.step(op);
    }
    sim.finish();
    sim.outcome
}

fn secs_or_max(s: u8) -> Duration {
    if s == 255 {
        Duration::MAX
    } else {
        Duration::from_secs(u64::from(s))
    }
}

struct Sim {
    host: Host,
    max_links: usize,
    now: Instant,
    links: BTreeMap<LinkId, LinkSt>,
    ever_seen: BTreeSet<LinkId>,
    closed_links: Vec<LinkId>,
    reqs: BTreeMap<u64, ReqSt>,
    /// Raw requests: client id -> the line.
    raw: BTreeMap<u64, Bytes>,
    next_client: u64,
    dir: BTreeMap<String, Bytes>,
    in_flight_delayed: BTreeSet<String>,
    shut: bool,
    outcome: Outcome,
}

impl Sim {
    fn new(c: &Config, seed: u64) -> Sim {
        let config = HostConfig {
            max_links: usize::from(c.max_links % 5),
            retries: u32::from(c.retries % 5),
            idle_timeout: secs_or_max(c.idle_secs),
            tick: Duration::from_millis(u64::from(c.tick_ms)),
            max_queue_len: usize::from(c.queue_len % 8),
            max_queue_bytes: usize::from(c.queue_bytes),
            probe_min: secs_or_max(c.probe_min_secs),
            probe_max: secs_or_max(c.probe_max_secs),
        };
        let now = Instant::now();
        Sim {
            host: Host::new(HostKey(0), HOST, config.clone(), now, seed),
            max_links: config.max_links.max(1),
            now,
            links: BTreeMap::new(),
            ever_seen: BTreeSet::new(),
            closed_links: Vec::new(),
            reqs: BTreeMap::new(),
            raw: BTreeMap::new(),
            next_client: 0,
            dir: BTreeMap::new(),
            in_flight_delayed: BTreeSet::new(),
            shut: false,
            outcome: Outcome::default(),
        }
    }

    fn nth(items: Vec<LinkId>, i: u8) -> Option<LinkId> {
        (!items.is_empty()).then(|| items[usize::from(i) % items.len()])
    }

    fn with_state(&self, f: impl Fn(&LinkSt) -> bool) -> Vec<LinkId> {
        self.links
            .iter()
            .filter(|(_, s)| f(s))
            .map(|(l, _)| *l)
            .collect()
    }

    fn new_client(&mut self) -> u64 {
        let id = self.next_client;
        self.next_client += 1;
        self.reqs.insert(id, ReqSt::Waiting);
        id
    }

    fn job_of(&self, request: &[u8]) -> Job {
        let s = String::from_utf8_lossy(request);
        if let Some(name) = s.strip_prefix("d:") {
            return Job::Delayed(name.to_owned());
        }
        if let Some(id) = s.strip_prefix("raw:") {
            return Job::Raw(id.split(':').next().unwrap().parse().unwrap());
        }
        let field = s
            .split(':')
            .find(|f| f.starts_with('r'))
            .unwrap_or_else(|| panic!("started an unknown request {s:?}"));
        Job::Live(field[1..].parse().expect("numeric id"))
    }

    fn step(&mut self, op: &Op) {
        let was_dead = self.host.is_dead();
        let mut replied: Option<Job> = None;
        let mut timer_op = false;
        match op {
            Op::Submit { encrypted, pad } => {
                let id = self.new_client();
                let pad = "x".repeat(usize::from(*pad));
                let request = if *encrypted {
                    format!("encrypt:passwd:r{id}:secret{pad}")
                } else {
                    format!("get:r{id}:{pad}")
                };
                self.host
                    .submit(self.now, ClientId(id), Bytes::from(request));
            }
            Op::CloseExit => {
                let id = self.new_client();
                self.host.submit(
                    self.now,
                    ClientId(id),
                    Bytes::from_static(b"close_connection_exit"),
                );
            }
            Op::SubmitRaw(c) => {
                let id = self.new_client();
                // Tagged so that the harness knows whose it is when it starts.
                let line = Bytes::from([format!("raw:{id}:").as_bytes(), &c.line()].concat());
                self.raw.insert(id, line.clone());
                self.host.submit(self.now, ClientId(id), line);
            }
            Op::ClientGone(i) => {
                let waiting: Vec<u64> = self
                    .reqs
                    .iter()
                    .filter(|(_, s)| **s == ReqSt::Waiting)
                    .map(|(id, _)| *id)
                    .collect();
                if !waiting.is_empty() {
                    let id = waiting[usize::from(*i) % waiting.len()];
                    self.reqs.insert(id, ReqSt::Gone);
                    self.host.client_gone(self.now, ClientId(id));
                }
            }
            Op::ConnectOk(i) => {
                if let Some(link) = Self::nth(self.with_state(|s| *s == LinkSt::Connecting), *i) {
                    self.links.insert(link, LinkSt::Idle);
                    self.host.handle_link_ready(self.now, link);
                }
            }
            Op::ConnectFail(i) => {
                if let Some(link) = Self::nth(self.with_state(|s| *s == LinkSt::Connecting), *i) {
                    self.links.remove(&link);
                    self.closed_links.push(link);
                    self.host.handle_link_closed(
                        self.now,
                        link,
                        CloseReason::ConnectFailed(std::io::ErrorKind::ConnectionRefused),
                    );
                }
            }
            Op::Reply(i) => {
                if let Some(link) = Self::nth(self.with_state(|s| matches!(s, LinkSt::Busy(_))), *i)
                {
                    let Some(LinkSt::Busy(job)) = self.links.insert(link, LinkSt::Idle) else {
                        unreachable!()
                    };
                    if let Job::Delayed(name) = &job {
                        self.in_flight_delayed.remove(name);
                    }
                    let reply = reply_for(&job);
                    replied = Some(job);
                    self.host.handle_reply(self.now, link, reply);
                }
            }
            Op::LinkLost(i) => {
                let all: Vec<LinkId> = self.links.keys().copied().collect();
                if let Some(link) = Self::nth(all, *i) {
                    if let Some(LinkSt::Busy(Job::Delayed(name))) = self.links.remove(&link) {
                        self.in_flight_delayed.remove(&name);
                    }
                    self.closed_links.push(link);
                    self.host
                        .handle_link_closed(self.now, link, CloseReason::Eof);
                }
            }
            Op::Spool { time, count, kind } => {
                let name = match kind % 3 {
                    0 => format!("{time}.{count}.1.put.{HOST}"),
                    1 => format!("{time}.{count}.1.put.other"),
                    _ => format!("junk{time}"),
                };
                let request = Bytes::from(format!("d:{name}"));
                self.dir.entry(name).or_insert(request);
            }
            Op::SpoolRaw(c) => {
                let name = String::from_utf8_lossy(&c.line()).into_owned();
                let request = Bytes::from(format!("d:{name}"));
                self.dir.entry(name).or_insert(request);
            }
            Op::Offer => {
                let files = self
                    .dir
                    .iter()
                    .map(|(n, r)| DelayedFile {
                        name: n.clone(),
                        request: r.clone(),
                    })
                    .collect();
                self.host.offer_delayed(self.now, files);
            }
            Op::Reset => {
                timer_op = true;
                self.host.reset(self.now);
            }
            Op::CloseAll => {
                self.shut = true;
                self.host.close_all(self.now);
            }
            Op::Advance { secs, millis } => {
                timer_op = true;
                self.now += Duration::from_secs(u64::from(*secs))
                    + Duration::from_millis(u64::from(*millis % 1000));
                self.host.handle_timeout(self.now);
            }
            Op::Stale(n) => {
                let link = if !self.closed_links.is_empty() && n % 2 == 0 {
                    self.closed_links[usize::from(*n) % self.closed_links.len()]
                } else {
                    LinkId(1_000_000 + u64::from(*n))
                };
                match n % 3 {
                    0 => self
                        .host
                        .handle_reply(self.now, link, Bytes::from_static(b"x")),
                    1 => self.host.handle_link_ready(self.now, link),
                    _ => self
                        .host
                        .handle_link_closed(self.now, link, CloseReason::Eof),
                }
            }
        }
        self.drain(op, was_dead, timer_op, replied.as_ref());
        if timer_op {
            self.settle_timers(op);
        }
    }

    /// A driver calls `handle_timeout` again while the deadline is not in the future; that
    /// must settle quickly.
    fn settle_timers(&mut self, op: &Op) {
        for _ in 0..(self.max_links + 4) {
            match self.host.poll_timeout() {
                Some(t) if t <= self.now => {
                    let was_dead = self.host.is_dead();
                    self.host.handle_timeout(self.now);
                    self.drain(op, was_dead, true, None);
                }
                _ => return,
            }
        }
        panic!(
            "the host keeps asking for a timeout at or before now after {} rounds",
            self.max_links + 4
        );
    }

    fn drain(&mut self, op: &Op, was_dead: bool, timer_op: bool, replied: Option<&Job>) {
        let actions: Vec<HostAction> = std::iter::from_fn(|| self.host.poll_action()).collect();
        let mut deleted = false;
        let mut opened = 0;
        for a in actions {
            match a {
                HostAction::OpenLink(l) => {
                    assert!(self.ever_seen.insert(l), "link id {l:?} reused");
                    assert!(!self.shut, "a link opened after close_all");
                    if was_dead {
                        assert!(timer_op, "a dead host opened a link on {op:?}");
                    }
                    opened += 1;
                    self.links.insert(l, LinkSt::Connecting);
                }
                HostAction::Start { link, request } => {
                    assert!(!self.host.is_dead(), "a dead host started a transaction");
                    assert!(!self.shut, "a transaction started after close_all");
                    assert_eq!(
                        self.links.get(&link),
                        Some(&LinkSt::Idle),
                        "start on a link that is not idle"
                    );
                    let job = self.job_of(&request);
                    match &job {
                        Job::Live(id) | Job::Raw(id) => assert_eq!(
                            self.reqs.get(id),
                            Some(&ReqSt::Waiting),
                            "started the request of client {id}, which is not waiting"
                        ),
                        Job::Delayed(name) => {
                            let parsed = DelayedName::parse(name);
                            assert!(
                                parsed.as_ref().is_ok_and(|n| n.host == HOST),
                                "ran a delayed file with a bad or foreign name: {name:?}"
                            );
                            assert!(self.dir.contains_key(name), "ran {name:?} after deletion");
                            assert!(
                                self.in_flight_delayed.insert(name.clone()),
                                "delayed file {name:?} in flight twice"
                            );
                        }
                    }
                    if let Job::Raw(id) = &job {
                        assert_eq!(Some(&request), self.raw.get(id), "a raw request unchanged");
                    }
                    self.links.insert(link, LinkSt::Busy(job));
                }
                HostAction::CloseLink(l) => {
                    let st = self.links.remove(&l);
                    assert!(st.is_some(), "closed an unknown link {l:?}");
                    if let Some(LinkSt::Busy(Job::Delayed(name))) = &st {
                        self.in_flight_delayed.remove(name);
                    }
                    self.closed_links.push(l);
                }
                HostAction::Answer { client, line } => {
                    assert_eq!(
                        self.reqs.get(&client.0),
                        Some(&ReqSt::Waiting),
                        "answer to client {} that is not waiting",
                        client.0
                    );
                    self.reqs.insert(client.0, ReqSt::Answered);
                    if &line[..] == b"con_lost" {
                        self.outcome.con_lost += 1;
                    } else {
                        self.outcome.replies += 1;
                        let job = replied.expect("a reply only when lond replied");
                        assert!(
                            matches!(job, Job::Live(id) | Job::Raw(id) if *id == client.0),
                            "client {} got the reply for {job:?}",
                            client.0
                        );
                        assert_eq!(line, reply_for(job));
                    }
                }
                HostAction::ListDelayed => {}
                HostAction::DeleteDelayed(name) => {
                    assert_eq!(
                        replied,
                        Some(&Job::Delayed(name.clone())),
                        "delayed file deleted before its reply"
                    );
                    assert!(!deleted, "two deletions for one reply");
                    deleted = true;
                    assert!(self.dir.remove(&name).is_some(), "deleted twice");
                    self.outcome.deleted += 1;
                }
                HostAction::PermLog(m) => {
                    assert!(
                        matches!(replied, Some(Job::Delayed(_))),
                        "perm log {m} without a delayed reply"
                    );
                    assert!(!deleted, "perm log after the deletion");
                }
                HostAction::Log(e) => {
                    assert!(!message(&e, HOST).contains("secret"), "password in the log");
                }
            }
        }
        assert!(opened <= 1, "more than one link opened at once");
        assert!(self.links.len() <= self.max_links, "too many links");
        assert!(
            self.with_state(|s| *s == LinkSt::Connecting).len() <= 1,
            "two links in their handshake"
        );
        assert_eq!(self.host.link_count(), self.links.len());
        self.outcome.was_dead |= self.host.is_dead();
        if self.host.is_dead() {
            assert!(
                self.with_state(|s| matches!(s, LinkSt::Busy(_))).is_empty(),
                "a dead host kept busy links"
            );
        }
    }

    /// Let every link finish until nothing moves; then every waiting client has its answer.
    fn finish(&mut self) {
        for _ in 0..10_000 {
            let connecting = self.with_state(|s| *s == LinkSt::Connecting);
            let busy = self.with_state(|s| matches!(s, LinkSt::Busy(_)));
            let op = if !connecting.is_empty() {
                Op::ConnectOk(0)
            } else if !busy.is_empty() {
                Op::Reply(0)
            } else {
                break;
            };
            self.step(&op);
        }
        for (id, st) in &self.reqs {
            assert_ne!(*st, ReqSt::Waiting, "client {id} never answered");
        }
        self.shut = true;
        self.host.close_all(self.now);
        self.drain(&Op::CloseAll, self.host.is_dead(), false, None);
    }
}

fn reply_for(job: &Job) -> Bytes {
    match job {
        Job::Live(id) | Job::Raw(id) => Bytes::from(format!("re:{id}")),
        Job::Delayed(_) => Bytes::from_static(b"ok"),
    }
}

// ----- seed encoding -----

impl Script {
    /// The input bytes that decode into this script.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = SeedWriter::default();
        let c = &self.config;
        w.u8(c.max_links);
        w.u8(c.retries);
        w.u8(c.idle_secs);
        w.u16(c.tick_ms);
        w.u8(c.queue_len);
        w.u16(c.queue_bytes);
        w.u8(c.probe_min_secs);
        w.u8(c.probe_max_secs);
        w.u64(self.seed);
        w.items(&self.ops, |w, op| op.encode(w));
        w.0
    }
}

impl Op {
    const COUNT: u32 = 15;

    fn encode(&self, w: &mut SeedWriter) {
        let v = |w: &mut SeedWriter, i| w.variant(i, Self::COUNT);
        match self {
            Op::Submit { encrypted, pad } => {
                v(w, 0);
                w.bool(*encrypted);
                w.u8(*pad);
            }
            Op::CloseExit => v(w, 1),
            Op::SubmitRaw(c) => {
                v(w, 2);
                w.chunk(c);
            }
            Op::ClientGone(i) => {
                v(w, 3);
                w.u8(*i);
            }
            Op::ConnectOk(i) => {
                v(w, 4);
                w.u8(*i);
            }
            Op::ConnectFail(i) => {
                v(w, 5);
                w.u8(*i);
            }
            Op::Reply(i) => {
                v(w, 6);
                w.u8(*i);
            }
            Op::LinkLost(i) => {
                v(w, 7);
                w.u8(*i);
            }
            Op::Spool { time, count, kind } => {
                v(w, 8);
                w.u16(*time);
                w.u8(*count);
                w.u8(*kind);
            }
            Op::SpoolRaw(c) => {
                v(w, 9);
                w.chunk(c);
            }
            Op::Offer => v(w, 10),
            Op::Reset => v(w, 11),
            Op::CloseAll => v(w, 12),
            Op::Advance { secs, millis } => {
                v(w, 13);
                w.u16(*secs);
                w.u16(*millis);
            }
            Op::Stale(n) => {
                v(w, 14);
                w.u8(*n);
            }
        }
    }
}

//! Model test of the host scheduler: random sequences of client requests, link events, client
//! hang-ups, delayed-file offers, resets and clock jumps, checked after every step against a
//! small reference model (the driver's view of the links plus the expected retry budget and
//! dead state).
//!
//! Invariants checked after every step:
//! * every request is answered at most once, with its own reply or `con_lost`, and never after
//!   its client hung up; at the end (after letting every link finish) every request whose client
//!   stayed has been answered exactly once;
//! * live requests are started in submission order (FIFO), on the most recently idle link;
//! * never more links than `max_links`, never two links in their handshake;
//! * a delayed file is deleted only right after its reply, never started while it is already in
//!   flight or after it was deleted, and files for other hosts or with bad names never run;
//! * the retry budget and the DEAD state follow loncnew's rules (checked through `status()`);
//! * a dead host opens no link and starts nothing except its probe (on a timer) and on `reset`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lonc_core::host::{DelayedFile, Host, HostAction, HostConfig};
use lonc_core::ids::{ClientId, HostKey, LinkId};
use lonc_core::log::LogEvent;
use lonc_core::logfmt::message;
use lonc_core::reason::CloseReason;
use proptest::prelude::*;

const HOST: &str = "msul1";

#[derive(Clone, Debug)]
enum Op {
    /// A client sends a request (`encrypt:` form if `encrypted`).
    Submit { encrypted: bool },
    /// A client sends `close_connection_exit`.
    CloseExit,
    /// The n-th waiting client hangs up.
    ClientGone(u8),
    /// The connecting link finishes its handshake.
    ConnectOk,
    /// The connecting link fails (connect or handshake).
    ConnectFail,
    /// The n-th busy link delivers its reply.
    Reply(u8),
    /// The n-th link (any state) fails: EOF or step timeout.
    LinkLost(u8, bool),
    /// lonnet spools a request for this host (or another one, or with a bad name).
    Spool { time: u16, count: u8, kind: u8 },
    /// The driver offers the delayed directory (as after `ListDelayed`).
    Offer,
    /// SIGUSR1.
    Reset,
    /// The clock jumps forward and the driver calls `handle_timeout`.
    Advance(u16),
    /// An event about a link that does not exist.
    Stale(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<bool>().prop_map(|encrypted| Op::Submit { encrypted }),
        1 => Just(Op::CloseExit),
        2 => any::<u8>().prop_map(Op::ClientGone),
        4 => Just(Op::ConnectOk),
        3 => Just(Op::ConnectFail),
        5 => any::<u8>().prop_map(Op::Reply),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(i, t)| Op::LinkLost(i, t)),
        2 => (0..50u16, 0..3u8, 0..10u8).prop_map(|(time, count, kind)| Op::Spool { time, count, kind }),
        2 => Just(Op::Offer),
        1 => Just(Op::Reset),
        3 => prop_oneof![0..3u16, 0..400u16].prop_map(Op::Advance),
        1 => any::<u8>().prop_map(Op::Stale),
    ]
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Job {
    Live(u64),
    Delayed(String),
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

struct Sim {
    host: Host,
    cfg: HostConfig,
    now: Instant,
    links: BTreeMap<LinkId, LinkSt>,
    /// Idle links, most recently idle last.
    idle: Vec<LinkId>,
    /// Request id = client id.
    reqs: BTreeMap<u64, ReqSt>,
    next_req: u64,
    last_started: Option<u64>,
    /// The delayed directory: name -> request.
    dir: BTreeMap<String, Bytes>,
    in_flight_delayed: BTreeSet<String>,
    ever_seen: BTreeSet<LinkId>,
    // reference model
    retries_left: u32,
    dead: bool,
    log: Vec<String>,
}

fn live_request(id: u64, encrypted: bool) -> Bytes {
    if encrypted {
        Bytes::from(format!("encrypt:passwd:r{id}:secret"))
    } else {
        Bytes::from(format!("get:r{id}:x"))
    }
}

fn job_of(request: &[u8]) -> Job {
    let s = String::from_utf8_lossy(request);
    if let Some(name) = s.strip_prefix("d:") {
        return Job::Delayed(name.to_owned());
    }
    let field = s
        .split(':')
        .find(|f| f.starts_with('r'))
        .expect("request id");
    Job::Live(field[1..].parse().expect("numeric id"))
}

impl Sim {
    fn new(max_links: usize, retries: u32, t0: Instant) -> Sim {
        let cfg = HostConfig {
            max_links,
            retries,
            idle_timeout: Duration::from_secs(100),
            tick: Duration::from_secs(1),
            max_queue_len: 5,
            max_queue_bytes: 200,
            probe_min: Duration::from_secs(1),
            probe_max: Duration::from_secs(20),
        };
        Sim {
            host: Host::new(HostKey(0), HOST, cfg.clone(), t0, 99),
            cfg,
            now: t0,
            links: BTreeMap::new(),
            idle: vec![],
            reqs: BTreeMap::new(),
            next_req: 0,
            last_started: None,
            dir: BTreeMap::new(),
            in_flight_delayed: BTreeSet::new(),
            ever_seen: BTreeSet::new(),
            retries_left: retries,
            dead: false,
            log: vec![],
        }
    }

    fn nth<T: Clone>(items: Vec<T>, i: u8) -> Option<T> {
        if items.is_empty() {
            None
        } else {
            Some(items[usize::from(i) % items.len()].clone())
        }
    }

    fn connecting(&self) -> Vec<LinkId> {
        self.links
            .iter()
            .filter(|(_, s)| **s == LinkSt::Connecting)
            .map(|(l, _)| *l)
            .collect()
    }

    fn busy(&self) -> Vec<LinkId> {
        self.links
            .iter()
            .filter(|(_, s)| matches!(s, LinkSt::Busy(_)))
            .map(|(l, _)| *l)
            .collect()
    }

    fn set_idle(&mut self, link: LinkId) {
        self.links.insert(link, LinkSt::Idle);
        self.idle.push(link);
    }

    /// loncnew 1.17: a link that never became ready uses one retry (probes of a dead host
    /// use none); the last one marks the host dead.
    fn model_connect_failed(&mut self) {
        if !self.dead {
            self.retries_left = self.retries_left.saturating_sub(1);
            self.dead = self.retries_left == 0;
        }
    }

    fn restore(&mut self) {
        self.retries_left = self.cfg.retries;
        self.dead = false;
    }

    /// Apply one operation and check every action it produced.
    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        self.log.push(format!("{op:?}"));
        let was_dead = self.dead;
        let mut replied: Option<(LinkId, Job)> = None;
        let mut expect_open = false;
        let mut submitted: Option<u64> = None;
        let mut top_idle: Option<LinkId> = None;
        match op {
            Op::Submit { encrypted } => {
                let id = self.next_req;
                self.next_req += 1;
                self.reqs.insert(id, ReqSt::Waiting);
                submitted = Some(id);
                top_idle = self.idle.last().copied();
                expect_open = !self.dead
                    && top_idle.is_none()
                    && self.connecting().is_empty()
                    && self.links.len() < self.cfg.max_links;
                self.host
                    .submit(self.now, ClientId(id), live_request(id, *encrypted));
            }
            Op::CloseExit => {
                let id = self.next_req;
                self.next_req += 1;
                self.reqs.insert(id, ReqSt::Waiting);
                submitted = Some(id);
                self.restore();
                self.host.submit(
                    self.now,
                    ClientId(id),
                    Bytes::from_static(b"close_connection_exit"),
                );
            }
            Op::ClientGone(i) => {
                let waiting: Vec<u64> = self
                    .reqs
                    .iter()
                    .filter(|(_, s)| **s == ReqSt::Waiting)
                    .map(|(id, _)| *id)
                    .collect();
                if let Some(id) = Self::nth(waiting, *i) {
                    self.reqs.insert(id, ReqSt::Gone);
                    self.host.client_gone(self.now, ClientId(id));
                }
            }
            Op::ConnectOk => {
                if let Some(link) = self.connecting().first().copied() {
                    self.restore();
                    self.set_idle(link);
                    self.host.handle_link_ready(self.now, link);
                }
            }
            Op::ConnectFail => {
                if let Some(link) = self.connecting().first().copied() {
                    self.links.remove(&link);
                    self.model_connect_failed();
                    self.host.handle_link_closed(
                        self.now,
                        link,
                        CloseReason::ConnectFailed(std::io::ErrorKind::ConnectionRefused),
                    );
                }
            }
            Op::Reply(i) => {
                if let Some(link) = Self::nth(self.busy(), *i) {
                    let Some(LinkSt::Busy(job)) = self.links.get(&link).cloned() else {
                        unreachable!()
                    };
                    let reply = match &job {
                        Job::Live(id) => Bytes::from(format!("re:{id}")),
                        Job::Delayed(_) => Bytes::from_static(b"ok"),
                    };
                    if let Job::Delayed(name) = &job {
                        self.in_flight_delayed.remove(name);
                    }
                    replied = Some((link, job));
                    self.restore();
                    self.set_idle(link);
                    self.host.handle_reply(self.now, link, reply);
                }
            }
            Op::LinkLost(i, timeout) => {
                let all: Vec<LinkId> = self.links.keys().copied().collect();
                if let Some(link) = Self::nth(all, *i) {
                    let st = self.links.remove(&link).unwrap();
                    self.idle.retain(|l| *l != link);
                    match st {
                        LinkSt::Connecting => self.model_connect_failed(),
                        LinkSt::Busy(Job::Delayed(name)) => {
                            self.in_flight_delayed.remove(&name);
                        }
                        _ => {}
                    }
                    let reason = if *timeout {
                        CloseReason::StepTimeout
                    } else {
                        CloseReason::Eof
                    };
                    self.host.handle_link_closed(self.now, link, reason);
                }
            }
            Op::Spool { time, count, kind } => {
                let name = match kind {
                    0 => format!("junk{time}"),
                    1 => format!("{time}.{count}.1.d.other"),
                    _ => format!("{time}.{count}.1.d.{HOST}"),
                };
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
                self.restore();
                self.host.reset(self.now);
            }
            Op::Advance(s) => {
                self.now += Duration::from_secs(u64::from(*s));
                self.host.handle_timeout(self.now);
            }
            Op::Stale(n) => {
                let link = LinkId(10_000 + u64::from(*n));
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
        let actions: Vec<HostAction> = std::iter::from_fn(|| self.host.poll_action()).collect();
        self.check(
            op,
            &actions,
            was_dead,
            replied,
            expect_open,
            submitted,
            top_idle,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        &mut self,
        op: &Op,
        actions: &[HostAction],
        was_dead: bool,
        replied: Option<(LinkId, Job)>,
        expect_open: bool,
        submitted: Option<u64>,
        top_idle: Option<LinkId>,
    ) -> Result<(), TestCaseError> {
        let mut opened = 0;
        let mut marked_dead = false;
        let mut deleted_now = vec![];
        let mut answered_now = BTreeSet::new();
        for a in actions {
            match a {
                HostAction::OpenLink(l) => {
                    prop_assert!(self.ever_seen.insert(*l), "link id {l:?} reused");
                    prop_assert!(!marked_dead, "link opened after marking the host dead");
                    if was_dead {
                        prop_assert!(
                            matches!(op, Op::Advance(_) | Op::Reset),
                            "dead host opened a link on {op:?}"
                        );
                    }
                    opened += 1;
                    self.links.insert(*l, LinkSt::Connecting);
                }
                HostAction::Start { link, request } => {
                    prop_assert!(!self.dead, "dead host started a transaction");
                    prop_assert_eq!(
                        self.links.get(link),
                        Some(&LinkSt::Idle),
                        "start on a link that is not idle"
                    );
                    let job = job_of(request);
                    if matches!(op, Op::Submit { .. })
                        && Some(job.clone()) == submitted.map(Job::Live)
                    {
                        prop_assert_eq!(Some(*link), top_idle, "idle links reused LIFO");
                    }
                    match &job {
                        Job::Live(id) => {
                            prop_assert_eq!(
                                self.reqs.get(id),
                                Some(&ReqSt::Waiting),
                                "started a request not waiting"
                            );
                            prop_assert!(
                                self.last_started < Some(*id),
                                "FIFO broken: {:?} after {:?}",
                                id,
                                self.last_started
                            );
                            self.last_started = Some(*id);
                        }
                        Job::Delayed(name) => {
                            prop_assert!(
                                name.ends_with(".msul1"),
                                "foreign or bad delayed file run: {}",
                                name
                            );
                            prop_assert!(
                                self.dir.contains_key(name),
                                "delayed file {} run after deletion",
                                name
                            );
                            prop_assert!(
                                self.in_flight_delayed.insert(name.clone()),
                                "delayed file {} in flight twice",
                                name
                            );
                        }
                    }
                    self.idle.retain(|l| l != link);
                    self.links.insert(*link, LinkSt::Busy(job));
                }
                HostAction::CloseLink(l) => {
                    let st = self.links.remove(l);
                    prop_assert!(st.is_some(), "closed an unknown link");
                    if let Some(LinkSt::Busy(Job::Delayed(name))) = &st {
                        self.in_flight_delayed.remove(name);
                    }
                    if matches!(op, Op::Advance(_)) && !marked_dead {
                        prop_assert_eq!(st, Some(LinkSt::Idle), "pruned a link that was not idle");
                    }
                    self.idle.retain(|x| x != l);
                }
                HostAction::Answer { client, line } => {
                    let st = self.reqs.get(&client.0).copied();
                    prop_assert_eq!(
                        st,
                        Some(ReqSt::Waiting),
                        "answer to {:?} that is not waiting",
                        client
                    );
                    self.reqs.insert(client.0, ReqSt::Answered);
                    answered_now.insert(client.0);
                    if &line[..] != b"con_lost" {
                        prop_assert_eq!(
                            replied.as_ref().map(|r| r.1.clone()),
                            Some(Job::Live(client.0)),
                            "a reply that lond did not send"
                        );
                        let expected = format!("re:{}", client.0);
                        prop_assert_eq!(&line[..], expected.as_bytes());
                    }
                }
                HostAction::ListDelayed => {}
                HostAction::DeleteDelayed(name) => {
                    prop_assert_eq!(
                        replied.as_ref().map(|r| r.1.clone()),
                        Some(Job::Delayed(name.clone())),
                        "delayed file deleted before its reply"
                    );
                    prop_assert!(self.dir.remove(name).is_some(), "deleted twice");
                    deleted_now.push(name.clone());
                }
                HostAction::PermLog(m) => {
                    prop_assert_eq!(deleted_now.len(), 0, "perm log after delete");
                    let Some((_, Job::Delayed(name))) = &replied else {
                        return Err(TestCaseError::fail(format!(
                            "perm log {m} without a delayed reply"
                        )));
                    };
                    prop_assert_eq!(m, &format!("S:{HOST}:d:{name}"));
                }
                HostAction::Log(e) => {
                    if *e == LogEvent::HostMarkedDead {
                        prop_assert!(self.dead, "host marked dead unexpectedly");
                        marked_dead = true;
                    }
                    let text = message(e, HOST);
                    prop_assert!(!text.contains("secret"), "password in log: {}", text);
                }
            }
        }
        // A submission to a dead host is answered at once.
        if let (Some(id), true) = (submitted, was_dead && matches!(op, Op::Submit { .. })) {
            prop_assert!(
                answered_now.contains(&id),
                "dead host did not fail request {id} at once"
            );
        }
        if matches!(op, Op::CloseExit) {
            prop_assert!(answered_now.contains(&submitted.unwrap()));
            prop_assert!(self.links.is_empty(), "close_connection_exit left links");
        }
        if expect_open {
            prop_assert_eq!(opened, 1, "a queued request did not open a link");
        }
        if self.dead && !was_dead {
            prop_assert!(
                marked_dead,
                "retries exhausted but the host was not marked dead"
            );
        }
        if was_dead && !matches!(op, Op::Advance(_) | Op::Reset) {
            prop_assert_eq!(opened, 0);
        }
        if self.dead {
            prop_assert!(self.busy().is_empty(), "dead host kept busy links");
            prop_assert!(self.links.len() <= 1, "dead host kept links");
        }
        prop_assert!(opened <= 1, "more than one link opened at once");
        prop_assert!(self.links.len() <= self.cfg.max_links, "too many links");
        prop_assert!(self.connecting().len() <= 1, "two links in handshake");
        prop_assert_eq!(self.host.link_count(), self.links.len());
        prop_assert_eq!(self.host.is_dead(), self.dead);
        let status = if self.dead {
            format!("{HOST} >>> DEAD !!!! <<<")
        } else {
            format!(
                "{HOST} Connection count: {} Retries remaining: {}",
                self.links.len(),
                self.retries_left
            )
        };
        prop_assert_eq!(self.host.status(), status);
        if let Some(t) = self.host.poll_timeout() {
            prop_assert!(t > self.now, "an expired timer was not fired");
        }
        Ok(())
    }

    /// Let every link finish (handshakes succeed, replies arrive) until nothing moves; then
    /// every request whose client stayed must have been answered.
    fn finish(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..10_000 {
            let op = if !self.connecting().is_empty() {
                Op::ConnectOk
            } else if !self.busy().is_empty() {
                Op::Reply(0)
            } else {
                break;
            };
            self.step(&op)?;
        }
        for (id, st) in &self.reqs {
            prop_assert_ne!(*st, ReqSt::Waiting, "request {} never answered", id);
        }
        self.host.close_all(self.now);
        let actions: Vec<HostAction> = std::iter::from_fn(|| self.host.poll_action()).collect();
        for a in &actions {
            prop_assert!(
                !matches!(
                    a,
                    HostAction::Answer { .. } | HostAction::OpenLink(_) | HostAction::Start { .. }
                ),
                "close_all after quiescence: {a:?}"
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn host_matches_the_reference_model(
        max_links in 1usize..4,
        retries in 1u32..4,
        ops in proptest::collection::vec(op(), 0..80),
    ) {
        let t0 = Instant::now();
        let mut sim = Sim::new(max_links, retries, t0);
        for op in &ops {
            sim.step(op)?;
        }
        sim.finish()?;
    }
}

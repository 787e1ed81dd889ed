//! `host`: arbitrary sequences of scheduler operations, checked step by step against the one
//! reference model of the host scheduler ([`crate::model::host`], driven by
//! [`crate::model::host_driver::HostDriver`], which the proptest model test runs too).
//!
//! The input decodes (with [`arbitrary`]) into a [`Script`]: a configuration (degenerate values
//! included: zero links, zero retries, zero durations, a queue of zero, `Duration::MAX`), the
//! jitter seed and a list of [`Op`]s. This module only decodes and maps each `Op` to a model
//! [`Step`]; the driver predicts exactly which clients are answered (every `con_lost` only for
//! its cause, request deadlines included), which jobs start on which links (requests sent again
//! included), which links open and close, the delayed directory's scans, reads, replay window,
//! skipped files and deliveries, the status line and counters, and bounds the timers. At the
//! end every link is let finish and every waiting client must have its answer.
//!
//! `arbitrary`'s derive picks an enum variant in proportion to a `u32` and the number of
//! variants, so adding variants changes what old bytes decode to; old inputs still decode (into
//! other scripts). New operations go at the end of [`Op`] and new fields at the end of
//! [`Config`], and the committed seeds are written again from [`super::seeds`].

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use lonc_core::host::HostConfig;
use lonc_core::reason::CloseReason;

use super::{Chunk, SeedWriter};
use crate::model::host_driver::{HostDriver, Step, request};

/// The peer's host id.
pub const HOST: &str = crate::model::host::HOST;

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
    /// The request timeout in seconds; 255 means `Duration::MAX` (no deadline).
    pub request_secs: u8,
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
    /// The n-th link (any state) is lost (EOF, the request may have been read).
    LinkLost(u8),
    /// lonnet spools a request for this host (kind 0), another host (1), a bad name (2).
    Spool { time: u16, count: u8, kind: u8 },
    /// A spool file of any name.
    SpoolRaw(Chunk),
    /// The driver scans the delayed directory and answers every read until none is asked.
    Offer,
    /// SIGUSR1.
    Reset,
    /// Shutdown.
    CloseAll,
    /// Time passes; the driver calls `handle_timeout`.
    Advance { secs: u16, millis: u16 },
    /// An event about a link that does not exist or was closed.
    Stale(u8),
    /// The driver scans the delayed directory (reads wait for [`Op::ReadDone`]).
    Scan,
    /// The driver answers the n-th read not answered yet.
    ReadDone(u8),
    /// A file of this host that cannot be read appears in the delayed directory.
    SpoolUnreadable { time: u16, count: u8 },
    /// The n-th name of the delayed directory disappears.
    Unspool(u8),
    /// The deletion of the n-th delivered file failed: it is back in the directory.
    DeletionFailed(u8),
    /// The n-th link (any state) is reset before its request could be read.
    LinkLostUnread(u8),
    /// The orderly shutdown begins: `stop_replay`.
    StopReplay,
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
    /// Requests sent again, requests past their deadline, files skipped.
    pub resent: usize,
    pub timed_out: usize,
    pub skipped: usize,
}

/// Run a script against the host and the model; panics, with the step and the difference,
/// where they disagree.
pub fn run_script(script: &Script) -> Outcome {
    let mut driver = HostDriver::new(host_config(&script.config), script.seed);
    let mut submitted = 0;
    for op in &script.ops {
        let step = to_step(op, &mut submitted);
        if let Err(e) = driver.step(&step) {
            panic!("host model: {e}");
        }
    }
    if let Err(e) = driver.finish() {
        panic!("host model, at the end: {e}");
    }
    let t = driver.tally();
    Outcome {
        replies: t.replies,
        con_lost: t.con_lost_total(),
        deleted: t.deleted,
        was_dead: t.was_dead,
        resent: t.resent,
        timed_out: t.timed_out,
        skipped: t.skipped,
    }
}

/// The configuration a [`Config`] stands for.
pub fn host_config(c: &Config) -> HostConfig {
    HostConfig {
        max_links: usize::from(c.max_links % 5),
        retries: u32::from(c.retries % 5),
        idle_timeout: secs_or_max(c.idle_secs),
        tick: Duration::from_millis(u64::from(c.tick_ms)),
        max_queue_len: usize::from(c.queue_len % 8),
        max_queue_bytes: usize::from(c.queue_bytes),
        probe_min: secs_or_max(c.probe_min_secs),
        probe_max: secs_or_max(c.probe_max_secs),
        request_timeout: secs_or_max(c.request_secs),
    }
}

fn secs_or_max(s: u8) -> Duration {
    if s == 255 {
        Duration::MAX
    } else {
        Duration::from_secs(u64::from(s))
    }
}

/// The model step of an operation; `submitted` numbers the requests.
fn to_step(op: &Op, submitted: &mut u64) -> Step {
    let spool = |name: String| Step::Spool {
        request: Bytes::from(format!("d:{name}")),
        name,
    };
    match op {
        Op::Submit { encrypted, pad } => {
            *submitted += 1;
            Step::Submit(request(*encrypted, *submitted, usize::from(*pad)))
        }
        Op::CloseExit => Step::Submit(Bytes::from_static(b"close_connection_exit")),
        Op::SubmitRaw(c) => Step::Submit(Bytes::from(c.line())),
        Op::ClientGone(i) => Step::ClientGone(usize::from(*i)),
        Op::ConnectOk(i) => Step::LinkReady(usize::from(*i)),
        Op::ConnectFail(i) => Step::ConnectFail(usize::from(*i)),
        Op::Reply(i) => Step::Reply(usize::from(*i)),
        Op::LinkLost(i) => Step::LinkLost(usize::from(*i), CloseReason::Eof, false),
        Op::Spool { time, count, kind } => spool(match kind % 3 {
            0 => format!("{time}.{count}.1.put.{HOST}"),
            1 => format!("{time}.{count}.1.put.other"),
            _ => format!("junk{time}"),
        }),
        Op::SpoolRaw(c) => spool(String::from_utf8_lossy(&c.line()).into_owned()),
        Op::Offer => Step::Offer,
        Op::Reset => Step::Reset,
        Op::CloseAll => Step::CloseAll,
        Op::Advance { secs, millis } => Step::Advance(
            Duration::from_secs(u64::from(*secs))
                + Duration::from_millis(u64::from(*millis % 1000)),
        ),
        Op::Stale(n) => Step::Stale(*n),
        Op::Scan => Step::Scan,
        Op::ReadDone(n) => Step::Read(usize::from(*n)),
        Op::SpoolUnreadable { time, count } => {
            Step::SpoolUnreadable(format!("{time}.{count}.2.put.{HOST}"))
        }
        Op::Unspool(n) => Step::Unspool(usize::from(*n)),
        Op::DeletionFailed(n) => Step::DeletionFailed(usize::from(*n)),
        Op::LinkLostUnread(i) => Step::LinkLost(
            usize::from(*i),
            CloseReason::ReadError(std::io::ErrorKind::ConnectionReset),
            true,
        ),
        Op::StopReplay => Step::StopReplay,
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
        w.u8(c.request_secs);
        w.u64(self.seed);
        w.items(&self.ops, |w, op| op.encode(w));
        w.0
    }
}

impl Op {
    const COUNT: u32 = 22;

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
            Op::Scan => v(w, 15),
            Op::ReadDone(n) => {
                v(w, 16);
                w.u8(*n);
            }
            Op::SpoolUnreadable { time, count } => {
                v(w, 17);
                w.u16(*time);
                w.u8(*count);
            }
            Op::Unspool(n) => {
                v(w, 18);
                w.u8(*n);
            }
            Op::DeletionFailed(n) => {
                v(w, 19);
                w.u8(*n);
            }
            Op::LinkLostUnread(n) => {
                v(w, 20);
                w.u8(*n);
            }
            Op::StopReplay => v(w, 21),
        }
    }
}

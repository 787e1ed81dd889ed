//! The load model: lonnet-like clients. Each request opens a UNIX connection, writes one line,
//! reads the reply line and closes (or, in the persistent mode, keeps the connection for the
//! next request); set-up (a) sends the same lines over persistent lond links instead.
//!
//! * **Closed loop**: `C` client threads, each sending its next request as soon as the previous
//!   one is answered. Latency is measured per request; throughput is requests per second.
//! * **Open loop**: requests scheduled at a fixed rate (request `i` at `t0 + i/rate`), taken by
//!   a pool of worker threads; latency runs from the *scheduled* send time, so a stall delays
//!   the requests behind it and shows in their latency (no coordinated omission).

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::link::SyncLink;

/// Where the requests go.
#[derive(Clone, Debug)]
pub enum Target {
    /// A daemon's (or the null relay's) UNIX socket for one host.
    Unix(PathBuf),
    /// Straight to a lond over persistent links, as `own_id` talking to `peer_id`.
    Direct {
        addr: SocketAddr,
        peer_id: String,
        own_id: String,
    },
}

/// One kind of request and how it travels.
#[derive(Clone, Debug)]
pub struct Load {
    pub target: Target,
    /// Keep each client's UNIX connection open across requests (ignored by `Direct`).
    pub persistent: bool,
    /// The request line without its LF.
    pub request: Vec<u8>,
    /// The reply expected, without its LF; anything else counts as an error.
    pub expect: Vec<u8>,
}

impl Load {
    /// A request of exactly `size` bytes with its LF: `echo:xxx…` (or `encrypt:echo:xxx…`),
    /// whose expected reply is the `xxx…` part.
    pub fn echo(target: Target, size: usize, encrypt: bool, persistent: bool) -> Load {
        let prefix: &[u8] = if encrypt { b"encrypt:echo:" } else { b"echo:" };
        let body_len = size.saturating_sub(prefix.len() + 1).max(1);
        let body: Vec<u8> = (0..body_len).map(|i| b'a' + (i % 26) as u8).collect();
        Load {
            target,
            persistent,
            request: [prefix, &body].concat(),
            expect: body,
        }
    }
}

/// The figures of one run.
#[derive(Clone)]
pub struct Outcome {
    /// Requests answered as expected within the measured window.
    pub ok: u64,
    /// Requests that failed or got another reply.
    pub errors: u64,
    /// Every request sent in the whole run, warm-up included, answered or not: what the
    /// daemon's CPU time over the whole run is divided by.
    pub sent: u64,
    /// Length of the measured window.
    pub secs: f64,
    /// Latency of the answered requests, in nanoseconds.
    pub hist: Histogram<u64>,
}

impl Default for Outcome {
    fn default() -> Outcome {
        Outcome::new()
    }
}

impl Outcome {
    /// No requests yet.
    pub fn new() -> Outcome {
        Outcome {
            ok: 0,
            errors: 0,
            sent: 0,
            secs: 0.0,
            hist: new_hist(),
        }
    }

    fn merge(&mut self, other: &Outcome) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.sent += other.sent;
        self.hist.add(&other.hist).expect("same bounds");
    }

    /// Answered requests per second.
    pub fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.ok as f64 / self.secs
        } else {
            0.0
        }
    }

    /// A latency quantile in microseconds.
    pub fn quantile_us(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }

    /// The largest latency in microseconds.
    pub fn max_us(&self) -> f64 {
        self.hist.max() as f64 / 1000.0
    }

    /// The smallest latency in microseconds.
    pub fn min_us(&self) -> f64 {
        self.hist.min() as f64 / 1000.0
    }

    /// Records one answered request's latency.
    pub fn record(&mut self, latency: Duration) {
        self.ok += 1;
        let _ = self
            .hist
            .record(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
    }
}

/// A histogram of nanoseconds from 1 ns to 100 s, 3 significant digits.
pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid bounds")
}

/// One client's connection state.
enum Client {
    Unix {
        path: PathBuf,
        persistent: bool,
        conn: Option<UnixStream>,
    },
    Direct(Box<SyncLink>),
}

impl Client {
    fn new(load: &Load) -> io::Result<Client> {
        Ok(match &load.target {
            Target::Unix(path) => Client::Unix {
                path: path.clone(),
                persistent: load.persistent,
                conn: None,
            },
            Target::Direct {
                addr,
                peer_id,
                own_id,
            } => Client::Direct(Box::new(SyncLink::connect(*addr, peer_id, own_id)?)),
        })
    }

    /// One request; true when the expected reply came back.
    fn request(&mut self, load: &Load, line: &[u8], reply: &mut Vec<u8>) -> bool {
        match self {
            Client::Unix {
                path,
                persistent,
                conn,
            } => {
                let ok = unix_request(path, conn, line, reply).is_ok()
                    && reply.as_slice() == load.expect.as_slice();
                if !*persistent || !ok {
                    *conn = None;
                }
                ok
            }
            Client::Direct(link) => link
                .transact(&load.request)
                .is_ok_and(|r| r.as_ref() == load.expect.as_slice()),
        }
    }
}

/// One request over `conn` (connected to `path` first if it is `None`, with a 30 s read
/// timeout): writes `line` (with its LF), reads one reply line into `reply` (without its LF).
pub fn unix_request(
    path: &PathBuf,
    conn: &mut Option<UnixStream>,
    line: &[u8],
    reply: &mut Vec<u8>,
) -> io::Result<()> {
    if conn.is_none() {
        let s = UnixStream::connect(path)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        *conn = Some(s);
    }
    let s = conn.as_mut().expect("connected");
    s.write_all(line)?;
    reply.clear();
    let mut chunk = [0u8; 512];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        reply.extend_from_slice(&chunk[..n]);
        if reply.last() == Some(&b'\n') {
            reply.pop();
            return Ok(());
        }
    }
}

fn with_lf(request: &[u8]) -> Vec<u8> {
    [request, b"\n"].concat()
}

fn elapsed_ns(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.saturating_duration_since(from).as_nanos()).unwrap_or(u64::MAX)
}

/// Closed loop: `clients` threads for `warmup + measure`; figures from the `measure` part.
pub fn closed_loop(
    load: &Load,
    clients: usize,
    warmup: Duration,
    measure: Duration,
) -> io::Result<Outcome> {
    let clients = clients.max(1);
    let barrier = Arc::new((Barrier::new(clients + 1), Barrier::new(clients + 1)));
    let start = Arc::new(std::sync::OnceLock::<Instant>::new());
    let mut threads = Vec::new();
    for _ in 0..clients {
        let (load, barrier, start) = (load.clone(), barrier.clone(), start.clone());
        threads.push(std::thread::Builder::new().stack_size(256 * 1024).spawn(
            move || -> io::Result<Outcome> {
                let client = Client::new(&load);
                barrier.0.wait();
                barrier.1.wait();
                let mut client = client?;
                let t0 = *start.get().expect("set before the barrier is passed");
                let (from, end) = (t0 + warmup, t0 + warmup + measure);
                let line = with_lf(&load.request);
                let mut reply = Vec::with_capacity(256);
                let mut out = Outcome::new();
                loop {
                    let sent = Instant::now();
                    if sent >= end {
                        break;
                    }
                    let ok = client.request(&load, &line, &mut reply);
                    let done = Instant::now();
                    out.sent += 1;
                    if sent >= from {
                        if ok {
                            out.ok += 1;
                            let _ = out.hist.record(elapsed_ns(sent, done));
                        } else {
                            out.errors += 1;
                        }
                    }
                }
                Ok(out)
            },
        )?);
    }
    // Every client is connected (set-up (a) handshakes first): start the clock.
    barrier.0.wait();
    let _ = start.set(Instant::now());
    barrier.1.wait();
    collect(threads, measure)
}

fn collect(
    threads: Vec<std::thread::JoinHandle<io::Result<Outcome>>>,
    measure: Duration,
) -> io::Result<Outcome> {
    let mut total = Outcome::new();
    total.secs = measure.as_secs_f64();
    let mut first_error = None;
    for t in threads {
        match t.join().expect("load thread") {
            Ok(o) => total.merge(&o),
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// Asks the kernel to wake this thread's sleeps on time (default slack: 50 µs).
fn tight_timer_slack() {
    // SAFETY: prctl(PR_SET_TIMERSLACK) only changes this thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// Open loop at `rate` requests per second for `warmup + measure`, served by `workers`
/// threads; latency from each request's scheduled time. Figures from the `measure` part.
pub fn open_loop(
    load: &Load,
    rate: f64,
    workers: usize,
    warmup: Duration,
    measure: Duration,
) -> io::Result<Outcome> {
    let workers = workers.max(1);
    let rate = rate.max(1.0);
    let period_ns = 1e9 / rate;
    let first_measured = (warmup.as_secs_f64() * rate) as u64;
    let total = ((warmup + measure).as_secs_f64() * rate) as u64;
    let next = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new((Barrier::new(workers + 1), Barrier::new(workers + 1)));
    let start = Arc::new(std::sync::OnceLock::<Instant>::new());
    let mut threads = Vec::new();
    for _ in 0..workers {
        let (load, barrier, start, next) =
            (load.clone(), barrier.clone(), start.clone(), next.clone());
        threads.push(std::thread::Builder::new().stack_size(256 * 1024).spawn(
            move || -> io::Result<Outcome> {
                tight_timer_slack();
                let client = Client::new(&load);
                barrier.0.wait();
                barrier.1.wait();
                let mut client = client?;
                let t0 = *start.get().expect("set before the barrier is passed");
                let line = with_lf(&load.request);
                let mut reply = Vec::with_capacity(256);
                let mut out = Outcome::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let due = t0 + Duration::from_nanos((i as f64 * period_ns) as u64);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let ok = client.request(&load, &line, &mut reply);
                    let done = Instant::now();
                    out.sent += 1;
                    if i >= first_measured {
                        if ok {
                            out.ok += 1;
                            let _ = out.hist.record(elapsed_ns(due, done));
                        } else {
                            out.errors += 1;
                        }
                    }
                }
                Ok(out)
            },
        )?);
    }
    // Start a moment after every worker is ready.
    barrier.0.wait();
    let _ = start.set(Instant::now() + Duration::from_millis(20));
    barrier.1.wait();
    collect(threads, measure)
}

/// What became of one request of a [`Live`] load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The expected reply.
    Ok,
    /// `con_lost`.
    ConLost,
    /// Another reply line.
    Other,
    /// No reply line: the connection failed or closed, or the read timed out.
    Failed,
}

/// One request of a [`Live`] load.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// When it was sent, from the load's start ([`Live::t0`]).
    pub sent: Duration,
    /// How long its answer took.
    pub latency: Duration,
    pub answer: Answer,
    /// Which client sent it, and its number among that client's requests (for
    /// [`LiveRequest::Distinct`] requests, which carry both).
    pub client: u32,
    pub seq: u32,
}

/// The requests of a [`Live`] load.
#[derive(Clone, Debug)]
pub enum LiveRequest {
    /// The same line every time.
    Same(Load),
    /// `echo:<tag>-<client>-<seq>`, a line no other request of the run has, expected back as
    /// `<tag>-<client>-<seq>`: what the lond executed can be told apart in its request log.
    Distinct { socket: PathBuf, tag: String },
}

impl LiveRequest {
    /// The line (with its LF) and the expected reply of request `seq` of `client`.
    fn line(&self, client: u32, seq: u32) -> (Vec<u8>, Vec<u8>) {
        match self {
            LiveRequest::Same(load) => (with_lf(&load.request), load.expect.clone()),
            LiveRequest::Distinct { tag, .. } => {
                let body = distinct_body(tag, client, seq);
                (format!("echo:{body}\n").into_bytes(), body.into_bytes())
            }
        }
    }

    fn socket(&self) -> io::Result<(PathBuf, bool)> {
        match self {
            LiveRequest::Same(Load {
                target: Target::Unix(path),
                persistent,
                ..
            }) => Ok((path.clone(), *persistent)),
            LiveRequest::Same(_) => Err(io::Error::other("a live load goes to a UNIX socket")),
            LiveRequest::Distinct { socket, .. } => Ok((socket.clone(), false)),
        }
    }
}

/// The text a [`LiveRequest::Distinct`] request echoes.
pub fn distinct_body(tag: &str, client: u32, seq: u32) -> String {
    format!("{tag}-{client}-{seq}")
}

/// A closed loop of lonnet-like clients on a UNIX socket that runs until it is stopped and
/// keeps every request's send time, latency and answer, so that a run can be cut into windows
/// afterwards (before and during an event whose end is not known in advance).
pub struct Live {
    t0: Instant,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Vec<Sample>>>,
}

impl Live {
    /// Starts `clients` client threads sending `request`s until [`Live::stop`]; `limit`, if
    /// given, ends each client after that many requests.
    pub fn start(request: LiveRequest, clients: usize, limit: Option<u32>) -> io::Result<Live> {
        let (path, persistent) = request.socket()?;
        let stop = Arc::new(AtomicBool::new(false));
        let t0 = Instant::now();
        let mut threads = Vec::new();
        for client in 0..clients.max(1) as u32 {
            let (request, stop, path) = (request.clone(), stop.clone(), path.clone());
            threads.push(
                std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn(move || {
                        let mut samples = Vec::with_capacity(4096);
                        let mut conn = None;
                        let mut reply = Vec::with_capacity(256);
                        let mut seq = 0u32;
                        while !stop.load(Ordering::Relaxed) && limit.is_none_or(|n| seq < n) {
                            let (line, expect) = request.line(client, seq);
                            let sent = Instant::now();
                            let answer = match unix_request(&path, &mut conn, &line, &mut reply) {
                                Ok(()) if reply == expect => Answer::Ok,
                                Ok(()) if reply == b"con_lost" => Answer::ConLost,
                                Ok(()) => Answer::Other,
                                Err(_) => Answer::Failed,
                            };
                            let done = Instant::now();
                            if !persistent || answer != Answer::Ok {
                                conn = None;
                            }
                            samples.push(Sample {
                                sent: sent - t0,
                                latency: done - sent,
                                answer,
                                client,
                                seq,
                            });
                            seq += 1;
                        }
                        samples
                    })?,
            );
        }
        Ok(Live { t0, stop, threads })
    }

    /// The instant sample times count from.
    pub fn t0(&self) -> Instant {
        self.t0
    }

    /// True once every client has ended (each sent its `limit`).
    pub fn finished(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }

    /// Stops the clients (each finishes its request in flight) and returns every sample, in
    /// no particular order.
    pub fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .flat_map(|t| t.join().expect("live load thread"))
            .collect()
    }
}

/// The requests of `samples` sent within `[from, to)` (times from the load's start): the
/// latencies of those answered as expected, the others counted as errors.
pub fn window(samples: &[Sample], from: Duration, to: Duration) -> Outcome {
    windows(samples, &[(from, to)])
}

/// [`window`] over several windows (not overlapping) at once.
pub fn windows(samples: &[Sample], ranges: &[(Duration, Duration)]) -> Outcome {
    let mut out = Outcome::new();
    out.secs = ranges
        .iter()
        .map(|(from, to)| to.saturating_sub(*from).as_secs_f64())
        .sum();
    let inside = |s: &&Sample| {
        ranges
            .iter()
            .any(|(from, to)| s.sent >= *from && s.sent < *to)
    };
    for s in samples.iter().filter(inside) {
        out.sent += 1;
        if s.answer == Answer::Ok {
            out.record(s.latency);
        } else {
            out.errors += 1;
        }
    }
    out
}

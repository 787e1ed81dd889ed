//! `lonc-bench delivery`: the measurements issue 13 asks for, on each daemon.
//!
//! * **appear**: the peer up (one `ping` has opened a link), no traffic; a spool file is
//!   renamed into `delayed/` at a random moment; the time until the simulated lond has
//!   executed it (its request counter) and until the file is gone (reply, `S:` record,
//!   unlink). Repeated, at the default `--delayed-scan` and at a short one.
//! * **drain**: closed-loop live clients; their latency in a window before; then many spool
//!   files written under temporary names and renamed in, as lonnet does; the live latency while
//!   they drain and the drain time (until every file is gone); the lond's request log then
//!   says how often each spooled request ran.
//! * **close-after-1**: a lond that closes each link after one reply; live clients with
//!   distinct requests; `con_lost` answers and requests the lond ran twice (its request log).
//! * **frozen**: a lond in a process of its own, stopped (SIGSTOP) once links are up; one
//!   request from each client, some on links, the rest queued; when each was answered, against
//!   the step timeout S given to the daemon (`--request-timeout` left at its default, S).
//!
//! Daemons start on temporary layouts ([`super::daemon`]), the load is [`super::load::Live`],
//! latencies go through [`super::load::Outcome`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lonc_core::spool::DelayedName;
use lonc_edge::sim::{Faults, Sim, SimConfig, free_port};

use super::cpu::CpuSample;
use super::daemon::{Daemon, Layout, OWN_ID};
use super::load::{
    Answer, Live, LiveRequest, Load, Outcome, Sample, Target, unix_request, window, windows,
};
use super::relay::Launcher;
use crate::rng::SplitMix;

/// The peer's id and address in every part.
const PEER: &str = "alpha";
const PEER_IP: [u8; 4] = [127, 0, 0, 2];
/// The daemons' default `--delayed-scan`, in seconds.
const DEFAULT_SCAN: f64 = 5.0;

/// How the frozen part starts its simulated lond, a process of its own (it is stopped with
/// SIGSTOP).
#[derive(Clone, Debug)]
pub enum LondProgram {
    /// The `lond-sim` binary.
    LondSim(PathBuf),
    /// A program that serves the simulated lond described in [`LOND_VAR`] by calling
    /// [`lond_if_asked`]: `lonc-bench lond`, or in a test binary an `#[ignore]`d test.
    Launcher(Launcher),
}

/// The environment variable that tells [`lond_if_asked`] what to serve:
/// `<listen address>\t<host id>\t<client id>`.
pub const LOND_VAR: &str = "LONC_BENCH_LOND";

/// The parts, by name (for `--only`).
pub const PARTS: [&str; 4] = ["appear", "drain", "close", "frozen"];

/// What to run and for how long.
#[derive(Clone, Debug)]
pub struct Options {
    /// A few seconds in all, to keep the tool working; the figures mean nothing.
    pub smoke: bool,
    /// The daemons, by name.
    pub daemons: Vec<(String, PathBuf)>,
    /// The frozen part's lond.
    pub lond: Option<LondProgram>,
    /// The parts to run (of [`PARTS`]); empty: all.
    pub only: Vec<String>,
    /// appear: `--delayed-scan` values (`None`: the daemon's default) and files per value.
    pub scans: Vec<(Option<f64>, usize)>,
    /// Live clients (drain, close-after-1) and requests of the frozen part.
    pub clients: usize,
    /// Live traffic before a measured window.
    pub warmup: Duration,
    /// drain: the window measured before the files are dropped.
    pub before: Duration,
    /// drain: how many files.
    pub spooled: usize,
    /// drain: `--delayed-scan` (`None`: the default).
    pub drain_scan: Option<f64>,
    /// drain: give up after this long.
    pub drain_limit: Duration,
    /// close-after-1: how long the clients send.
    pub close_secs: Duration,
    /// frozen: the daemon's `--step-timeout` S, in seconds.
    pub frozen_timeout: f64,
    /// frozen: `--max-links` (`None`: the default, 10).
    pub frozen_max_links: Option<usize>,
    /// Copy each daemon's `lonc.log` of each part here, as `<daemon>-<part>.log`.
    pub keep_logs: Option<PathBuf>,
}

impl Options {
    /// The full run: about 2.5 minutes per daemon.
    pub fn standard() -> Options {
        Options {
            smoke: false,
            daemons: Vec::new(),
            lond: None,
            only: Vec::new(),
            scans: vec![(None, 10), (Some(0.5), 20)],
            clients: 64,
            warmup: Duration::from_millis(500),
            before: Duration::from_secs(3),
            spooled: 10_000,
            drain_scan: None,
            drain_limit: Duration::from_secs(300),
            close_secs: Duration::from_secs(5),
            frozen_timeout: 2.0,
            frozen_max_links: None,
            keep_logs: None,
        }
    }

    /// Every part in a few seconds.
    pub fn smoke() -> Options {
        Options {
            smoke: true,
            scans: vec![(Some(0.2), 3)],
            clients: 16,
            warmup: Duration::from_millis(100),
            before: Duration::from_millis(300),
            spooled: 300,
            drain_scan: Some(0.2),
            drain_limit: Duration::from_secs(60),
            close_secs: Duration::from_millis(500),
            frozen_timeout: 0.5,
            frozen_max_links: Some(4),
            ..Options::standard()
        }
    }

    fn wants(&self, part: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == part)
    }
}

fn say(line: impl AsRef<str>) {
    eprintln!("lonc-bench delivery: {}", line.as_ref());
}

/// appear: one daemon at one `--delayed-scan`.
pub struct AppearRow {
    pub daemon: String,
    /// The interval in seconds, and whether it was the default.
    pub scan: f64,
    pub default_scan: bool,
    pub files: usize,
    /// From the rename to the lond's execution, and to the file's removal.
    pub executed: Outcome,
    pub gone: Outcome,
    /// Files not executed, or not removed, within the limit.
    pub not_executed: usize,
    pub not_removed: usize,
}

/// drain: one daemon.
pub struct DrainRow {
    pub daemon: String,
    pub scan: f64,
    pub clients: usize,
    pub files: usize,
    /// How long the renames took.
    pub rename: Duration,
    /// From the first rename to the first file gone, and to the last.
    pub first_gone: Option<Duration>,
    /// Of the time between, how long files were going (the 50 ms polls between which some
    /// went); the rest was spent waiting for a scan (files renamed in after the scan that
    /// found the first ones wait for the next).
    pub busy: Duration,
    pub drained: Option<Duration>,
    /// Files still in `delayed/` at the end.
    pub left: usize,
    /// Spooled requests the lond ran once, more than once, never.
    pub once: usize,
    pub twice: usize,
    pub never: usize,
    /// `S:` records in the permanent log for the spooled requests.
    pub s_records: usize,
    pub before: Outcome,
    pub during: Outcome,
    /// The daemon's CPU time per request (live, and from the drop on live and spooled), in
    /// µs, before and from the drop to the end.
    pub cpu_before: Option<f64>,
    pub cpu_during: Option<f64>,
    /// The other processes' share of the machine, before and during.
    pub foreign_before: f64,
    pub foreign_during: f64,
}

/// close-after-1: one daemon.
pub struct CloseRow {
    pub daemon: String,
    pub clients: usize,
    pub secs: f64,
    pub requests: usize,
    pub ok: usize,
    pub con_lost: usize,
    /// Other replies, and no reply at all.
    pub other: usize,
    pub failed: usize,
    /// Distinct requests the lond ran, and of them those it ran more than once.
    pub executed: usize,
    pub twice: usize,
    /// `con_lost` answers whose request the lond had run.
    pub con_lost_executed: usize,
    /// Requests the daemon sent again on another link, having seen that the lond did not
    /// read them (its INFO lines "… sending it again on another connection").
    pub resent: usize,
    pub foreign: f64,
}

/// frozen: one daemon.
pub struct FrozenRow {
    pub daemon: String,
    pub timeout: f64,
    pub max_links: usize,
    pub clients: usize,
    /// Every request's answer time from its send, whatever the answer.
    pub answered: Outcome,
    pub con_lost: usize,
    pub other: usize,
    /// No answer at all (the client's 30 s read timeout, or a closed connection).
    pub failed: usize,
    /// Answers later than S + 1 s (the daemon's tick), and later than 2 S.
    pub over_tick: usize,
    pub over_twice: usize,
    /// WARNING lines the daemon logged while the lond was stopped.
    pub warnings: usize,
    /// After SIGCONT, until a request was answered by the lond again.
    pub recovered: Option<Duration>,
}

/// Everything measured.
pub struct Report {
    pub options: Options,
    pub appear: Vec<AppearRow>,
    pub drain: Vec<DrainRow>,
    pub close: Vec<CloseRow>,
    pub frozen: Vec<FrozenRow>,
    /// Parts not run, and why.
    pub skipped: Vec<String>,
    /// `/proc/loadavg` at the start and the end.
    pub load_start: String,
    pub load_end: String,
    pub secs: f64,
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Runs every part wanted on every daemon.
pub fn run(options: &Options) -> io::Result<Report> {
    let started = Instant::now();
    let mut report = Report {
        options: options.clone(),
        appear: Vec::new(),
        drain: Vec::new(),
        close: Vec::new(),
        frozen: Vec::new(),
        skipped: Vec::new(),
        load_start: loadavg(),
        load_end: String::new(),
        secs: 0.0,
    };
    for (name, bin) in &options.daemons {
        if !bin.is_file() {
            let why = format!("{name}: not built ({} does not exist)", bin.display());
            say(&why);
            report.skipped.push(why);
            continue;
        }
        if options.wants("appear") {
            for &(scan, files) in &options.scans {
                let row = appear(options, name, bin, scan, files)?;
                say(format!(
                    "{name}: appear, scan {} s: executed p50 {:.0} ms, max {:.0} ms; {} not executed",
                    row.scan,
                    row.executed.quantile_us(0.5) / 1e3,
                    row.executed.max_us() / 1e3,
                    row.not_executed
                ));
                report.appear.push(row);
            }
        }
        if options.wants("drain") {
            let row = drain(options, name, bin)?;
            say(format!(
                "{name}: drain of {}: {:?}; live p99 {:.0} µs before, {:.0} µs during; once {}, twice {}, never {}",
                row.files,
                row.drained,
                row.before.quantile_us(0.99),
                row.during.quantile_us(0.99),
                row.once,
                row.twice,
                row.never
            ));
            report.drain.push(row);
        }
        if options.wants("close") {
            let row = close_after_1(options, name, bin)?;
            say(format!(
                "{name}: close-after-1: {} requests, {} con_lost, {} executed twice",
                row.requests, row.con_lost, row.twice
            ));
            report.close.push(row);
        }
        if options.wants("frozen") {
            match &options.lond {
                Some(lond) => {
                    let row = frozen(options, name, bin, lond)?;
                    say(format!(
                        "{name}: frozen lond, S = {} s: answered {:.2} / {:.2} / {:.2} s",
                        row.timeout,
                        row.answered.min_us() / 1e6,
                        row.answered.quantile_us(0.5) / 1e6,
                        row.answered.max_us() / 1e6
                    ));
                    report.frozen.push(row);
                }
                None => {
                    let why = format!("{name}: frozen: no way to start a lond process");
                    say(&why);
                    report.skipped.push(why);
                }
            }
        }
    }
    report.load_end = loadavg();
    report.secs = started.elapsed().as_secs_f64();
    Ok(report)
}

// ---------------------------------------------------------------- set-up

fn peer_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(PEER_IP))
}

fn sim(port: u16, faults: Faults, request_log: Option<PathBuf>) -> io::Result<Sim> {
    Sim::start(SimConfig {
        listen: SocketAddr::new(peer_ip(), port),
        host_id: PEER.into(),
        client_id: OWN_ID.into(),
        faults,
        request_log,
    })
}

fn layout(port: u16) -> io::Result<Layout> {
    Layout::new(port, &[(PEER.to_string(), Ipv4Addr::from(PEER_IP))])
}

fn scan_args(scan: Option<f64>) -> Vec<String> {
    scan.map(|s| vec!["--delayed-scan".to_string(), s.to_string()])
        .unwrap_or_default()
}

/// One request on a connection of its own; its reply.
fn ask(socket: &Path, line: &[u8]) -> io::Result<Vec<u8>> {
    let mut reply = Vec::new();
    unix_request(&socket.to_path_buf(), &mut None, line, &mut reply)?;
    Ok(reply)
}

/// `ping` until the lond answers it (a link is up), for at most 30 s.
fn peer_up(daemon: &Daemon) -> io::Result<()> {
    let socket = daemon.layout.socket(PEER);
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        match ask(&socket, b"ping\n") {
            Ok(reply) if reply == PEER.as_bytes() => return Ok(()),
            _ if Instant::now() > end => {
                return Err(io::Error::other("the peer did not answer a ping in 30 s"));
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn delayed_dir(daemon: &Daemon) -> PathBuf {
    daemon.layout.sock_dir.join("delayed")
}

fn logs_dir(daemon: &Daemon) -> PathBuf {
    daemon.layout.dir.path().join("perl/logs")
}

/// Copies the daemon's log to `<keep_logs>/<name>-<part>.log`, if asked to.
fn keep_log(o: &Options, daemon: &Daemon, name: &str, part: &str) {
    if let Some(dir) = &o.keep_logs {
        let to = dir.join(format!("{name}-{part}.log"));
        if let Err(e) = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::copy(logs_dir(daemon).join("lonc.log"), &to))
        {
            say(format!("cannot keep the log as {}: {e}", to.display()));
        }
    }
}

/// A spool file written under its temporary name (lonnet's `.<name>.tmp`, which the daemon
/// skips), to be renamed to its final name.
struct Pending {
    tmp: PathBuf,
    path: PathBuf,
}

impl Pending {
    /// Writes `<line>\n` for `host` as spool file number `count` (not synced: the bench's
    /// files need not survive a crash, and 10,000 fsyncs would dominate the drop).
    fn write(dir: &Path, host: &str, count: u64, line: &str) -> io::Result<Pending> {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let name = DelayedName::for_request(
            time,
            count,
            u64::from(std::process::id()),
            line.as_bytes(),
            host,
        )
        .to_string();
        let pending = Pending {
            tmp: dir.join(format!(".{name}.tmp")),
            path: dir.join(name),
        };
        std::fs::write(&pending.tmp, format!("{line}\n"))?;
        Ok(pending)
    }

    /// Renames it in; it is now a spool file.
    fn publish(&self) -> io::Result<()> {
        std::fs::rename(&self.tmp, &self.path)
    }
}

/// Spool files (names that do not start with a dot) in `dir`.
fn spool_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| !e.file_name().as_encoded_bytes().starts_with(b"."))
            .count()
    })
}

/// Polls `done` every `every` until it holds or `limit` has passed; the time it took.
fn wait_for(limit: Duration, every: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if done() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// How many times the lond ran each request, from its request log (`P:<line>`, `E:<line>`),
/// keeping the lines that start with `prefix` (after the mark).
fn executed(log: &Path, prefix: &str) -> io::Result<HashMap<String, usize>> {
    let text = std::fs::read_to_string(log)?;
    let mut counts = HashMap::new();
    for line in text.lines() {
        let line = line.get(2..).unwrap_or("");
        if line.starts_with(prefix) {
            *counts.entry(line.to_string()).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

/// Lines of `file` that contain `needle` (0 if it cannot be read).
fn count_lines(file: &Path, needle: &str) -> usize {
    std::fs::read_to_string(file).map_or(0, |t| t.lines().filter(|l| l.contains(needle)).count())
}

fn run_tag() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("r{}x{nanos}", std::process::id())
}

// ---------------------------------------------------------------- the parts

fn appear(
    o: &Options,
    name: &str,
    bin: &Path,
    scan: Option<f64>,
    files: usize,
) -> io::Result<AppearRow> {
    let port = free_port(&[peer_ip()])?;
    let lond = sim(port, Faults::default(), None)?;
    let daemon = Daemon::start(bin, layout(port)?, &scan_args(scan))?;
    peer_up(&daemon)?;
    let dir = delayed_dir(&daemon);
    let interval = scan.unwrap_or(DEFAULT_SCAN);
    let limit = Duration::from_secs_f64(3.0 * interval + 10.0);
    let mut rng = SplitMix::new(u64::from(std::process::id()) ^ 0x5eed);
    let mut row = AppearRow {
        daemon: name.to_string(),
        scan: interval,
        default_scan: scan.is_none(),
        files,
        executed: Outcome::new(),
        gone: Outcome::new(),
        not_executed: 0,
        not_removed: 0,
    };
    let tag = run_tag();
    for i in 0..files {
        // Files appear at any moment of the scan's period: a random phase.
        let phase = (rng.next_u64() % 1_000_000) as f64 / 1e6 * interval;
        std::thread::sleep(Duration::from_secs_f64(phase));
        let before = lond
            .stats()
            .requests
            .load(std::sync::atomic::Ordering::SeqCst);
        let file = Pending::write(&dir, PEER, i as u64, &format!("echo:{tag}-{i}"))?;
        let t0 = Instant::now();
        file.publish()?;
        let ran = wait_for(limit, Duration::from_millis(1), || {
            lond.stats()
                .requests
                .load(std::sync::atomic::Ordering::SeqCst)
                > before
        });
        match ran {
            Some(_) => row.executed.record(t0.elapsed()),
            None => row.not_executed += 1,
        }
        let left = limit.saturating_sub(t0.elapsed());
        match wait_for(left, Duration::from_millis(1), || !file.path.exists()) {
            Some(_) => row.gone.record(t0.elapsed()),
            None => row.not_removed += 1,
        }
    }
    keep_log(o, &daemon, name, &format!("appear-{interval}s"));
    drop(daemon);
    drop(lond);
    Ok(row)
}

fn drain(o: &Options, name: &str, bin: &Path) -> io::Result<DrainRow> {
    let port = free_port(&[peer_ip()])?;
    let layout = layout(port)?;
    let log = layout.dir.path().join("lond-requests.log");
    let lond = sim(port, Faults::default(), Some(log.clone()))?;
    let daemon = Daemon::start(bin, layout, &scan_args(o.drain_scan))?;
    peer_up(&daemon)?;
    let dir = delayed_dir(&daemon);
    let tag = run_tag();
    let pending = (0..o.spooled)
        .map(|i| Pending::write(&dir, PEER, i as u64, &format!("echo:{tag}-{i}")))
        .collect::<io::Result<Vec<_>>>()?;
    let live = Live::start(
        LiveRequest::Same(Load::echo(
            Target::Unix(daemon.layout.socket(PEER)),
            100,
            false,
            false,
        )),
        o.clients,
        None,
    )?;
    std::thread::sleep(o.warmup);
    let cpu_before = CpuSample::now(Some(daemon.pid()));
    std::thread::sleep(o.before);
    let cpu_drop = CpuSample::now(Some(daemon.pid()));
    let dropped = live.t0().elapsed();
    let t_drop = Instant::now();
    for file in &pending {
        file.publish()?;
    }
    let rename = t_drop.elapsed();
    let mut first_gone = None;
    // The polls between which files went, as windows of the live load's time.
    let mut going: Vec<(Duration, Duration)> = Vec::new();
    let mut last = (Duration::ZERO, o.spooled);
    let drained = wait_for(o.drain_limit, Duration::from_millis(50), || {
        let left = spool_files(&dir);
        let now = t_drop.elapsed();
        if left < o.spooled && first_gone.is_none() {
            first_gone = Some(now);
        }
        // From the first file gone on (before it, the files wait for their first scan).
        if left < last.1 && last.1 < o.spooled {
            going.push((dropped + last.0, dropped + now));
        }
        last = (now, left);
        left == 0
    })
    // From the drop, as first_gone (wait_for counts from its own start, after the renames).
    .map(|_| last.0);
    let cpu_end = CpuSample::now(Some(daemon.pid()));
    let end = live.t0().elapsed();
    let samples = live.stop();
    let counts = executed(&log, &format!("echo:{tag}-"))?;
    let once = counts.values().filter(|&&n| n == 1).count();
    let twice = counts.values().filter(|&&n| n > 1).count();
    let perm = logs_dir(&daemon).join("lonnet.perm.log");
    let s_records = count_lines(&perm, &format!(":S:{PEER}:echo:{tag}-"));
    let row = DrainRow {
        daemon: name.to_string(),
        scan: o.drain_scan.unwrap_or(DEFAULT_SCAN),
        clients: o.clients,
        files: o.spooled,
        rename,
        first_gone,
        drained,
        left: spool_files(&dir),
        once,
        twice,
        never: o.spooled - counts.len().min(o.spooled),
        s_records,
        before: window(&samples, o.warmup, dropped),
        // The drain proper: while files were going.
        during: if going.is_empty() {
            window(&samples, dropped, end)
        } else {
            windows(&samples, &going)
        },
        busy: going.iter().map(|(from, to)| *to - *from).sum(),
        cpu_before: cpu_before
            .per_request(&cpu_drop, window(&samples, o.warmup, dropped).sent, true)
            .daemon_us,
        cpu_during: cpu_drop
            .per_request(
                &cpu_end,
                window(&samples, dropped, end).sent + o.spooled as u64,
                true,
            )
            .daemon_us,
        foreign_before: cpu_before.foreign_pct_since(&cpu_drop),
        foreign_during: cpu_drop.foreign_pct_since(&cpu_end),
    };
    keep_log(o, &daemon, name, "drain");
    drop(daemon);
    drop(lond);
    Ok(row)
}

fn close_after_1(o: &Options, name: &str, bin: &Path) -> io::Result<CloseRow> {
    let port = free_port(&[peer_ip()])?;
    let layout = layout(port)?;
    let log = layout.dir.path().join("lond-requests.log");
    let faults = Faults {
        close_after: Some(1),
        ..Faults::default()
    };
    let lond = sim(port, faults, Some(log.clone()))?;
    let daemon = Daemon::start(bin, layout, &[])?;
    peer_up(&daemon)?;
    let tag = run_tag();
    let cpu = CpuSample::now(Some(daemon.pid()));
    let live = Live::start(
        LiveRequest::Distinct {
            socket: daemon.layout.socket(PEER),
            tag: tag.clone(),
        },
        o.clients,
        None,
    )?;
    std::thread::sleep(o.close_secs);
    let samples = live.stop();
    let cpu_end = CpuSample::now(Some(daemon.pid()));
    let secs = samples
        .iter()
        .map(|s| s.sent + s.latency)
        .max()
        .unwrap_or_default()
        .as_secs_f64();
    let counts = executed(&log, &format!("echo:{tag}-"))?;
    let count = |a: Answer| samples.iter().filter(|s| s.answer == a).count();
    let ran = |s: &Sample| {
        counts.contains_key(&format!(
            "echo:{}",
            super::load::distinct_body(&tag, s.client, s.seq)
        ))
    };
    let row = CloseRow {
        daemon: name.to_string(),
        clients: o.clients,
        secs,
        requests: samples.len(),
        ok: count(Answer::Ok),
        con_lost: count(Answer::ConLost),
        other: count(Answer::Other),
        failed: count(Answer::Failed),
        executed: counts.len(),
        twice: counts.values().filter(|&&n| n > 1).count(),
        con_lost_executed: samples
            .iter()
            .filter(|s| s.answer == Answer::ConLost && ran(s))
            .count(),
        foreign: cpu.foreign_pct_since(&cpu_end),
        resent: count_lines(&logs_dir(&daemon).join("lonc.log"), "sending it again"),
    };
    keep_log(o, &daemon, name, "close");
    drop(daemon);
    drop(lond);
    Ok(row)
}

fn frozen(o: &Options, name: &str, bin: &Path, program: &LondProgram) -> io::Result<FrozenRow> {
    let port = free_port(&[peer_ip()])?;
    let lond = LondProcess::start(program, SocketAddr::new(peer_ip(), port))?;
    let mut args = vec!["--step-timeout".to_string(), o.frozen_timeout.to_string()];
    if let Some(n) = o.frozen_max_links {
        args.extend(["--max-links".to_string(), n.to_string()]);
    }
    let daemon = Daemon::start(bin, layout(port)?, &args)?;
    peer_up(&daemon)?;
    let socket = daemon.layout.socket(PEER);
    // Links up: a burst of traffic from every client first.
    let warm = Live::start(
        LiveRequest::Same(Load::echo(Target::Unix(socket.clone()), 100, false, false)),
        o.clients,
        Some(20),
    )?;
    while !warm.finished() {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(warm.stop());
    let lonc_log = logs_dir(&daemon).join("lonc.log");
    let warnings_before = count_lines(&lonc_log, "WARNING");
    lond.signal(libc::SIGSTOP)?;
    lond.wait_state('T')?;
    let tag = run_tag();
    let live = Live::start(
        LiveRequest::Distinct {
            socket: socket.clone(),
            tag,
        },
        o.clients,
        Some(1),
    )?;
    while !live.finished() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let samples = live.stop();
    let warnings = count_lines(&lonc_log, "WARNING").saturating_sub(warnings_before);
    lond.signal(libc::SIGCONT)?;
    let thawed = Instant::now();
    let recovered = wait_for(Duration::from_secs(30), Duration::from_millis(20), || {
        ask(&socket, b"ping\n").is_ok_and(|r| r == PEER.as_bytes())
    })
    .map(|_| thawed.elapsed());
    let s = Duration::from_secs_f64(o.frozen_timeout);
    let mut answered = Outcome::new();
    for x in samples.iter().filter(|x| x.answer != Answer::Failed) {
        answered.record(x.latency);
    }
    let row = FrozenRow {
        daemon: name.to_string(),
        timeout: o.frozen_timeout,
        max_links: o.frozen_max_links.unwrap_or(10),
        clients: samples.len(),
        answered,
        con_lost: samples
            .iter()
            .filter(|x| x.answer == Answer::ConLost)
            .count(),
        other: samples
            .iter()
            .filter(|x| matches!(x.answer, Answer::Ok | Answer::Other))
            .count(),
        failed: samples
            .iter()
            .filter(|x| x.answer == Answer::Failed)
            .count(),
        over_tick: samples
            .iter()
            .filter(|x| x.latency > s + Duration::from_secs(1))
            .count(),
        over_twice: samples.iter().filter(|x| x.latency > 2 * s).count(),
        warnings,
        recovered,
    };
    keep_log(o, &daemon, name, "frozen");
    drop(daemon);
    drop(lond);
    Ok(row)
}

// ---------------------------------------------------------------- the lond's process

/// A simulated lond in a process of its own; continued and killed when dropped.
pub struct LondProcess {
    child: Child,
}

impl LondProcess {
    /// Starts it on `listen` (host `alpha`, client `me`); returns once it accepts connections.
    pub fn start(program: &LondProgram, listen: SocketAddr) -> io::Result<LondProcess> {
        let mut command = match program {
            LondProgram::LondSim(path) => {
                let mut c = Command::new(path);
                c.arg("--listen").arg(listen.to_string()).args([
                    "--host-id",
                    PEER,
                    "--client-id",
                    OWN_ID,
                ]);
                c
            }
            LondProgram::Launcher(launcher) => {
                let mut c = Command::new(&launcher.program);
                c.args(&launcher.args)
                    .env(LOND_VAR, format!("{listen}\t{PEER}\t{OWN_ID}"));
                c
            }
        };
        // Die with the bench, should it die without killing us.
        // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and only sets a property of
        // the new process.
        unsafe {
            use std::os::unix::process::CommandExt;
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                Ok(())
            });
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut lond = LondProcess { child };
        let end = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&listen, Duration::from_secs(1)).is_err() {
            if let Some(status) = lond.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "the lond process exited at start: {status}"
                )));
            }
            if Instant::now() > end {
                return Err(io::Error::other(
                    "the lond process: not listening after 30 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(lond)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends it `signal`.
    pub fn signal(&self, signal: libc::c_int) -> io::Result<()> {
        // SAFETY: kill(2) on our own child.
        if unsafe { libc::kill(self.child.id() as libc::pid_t, signal) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Waits until its state in `/proc/<pid>/stat` is `state` (`T`: stopped).
    pub fn wait_state(&self, state: char) -> io::Result<()> {
        let stat = format!("/proc/{}/stat", self.pid());
        let is = || {
            std::fs::read_to_string(&stat).is_ok_and(|s| {
                s.rfind(')')
                    .and_then(|i| s[i + 1..].split_whitespace().next())
                    .is_some_and(|st| st.starts_with(state))
            })
        };
        wait_for(Duration::from_secs(10), Duration::from_millis(1), is)
            .map(|_| ())
            .ok_or_else(|| io::Error::other(format!("the lond process never reached {state}")))
    }
}

impl Drop for LondProcess {
    fn drop(&mut self) {
        let _ = self.signal(libc::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves the simulated lond of [`LOND_VAR`] until the process is killed, if the variable is
/// set; returns at once otherwise. The entry point of [`LondProgram::Launcher`]'s process.
pub fn lond_if_asked() {
    let Ok(value) = std::env::var(LOND_VAR) else {
        return;
    };
    let mut f = value.split('\t');
    let parsed = (|| Some((f.next()?.parse().ok()?, f.next()?, f.next()?)))();
    let Some((listen, host_id, client_id)) = parsed else {
        eprintln!("lond process: cannot parse {LOND_VAR}={value:?}");
        std::process::exit(2);
    };
    match Sim::start(SimConfig {
        listen,
        host_id: host_id.into(),
        client_id: client_id.into(),
        faults: Faults::default(),
        request_log: None,
    }) {
        Ok(sim) => loop {
            std::thread::park();
            let _ = &sim;
        },
        Err(e) => {
            eprintln!("lond process: cannot listen on {listen}: {e}");
            std::process::exit(1);
        }
    }
}

// ---------------------------------------------------------------- the report

fn ms(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.0}", us / 1e3)
    } else {
        format!("{:.1}", us / 1e3)
    }
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("–".into(), |d| format!("{:.2} s", d.as_secs_f64()))
}

fn pct(part: usize, whole: usize) -> String {
    format!("{:.2} %", 100.0 * part as f64 / whole.max(1) as f64)
}

impl Report {
    /// The report in markdown.
    pub fn markdown(&self) -> String {
        let o = &self.options;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}Spooled delivery and faults (issue 13): one simulated lond, {} cores, load \
             average {} at the start and {} at the end; whole run {:.0} s.\n",
            if o.smoke {
                "**SMOKE RUN: figures meaningless.** "
            } else {
                ""
            },
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            self.load_start,
            self.load_end,
            self.secs
        );
        for why in &self.skipped {
            let _ = writeln!(s, "*Skipped*: {why}.\n");
        }
        if !self.appear.is_empty() {
            let _ = writeln!(
                s,
                "### A spool file appears (peer up, no traffic)\n\n\
                 The file is renamed into `delayed/` at a random moment of the scan period; \
                 *executed*: until the lond received it; *gone*: until the daemon deleted it \
                 (after the reply and the `S:` record).\n\n\
                 | daemon | `--delayed-scan` | files | executed min / p50 / max | gone min / p50 / max | not executed / not removed |\n\
                 |---|---:|---:|---:|---:|---:|"
            );
            for r in &self.appear {
                let _ = writeln!(
                    s,
                    "| {} | {} s{} | {} | {} / {} / {} ms | {} / {} / {} ms | {} / {} |",
                    r.daemon,
                    r.scan,
                    if r.default_scan { " (default)" } else { "" },
                    r.files,
                    ms(r.executed.min_us()),
                    ms(r.executed.quantile_us(0.5)),
                    ms(r.executed.max_us()),
                    ms(r.gone.min_us()),
                    ms(r.gone.quantile_us(0.5)),
                    ms(r.gone.max_us()),
                    r.not_executed,
                    r.not_removed
                );
            }
            s.push('\n');
        }
        if !self.drain.is_empty() {
            let _ = writeln!(
                s,
                "### Spooled requests drained under live traffic\n\n\
                 Closed-loop live clients (100-byte `echo:`, one connection per request); \
                 *before*: {:.1} s before the drop; then the files, written under lonnet's \
                 temporary names, are renamed in. *drain*: from the first rename to the first \
                 file gone (the next scan), and to the last; *busy*: of the time between, the \
                 polls (every 50 ms) between which files went, the rest being waits for a scan \
                 (files renamed in after the scan that found the first ones wait for the \
                 next); *files/s*: over the busy time. \
                 *during*: live requests sent while files went (the busy polls). *daemon \
                 CPU*: the daemon's CPU time per request, before, and from the drop to the end \
                 over live and spooled requests. *ran \
                 once / twice / never*: the spooled requests in the lond's request log. *other \
                 load*: the machine's CPU used by other processes, before and from the drop to \
                 the end.\n\n\
                 | daemon | files | clients | live p50 / p99 before | live p50 / p99 during | live req/s before / during | live errors | drain: first / last gone | busy | files/s | ran once / twice / never | `S:` records | left | daemon CPU / request before / during | other load before / during |\n\
                 |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
                o.before.as_secs_f64()
            );
            for r in &self.drain {
                let _ = writeln!(
                    s,
                    "| {} (scan {} s) | {} | {} | {} / {} ms | {} / {} ms | {:.0} / {:.0} | {} / {} | {} / {} | {:.2} s | {} | {} / {} / {} | {} | {} | {} / {} µs | {:.0} / {:.0} % |",
                    r.daemon,
                    r.scan,
                    r.files,
                    r.clients,
                    ms(r.before.quantile_us(0.5)),
                    ms(r.before.quantile_us(0.99)),
                    ms(r.during.quantile_us(0.5)),
                    ms(r.during.quantile_us(0.99)),
                    r.before.rate(),
                    r.during.rate(),
                    r.before.errors,
                    r.during.errors,
                    secs(r.first_gone),
                    secs(r.drained),
                    r.busy.as_secs_f64(),
                    if r.busy.is_zero() {
                        "–".into()
                    } else {
                        format!("{:.0}", r.files as f64 / r.busy.as_secs_f64())
                    },
                    r.once,
                    r.twice,
                    r.never,
                    r.s_records,
                    r.left,
                    r.cpu_before.map_or("–".into(), |c| format!("{c:.1}")),
                    r.cpu_during.map_or("–".into(), |c| format!("{c:.1}")),
                    r.foreign_before,
                    r.foreign_during
                );
            }
            let _ = writeln!(
                s,
                "\nRenaming the files in took {}.\n",
                self.drain
                    .iter()
                    .map(|r| format!("{:.0} ms ({})", r.rename.as_secs_f64() * 1e3, r.daemon))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !self.close.is_empty() {
            let _ = writeln!(
                s,
                "### A lond that closes each link after one reply (`--close-after 1`)\n\n\
                 Closed-loop clients, each request distinct (`echo:<tag>-<client>-<n>`), for \
                 {:.1} s. *ran*: distinct requests in the lond's request log; *ran twice*: \
                 of those, the ones it ran more than once; *con_lost that ran*: `con_lost` \
                 answers for requests the lond had run (the daemon could not tell); *resent*: \
                 requests the daemon found unread on a link the lond had closed and sent again \
                 on another (its INFO lines `sending it again`).\n\n\
                 | daemon | clients | requests | ok | `con_lost` | other / no reply | ran | ran twice | `con_lost` that ran | resent | answered req/s | other load |\n\
                 |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
                o.close_secs.as_secs_f64()
            );
            for r in &self.close {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} ({}) | {} / {} | {} | {} | {} | {} | {:.0} | {:.0} % |",
                    r.daemon,
                    r.clients,
                    r.requests,
                    r.ok,
                    r.con_lost,
                    pct(r.con_lost, r.requests),
                    r.other,
                    r.failed,
                    r.executed,
                    r.twice,
                    r.con_lost_executed,
                    r.resent,
                    (r.ok + r.con_lost) as f64 / r.secs.max(1e-9),
                    r.foreign
                );
            }
            s.push('\n');
        }
        if !self.frozen.is_empty() {
            let _ = writeln!(
                s,
                "### A frozen lond\n\n\
                 The lond (a process of its own) is stopped with SIGSTOP once the daemon's links \
                 are up; then each client sends one request: as many as there are links go \
                 out on them, the rest wait in the queue. The daemon has `--step-timeout S` \
                 and `--request-timeout` at its default (S). *answered*: from each request's \
                 send to its answer. *after SIGCONT*: until a `ping` is answered by the lond \
                 again.\n\n\
                 | daemon | S | links | clients | answered min / p50 / max | `con_lost` / other / none | > S + 1 s | > 2 S | WARNINGs | after SIGCONT |\n\
                 |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            );
            for r in &self.frozen {
                let _ = writeln!(
                    s,
                    "| {} | {} s | {} | {} | {:.2} / {:.2} / {:.2} s | {} / {} / {} | {} | {} | {} | {} |",
                    r.daemon,
                    r.timeout,
                    r.max_links,
                    r.clients,
                    r.answered.min_us() / 1e6,
                    r.answered.quantile_us(0.5) / 1e6,
                    r.answered.max_us() / 1e6,
                    r.con_lost,
                    r.other,
                    r.failed,
                    r.over_tick,
                    r.over_twice,
                    r.warnings,
                    r.recovered
                        .map_or("–".into(), |d| format!("{:.0} ms", d.as_secs_f64() * 1e3))
                );
            }
            s.push('\n');
        }
        s
    }
}

/// The smoke version of every part against one daemon; panics if a part did not run, if a
/// spooled request was not delivered, or if anything ran twice. Returns the report. For a
/// `#[test]`: speeds are never asserted. `lond` starts the frozen part's lond: in a test
/// binary, [`Launcher::test_binary`] naming an `#[ignore]`d test that calls [`lond_if_asked`].
pub fn smoke(name: &str, daemon: &Path, lond: Launcher) -> String {
    let options = Options {
        daemons: vec![(name.to_string(), daemon.to_path_buf())],
        lond: Some(LondProgram::Launcher(lond)),
        ..Options::smoke()
    };
    let report = run(&options).expect("the delivery benchmark runs");
    let text = report.markdown();
    assert!(
        report.skipped.is_empty(),
        "skipped: {:?}\n{text}",
        report.skipped
    );
    assert_eq!(report.appear.len(), options.scans.len(), "appear\n{text}");
    for r in &report.appear {
        assert_eq!(
            (r.not_executed, r.not_removed),
            (0, 0),
            "appear: a spool file not delivered\n{text}"
        );
    }
    assert_eq!(report.drain.len(), 1, "drain\n{text}");
    for r in &report.drain {
        assert_eq!(
            (r.once, r.twice, r.never, r.left),
            (r.files, 0, 0, 0),
            "drain: every spooled request delivered exactly once\n{text}"
        );
        // Not the window 'during', which may be a single 50 ms poll on a fast drain.
        assert!(r.before.sent > 0, "drain: no live traffic\n{text}");
    }
    assert_eq!(report.close.len(), 1, "close-after-1\n{text}");
    for r in &report.close {
        assert!(r.requests > 0, "close-after-1: no request\n{text}");
        assert_eq!(r.twice, 0, "close-after-1: requests run twice\n{text}");
    }
    assert_eq!(report.frozen.len(), 1, "frozen\n{text}");
    for r in &report.frozen {
        assert_eq!(
            r.clients, options.clients,
            "frozen: a client missing\n{text}"
        );
    }
    text
}

//! The standard comparison: every set-up against the same simulated lond in one run, then the
//! daemons' memory and fail-fast figures, and a markdown report with the goals.

use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lonc_edge::sim::{Faults, Sim, SimConfig, free_port};

use super::cpu::{CpuSample, PerRequest};
use super::daemon::{Daemon, Layout, OWN_ID};
use super::load::{Load, Outcome, Target, closed_loop, open_loop};
use super::relay::{Launcher, RelayProcess, RelaySpec};

/// What to run and for how long.
#[derive(Clone, Debug)]
pub struct Options {
    /// A few seconds in all, to keep the tool working (CI); the figures mean nothing.
    pub smoke: bool,
    /// The smol daemon, set-up (c).
    pub lonc: Option<PathBuf>,
    /// The blocking daemon, set-up (d); `None` or a missing file is reported "not built".
    pub lonc_blocking: Option<PathBuf>,
    /// More daemon binaries, by name, measured in the interleaved rounds only (e.g. the
    /// daemons of an older commit, for a before/after comparison in one run).
    pub also: Vec<(String, PathBuf)>,
    /// How the null relay's process is started; `None`: set-up (b) is skipped.
    pub relay: Option<Launcher>,
    /// `--max-links` of the daemons and the null relay's link bound.
    pub max_links: usize,
    /// Closed-loop concurrencies.
    pub clients: Vec<usize>,
    /// Warm-up before each measured window.
    pub warmup: Duration,
    /// Each closed-loop measured window.
    pub measure: Duration,
    /// The open-loop measured window.
    pub open_measure: Duration,
    /// The open-loop rate; default half the null relay's closed-loop rate at 64 clients.
    pub rate: Option<f64>,
    /// Request size with its LF.
    pub size: usize,
    /// Run only the set-ups whose name contains one of these words (`direct`, `relay`,
    /// `lonc`, `blocking`); empty: all.
    pub only: Vec<String>,
    /// Skip the memory and fail-fast figures.
    pub no_memory: bool,
    /// Run the interleaved rounds only: no table of single points, no memory and fail-fast
    /// figures. The open loop runs at `rate` (default 10,000/s: no relay point sets it).
    pub rounds_only: bool,
    /// Hosts configured for the idle-memory figure.
    pub idle_hosts: usize,
    /// Extra idle links opened for the per-link memory figure.
    pub extra_links: usize,
    /// Requests timed against a dead host, and against a refusing one.
    pub fail_samples: usize,
    /// Interleaved rounds of the headline points (64 clients plain, `encrypt:` and with kept
    /// connections, the open loop) for the goals, which use each point's median; 0: the goals
    /// use the table's points.
    pub rounds: usize,
}

impl Options {
    pub fn standard() -> Options {
        Options {
            smoke: false,
            lonc: None,
            lonc_blocking: None,
            also: Vec::new(),
            relay: None,
            max_links: 10,
            clients: vec![1, 16, 64, 256],
            warmup: Duration::from_millis(500),
            measure: Duration::from_secs(2),
            open_measure: Duration::from_secs(4),
            rate: None,
            only: Vec::new(),
            no_memory: false,
            rounds_only: false,
            size: 100,
            idle_hosts: 500,
            extra_links: 400,
            fail_samples: 2000,
            rounds: 5,
        }
    }

    pub fn smoke() -> Options {
        Options {
            smoke: true,
            clients: vec![1, 16],
            warmup: Duration::from_millis(50),
            measure: Duration::from_millis(200),
            open_measure: Duration::from_millis(300),
            rate: Some(2000.0),
            extra_links: 20,
            fail_samples: 50,
            rounds: 1,
            ..Options::standard()
        }
    }
}

/// The concurrency of the headline figures.
const HEADLINE_C: usize = 64;

/// One measured line of the throughput/latency table.
pub struct Row {
    /// Percent of the machine other processes used meanwhile.
    pub foreign_pct: f64,
    /// CPU time per request sent: the daemon's and the bench's own.
    pub cpu: PerRequest,
    pub setup: &'static str,
    pub mode: &'static str,
    pub clients: String,
    pub out: Outcome,
}

/// Memory and fail-fast figures of one daemon.
pub struct DaemonFigures {
    pub idle_rss_kib: u64,
    pub links_opened: u64,
    pub rss_one_link_kib: u64,
    pub rss_many_links_kib: u64,
    pub per_link_kib: f64,
    pub peak_after_load_kib: u64,
    pub dead: Outcome,
    pub refused: Outcome,
}

/// Everything the standard run measured.
pub struct Report {
    pub options: Options,
    pub rate: f64,
    pub rows: Vec<Row>,
    /// The headline points measured again in interleaved rounds, for the goals.
    pub rounds: Vec<Row>,
    /// Set-ups not measured and why.
    pub skipped: Vec<(&'static str, String)>,
    pub daemons: Vec<(&'static str, DaemonFigures)>,
    /// The null relay answering every request `con_lost` at once: the dead-host floor.
    pub relay_dead: Option<Outcome>,
    pub secs: f64,
    /// The pid of the daemon being measured, if any.
    daemon_pid: Option<u32>,
}

/// The set-ups, as rows name them.
pub const DIRECT: &str = "(a) direct";
pub const RELAY: &str = "(b) null relay";
pub const LONC: &str = "(c) lonc";
pub const BLOCKING: &str = "(d) lonc-blocking";

const PLAIN: &str = "plain";
const ENCRYPT: &str = "encrypt";
const KEEP: &str = "plain, kept conn";
const OPEN: &str = "plain, open loop";

fn say(line: impl AsRef<str>) {
    eprintln!("lonc-bench: {}", line.as_ref());
}

/// Hosts of the throughput layout: `alpha` (the simulated lond), `refusing` (nothing
/// listens) and `dead` (nothing listens; marked dead before it is timed).
const ALPHA: [u8; 4] = [127, 0, 0, 2];
const REFUSING: [u8; 4] = [127, 0, 0, 3];
const DEAD: [u8; 4] = [127, 0, 0, 4];
/// The simulated lond behind every host of the idle-memory layout.
const FILL: [u8; 4] = [127, 0, 0, 5];

fn sim(host: &str, ip: [u8; 4], port: u16) -> io::Result<Sim> {
    Sim::start(SimConfig {
        listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port),
        host_id: host.into(),
        client_id: OWN_ID.into(),
        faults: Faults::default(),
        request_log: None,
    })
}

fn daemon_bin(path: &Option<PathBuf>) -> Result<PathBuf, String> {
    match path {
        Some(p) if p.is_file() => Ok(p.clone()),
        Some(p) => Err(format!("not built ({} does not exist)", p.display())),
        None => Err("not built".into()),
    }
}

impl Options {
    fn wants(&self, setup: &str) -> bool {
        self.only.is_empty()
            || self.only.iter().any(|w| {
                let w = w.as_str();
                setup.contains(w) && !(w == "lonc" && setup.contains("blocking"))
            })
    }
}

/// Lets the previous set-up's threads and sockets wind down before the next one starts.
fn pause(options: &Options) {
    std::thread::sleep(Duration::from_millis(if options.smoke { 10 } else { 300 }));
}

/// Runs the standard comparison.
pub fn run(options: &Options) -> io::Result<Report> {
    let started = Instant::now();
    // The londs share londPort; nothing may listen on it at REFUSING and DEAD.
    let port = free_port(&[ALPHA, REFUSING, DEAD, FILL].map(IpAddr::from))?;
    let alpha = sim("alpha", ALPHA, port)?;
    let _fill = sim("fill", FILL, port)?;
    let mut report = Report {
        options: options.clone(),
        rate: options.rate.unwrap_or(0.0),
        rows: Vec::new(),
        rounds: Vec::new(),
        skipped: Vec::new(),
        daemons: Vec::new(),
        relay_dead: None,
        secs: 0.0,
        daemon_pid: None,
    };
    let max_c = options.clients.iter().copied().max().unwrap_or(1);

    if options.rounds_only {
        report.rate = options.rate.unwrap_or(10_000.0);
        goal_rounds(&mut report, alpha.addr(), port)?;
        report.secs = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    // (b) first: its rate at 64 clients sets the open-loop rate of every set-up.
    if options.wants(RELAY) {
        match &options.relay {
            Some(launcher) => measure_relay(&mut report, launcher, alpha.addr(), max_c)?,
            None => {
                let why = "no way to start its process was given".to_string();
                say(format!("{RELAY}: {why}"));
                report.skipped.push((RELAY, why));
            }
        }
    }

    let direct = Target::Direct {
        addr: alpha.addr(),
        peer_id: "alpha".into(),
        own_id: OWN_ID.into(),
    };
    if report.rate == 0.0 {
        report.rate = 10_000.0;
    }
    if options.wants(DIRECT) {
        pause(options);
        measure_setup(&mut report, DIRECT, direct.clone(), false)?;
        let row = open_point(&report, DIRECT, direct)?;
        report.rows.push(row);
    }

    for (name, bin) in [(LONC, &options.lonc), (BLOCKING, &options.lonc_blocking)] {
        if !options.wants(name) {
            continue;
        }
        pause(options);
        let bin = match daemon_bin(bin) {
            Ok(bin) => bin,
            Err(why) => {
                say(format!("{name}: {why}"));
                report.skipped.push((name, why));
                continue;
            }
        };
        let figures = measure_daemon(&mut report, name, &bin, port)?;
        if !options.no_memory {
            report.daemons.push((name, figures));
        }
    }
    goal_rounds(&mut report, alpha.addr(), port)?;
    report.secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The null relay's points, run as its own process; then its dead-host floor.
fn measure_relay(
    report: &mut Report,
    launcher: &Launcher,
    alpha: SocketAddr,
    max_c: usize,
) -> io::Result<()> {
    let options = report.options.clone();
    let dir = tempfile::Builder::new().prefix("lonc-bench-").tempdir()?;
    let path = dir.path().join("alpha");
    let relay = RelayProcess::start(
        launcher,
        &relay_spec(
            path.clone(),
            alpha,
            max_c.max(HEADLINE_C) + 8,
            options.max_links,
        ),
    )?;
    report.daemon_pid = Some(relay.pid());
    let measured = measure_setup(report, RELAY, Target::Unix(path.clone()), true);
    report.daemon_pid = None;
    measured?;
    if options.rate.is_none() {
        let headline = report
            .rate_of(RELAY, PLAIN, HEADLINE_C)
            .or_else(|| {
                report
                    .rows
                    .iter()
                    .find(|r| r.mode == PLAIN)
                    .map(|r| r.out.rate())
            })
            .unwrap_or(1000.0);
        report.rate = (headline / 2.0).max(100.0);
    }
    report.daemon_pid = Some(relay.pid());
    let row = open_point(report, RELAY, Target::Unix(path));
    report.daemon_pid = None;
    report.rows.push(row?);
    drop(relay);
    if !options.no_memory {
        let dead_path = dir.path().join("dead");
        let _dead = RelayProcess::start(launcher, &relay_spec(dead_path.clone(), alpha, 2, 0))?;
        report.relay_dead = Some(timed_requests(
            &dead_path,
            options.fail_samples,
            b"con_lost",
        )?);
    }
    Ok(())
}

fn relay_spec(socket: PathBuf, lond: SocketAddr, threads: usize, max_links: usize) -> RelaySpec {
    RelaySpec {
        socket,
        lond,
        peer_id: "alpha".into(),
        own_id: OWN_ID.into(),
        threads,
        max_links,
    }
}

fn point(
    report: &Report,
    setup: &'static str,
    mode: &'static str,
    clients: usize,
    load: &Load,
) -> io::Result<Row> {
    let o = &report.options;
    let cpu = CpuSample::now(report.daemon_pid);
    let out = closed_loop(load, clients, o.warmup, o.measure)?;
    let after = CpuSample::now(report.daemon_pid);
    let foreign_pct = cpu.foreign_pct_since(&after);
    let per_req = cpu.per_request(&after, out.sent, report.daemon_pid.is_some());
    say(format!(
        "{setup:18} {mode:17} C={clients:<4} {:>9.0} req/s  p50 {:>7.1} µs  p99 {:>8.1} µs  errors {}  daemon {}  other load {foreign_pct:.0} %",
        out.rate(),
        out.quantile_us(0.5),
        out.quantile_us(0.99),
        out.errors,
        cpu_text(per_req.daemon_us)
    ));
    Ok(Row {
        foreign_pct,
        cpu: per_req,
        setup,
        mode,
        clients: clients.to_string(),
        out,
    })
}

/// The closed-loop points of one set-up; `unix` set-ups also get the kept-connection point.
fn measure_setup(
    report: &mut Report,
    setup: &'static str,
    target: Target,
    unix: bool,
) -> io::Result<()> {
    let size = report.options.size;
    let clients = report.options.clients.clone();
    let headline = if clients.contains(&HEADLINE_C) {
        HEADLINE_C
    } else {
        *clients.last().unwrap_or(&1)
    };
    let plain = Load::echo(target.clone(), size, false, false);
    let encrypt = Load::echo(target.clone(), size, true, false);
    for &c in &clients {
        let row = point(report, setup, PLAIN, c, &plain)?;
        report.rows.push(row);
    }
    for &c in &clients {
        let row = point(report, setup, ENCRYPT, c, &encrypt)?;
        report.rows.push(row);
    }
    if unix {
        let keep = Load::echo(target.clone(), size, false, true);
        let row = point(report, setup, KEEP, headline, &keep)?;
        report.rows.push(row);
    }
    Ok(())
}

/// A daemon's CPU time per request for the report, or "–" where no daemon was measured.
fn cpu_text(us: Option<f64>) -> String {
    us.map_or("–".into(), |us| format!("{us:.1} µs/req"))
}

/// The open-loop point at the report's rate.
fn open_point(report: &Report, setup: &'static str, target: Target) -> io::Result<Row> {
    let o = &report.options;
    let load = Load::echo(target, o.size, false, false);
    let cpu = CpuSample::now(report.daemon_pid);
    let out = open_loop(&load, report.rate, HEADLINE_C, o.warmup, o.open_measure)?;
    let after = CpuSample::now(report.daemon_pid);
    let foreign_pct = cpu.foreign_pct_since(&after);
    let per_req = cpu.per_request(&after, out.sent, report.daemon_pid.is_some());
    say(format!(
        "{setup:18} {OPEN:17} {:>6.0}/s  p50 {:>7.1} µs  p99 {:>8.1} µs  p99.9 {:>8.1} µs  max {:>8.1} µs  errors {}  daemon {}  other load {foreign_pct:.0} %",
        report.rate,
        out.quantile_us(0.5),
        out.quantile_us(0.99),
        out.quantile_us(0.999),
        out.max_us(),
        out.errors,
        cpu_text(per_req.daemon_us)
    ));
    Ok(Row {
        foreign_pct,
        cpu: per_req,
        setup,
        mode: OPEN,
        clients: format!("{:.0}/s", report.rate),
        out,
    })
}

/// The headline points again, for the goals: the null relay and both daemons run at once and
/// take turns, point by point, for `rounds` rounds, so that a slow moment of the shared
/// machine falls on every set-up alike; the goals use each point's median.
fn goal_rounds(report: &mut Report, alpha: SocketAddr, port: u16) -> io::Result<()> {
    let o = report.options.clone();
    if o.rounds == 0 {
        return Ok(());
    }
    let dir = tempfile::Builder::new().prefix("lonc-bench-").tempdir()?;
    let relay_path = dir.path().join("alpha");
    let relay = match (&o.relay, o.wants(RELAY)) {
        (Some(launcher), true) => Some(RelayProcess::start(
            launcher,
            &relay_spec(relay_path.clone(), alpha, HEADLINE_C + 8, o.max_links),
        )?),
        _ => None,
    };
    let hosts = [("alpha".to_string(), Ipv4Addr::from(ALPHA))];
    let args = ["--max-links".to_string(), o.max_links.to_string()];
    let mut bins: Vec<(&'static str, PathBuf)> = Vec::new();
    for (name, bin) in [(LONC, &o.lonc), (BLOCKING, &o.lonc_blocking)] {
        if let (true, Ok(bin)) = (o.wants(name), daemon_bin(bin)) {
            bins.push((name, bin));
        }
    }
    for (name, bin) in &o.also {
        match daemon_bin(&Some(bin.clone())) {
            Ok(bin) => bins.push((also_name(name), bin)),
            Err(why) => {
                say(format!("{name}: {why}"));
                report.skipped.push((also_name(name), why));
            }
        }
    }
    let mut daemons = Vec::new();
    for (name, bin) in bins {
        daemons.push((
            name,
            Daemon::start(&bin, Layout::new(port, &hosts)?, &args)?,
        ));
    }
    let mut setups: Vec<(&'static str, Target, u32)> = Vec::new();
    if let Some(relay) = &relay {
        setups.push((RELAY, Target::Unix(relay_path.clone()), relay.pid()));
    }
    for (name, daemon) in &daemons {
        let target = Target::Unix(daemon.layout.socket("alpha"));
        setups.push((name, target, daemon.pid()));
    }
    for round in 1..=o.rounds {
        say(format!("goal round {round} of {}", o.rounds));
        for (name, target, pid) in &setups {
            report.daemon_pid = Some(*pid);
            for (mode, encrypt, keep) in [
                (PLAIN, false, false),
                (ENCRYPT, true, false),
                (KEEP, false, true),
            ] {
                let load = Load::echo(target.clone(), o.size, encrypt, keep);
                let row = point(report, name, mode, HEADLINE_C, &load);
                row.map(|row| report.rounds.push(row))?;
            }
            let row = open_point(report, name, target.clone());
            row.map(|row| report.rounds.push(row))?;
        }
    }
    report.daemon_pid = None;
    Ok(())
}

/// The set-up name of a daemon given with `--also`.
fn also_name(name: &str) -> &'static str {
    // A handful per run, for the report's lifetime.
    Box::leak(format!("(e) {name}").into_boxed_str())
}

/// Throughput, latency, memory and fail-fast of one daemon binary.
fn measure_daemon(
    report: &mut Report,
    name: &'static str,
    bin: &std::path::Path,
    port: u16,
) -> io::Result<DaemonFigures> {
    let o = report.options.clone();
    let hosts = [
        ("alpha".to_string(), Ipv4Addr::from(ALPHA)),
        ("refusing".to_string(), Ipv4Addr::from(REFUSING)),
        ("dead".to_string(), Ipv4Addr::from(DEAD)),
    ];
    let max_links = o.max_links.to_string();

    // Throughput and latency; then the dead host (2 retries, never probed during the run).
    let main = Daemon::start(
        bin,
        Layout::new(port, &hosts)?,
        &[
            "--max-links",
            &max_links,
            "--retries",
            "2",
            "--probe-min",
            "3600",
            "--probe-max",
            "3600",
        ]
        .map(String::from),
    )?;
    let target = Target::Unix(main.layout.socket("alpha"));
    report.daemon_pid = Some(main.pid());
    let measured = measure_setup(report, name, target.clone(), true)
        .and_then(|()| open_point(report, name, target))
        .map(|row| report.rows.push(row));
    report.daemon_pid = None;
    measured?;
    let peak_after_load_kib = main.hwm_kib()?;
    if o.no_memory {
        return Ok(DaemonFigures {
            idle_rss_kib: 0,
            links_opened: 0,
            rss_one_link_kib: 0,
            rss_many_links_kib: 0,
            per_link_kib: 0.0,
            peak_after_load_kib,
            dead: timed_requests(&main.layout.socket("dead"), 0, b"")?,
            refused: timed_requests(&main.layout.socket("dead"), 0, b"")?,
        });
    }
    let dead_socket = main.layout.socket("dead");
    for _ in 0..2 {
        let _ = timed_request(&dead_socket, b"ping\n");
    }
    let dead = timed_requests(&dead_socket, o.fail_samples, b"con_lost")?;
    drop(main);

    // A host whose address refuses connections: every request is a connection attempt.
    let refusing = Daemon::start(
        bin,
        Layout::new(port, &hosts)?,
        &["--retries", "4000000000"].map(String::from),
    )?;
    let refused = timed_requests(
        &refusing.layout.socket("refusing"),
        o.fail_samples.min(500),
        b"con_lost",
    )?;
    drop(refusing);

    // Memory: many configured hosts, no traffic; then one idle link per host to `extra_links`
    // hosts that share one simulated lond.
    let many: Vec<(String, Ipv4Addr)> = (0..o.idle_hosts)
        .map(|i| (format!("h{i:04}"), Ipv4Addr::from(FILL)))
        .collect();
    let idle = Daemon::start(
        bin,
        Layout::new(port, &many)?,
        &["--max-links", "1"].map(String::from),
    )?;
    std::thread::sleep(Duration::from_millis(if o.smoke { 50 } else { 500 }));
    let idle_rss_kib = idle.rss_kib()?;
    let echo = b"echo:x\n";
    expect(&idle.layout.socket(&many[0].0), echo, b"x")?;
    settle(o.smoke);
    let rss_one_link_kib = idle.rss_kib()?;
    let extra = o.extra_links.min(many.len().saturating_sub(1));
    for (host, _) in &many[1..=extra] {
        expect(&idle.layout.socket(host), echo, b"x")?;
    }
    settle(o.smoke);
    let rss_many_links_kib = idle.rss_kib()?;
    let per_link_kib =
        (rss_many_links_kib as f64 - rss_one_link_kib as f64) / (extra.max(1) as f64);
    drop(idle);
    let figures = DaemonFigures {
        idle_rss_kib,
        links_opened: extra as u64 + 1,
        rss_one_link_kib,
        rss_many_links_kib,
        per_link_kib,
        peak_after_load_kib,
        dead,
        refused,
    };
    say(format!(
        "{name}: idle RSS {} KiB with {} hosts; {:.1} KiB per idle link ({} links); dead host p99 {:.1} µs; refused p99 {:.1} µs",
        figures.idle_rss_kib,
        o.idle_hosts,
        figures.per_link_kib,
        figures.links_opened,
        figures.dead.quantile_us(0.99),
        figures.refused.quantile_us(0.99),
    ));
    Ok(figures)
}

fn settle(smoke: bool) {
    std::thread::sleep(Duration::from_millis(if smoke { 20 } else { 200 }));
}

fn expect(socket: &std::path::Path, line: &[u8], want: &[u8]) -> io::Result<()> {
    let (_, reply) = timed_request(socket, line)?;
    if reply == want {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{}: expected {:?}, got {:?}",
            socket.display(),
            String::from_utf8_lossy(want),
            String::from_utf8_lossy(&reply)
        )))
    }
}

/// One lonnet-style request: connect, write, read the reply line, close.
fn timed_request(socket: &std::path::Path, line: &[u8]) -> io::Result<(Duration, Vec<u8>)> {
    use std::io::{Read, Write};
    let t = Instant::now();
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(line)?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 256];
    while reply.last() != Some(&b'\n') {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&chunk[..n]);
    }
    let elapsed = t.elapsed();
    if reply.pop() != Some(b'\n') {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok((elapsed, reply))
}

/// `n` sequential `ping`s, each expected to be answered `want`; their latencies.
fn timed_requests(socket: &std::path::Path, n: usize, want: &[u8]) -> io::Result<Outcome> {
    let mut out = Outcome::new();
    let t = Instant::now();
    for _ in 0..n {
        out.sent += 1;
        match timed_request(socket, b"ping\n") {
            Ok((d, reply)) if reply == want => {
                out.ok += 1;
                let _ = out.hist.record(d.as_nanos() as u64);
            }
            _ => out.errors += 1,
        }
    }
    out.secs = t.elapsed().as_secs_f64();
    Ok(out)
}

// ---------------------------------------------------------------- the report

fn find<'a>(rows: &'a [Row], setup: &str, mode: &str, clients: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.setup == setup && r.mode == mode && r.clients == clients)
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".into()
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

impl Report {
    fn rate_of(&self, setup: &str, mode: &str, c: usize) -> Option<f64> {
        find(&self.rows, setup, mode, &c.to_string()).map(|r| r.out.rate())
    }

    fn open_p99(&self, setup: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.setup == setup && r.mode == OPEN)
            .map(|r| r.out.quantile_us(0.99))
    }

    /// The report as markdown.
    pub fn markdown(&self) -> String {
        let o = &self.options;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}{} set-ups, one simulated lond (`lonc_edge::sim::Sim`, thread per link), \
             {}-byte requests (`echo:…`, `encrypt:echo:…`), closed loop {} s per point after \
             {} s warm-up; daemons and null relay with at most {} links; {} cores; whole run {:.0} s.\n",
            if o.smoke {
                "**SMOKE RUN: figures meaningless.** "
            } else {
                ""
            },
            2 + self.daemons.len(),
            o.size,
            o.measure.as_secs_f64(),
            o.warmup.as_secs_f64(),
            o.max_links,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            self.secs,
        );
        let _ = writeln!(
            s,
            "*other load*: share of the machine's CPU time used by processes other than the \
             bench and the process under test during the point (anything above a few % makes \
             that point unreliable). *daemon CPU*: the user and system time of the process \
             under test (the daemon, or for (b) the relay, which runs as a process of its own) \
             over the point divided by the requests sent, warm-up included: the figure least \
             moved by the machine's noise. *bench CPU*: the same for this process (the load and \
             the simulated lond), which shares the machine with the daemon: at N cores a rate R \
             leaves the daemon at most N × 10⁶ / R − bench CPU µs per request.\n"
        );
        for (name, why) in &self.skipped {
            let _ = writeln!(s, "{name}: {why}.\n");
        }
        if !self.rows.is_empty() {
            let _ = writeln!(
                s,
                "| set-up | requests | C | req/s | p50 µs | p99 µs | p99.9 µs | max µs | errors | × (b) | × (a) | daemon CPU | bench CPU | other load |"
            );
            let _ = writeln!(
                s,
                "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            );
            for r in &self.rows {
                let (vs_b, vs_a) = if r.mode == OPEN {
                    let p99 = r.out.quantile_us(0.99);
                    (
                        self.open_p99(RELAY)
                            .map_or("–".into(), |b| format!("p99 {}", ratio(p99, b))),
                        self.open_p99(DIRECT)
                            .map_or("–".into(), |a| format!("p99 {}", ratio(p99, a))),
                    )
                } else {
                    let direct_mode = if r.mode == KEEP { PLAIN } else { r.mode };
                    (
                        find(&self.rows, RELAY, r.mode, &r.clients)
                            .map_or("–".into(), |b| ratio(r.out.rate(), b.out.rate())),
                        find(&self.rows, DIRECT, direct_mode, &r.clients)
                            .map_or("–".into(), |a| ratio(r.out.rate(), a.out.rate())),
                    )
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {:.0} % |",
                    r.setup,
                    r.mode,
                    r.clients,
                    r.out.rate(),
                    r.out.quantile_us(0.5),
                    r.out.quantile_us(0.99),
                    r.out.quantile_us(0.999),
                    r.out.max_us(),
                    r.out.errors,
                    vs_b,
                    vs_a,
                    cpu_text(r.cpu.daemon_us),
                    cpu_text(Some(r.cpu.bench_us)),
                    r.foreign_pct
                );
            }
        }
        if !self.daemons.is_empty() {
            let _ = writeln!(
                s,
                "\nMemory (VmRSS) and fail-fast (sequential lonnet-style requests, connect to close):\n"
            );
            let _ = writeln!(
                s,
                "| daemon | idle, {} hosts | 1 link | {} links | per extra idle link | peak after load | dead host p50 / p99 / max | refused p50 / p99 / max |",
                o.idle_hosts, self.daemons[0].1.links_opened
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
            for (name, d) in &self.daemons {
                let _ = writeln!(
                    s,
                    "| {name} | {} | {} | {} | {:.1} KiB | {} | {:.0} / {:.0} / {:.0} µs | {:.0} / {:.0} / {:.0} µs |",
                    mib(d.idle_rss_kib),
                    mib(d.rss_one_link_kib),
                    mib(d.rss_many_links_kib),
                    d.per_link_kib,
                    mib(d.peak_after_load_kib),
                    d.dead.quantile_us(0.5),
                    d.dead.quantile_us(0.99),
                    d.dead.max_us(),
                    d.refused.quantile_us(0.5),
                    d.refused.quantile_us(0.99),
                    d.refused.max_us(),
                );
            }
            if let Some(floor) = &self.relay_dead {
                let _ = writeln!(
                    s,
                    "| {RELAY}, answering `con_lost` at once (the floor) | – | – | – | – | – | {:.0} / {:.0} / {:.0} µs | – |",
                    floor.quantile_us(0.5),
                    floor.quantile_us(0.99),
                    floor.max_us(),
                );
            }
        }
        s.push_str(&self.goals());
        s
    }

    /// A goal's figure for a set-up's headline point: the median over the interleaved rounds
    /// where there were rounds, else the table's point.
    fn goal_figure(&self, setup: &str, mode: &str, f: impl Fn(&Row) -> Option<f64>) -> Option<f64> {
        let headline = HEADLINE_C.to_string();
        let of = |rows: &[Row], any_clients: bool| -> Vec<f64> {
            rows.iter()
                .filter(|r| r.setup == setup && r.mode == mode)
                .filter(|r| any_clients || r.mode == OPEN || r.clients == headline)
                .filter_map(&f)
                .collect()
        };
        let mut values = of(&self.rounds, true);
        if values.is_empty() {
            values = of(&self.rows, false);
        }
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied()
    }

    /// The set-ups of the rounds, in the order they ran.
    fn round_setups(&self) -> Vec<&'static str> {
        let mut setups: Vec<&'static str> = Vec::new();
        for r in &self.rounds {
            if !setups.contains(&r.setup) {
                setups.push(r.setup);
            }
        }
        setups
    }

    /// Each set-up's medians over the rounds, one line each.
    fn medians(&self) -> String {
        let mut s = format!(
            "\nMedians of the {} rounds ({HEADLINE_C} clients; daemon CPU in µs per request; \
             other load: the largest of the set-up's points):\n\n\
             | set-up | plain req/s | CPU | `encrypt:` req/s | CPU | kept conn req/s | CPU | \
             open loop {:.0}/s p50 / p99 µs | CPU | other load |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            self.options.rounds, self.rate
        );
        let rate = |r: &Row| Some(r.out.rate());
        let cpu = |r: &Row| r.cpu.daemon_us;
        let num = |v: Option<f64>, digits: usize| {
            v.map_or("–".to_string(), |v| format!("{v:.digits$}"))
        };
        for setup in self.round_setups() {
            let foreign = self
                .rounds
                .iter()
                .filter(|r| r.setup == setup)
                .map(|r| r.foreign_pct)
                .fold(0.0, f64::max);
            let _ = writeln!(
                s,
                "| {setup} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {foreign:.0} % |",
                num(self.goal_figure(setup, PLAIN, rate), 0),
                num(self.goal_figure(setup, PLAIN, cpu), 1),
                num(self.goal_figure(setup, ENCRYPT, rate), 0),
                num(self.goal_figure(setup, ENCRYPT, cpu), 1),
                num(self.goal_figure(setup, KEEP, rate), 0),
                num(self.goal_figure(setup, KEEP, cpu), 1),
                num(
                    self.goal_figure(setup, OPEN, |r| Some(r.out.quantile_us(0.5))),
                    0
                ),
                num(
                    self.goal_figure(setup, OPEN, |r| Some(r.out.quantile_us(0.99))),
                    0
                ),
                num(self.goal_figure(setup, OPEN, cpu), 1),
            );
        }
        s
    }

    fn goals(&self) -> String {
        let mut s = String::new();
        if !self.rounds.is_empty() {
            let _ = writeln!(
                s,
                "\nThe goals use the median of {} interleaved rounds of the headline points (the \
                 set-ups take turns, point by point), not the single points above:",
                self.options.rounds
            );
            let _ = writeln!(
                s,
                "\n| round point | requests | req/s | p50 µs | p99 µs | daemon CPU | other load |\n|---|---|---:|---:|---:|---:|---:|"
            );
            for r in &self.rounds {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.0} | {:.1} | {:.1} | {} | {:.0} % |",
                    r.setup,
                    r.mode,
                    r.out.rate(),
                    r.out.quantile_us(0.5),
                    r.out.quantile_us(0.99),
                    cpu_text(r.cpu.daemon_us),
                    r.foreign_pct
                );
            }
            s.push_str(&self.medians());
        }
        s.push_str("\n| goal | measured | |\n|---|---|---|\n");
        let mut goal = |what: String, measured: String, met: Option<bool>| {
            let verdict = match met {
                Some(true) => "met",
                Some(false) => "**missed**",
                None => "not measured",
            };
            let _ = writeln!(s, "| {what} | {measured} | {verdict} |");
        };
        let c = HEADLINE_C;
        let req_s = |r: &Row| Some(r.out.rate());
        let p99 = |r: &Row| Some(r.out.quantile_us(0.99));
        let relay = self.goal_figure(RELAY, PLAIN, req_s);
        for name in [LONC, BLOCKING] {
            let Some(rate) = self.goal_figure(name, PLAIN, req_s) else {
                let why = if self.skipped.iter().any(|(n, _)| *n == name) {
                    "not built".to_string()
                } else {
                    format!("no {c}-client point in this run")
                };
                goal(format!("{name}: throughput goals"), why, None);
                continue;
            };
            if let Some(b) = relay {
                goal(
                    format!("{name} ≥ 0.9 × null relay, {c} clients, plain"),
                    format!("{rate:.0} vs {b:.0} req/s = {:.3}×", rate / b),
                    Some(rate >= 0.9 * b),
                );
            }
            // What 40,000 req/s would leave the daemon of the machine's CPU, at the bench's own
            // cost per request at this point.
            let daemon_cpu = self.goal_figure(name, PLAIN, |r| r.cpu.daemon_us);
            let bench_cpu = self.goal_figure(name, PLAIN, |r| Some(r.cpu.bench_us));
            let budget = daemon_cpu
                .zip(bench_cpu)
                .map_or(String::new(), |(daemon, bench)| {
                    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                    format!(
                        "; at 40,000 req/s the load and lond ({bench:.1} µs/req) would leave the \
                         daemon {:.1} µs/req of {cores} cores; it uses {daemon:.1}",
                        cores as f64 * 1e6 / 40_000.0 - bench
                    )
                });
            goal(
                format!("{name} ≥ 40,000 req/s, {c} clients, plain"),
                format!("{rate:.0} req/s{budget}"),
                Some(rate >= 40_000.0),
            );
            let open = (
                self.goal_figure(name, OPEN, p99),
                self.goal_figure(RELAY, OPEN, p99),
            );
            if let (Some(p), Some(b)) = open {
                goal(
                    format!(
                        "{name} p99 ≤ 1.2 × null relay's, open loop at {:.0} req/s",
                        self.rate
                    ),
                    format!("{p:.1} vs {b:.1} µs = {:.3}×", p / b),
                    Some(p <= 1.2 * b),
                );
            }
            if let Some(e) = self.goal_figure(name, ENCRYPT, req_s) {
                goal(
                    format!("{name} encrypt ≥ 0.8 × plain, {c} clients"),
                    format!("{e:.0} vs {rate:.0} req/s = {:.3}×", e / rate),
                    Some(e >= 0.8 * rate),
                );
            }
            if name == BLOCKING
                && let Some(smol) = self.goal_figure(LONC, PLAIN, req_s)
            {
                goal(
                    format!("{name} within 25 % of lonc, {c} clients, plain"),
                    format!("{rate:.0} vs {smol:.0} req/s = {:.3}×", rate / smol),
                    Some(rate >= 0.75 * smol),
                );
            }
            let cpu = self.goal_figure(name, PLAIN, |r| r.cpu.daemon_us);
            if let (Some(cpu), Some(relay_cpu)) =
                (cpu, self.goal_figure(RELAY, PLAIN, |r| r.cpu.daemon_us))
            {
                goal(
                    format!("{name} CPU per request ≤ the null relay's, {c} clients, plain"),
                    format!("{cpu:.1} vs {relay_cpu:.1} µs = {:.3}×", cpu / relay_cpu),
                    Some(cpu <= relay_cpu),
                );
            }
            if name == LONC {
                let blocking_rate = self.goal_figure(BLOCKING, PLAIN, req_s);
                let blocking_cpu = self.goal_figure(BLOCKING, PLAIN, |r| r.cpu.daemon_us);
                if let Some(b) = blocking_rate {
                    goal(
                        format!("{name} rate within 10 % of lonc-blocking's, {c} clients, plain"),
                        format!("{rate:.0} vs {b:.0} req/s = {:.3}×", rate / b),
                        Some(rate >= 0.9 * b),
                    );
                }
                if let (Some(cpu), Some(b)) = (cpu, blocking_cpu) {
                    goal(
                        format!(
                            "{name} CPU per request within 10 % of lonc-blocking's, {c} clients, plain"
                        ),
                        format!("{cpu:.1} vs {b:.1} µs = {:.3}×", cpu / b),
                        Some(cpu <= 1.1 * b),
                    );
                }
            }
            if let Some((_, d)) = self.daemons.iter().find(|(n, _)| *n == name) {
                goal(
                    format!(
                        "{name} idle RSS ≤ 8 MiB with {} hosts",
                        self.options.idle_hosts
                    ),
                    mib(d.idle_rss_kib),
                    Some(d.idle_rss_kib <= 8 * 1024),
                );
                goal(
                    format!("{name} ≤ 16 KiB per idle handshaken link"),
                    format!("{:.1} KiB", d.per_link_kib),
                    Some(d.per_link_kib <= 16.0),
                );
                let dead_p99 = d.dead.quantile_us(0.99);
                goal(
                    format!("{name} dead host answered ≤ 100 µs (p99)"),
                    format!(
                        "p99 {dead_p99:.0} µs, max {:.0} µs, {} errors{}",
                        d.dead.max_us(),
                        d.dead.errors,
                        self.relay_dead.as_ref().map_or(String::new(), |f| format!(
                            " (the null relay answering at once: p99 {:.0} µs)",
                            f.quantile_us(0.99)
                        ))
                    ),
                    Some(dead_p99 <= 100.0 && d.dead.errors == 0),
                );
                let refused_max = d.refused.max_us();
                goal(
                    format!("{name} refusing host answered con_lost ≤ 5 ms (max)"),
                    format!(
                        "p99 {:.0} µs, max {refused_max:.0} µs, {} errors",
                        d.refused.quantile_us(0.99),
                        d.refused.errors
                    ),
                    Some(refused_max <= 5000.0 && d.refused.errors == 0),
                );
            }
        }
        s
    }
}

//! `lonc-bench syscalls`: the system calls each server makes per request, counted by the
//! kernel's syscall tracepoints (`perf stat -e syscalls:sys_enter_…`) while the bench's load
//! runs against it. Unlike rates and CPU times, these counts hardly depend on what else the
//! machine is doing, so they show what a runtime change did even on a busy machine. Needs
//! `perf` and the right to trace the server (root, or `kernel.perf_event_paranoid` ≤ -1).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use lonc_edge::sim::{Faults, Sim, SimConfig, free_port};

use super::daemon::{Daemon, Layout, OWN_ID};
use super::load::{Load, Target, closed_loop, open_loop};
use super::relay::{Launcher, RelayProcess, RelaySpec};

/// What to count and against what.
#[derive(Clone, Debug)]
pub struct Options {
    /// The servers, by name: daemon binaries.
    pub daemons: Vec<(String, PathBuf)>,
    /// The null relay's process too, if given.
    pub relay: Option<Launcher>,
    /// Closed-loop clients.
    pub clients: usize,
    /// Seconds counted per point.
    pub secs: f64,
    /// Open-loop rates (requests per second), one point each.
    pub rates: Vec<f64>,
    pub max_links: usize,
    pub size: usize,
}

/// The syscalls counted one by one; everything else is counted in "other".
const NAMED: &[&str] = &[
    "accept4",
    "accept",
    "recvfrom",
    "read",
    "sendto",
    "write",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_ctl",
    "timerfd_settime",
    "futex",
    "close",
    "ioctl",
    "fcntl",
    "shutdown",
    "sched_yield",
    "clock_nanosleep",
    "mmap",
    "munmap",
    "madvise",
    "brk",
];

/// The columns of the report: a label and the syscalls it sums.
const COLUMNS: &[(&str, &[&str])] = &[
    ("accept", &["accept4", "accept"]),
    ("recv/read", &["recvfrom", "read"]),
    ("send/write", &["sendto", "write"]),
    ("epoll_wait", &["epoll_wait", "epoll_pwait", "epoll_pwait2"]),
    ("epoll_ctl", &["epoll_ctl"]),
    ("timerfd_settime", &["timerfd_settime"]),
    ("futex", &["futex"]),
    ("close", &["close"]),
];

/// Counts of one point, per request.
struct Counted {
    server: String,
    point: String,
    requests: u64,
    /// Per syscall name (and "total").
    per_request: BTreeMap<String, f64>,
    /// Per thread name: all its syscalls, per request.
    threads: Vec<(String, f64)>,
}

fn tracepoint_exists(name: &str) -> bool {
    ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .any(|root| {
            std::path::Path::new(&format!("{root}/events/syscalls/sys_enter_{name}")).exists()
        })
}

/// One count of `perf stat --per-thread`: the thread's name, the syscall ("total": all of
/// them) and how many.
type ThreadCount = (String, String, f64);

/// Runs `work` while `perf stat` counts the syscalls of `pid`; the counts per thread.
fn count_while<T>(
    pid: u32,
    work: impl FnOnce() -> io::Result<T>,
) -> io::Result<(T, Vec<ThreadCount>)> {
    // The server's CPU time (ms) and context switches too: what the syscalls cost in the end.
    let mut events = vec![
        "task-clock".to_string(),
        "context-switches".to_string(),
        "raw_syscalls:sys_enter".to_string(),
    ];
    events.extend(
        NAMED
            .iter()
            .filter(|n| tracepoint_exists(n))
            .map(|n| format!("syscalls:sys_enter_{n}")),
    );
    let out = tempfile::NamedTempFile::new()?;
    let mut perf = Command::new("perf")
        .args(["stat", "-x", ",", "--per-thread", "-e", &events.join(",")])
        .arg("-p")
        .arg(pid.to_string())
        .arg("-o")
        .arg(out.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| io::Error::other(format!("cannot run perf: {e}")))?;
    // Let perf attach to every thread before the load starts.
    std::thread::sleep(Duration::from_millis(300));
    if let Some(status) = perf.try_wait()? {
        return Err(io::Error::other(format!(
            "perf stat exited at once: {status}"
        )));
    }
    let result = work();
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(perf.id() as libc::pid_t, libc::SIGINT);
    }
    perf.wait()?;
    let text = std::fs::read_to_string(out.path())?;
    // `<comm>-<tid>,<count>,<unit>,<event>,...`; "<not counted>" for a thread that made none.
    let mut rows = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 4 || line.starts_with('#') {
            continue;
        }
        let thread = f[0].rsplit_once('-').map_or(f[0], |(comm, _)| comm);
        let count = f[1].trim().parse::<f64>().unwrap_or(0.0);
        let event = f[3]
            .trim()
            .trim_start_matches("syscalls:sys_enter_")
            .replace("raw_syscalls:sys_enter", "total");
        rows.push((thread.to_string(), event, count));
    }
    Ok((result?, rows))
}

fn tally(server: &str, point: &str, requests: u64, rows: &[ThreadCount]) -> Counted {
    let n = requests.max(1) as f64;
    let mut per_request: BTreeMap<String, f64> = BTreeMap::new();
    let mut threads: BTreeMap<String, f64> = BTreeMap::new();
    for (thread, event, count) in rows {
        *per_request.entry(event.clone()).or_default() += *count / n;
        if event == "total" {
            *threads.entry(thread.clone()).or_default() += *count / n;
        }
    }
    let mut threads: Vec<(String, f64)> = threads.into_iter().filter(|t| t.1 > 0.0).collect();
    threads.sort_by(|a, b| b.1.total_cmp(&a.1));
    Counted {
        server: server.into(),
        point: point.into(),
        requests,
        per_request,
        threads,
    }
}

/// The points counted against one server (warmed up first).
fn count_server(
    options: &Options,
    name: &str,
    target: Target,
    pid: u32,
    out: &mut Vec<Counted>,
) -> io::Result<()> {
    let secs = Duration::from_secs_f64(options.secs);
    let plain = Load::echo(target.clone(), options.size, false, false);
    closed_loop(
        &plain,
        options.clients,
        Duration::ZERO,
        Duration::from_millis(500),
    )?;
    let c = options.clients;
    let keep = Load::echo(target, options.size, false, true);
    let mut points = vec![
        (format!("plain, C={c}"), None),
        (format!("kept conn, C={c}"), None),
    ];
    for &rate in options.rates.iter().filter(|r| **r > 0.0) {
        points.push((format!("open loop {rate:.0}/s"), Some(rate)));
    }
    for (i, (point, rate)) in points.into_iter().enumerate() {
        let run = || -> io::Result<u64> {
            Ok(match (i, rate) {
                (_, Some(rate)) => open_loop(&plain, rate, c, Duration::ZERO, secs)?.sent,
                (0, None) => closed_loop(&plain, c, Duration::ZERO, secs)?.sent,
                _ => closed_loop(&keep, c, Duration::ZERO, secs)?.sent,
            })
        };
        let (requests, rows) = count_while(pid, run)?;
        let counted = tally(name, &point, requests, &rows);
        eprintln!(
            "lonc-bench: {name:24} {point:20} {:6.2} syscalls per request ({requests} requests)",
            counted.per_request.get("total").copied().unwrap_or(0.0)
        );
        out.push(counted);
    }
    Ok(())
}

/// Counts every server's syscalls per request and returns a markdown report.
pub fn run(options: &Options) -> io::Result<String> {
    const ALPHA: [u8; 4] = [127, 0, 0, 2];
    let port = free_port(&[IpAddr::from(ALPHA)])?;
    let sim = Sim::start(SimConfig {
        listen: SocketAddr::new(IpAddr::from(ALPHA), port),
        host_id: "alpha".into(),
        client_id: OWN_ID.into(),
        faults: Faults::default(),
        request_log: None,
    })?;
    let mut counted = Vec::new();
    if let Some(launcher) = &options.relay {
        let dir = tempfile::Builder::new().prefix("lonc-bench-").tempdir()?;
        let spec = RelaySpec {
            socket: dir.path().join("alpha"),
            lond: sim.addr(),
            peer_id: "alpha".into(),
            own_id: OWN_ID.into(),
            threads: options.clients + 8,
            max_links: options.max_links,
        };
        let relay = RelayProcess::start(launcher, &spec)?;
        let target = Target::Unix(spec.socket.clone());
        count_server(options, "(b) null relay", target, relay.pid(), &mut counted)?;
    }
    let hosts = [("alpha".to_string(), Ipv4Addr::from(ALPHA))];
    let args = ["--max-links".to_string(), options.max_links.to_string()];
    for (name, bin) in &options.daemons {
        let daemon = Daemon::start(bin, Layout::new(port, &hosts)?, &args)?;
        let target = Target::Unix(daemon.layout.socket("alpha"));
        count_server(options, name, target, daemon.pid(), &mut counted)?;
    }
    Ok(report(options, &counted))
}

fn report(options: &Options, counted: &[Counted]) -> String {
    let mut s = format!(
        "System calls per request (`perf stat` of the syscall tracepoints, every thread of the \
         server; {}-byte `echo:` requests, {} s per point, at most {} links), and the \
         server's CPU time (`task-clock`) and context switches per request. The CPU time \
         includes what counting the syscalls costs and comes from one pass, not interleaved \
         rounds: compare CPU with `lonc-bench standard`.\n\n",
        options.size, options.secs, options.max_links
    );
    s.push_str("| server | point | requests | all |");
    for (label, _) in COLUMNS {
        let _ = write!(s, " {label} |");
    }
    s.push_str(" other | by thread | CPU µs | context switches |\n|---|---|---:|---:|");
    for _ in COLUMNS {
        s.push_str("---:|");
    }
    s.push_str("---:|---|---:|---:|\n");
    for c in counted {
        let get = |names: &[&str]| -> f64 {
            names
                .iter()
                .filter_map(|n| c.per_request.get(*n))
                .sum::<f64>()
        };
        let total = get(&["total"]);
        let _ = write!(
            s,
            "| {} | {} | {} | {total:.2} |",
            c.server, c.point, c.requests
        );
        let mut named = 0.0;
        for (_, names) in COLUMNS {
            let v = get(names);
            named += v;
            let _ = write!(s, " {v:.2} |");
        }
        let threads: Vec<String> = c
            .threads
            .iter()
            .map(|(t, v)| format!("{t} {v:.2}"))
            .collect();
        let _ = writeln!(
            s,
            " {:.2} | {} | {:.1} | {:.2} |",
            (total - named).max(0.0),
            threads.join(", "),
            get(&["task-clock"]) * 1000.0,
            get(&["context-switches"]),
        );
    }
    s
}

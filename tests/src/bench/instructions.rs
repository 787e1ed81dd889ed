//! `lonc-bench instructions`: the machine instructions each daemon executes per request,
//! counted by valgrind's callgrind. Unlike times, rates and CPU seconds, the count does not
//! move with what else the machine is doing, so two builds compared this way show what a
//! change costs (a counter, a histogram) even on a busy machine.
//!
//! Each daemon serves `n`, then `2n` requests, each run a fresh process under callgrind
//! against the same simulated lond (in this process, not counted); start-up, handshake and
//! shutdown are alike in both, so `(I(2n) - I(n)) / n` is the cost of one request. Two
//! scopes: the *core* (only instructions executed inside `lonc_core` functions, callees
//! included: the decisions, framing, IDEA and the counters), which repeats within about 1 %
//! from run to run; and the *whole process* (the runtime, the allocator, the system call
//! wrappers too), which moves by up to 20 % because the runtime's threads and wake-ups are
//! scheduled differently in every run under valgrind.

use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lonc_edge::sim::{Faults, Sim, SimConfig, free_port};

use super::daemon::{Daemon, Layout, OWN_ID};
use super::load::{Load, Target, unix_request};

/// What to count.
#[derive(Clone, Debug)]
pub struct Options {
    /// The daemons, by name: binaries.
    pub daemons: Vec<(String, PathBuf)>,
    /// Requests of the shorter run (the longer has twice as many).
    pub requests: u64,
    /// Clients sending at once, each its share of the requests one after the other.
    pub clients: usize,
    /// Bytes per request, LF included.
    pub size: usize,
}

/// The kinds of request counted: (name, `encrypt:`, one connection for all of a client's
/// requests).
const MODES: [(&str, bool, bool); 3] = [
    ("plain", false, false),
    ("encrypt", true, false),
    ("plain, kept conn", false, true),
];

/// The simulated lond's address.
const ALPHA: [u8; 4] = [127, 0, 0, 2];

/// How long a daemon under callgrind may take to start and to stop.
const PATIENCE: Duration = Duration::from_secs(120);

/// What callgrind counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// Instructions inside `lonc_core` functions and their callees.
    Core,
    /// Every instruction of the process.
    Process,
}

/// One daemon's counts for one mode: instructions per request.
struct Count {
    daemon: String,
    mode: &'static str,
    core: f64,
    process: f64,
}

/// Counts every daemon in every mode; the markdown report.
pub fn run(o: &Options) -> io::Result<String> {
    if Command::new("valgrind").arg("--version").output().is_err() {
        return Err(io::Error::other("valgrind is not installed"));
    }
    let port = free_port(&[IpAddr::from(ALPHA)])?;
    let _lond = Sim::start(SimConfig {
        listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ALPHA)), port),
        host_id: "alpha".into(),
        client_id: OWN_ID.into(),
        faults: Faults::default(),
        request_log: None,
    })?;
    let n = o.requests.max(1);
    let mut counts = Vec::new();
    for (name, bin) in &o.daemons {
        for (mode, encrypt, keep) in MODES {
            let per_request = |scope| -> io::Result<f64> {
                let short = count_run(o, bin, port, n, encrypt, keep, scope)?;
                let long = count_run(o, bin, port, 2 * n, encrypt, keep, scope)?;
                let each = (long as f64 - short as f64) / n as f64;
                eprintln!(
                    "lonc-bench: {name}, {mode}, {scope:?}: {short} / {long} instructions, \
                     {each:.0} per request"
                );
                Ok(each)
            };
            counts.push(Count {
                daemon: name.clone(),
                mode,
                core: per_request(Scope::Core)?,
                process: per_request(Scope::Process)?,
            });
        }
    }
    Ok(report(o, &counts))
}

/// The instructions `bin` executes in all, under callgrind, serving `requests` requests.
fn count_run(
    o: &Options,
    bin: &Path,
    port: u16,
    requests: u64,
    encrypt: bool,
    keep: bool,
    scope: Scope,
) -> io::Result<u64> {
    let layout = Layout::new(port, &[("alpha".to_string(), Ipv4Addr::from(ALPHA))])?;
    let out = layout.dir.path().join("callgrind.out");
    let mut wrapper = vec![
        "valgrind".to_string(),
        "--tool=callgrind".to_string(),
        format!("--callgrind-out-file={}", out.display()),
        "--dump-line=no".to_string(),
        "--log-file=/dev/null".to_string(),
    ];
    if scope == Scope::Core {
        wrapper.push("--toggle-collect=*lonc_core::*".to_string());
    }
    let mut daemon = Daemon::start_under(&wrapper, bin, layout, &[], PATIENCE)?;
    let load = Load::echo(
        Target::Unix(daemon.layout.socket("alpha")),
        o.size,
        encrypt,
        keep,
    );
    send(&load, o.clients.max(1), requests)?;
    let status = daemon.stop(PATIENCE)?;
    if !status.success() {
        return Err(io::Error::other(format!(
            "{} under callgrind exited with {status}",
            bin.display()
        )));
    }
    total_instructions(&std::fs::read_to_string(&out)?)
        .ok_or_else(|| io::Error::other(format!("no instruction total in {}", out.display())))
}

/// Sends `requests` requests from `clients` threads, each its share one after the other;
/// every reply must be the one expected.
fn send(load: &Load, clients: usize, requests: u64) -> io::Result<()> {
    let Target::Unix(path) = &load.target else {
        return Err(io::Error::other("a daemon's socket is needed"));
    };
    let line = [load.request.as_slice(), b"\n"].concat();
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..clients as u64)
            .map(|c| {
                let share = requests / clients as u64 + u64::from(c < requests % clients as u64);
                let line = &line;
                scope.spawn(move || -> io::Result<()> {
                    let mut conn = None;
                    let mut reply = Vec::new();
                    for _ in 0..share {
                        unix_request(path, &mut conn, line, &mut reply)?;
                        if reply != load.expect {
                            return Err(io::Error::other(format!(
                                "unexpected reply {:?}",
                                String::from_utf8_lossy(&reply)
                            )));
                        }
                        if !load.persistent {
                            conn = None;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        threads.into_iter().try_for_each(|t| {
            t.join()
                .unwrap_or_else(|_| Err(io::Error::other("client panicked")))
        })
    })
}

/// The total of the `Ir` event in a callgrind output file (its `totals:` line, or the
/// `summary:` line older versions write).
fn total_instructions(text: &str) -> Option<u64> {
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    field("totals:").or_else(|| field("summary:"))
}

fn report(o: &Options, counts: &[Count]) -> String {
    let mut r = String::new();
    let _ = writeln!(
        r,
        "Instructions per request, counted by callgrind (`valgrind --tool=callgrind`): each \
         daemon served {} and then {} requests of {} bytes from {} client(s), each run a fresh \
         process against the simulated lond; per request = the difference / {}. *core*: the \
         instructions inside `lonc_core` (repeats within about 1 %); *process*: all of them \
         (moves by up to 20 % from run to run with the scheduling of the runtime's threads).\n",
        o.requests,
        2 * o.requests,
        o.size,
        o.clients,
        o.requests
    );
    let first = counts.first().map(|c| c.daemon.as_str()).unwrap_or("-");
    let _ = writeln!(
        r,
        "| daemon | requests | core | vs {first} | process | vs {first} |"
    );
    let _ = writeln!(r, "|---|---|---:|---:|---:|---:|");
    for c in counts {
        let base = counts
            .iter()
            .find(|b| b.daemon == first && b.mode == c.mode);
        let vs = |of: fn(&Count) -> f64| match base {
            Some(b) if of(b) > 0.0 => format!("{:+.1} %", (of(c) / of(b) - 1.0) * 100.0),
            _ => "-".into(),
        };
        let _ = writeln!(
            r,
            "| {} | {} | {:.0} | {} | {:.0} | {} |",
            c.daemon,
            c.mode,
            c.core,
            vs(|c| c.core),
            c.process,
            vs(|c| c.process)
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_read_from_totals_or_summary() {
        let file = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\n\nfn=(1) main\n5 100\n\
                    totals: 123456\n";
        assert_eq!(total_instructions(file), Some(123_456));
        assert_eq!(
            total_instructions("events: Ir\nsummary: 987 12\n"),
            Some(987)
        );
        assert_eq!(total_instructions("events: Ir\n"), None);
    }
}

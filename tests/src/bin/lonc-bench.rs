//! `lonc-bench`: the load tool. `lonc-bench standard` runs the standard comparison (set-ups
//! (a) direct, (b) null relay, (c) lonc, (d) lonc-blocking when built) and prints a markdown
//! report; `bench/run.sh` builds the release daemons first and runs it. `lonc-bench syscalls`
//! counts the system calls per request of the relay and the daemons. `lonc-bench delivery`
//! measures spooled delivery and faulty londs (issue 13). `lonc-bench instructions` counts
//! the instructions per request of two builds with callgrind. `lonc-bench relay` (hidden) is the
//! null relay's process, which the other commands start; `lonc-bench lond` (hidden) a simulated
//! lond's, when `lond-sim` is not beside this binary.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use lonc_tests::bench::delivery::{self, LondProgram};
use lonc_tests::bench::instructions;
use lonc_tests::bench::relay::{self, Launcher};
use lonc_tests::bench::standard::{self, Options};
use lonc_tests::bench::syscalls;

#[derive(Parser)]
#[command(
    name = "lonc-bench",
    about = "Throughput, latency, memory and fail-fast of lonc"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The standard comparison, every set-up in one run; the report goes to standard output
    /// (progress to standard error).
    Standard(StandardArgs),
    /// System calls per request of the null relay and each daemon, counted with `perf stat`
    /// on the syscall tracepoints during a closed-loop, a kept-connection and an open-loop
    /// point; a markdown table goes to standard output.
    Syscalls(SyscallsArgs),
    /// Spooled delivery and faulty londs, on each daemon (issue 13): a spool file's time to
    /// delivery with no traffic, 10,000 spooled requests drained under 64 live clients, a lond
    /// that closes each link after one reply, a frozen lond; a markdown report goes to
    /// standard output.
    Delivery(DeliveryArgs),
    /// Instructions per request of each daemon, counted by valgrind's callgrind (hardly moved
    /// by other load on the machine): for comparing two builds; a markdown table goes to
    /// standard output.
    Instructions(InstructionsArgs),
    /// The null relay's process, as the other commands start it (settings in the environment).
    #[command(hide = true)]
    Relay,
    /// A simulated lond's process, as `delivery` starts it when `lond-sim` is not beside this
    /// binary (settings in the environment).
    #[command(hide = true)]
    Lond,
}

#[derive(clap::Args)]
struct InstructionsArgs {
    /// The daemons, as NAME=PATH, in the table's order; the last column compares each to the
    /// first. Default: `lonc` and `lonc-blocking` beside this binary.
    #[arg(value_name = "NAME=PATH", value_parser = named_path)]
    daemons: Vec<(String, PathBuf)>,
    /// Requests of the shorter run; the longer run has twice as many.
    #[arg(long, value_name = "N", default_value_t = 2_000)]
    requests: u64,
    /// Clients sending at once.
    #[arg(long, value_name = "C", default_value_t = 1)]
    clients: usize,
}

#[derive(clap::Args)]
struct DeliveryArgs {
    /// Every part in a few seconds, to check that the tool works; the figures mean nothing.
    #[arg(long)]
    smoke: bool,
    /// The smol daemon (default: `lonc` beside this binary).
    #[arg(long, value_name = "PATH")]
    lonc: Option<PathBuf>,
    /// The blocking daemon (default: `lonc-blocking` beside this binary).
    #[arg(long, value_name = "PATH")]
    lonc_blocking: Option<PathBuf>,
    /// One more daemon binary, as NAME=PATH; may be repeated.
    #[arg(long, value_name = "NAME=PATH", value_parser = named_path)]
    also: Vec<(String, PathBuf)>,
    /// The simulated lond frozen by the `frozen` part (default: `lond-sim` beside this binary,
    /// else this binary's hidden `lond` command).
    #[arg(long, value_name = "PATH")]
    lond_sim: Option<PathBuf>,
    /// Only these parts (appear, drain, close, frozen), comma-separated.
    #[arg(long, value_name = "PART,...", value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// appear: files timed at the default `--delayed-scan` (5 s) and at --short-scan.
    #[arg(long, value_name = "N,N", value_delimiter = ',')]
    files: Option<Vec<usize>>,
    /// appear: the short `--delayed-scan`, in seconds.
    #[arg(long, value_name = "SECS")]
    short_scan: Option<f64>,
    /// drain: how many spool files.
    #[arg(long, value_name = "N")]
    spooled: Option<usize>,
    /// drain: the daemons' `--delayed-scan` (default: theirs, 5 s).
    #[arg(long, value_name = "SECS")]
    drain_scan: Option<f64>,
    /// Live clients (drain, close-after-1) and requests of the frozen part.
    #[arg(long, value_name = "C")]
    clients: Option<usize>,
    /// frozen: the daemons' `--step-timeout` S, in seconds.
    #[arg(long, value_name = "SECS")]
    frozen_timeout: Option<f64>,
    /// Keep each daemon's lonc.log of each part in DIR, as <daemon>-<part>.log.
    #[arg(long, value_name = "DIR")]
    keep_logs: Option<PathBuf>,
    /// Also write the report to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// A daemon given as `NAME=PATH`.
fn named_path(arg: &str) -> Result<(String, PathBuf), String> {
    match arg.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_string(), PathBuf::from(path)))
        }
        _ => Err(format!("expected NAME=PATH, got {arg:?}")),
    }
}

#[derive(clap::Args)]
struct SyscallsArgs {
    /// The smol daemon (default: `lonc` beside this binary).
    #[arg(long, value_name = "PATH")]
    lonc: Option<PathBuf>,
    /// The blocking daemon (default: `lonc-blocking` beside this binary).
    #[arg(long, value_name = "PATH")]
    lonc_blocking: Option<PathBuf>,
    /// One more daemon binary to count, as NAME=PATH; may be repeated.
    #[arg(long, value_name = "NAME=PATH", value_parser = named_path)]
    also: Vec<(String, PathBuf)>,
    /// Leave out the null relay.
    #[arg(long)]
    no_relay: bool,
    /// Closed-loop clients (and open-loop workers).
    #[arg(long, value_name = "C", default_value_t = 64)]
    clients: usize,
    /// Seconds counted per point.
    #[arg(long, value_name = "SECS", default_value_t = 3.0)]
    secs: f64,
    /// Open-loop rates in requests per second, comma-separated, one point each: by default
    /// about half the daemons' saturation here, and a sparse load like a real LON-CAPA
    /// server's, where every request finds the daemon asleep.
    #[arg(long, value_name = "REQ/S,...", value_delimiter = ',', default_values_t = [10_000.0, 200.0])]
    rate: Vec<f64>,
    /// Most links per host for the daemons (`--max-links`) and the null relay.
    #[arg(long, value_name = "N", default_value_t = 10)]
    max_links: usize,
}

#[derive(clap::Args)]
struct StandardArgs {
    /// A few seconds in all, to check that the tool works; the figures mean nothing.
    #[arg(long)]
    smoke: bool,
    /// The smol daemon (default: `lonc` beside this binary).
    #[arg(long, value_name = "PATH")]
    lonc: Option<PathBuf>,
    /// The blocking daemon (default: `lonc-blocking` beside this binary; "not built" if absent).
    #[arg(long, value_name = "PATH")]
    lonc_blocking: Option<PathBuf>,
    /// Most links per host for the daemons (`--max-links`) and the null relay.
    #[arg(long, value_name = "N")]
    max_links: Option<usize>,
    /// Closed-loop client counts, comma-separated.
    #[arg(long, value_name = "C,C,...", value_delimiter = ',')]
    clients: Option<Vec<usize>>,
    /// Seconds measured per closed-loop point.
    #[arg(long, value_name = "SECS")]
    secs: Option<f64>,
    /// Open-loop rate in requests per second (default: half the null relay's rate at 64
    /// clients).
    #[arg(long, value_name = "REQ/S")]
    rate: Option<f64>,
    /// One more daemon binary for the interleaved rounds, as NAME=PATH (e.g. an older build,
    /// for a before/after comparison measured the same way); may be repeated.
    #[arg(long, value_name = "NAME=PATH", value_parser = named_path)]
    also: Vec<(String, PathBuf)>,
    /// Only the set-ups named (direct, relay, lonc, blocking), comma-separated.
    #[arg(long, value_name = "SETUP,...", value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// Skip the memory and fail-fast measurements.
    #[arg(long)]
    no_memory: bool,
    /// Only the interleaved rounds (and the goals they decide): no table of single points, no
    /// memory or fail-fast figures; the open loop at --rate (default 10,000/s).
    #[arg(long)]
    rounds_only: bool,
    /// Interleaved rounds of the headline points whose medians the goals use (default 5; 0:
    /// the goals use the single points of the table).
    #[arg(long, value_name = "N")]
    rounds: Option<usize>,
    /// Also write the report to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn beside_me(name: &str) -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    Some(me.parent()?.join(name))
}

fn main() {
    let args = match Cli::parse().command {
        Cmd::Standard(args) => args,
        Cmd::Syscalls(args) => return syscalls_main(args),
        Cmd::Delivery(args) => return delivery_main(args),
        Cmd::Instructions(args) => return instructions_main(args),
        Cmd::Lond => {
            delivery::lond_if_asked();
            eprintln!("lonc-bench lond: {} is not set", delivery::LOND_VAR);
            std::process::exit(2);
        }
        Cmd::Relay => {
            relay::serve_if_asked();
            eprintln!("lonc-bench relay: {} is not set", relay::SPEC_VAR);
            std::process::exit(2);
        }
    };
    let mut options = if args.smoke {
        Options::smoke()
    } else {
        Options::standard()
    };
    options.lonc = args.lonc.or_else(|| beside_me("lonc"));
    options.lonc_blocking = args.lonc_blocking.or_else(|| beside_me("lonc-blocking"));
    options.also = args.also;
    options.relay = relay_launcher();
    if let Some(n) = args.max_links {
        options.max_links = n;
    }
    if let Some(c) = args.clients {
        options.clients = c;
    }
    if let Some(secs) = args.secs {
        options.measure = Duration::from_secs_f64(secs);
    }
    if let Some(only) = args.only {
        options.only = only;
    }
    options.no_memory |= args.no_memory;
    options.rounds_only |= args.rounds_only;
    if let Some(n) = args.rounds {
        options.rounds = n;
    }
    if args.rate.is_some() {
        options.rate = args.rate;
    }
    match standard::run(&options) {
        Ok(report) => {
            let text = report.markdown();
            print!("{text}");
            if let Some(path) = args.out
                && let Err(e) = std::fs::write(&path, &text)
            {
                eprintln!("lonc-bench: cannot write {}: {e}", path.display());
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("lonc-bench: {e}");
            std::process::exit(1);
        }
    }
}

fn relay_launcher() -> Option<Launcher> {
    match Launcher::bench_subcommand() {
        Ok(launcher) => Some(launcher),
        Err(e) => {
            eprintln!("lonc-bench: cannot find my own executable for the null relay: {e}");
            None
        }
    }
}

fn syscalls_main(args: SyscallsArgs) {
    let mut daemons = Vec::new();
    for (name, path) in [
        ("(c) lonc", args.lonc.or_else(|| beside_me("lonc"))),
        (
            "(d) lonc-blocking",
            args.lonc_blocking.or_else(|| beside_me("lonc-blocking")),
        ),
    ] {
        match path {
            Some(path) if path.is_file() => daemons.push((name.to_string(), path)),
            _ => eprintln!("lonc-bench: {name}: not built"),
        }
    }
    daemons.extend(args.also.into_iter().map(|(n, p)| (format!("(e) {n}"), p)));
    let options = syscalls::Options {
        daemons,
        relay: if args.no_relay {
            None
        } else {
            relay_launcher()
        },
        clients: args.clients,
        secs: args.secs,
        rates: args.rate,
        max_links: args.max_links,
        size: 100,
    };
    print_or_exit(syscalls::run(&options));
}

/// Prints a command's report, or its error and exits 1.
fn print_or_exit(report: std::io::Result<String>) {
    match report {
        Ok(report) => print!("{report}"),
        Err(e) => {
            eprintln!("lonc-bench: {e}");
            std::process::exit(1);
        }
    }
}

fn instructions_main(args: InstructionsArgs) {
    let mut daemons = args.daemons;
    if daemons.is_empty() {
        for name in ["lonc", "lonc-blocking"] {
            match beside_me(name) {
                Some(path) if path.is_file() => daemons.push((name.to_string(), path)),
                _ => eprintln!("lonc-bench: {name}: not built"),
            }
        }
    }
    let options = instructions::Options {
        daemons,
        requests: args.requests,
        clients: args.clients,
        size: 100,
    };
    print_or_exit(instructions::run(&options));
}

fn delivery_main(args: DeliveryArgs) {
    let mut options = if args.smoke {
        delivery::Options::smoke()
    } else {
        delivery::Options::standard()
    };
    for (name, path) in [
        ("lonc", args.lonc.or_else(|| beside_me("lonc"))),
        (
            "lonc-blocking",
            args.lonc_blocking.or_else(|| beside_me("lonc-blocking")),
        ),
    ] {
        if let Some(path) = path {
            options.daemons.push((name.to_string(), path));
        }
    }
    options.daemons.extend(args.also);
    options.lond = match args.lond_sim.or_else(|| beside_me("lond-sim")) {
        Some(path) if path.is_file() => Some(LondProgram::LondSim(path)),
        _ => std::env::current_exe().ok().map(|program| {
            LondProgram::Launcher(Launcher {
                program,
                args: vec!["lond".into()],
            })
        }),
    };
    if let Some(only) = args.only {
        options.only = only;
    }
    if let Some(files) = args.files {
        for (slot, n) in options.scans.iter_mut().zip(files) {
            slot.1 = n;
        }
    }
    if let Some(short) = args.short_scan
        && let Some(slot) = options.scans.iter_mut().find(|s| s.0.is_some())
    {
        slot.0 = Some(short);
    }
    if let Some(n) = args.spooled {
        options.spooled = n;
    }
    if args.drain_scan.is_some() {
        options.drain_scan = args.drain_scan;
    }
    if let Some(c) = args.clients {
        options.clients = c;
    }
    if let Some(s) = args.frozen_timeout {
        options.frozen_timeout = s;
    }
    options.keep_logs = args.keep_logs;
    match delivery::run(&options) {
        Ok(report) => {
            let text = report.markdown();
            print!("{text}");
            if let Some(path) = args.out
                && let Err(e) = std::fs::write(&path, &text)
            {
                eprintln!("lonc-bench: cannot write {}: {e}", path.display());
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("lonc-bench: {e}");
            std::process::exit(1);
        }
    }
}

//! `lonc-bench`: the load tool. `lonc-bench standard` runs the standard comparison (set-ups
//! (a) direct, (b) null relay, (c) lonc, (d) lonc-blocking when built) and prints a markdown
//! report; `bench/run.sh` builds the release daemons first and runs it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use lonc_tests::bench::standard::{self, Options};

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
    /// Only the set-ups named (direct, relay, lonc, blocking), comma-separated.
    #[arg(long, value_name = "SETUP,...", value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// Skip the memory and fail-fast measurements.
    #[arg(long)]
    no_memory: bool,
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
    let Cmd::Standard(args) = Cli::parse().command;
    let mut options = if args.smoke {
        Options::smoke()
    } else {
        Options::standard()
    };
    options.lonc = args.lonc.or_else(|| beside_me("lonc"));
    options.lonc_blocking = args.lonc_blocking.or_else(|| beside_me("lonc-blocking"));
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

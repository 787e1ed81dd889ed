//! `lond-sim`: a simulated lond for tests, demos and benchmarks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use lonc_edge::sim::{Faults, Sim, SimConfig};

/// A simulated LON-CAPA lond: the profile-A handshake, `enc:` requests, and the commands
/// `ping`, `echo:<text>`, `put:<key>:<value>`, `get:<key>` (anything else: `unknown_cmd`).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on, e.g. 127.0.0.2:5663.
    #[arg(long)]
    listen: SocketAddr,
    /// Its own LON-CAPA host id (answers `ping`, and makes the session key).
    #[arg(long)]
    host_id: String,
    /// The LON-CAPA host id of the lonc that connects (makes the session key).
    #[arg(long)]
    client_id: String,
    /// Answer every connection `refused`.
    #[arg(long)]
    refuse: bool,
    /// Accept connections and never answer.
    #[arg(long)]
    silent: bool,
    /// Close each connection after this many requests.
    #[arg(long, value_name = "N")]
    close_after: Option<u64>,
    /// Wait this many milliseconds before each reply.
    #[arg(long, value_name = "MS")]
    delay_ms: Option<u64>,
    /// Answer every request with a malformed `enc:` line.
    #[arg(long)]
    garbage: bool,
    /// Read requests at most N bytes at a time (a slow reader).
    #[arg(long, value_name = "N")]
    read_chunk: Option<usize>,
    /// Wait this many milliseconds before each read (with --read-chunk, a reader of known top
    /// speed).
    #[arg(long, value_name = "MS")]
    read_delay_ms: Option<u64>,
    /// Read only the first N bytes of each connection slowly (--read-chunk, --read-delay-ms),
    /// the rest at full speed.
    #[arg(long, value_name = "N")]
    slow_bytes: Option<u64>,
    /// Follow every reply, in the same write, with a line nobody asked for.
    #[arg(long)]
    unasked: bool,
    /// Append every request, decrypted, to FILE as `P:<line>` (plain) or `E:<line>` (encrypted).
    #[arg(long, value_name = "FILE")]
    log_requests: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    let config = SimConfig {
        listen: args.listen,
        host_id: args.host_id,
        client_id: args.client_id,
        faults: Faults {
            refuse: args.refuse,
            silent: args.silent,
            close_after: args.close_after,
            delay: args.delay_ms.map(Duration::from_millis),
            garbage: args.garbage,
            read_chunk: args.read_chunk,
            read_delay: args.read_delay_ms.map(Duration::from_millis),
            slow_bytes: args.slow_bytes,
            unasked: args.unasked,
        },
        request_log: args.log_requests,
    };
    match Sim::start(config) {
        Ok(sim) => {
            println!("lond-sim listening on {}", sim.addr());
            // Serve until killed.
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("lond-sim: cannot listen on {}: {e}", args.listen);
            std::process::exit(1);
        }
    }
}

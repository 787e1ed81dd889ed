//! `lonc send HOST REQUEST [--critical]`: lonnet's `reply` (and `critical`) from the shell.

use std::time::Duration;

use crate::files;
use lonc_client::Spool;
use lonc_client::{CON_LOST, Client, Critical, ReplyError};

use crate::cli::{ConfigArgs, SendArgs};

/// Sends the request and prints the answer; returns the exit status (2 for a bad invocation or
/// a host table that cannot be read). A host that is not in the host table is answered
/// `no_such_host` without a connection, as lonnet's `reply` and `critical` do.
///
/// When no reply line came from the daemon (no socket, refused, timed out, closed before a
/// whole line), the answer is `con_lost` as lonnet's, and one line on standard error says why:
/// a `con_lost` with nothing on standard error is the daemon's own answer.
pub fn run(config: &ConfigArgs, args: &SendArgs) -> i32 {
    let sock_dir = match config.sock_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("lonc send: {e}");
            return 2;
        }
    };
    let hosts_file = match config.hosts_file() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("lonc send: {e}");
            return 2;
        }
    };
    match files::load_hosts(&hosts_file) {
        Ok((entries, _)) if entries.iter().any(|h| h.id == args.host) => {}
        Ok(_) => {
            println!("no_such_host");
            return 0;
        }
        Err(e) => {
            eprintln!(
                "lonc send: cannot read hosts table {}: {e}",
                hosts_file.display()
            );
            return 2;
        }
    }
    let timeout = Duration::try_from_secs_f64(args.timeout).unwrap_or(Duration::from_secs(10));
    let client = Client::new(&sock_dir).with_timeout(timeout);
    let request = args.request.as_bytes();
    let spool = if args.critical {
        let daemons = match config.daemons_dir() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("lonc send: {e}");
                return 2;
            }
        };
        Some(Spool::new(
            sock_dir.join("delayed"),
            daemons.join("logs").join("lonnet.perm.log"),
        ))
    } else {
        None
    };
    let answer = match client.try_reply(&args.host, request) {
        Ok(line) => line,
        Err(ReplyError::ConLost(e)) => {
            eprintln!("lonc send: no answer from the daemon: {e}");
            CON_LOST.to_vec()
        }
        Err(ReplyError::Invalid(e)) => {
            eprintln!("lonc send: {e}");
            return 2;
        }
    };
    // lonnet's critical: a con_lost, the daemon's or our own, is spooled for the daemon.
    let answer = match spool {
        Some(spool) if answer == CON_LOST => match spool.delay(&args.host, request) {
            Ok(outcome) => outcome,
            Err(e) => {
                eprintln!("lonc send: {e}");
                return 2;
            }
        },
        _ => Critical::Replied(answer),
    };
    println!("{}", String::from_utf8_lossy(&answer.into_reply()));
    0
}

//! `lonc send HOST REQUEST [--critical]`: lonnet's `reply` (and `critical`) from the shell.

use std::time::Duration;

use crate::client::{Client, critical};
use crate::files;
use crate::spool::Spool;

use crate::cli::{ConfigArgs, SendArgs};

/// Sends the request and prints the answer; returns the exit status (2 for a bad invocation or
/// a host table that cannot be read). A host that is not in the host table is answered
/// `no_such_host` without a connection, as lonnet's `reply` and `critical` do.
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
    let answer = if args.critical {
        let daemons = match config.daemons_dir() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("lonc send: {e}");
                return 2;
            }
        };
        let spool = Spool::new(
            sock_dir.join("delayed"),
            daemons.join("logs").join("lonnet.perm.log"),
        );
        critical(&client, &spool, &args.host, request)
    } else {
        client.reply(&args.host, request)
    };
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lonc send: {e}");
            return 2;
        }
    };
    println!("{}", String::from_utf8_lossy(&answer));
    0
}

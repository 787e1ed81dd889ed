//! `lonc send HOST REQUEST [--critical]`: lonnet's `reply` (and `critical`) from the shell.

use std::time::Duration;

use crate::files;
use lonc_client::Spool;
use lonc_client::{CON_LOST, Client, Critical, ReplyError};

use crate::cli::{ConfigArgs, SendArgs};

/// What `lonc send` ended with, as its exit status: a script tells the outcomes apart without
/// parsing the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendStatus {
    /// A reply from the lond (printed): 0.
    Replied = 0,
    /// The daemon answered `con_lost` (host dead, link lost, request timed out, queue full,
    /// shutdown): 1.
    ConLost = 1,
    /// A bad invocation, a configuration or host table that cannot be read: 2 (as clap's own
    /// usage errors).
    Misuse = 2,
    /// No answer from the daemon at all (no socket, refused, `--timeout` passed, closed before
    /// a whole line); `con_lost` is printed, as lonnet would: 3.
    NoDaemon = 3,
    /// `--critical`: the request was spooled (`con_delayed`): 4.
    Delayed = 4,
    /// `--critical`: the request was neither delivered nor spooled (`con_failed`): 5.
    Failed = 5,
    /// The host is not in `hosts.tab` (`no_such_host`); nothing was sent: 6.
    NoSuchHost = 6,
}

/// The exit statuses, for `--help` and the README.
pub const EXIT_STATUSES: &str = "\
Exit status:
  0  a reply from the lond (printed)
  1  con_lost from the daemon (host dead, link lost, timed out, queue full, shutdown)
  2  misuse: bad arguments, configuration or hosts.tab unreadable
  3  no answer from the daemon (not running, refused, --timeout); prints con_lost
  4  --critical: spooled for the daemon to replay (con_delayed)
  5  --critical: neither delivered nor spooled (con_failed)
  6  the host is not in hosts.tab (no_such_host); nothing sent";

/// Sends the request, prints the answer and returns how it ended. A host that is not in the
/// host table is answered `no_such_host` without a connection, as lonnet's `reply` and
/// `critical` do.
///
/// When no reply line came from the daemon, the answer is `con_lost` as lonnet's, and one line
/// on standard error says why: a `con_lost` with nothing on standard error is the daemon's own
/// answer (and the status tells them apart too).
pub fn run(config: &ConfigArgs, args: &SendArgs) -> SendStatus {
    match send(config, args) {
        Ok((answer, status)) => {
            println!("{}", String::from_utf8_lossy(&answer));
            status
        }
        Err(e) => {
            eprintln!("lonc send: {e}");
            SendStatus::Misuse
        }
    }
}

fn send(config: &ConfigArgs, args: &SendArgs) -> Result<(Vec<u8>, SendStatus), String> {
    let sock_dir = config.sock_dir().map_err(|e| e.to_string())?;
    let hosts_file = config.hosts_file().map_err(|e| e.to_string())?;
    let (entries, _) = files::load_hosts(&hosts_file)
        .map_err(|e| format!("cannot read hosts table {}: {e}", hosts_file.display()))?;
    if !entries.iter().any(|h| h.id == args.host) {
        return Ok((b"no_such_host".to_vec(), SendStatus::NoSuchHost));
    }
    let timeout = Duration::try_from_secs_f64(args.timeout).map_err(|_| {
        format!(
            "--timeout must be a number of seconds, not {}",
            args.timeout
        )
    })?;
    let client = Client::new(&sock_dir).with_timeout(timeout);
    let request = args.request.as_bytes();
    let spool = if args.critical {
        let daemons = config.daemons_dir().map_err(|e| e.to_string())?;
        Some(Spool::new(
            sock_dir.join("delayed"),
            daemons.join("logs").join("lonnet.perm.log"),
        ))
    } else {
        None
    };
    let (answer, status) = match client.try_reply(&args.host, request) {
        Ok(line) if line == CON_LOST => (line, SendStatus::ConLost),
        Ok(line) => (line, SendStatus::Replied),
        Err(ReplyError::ConLost(e)) => {
            eprintln!("lonc send: no answer from the daemon: {e}");
            (CON_LOST.to_vec(), SendStatus::NoDaemon)
        }
        Err(ReplyError::Invalid(e)) => return Err(e.to_string()),
    };
    // lonnet's critical: a con_lost, the daemon's or our own, is spooled for the daemon.
    match spool {
        Some(spool) if answer == CON_LOST => {
            let outcome = spool
                .delay(&args.host, request)
                .map_err(|e| e.to_string())?;
            let status = match outcome {
                Critical::Replied(_) => status,
                Critical::Delayed { .. } => SendStatus::Delayed,
                Critical::Failed { .. } => SendStatus::Failed,
            };
            Ok((outcome.into_reply(), status))
        }
        _ => Ok((answer, status)),
    }
}

//! The synchronous client of lonc's UNIX-socket protocol: lonnet's `reply`/`subreply` and
//! `critical`, profile A (protocol.md 2.1, 2.3, 2.4).
//!
//! # Errors and replies
//!
//! A *lost connection* is not an error here: it is the normal reply `con_lost`, exactly what
//! lonnet returns to its callers (the socket is missing, refuses, the exchange times out, the
//! daemon closes before a whole line, the reply is longer than the maximum). Only **local
//! misuse** is an `Err`([`ClientError`]): a request that is not one line, or a host id that
//! cannot name a file in the socket directory. Nothing is sent in that case. Callers that want
//! to know *why* a connection was lost use [`Client::try_reply`].

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lonc_core::conf::Settings;
use lonc_core::framing::{DEFAULT_MAX_LINE, LineFramer};
use lonc_core::hosts_tab::is_safe_host_id;
pub use lonc_core::request::CON_LOST;

use crate::spool::Spool;
use crate::sys;

/// lonnet's connect timeout (`Timeout => 10`), used here for the whole exchange.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default longest reply, in bytes without its LF (16 MiB); longer is `con_lost`.
pub const DEFAULT_MAX_REPLY: usize = DEFAULT_MAX_LINE;

/// What lonnet answers for a host it does not know; the equivalent of
/// [`ClientError::UnsafeHost`] for callers that speak lonnet's replies.
pub const NO_SUCH_HOST: &[u8] = b"no_such_host";

/// `critical`'s reply when the request was spooled and verified on disk.
pub const CON_DELAYED: &[u8] = b"con_delayed";

/// `critical`'s reply when the request could neither be delivered nor spooled.
pub const CON_FAILED: &[u8] = b"con_failed";

/// Local misuse: the request was not sent (and, for `critical`, not spooled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The request contains a LF: on the socket it would be two requests.
    RequestHasLineFeed,
    /// The host id is empty, `.` or `..`, or contains `/`, whitespace or a control character,
    /// so it cannot be a socket name (lonnet would answer [`NO_SUCH_HOST`]).
    UnsafeHost(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::RequestHasLineFeed => {
                f.write_str("request contains a line feed; a request is one line")
            }
            ClientError::UnsafeHost(host) => write!(
                f,
                "no_such_host: {host:?} is not a usable host id (empty, `.`, `..`, or has `/`, \
                 whitespace or control characters)"
            ),
        }
    }
}

impl std::error::Error for ClientError {}

/// Why [`Client::try_reply`] got no reply line.
#[derive(Debug)]
pub enum ReplyError {
    /// Local misuse; nothing was sent.
    Invalid(ClientError),
    /// The exchange failed; lonnet's answer would be `con_lost`. The I/O error says why:
    /// `NotFound`/`ConnectionRefused` (no daemon), `WouldBlock`/`TimedOut` (timeout),
    /// `UnexpectedEof` (closed before a whole line), `InvalidData` (reply too long), ...
    ConLost(io::Error),
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::Invalid(e) => e.fmt(f),
            ReplyError::ConLost(e) => write!(f, "con_lost: {e}"),
        }
    }
}

impl std::error::Error for ReplyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReplyError::Invalid(e) => Some(e),
            ReplyError::ConLost(e) => Some(e),
        }
    }
}

impl From<ClientError> for ReplyError {
    fn from(e: ClientError) -> Self {
        ReplyError::Invalid(e)
    }
}

/// Checks what lonnet's callers must guarantee: a one-line request and a host id that names a
/// file inside the socket directory.
pub fn check_request(host: &str, request: &[u8]) -> Result<(), ClientError> {
    if !is_safe_host_id(host) {
        return Err(ClientError::UnsafeHost(host.to_owned()));
    }
    if request.contains(&b'\n') {
        return Err(ClientError::RequestHasLineFeed);
    }
    Ok(())
}

/// A client of the lonc daemon: one connection per request, as lonnet does.
///
/// Cheap to clone; holds no connection. Safe to share between threads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    sock_dir: PathBuf,
    timeout: Duration,
    max_reply: usize,
}

impl Client {
    /// A client of the daemon whose sockets are in `sock_dir` (lonSockDir), with lonnet's 10 s
    /// timeout and a 16 MiB reply limit.
    pub fn new(sock_dir: impl Into<PathBuf>) -> Client {
        Client {
            sock_dir: sock_dir.into(),
            timeout: DEFAULT_TIMEOUT,
            max_reply: DEFAULT_MAX_REPLY,
        }
    }

    /// A client of the sockets in the configured `lonSockDir`.
    pub fn from_settings(settings: &Settings) -> Client {
        Client::new(settings.sock_dir.clone())
    }

    /// Bounds the whole exchange, connect, write and read, by `timeout` (a zero timeout is
    /// taken as 1 ms).
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The longest reply accepted, in bytes without the LF; a longer reply is `con_lost` and is
    /// never buffered beyond this size.
    pub fn with_max_reply(mut self, max_reply: usize) -> Client {
        self.max_reply = max_reply;
        self
    }

    /// The socket directory.
    pub fn sock_dir(&self) -> &Path {
        &self.sock_dir
    }

    /// The bound on one exchange.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The longest reply accepted.
    pub fn max_reply(&self) -> usize {
        self.max_reply
    }

    /// `<sock_dir>/<host>`. `host` should be safe ([`check_request`]).
    pub fn socket_path(&self, host: &str) -> PathBuf {
        self.sock_dir.join(host)
    }

    /// lonnet's `reply`/`subreply`, profile A: connect to `<sock_dir>/<host>`, write
    /// `<request>\n`, read one line and return it without its LF (an empty line is an empty
    /// reply). Every failure of the exchange is the reply [`CON_LOST`]; see the module
    /// documentation. `request` is given without LF.
    ///
    /// Unlike Perl's `<$client>`, a reply cut off by end-of-stream before its LF is
    /// `con_lost`, not a short answer: it cannot be told apart from a daemon that died mid-line.
    pub fn reply(&self, host: &str, request: &[u8]) -> Result<Vec<u8>, ClientError> {
        match self.try_reply(host, request) {
            Ok(line) => Ok(line),
            Err(ReplyError::Invalid(e)) => Err(e),
            Err(ReplyError::ConLost(_)) => Ok(CON_LOST.to_vec()),
        }
    }

    /// Like [`Client::reply`], but a lost connection is an `Err` that says why.
    pub fn try_reply(&self, host: &str, request: &[u8]) -> Result<Vec<u8>, ReplyError> {
        check_request(host, request)?;
        self.exchange(&self.socket_path(host), request)
            .map_err(ReplyError::ConLost)
    }

    fn exchange(&self, path: &Path, request: &[u8]) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + self.timeout;
        let stream = sys::connect(path, self.timeout)?;

        let mut line = Vec::with_capacity(request.len() + 1);
        line.extend_from_slice(request);
        line.push(b'\n');
        let mut written = 0;
        while written < line.len() {
            stream.set_write_timeout(Some(remaining(deadline)?))?;
            match sys::send(&stream, &line[written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        drop(line);

        let mut framer = LineFramer::new(self.max_reply);
        let mut buf = vec![0; self.max_reply.saturating_add(1).clamp(512, 64 * 1024)];
        loop {
            stream.set_read_timeout(Some(remaining(deadline)?))?;
            match (&stream).read(&mut buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "daemon closed the connection before a whole reply line",
                    ));
                }
                Ok(n) => {
                    framer
                        .push(&buf[..n])
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    if let Some(reply) = framer.next_line() {
                        return Ok(reply.to_vec());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// The time left until `deadline`, or `TimedOut` if none is.
fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(io::ErrorKind::TimedOut.into())
    } else {
        Ok(left)
    }
}

/// What [`critical_detailed`] did.
#[derive(Debug)]
pub enum Critical {
    /// The daemon answered (anything but `con_lost`); nothing was spooled.
    Replied(Vec<u8>),
    /// The request is in the delayed directory, durably, and was read back intact:
    /// `con_delayed`. `perm_log` is the failure to append the `D:` record, if any (the request
    /// is spooled all the same).
    Delayed {
        /// The spool file.
        file: PathBuf,
        /// Why the `D:` record could not be appended, if it could not.
        perm_log: Option<io::Error>,
    },
    /// The request was neither delivered nor spooled: `con_failed`. Whatever was written was
    /// removed again (best effort), so the daemon will not replay it.
    Failed {
        /// Why spooling failed.
        error: io::Error,
        /// Why the `F:` record could not be appended, if it could not.
        perm_log: Option<io::Error>,
    },
}

impl Critical {
    /// lonnet's reply: the daemon's line, `con_delayed` or `con_failed`.
    pub fn into_reply(self) -> Vec<u8> {
        match self {
            Critical::Replied(reply) => reply,
            Critical::Delayed { .. } => CON_DELAYED.to_vec(),
            Critical::Failed { .. } => CON_FAILED.to_vec(),
        }
    }
}

/// lonnet's `critical`, profile A (protocol 2.4): [`Client::reply`]; if that is `con_lost`,
/// spool the request to the delayed directory for the daemon to replay ([`Spool::delay`]).
///
/// Returns the daemon's reply, [`CON_DELAYED`] or [`CON_FAILED`]. lonnet's second attempt after
/// `reconlonc` (which signals the daemon) is not made.
pub fn critical(
    client: &Client,
    spool: &Spool,
    host: &str,
    request: &[u8],
) -> Result<Vec<u8>, ClientError> {
    critical_detailed(client, spool, host, request).map(Critical::into_reply)
}

/// [`critical`], saying where the request was spooled or why it could not be.
pub fn critical_detailed(
    client: &Client,
    spool: &Spool,
    host: &str,
    request: &[u8],
) -> Result<Critical, ClientError> {
    let reply = client.reply(host, request)?;
    if reply != CON_LOST {
        return Ok(Critical::Replied(reply));
    }
    spool.delay(host, request)
}

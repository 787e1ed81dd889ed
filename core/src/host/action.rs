//! What the host asks its driver to do.

use bytes::Bytes;

use crate::ids::{ClientId, LinkId};
use crate::log::LogEvent;

/// One output of a [`Host`](super::Host), drained with [`Host::poll_action`](super::Host::poll_action).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostAction {
    /// Create a link with this id and connect it (TCP connect, then the handshake). The driver
    /// later reports `handle_link_ready` or `handle_link_closed` for it.
    OpenLink(LinkId),
    /// Start this transaction on that Idle link. Requests starting `encrypt:` are the link's
    /// business (it encrypts them). The driver later reports `handle_reply` or
    /// `handle_link_closed`.
    Start { link: LinkId, request: Bytes },
    /// Close that link. The host has already forgotten it: any later event about it is stale
    /// and ignored.
    CloseLink(LinkId),
    /// Write this line (plus one `\n`) to that client: the lond reply, or `con_lost`.
    Answer { client: ClientId, line: Bytes },
    /// Read the first line of these files of the delayed directory (regular files only, at
    /// most the line limit, opened without blocking) and call `delayed_read` with what came.
    ReadDelayed(Vec<String>),
    /// Scan the delayed directory now (the host came back) and call `spool_listed`.
    ScanDelayed,
    /// The delayed file `name` was delivered: append `record` (`S:<host id>:<request>`) to
    /// `lonnet.perm.log`, then delete the file. If the record cannot be written the file is
    /// kept (and not replayed) until it can.
    Delivered { name: String, record: String },
    /// Write this to `lonc.log`.
    Log(LogEvent),
}

/// One delayed-request file read by the driver: its file name (not a path) and its first line,
/// without the LF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelayedFile {
    pub name: String,
    pub request: Bytes,
}

//! A transaction: one request line and whom its reply is for.

use std::time::Instant;

use bytes::Bytes;

use crate::ids::ClientId;

/// Whom the reply of a transaction goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A live client waiting on the UNIX socket.
    Client(ClientId),
    /// A delayed file (its name): on reply, delete it; on failure, leave it.
    Delayed(Box<str>),
    /// The client hung up while the request was on a link: the reply is discarded.
    Gone,
}

#[derive(Clone, Debug)]
pub(crate) struct Txn {
    pub(crate) origin: Origin,
    pub(crate) request: Bytes,
    /// When it came to the host: its reply's latency counts from here.
    pub(crate) arrived: Instant,
    /// When it is answered `con_lost` if not answered before (`None`: never).
    pub(crate) deadline: Option<Instant>,
    /// It was sent once and came back unread: it is not sent a third time.
    pub(crate) resent: bool,
}

//! `lonc-client`: lonnet's side of lonc's UNIX-socket protocol (protocol.md 2), for anyone who
//! talks to a lonc daemon as Apache children do: no poller, no command line.
//!
//! * [`Client::reply`] is lonnet's `reply`/`subreply`: one connection, one line out, one line
//!   back; every failure of the exchange is the reply `con_lost`.
//! * [`critical`] is lonnet's `critical`: a request that got `con_lost` is spooled durably to
//!   the delayed directory ([`Spool`]) for the daemon to replay, and recorded in
//!   `lonnet.perm.log`.
//! * [`localtime`] reads the clock and the local time zone for log records (the daemon's logs
//!   use it too).
//!
//! Profile A only: the socket is `<lonSockDir>/<host id>` and requests go out unprefixed (no
//! `sethost:`, no `.lock` files, no `lonSockCreate`).

#![warn(missing_docs)]

pub mod client;
pub mod localtime;
pub mod spool;
mod sys;

pub use client::{
    CON_DELAYED, CON_FAILED, CON_LOST, Client, ClientError, Critical, NO_SUCH_HOST, ReplyError,
    critical, critical_detailed,
};
pub use spool::{PermCode, Spool};

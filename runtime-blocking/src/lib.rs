//! `lonc-blocking`: lonc on plain threads and blocking I/O.
//!
//! For now this crate holds the **synchronous client** of the UNIX-socket protocol that lonnet
//! speaks to lonc (protocol.md 2): [`Client::reply`] is lonnet's `reply`/`subreply` and
//! [`critical`] its `critical`, which spools a request it could not deliver to the delayed
//! directory for the daemon to replay. `lonc send` uses it in both runtimes, and tests use it to
//! talk to a daemon the way Apache children do. [`localtime`] gives log writers the current
//! time as a [`lonc_core::logfmt::LocalTime`].
//!
//! The blocking daemon binary (the same daemon as `lonc-smol`'s, on threads and `polling`) will
//! be added to this crate later.
//!
//! Profile A only: the socket is `<lonSockDir>/<host id>` and requests go out unprefixed (no
//! `sethost:`, no `.lock` files, no `lonSockCreate`).

#![warn(missing_docs)]

pub mod cli;
pub mod client;
pub mod demo;
pub mod files;
pub mod localtime;
pub mod send;
pub mod serve;
pub mod sim;
pub mod spool;
pub mod startup;
pub mod sys;

pub use client::{
    CON_DELAYED, CON_FAILED, CON_LOST, Client, ClientError, Critical, NO_SUCH_HOST, ReplyError,
    critical, critical_detailed,
};
pub use spool::{PermCode, Spool};

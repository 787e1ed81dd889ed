//! `lonc-blocking`: the lonc daemon on plain threads and `polling`, and what both runtimes
//! share.
//!
//! # The blocking daemon
//!
//! The binary `lonc-blocking` is the same daemon as `lonc-smol`'s `lonc` (the same command
//! line, files and behaviour, the same core `Node`), for sites and embedders that want no async
//! runtime. Its thread model ([`serve`]):
//!
//! * **one event-loop thread** owns every socket (the host listeners, the client connections,
//!   the lond links), all non-blocking and registered with one `polling::Poller`,
//!   level-triggered: readable while input is wanted, writable only while output is pending,
//!   the registration changed only when that changes; `wait` is bounded by the node's next
//!   deadline;
//! * **one signal thread** (signal-hook's iterator) forwards SIGHUP, SIGINT, SIGTERM, SIGUSR1
//!   and SIGUSR2 through a channel and wakes the poller;
//! * **short-lived file-system threads** read the delayed directory when the node asks. Log
//!   lines, the permanent log, the status file and deleting delivered files are small writes
//!   done on the loop.
//!
//! # Shared by both runtimes
//!
//! * [`cli`]: the one command-line definition; [`startup`]: start-up, reload and the node's
//!   file actions; [`files`]: the log, status, pid and delayed files; [`localtime`]: the time
//!   for log lines; [`sys`]: the few system calls std lacks.
//! * The **synchronous client** of the UNIX-socket protocol lonnet speaks (protocol.md 2):
//!   [`Client::reply`] is lonnet's `reply`/`subreply` and [`critical`] its `critical`, which
//!   spools a request it could not deliver for the daemon to replay. `lonc send` ([`send`])
//!   uses it in both runtimes, and tests use it to talk to a daemon as Apache children do.
//! * [`sim`]: the simulated lond; [`demo`]: `lonc demo`.
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

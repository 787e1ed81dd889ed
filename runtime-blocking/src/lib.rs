//! `lonc-blocking`: the lonc daemon on plain threads and `polling`.
//!
//! The binary `lonc-blocking` is the same daemon as `lonc-smol`'s `lonc` (the same command
//! line, files and behaviour, the same core `Node`, the same OS edge in `lonc-edge`), for
//! sites and embedders that want no async runtime. Its thread model ([`serve`]):
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

#![warn(missing_docs)]

pub mod serve;

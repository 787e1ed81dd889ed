//! `lonc-edge`: what both lonc daemons share at their edge to the operating system, and the
//! tools built on it. A runtime (`lonc-smol`, `lonc-blocking`) is an event loop around the
//! core's `Node`; everything else it needs is here.
//!
//! * [`cli`]: the one command-line definition of both binaries;
//! * [`startup`]: start-up (settings, `hosts.tab`, logs, pid file, detaching), the reload on
//!   SIGHUP, and the node's outputs that only touch files;
//! * [`files`]: `lonc.log`, `lonnet.perm.log`, the status and delayed files, the host
//!   sockets; [`pidfile`]: `lonc.pid`, locked: one daemon per configuration;
//! * [`notify`]: readiness and state for a detaching parent, standard error and systemd, and
//!   [`title`]: the process title `ps` shows;
//! * [`sys`]: the few system calls std lacks;
//! * [`check`]: `lonc check`, the configuration read as the daemon would and its problems;
//! * [`control`]: `lonc status`, `revive`, `reload` and `debug`, through the control socket;
//! * [`send`]: `lonc send`, through `lonc-client`; [`demo`]: `lonc demo`; [`generate`]: `lonc
//!   man` and `lonc completions`; [`sim`]: the simulated lond (also the `lond-sim` binary).

#![warn(missing_docs)]

pub mod check;
pub mod cli;
pub mod control;
pub mod demo;
pub mod files;
pub mod generate;
pub mod notify;
pub mod pidfile;
pub mod send;
pub mod sim;
pub mod spool;
pub mod startup;
pub mod sys;
pub mod title;

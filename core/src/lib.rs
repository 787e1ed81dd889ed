//! `lonc-core`: every decision of the lonc daemon, with no I/O.
//!
//! The core never reads a clock, never draws randomness and never touches a socket or a file.
//! A runtime owns those and drives one [`node::Node`]; the node composes the other machines
//! (the parent's [`daemon::Daemon`], a [`host::Host`] scheduler per remote host, a
//! [`link::Link`] per lond connection, a [`client_conn::ClientConn`] per lonnet connection).
//! `ARCHITECTURE.md` at the top of the repository maps where each rule lives.
//!
//! # The drive contract
//!
//! Every state machine of the core — the node, and each machine inside it, which tests and
//! fuzzers drive alone — is driven the same way:
//!
//! 1. **Inputs** are `handle_*` calls (what happened: bytes read, a connection made, a signal)
//!    and **commands** are plain methods (`submit`, `reset`, `accept`, ...). Each takes
//!    `now: Instant` where time matters; the core reads no clock.
//! 2. After **every** input or command, the driver drains the outputs (`poll_output`,
//!    `poll_action`, `poll_event`, `poll_transmit`) until they are empty and carries each out,
//!    in order, before calling anything else. Every output must be carried out; none may be
//!    ignored (the runtimes match them exhaustively).
//! 3. Then it waits for input or until `poll_timeout()`, whichever comes first; when the clock
//!    (read then) has reached that instant, it calls `handle_timeout(now)` and drains again.
//!
//! Lines crossing any API of the core are passed **without** their terminating LF; whoever
//! writes a line to a stream appends exactly one `\n`. Randomness comes in as seeds.
//!
//! The canonical drive loop of a runtime, compiled as a test (a runtime replaces the comments
//! with its sockets, files and clock):
//!
//! ```
//! use std::time::Instant;
//! use lonc_core::conf::Settings;
//! use lonc_core::hosts_tab;
//! use lonc_core::node::{Node, NodeConfig, Output};
//!
//! let settings = Settings {
//!     host_id: "msul2".into(),
//!     sock_dir: "/home/httpd/sockets".into(),
//!     daemons_dir: "/home/httpd/perl".into(),
//!     doc_root: "/home/httpd/html".into(),
//!     hosts_file: "/home/httpd/lonTabs/hosts.tab".into(),
//!     lond_port: 5663,
//! };
//! let (hosts, problems) = hosts_tab::parse("msul1:msu:library:msul1.example:10.0.0.1\n");
//! let mut node = Node::new(NodeConfig::default(), settings, &hosts, &problems, Instant::now(), 7);
//! let (mut listening, mut ready) = (0, false);
//! loop {
//!     // 2. Carry out every output, in order; the match has no catch-all arm, so a new
//!     //    output cannot be silently dropped.
//!     while let Some(output) = node.poll_output() {
//!         match output {
//!             Output::Listen { host, .. } => {
//!                 listening += 1; // bind the host's UNIX socket, say whether it listens
//!                 node.listened(Instant::now(), host, true);
//!             }
//!             Output::ListenControl { .. } => {}       // bind lonc.ctl, node.control_listened
//!             Output::ListenMetrics { .. } => {}       // bind TCP, node.accept_metrics on each
//!             Output::Ready => ready = true,           // tell systemd, a detaching parent
//!             Output::Unlisten { .. } => listening -= 1, // close it, remove the file
//!             Output::StopAccepting => {}              // close every listener
//!             Output::Connect { .. } => {}             // start a TCP connect
//!             Output::Transmit { .. } => {}            // write, then node.handle_written
//!             Output::ProbeReset { .. } => {}          // SO_ERROR: read error, or EOF again
//!             Output::CloseLink { .. } => {}           // write the farewell, close
//!             Output::Answer { .. } => {}              // write to the client
//!             Output::CloseClient { .. } => {}         // close once its answers are out
//!             Output::AbortClient { .. } => {}         // close now, unwritten answers dropped
//!             Output::ScanDelayed => {}                // list delayed/, node.delayed_listed
//!             Output::ReadDelayed { .. } => {}         // read those files, node.delayed_read
//!             Output::Delivered { .. } => {}           // S: to lonnet.perm.log, delete the file
//!             Output::RemoveDelayed { .. } => {}       // R: records, delete, node.delayed_removed
//!             Output::Log { .. } => {}                 // append to lonc.log
//!             Output::WriteStatus(_) => {}             // write loncstatus.txt
//!             Output::ReloadConfig => {}               // re-read, node.reload
//!             Output::RemoveFiles(_) => {}             // remove the sockets and pid file
//!             Output::ShowStatus(_) => {}              // process title, systemd STATUS=
//!             Output::Exit(code) => assert_eq!(code, 0), // flush answers, exit
//!         }
//!     }
//!     // 3. Wait for a socket, a signal or `node.poll_timeout()`, then feed what happened:
//!     //    `node.accept`, `node.handle_client_input`, `node.handle_link_input`,
//!     //    `node.handle_signal`, or `node.handle_timeout(Instant::now())` at the deadline.
//!     break;
//! }
//! assert_eq!(listening, 1, "one remote host, one socket");
//! assert!(ready, "start-up is over once every socket is reported");
//! ```

pub mod cipher;
pub mod client_conn;
pub mod conf;
pub mod control;
pub mod daemon;
pub mod enc;
pub mod framing;
pub mod host;
pub mod hosts_tab;
pub mod ids;
pub mod key;
pub mod link;
pub mod log;
pub mod logfmt;
pub mod metrics;
pub mod node;
pub mod quote;
pub mod reason;
pub mod request;
pub mod session;
pub mod spool;
pub mod stats;
pub mod timer;
mod wire;

pub use wire::WrittenTooMuch;

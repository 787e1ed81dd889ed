//! `lonc-core`: every decision of the lonc daemon, with no I/O.
//!
//! The core never reads a clock, never draws randomness and never touches a socket or a file.
//! Every state machine follows the same contract:
//!
//! * inputs are `handle_*` calls that take `now: Instant` where time matters;
//! * commands are plain methods (`submit`, `close`, ...);
//! * outputs are drained with `poll_*` methods until they return `None`;
//! * then the driver sleeps until `poll_timeout()` (or until new input) and calls
//!   `handle_timeout(now)`.
//!
//! Lines crossing any API of the core are passed **without** their terminating LF; whoever
//! writes a line to a stream appends exactly one `\n`.

pub mod cipher;
pub mod client_conn;
pub mod conf;
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
pub mod node;
pub mod reason;
pub mod request;
pub mod session;
pub mod spool;
pub mod timer;
mod wire;

pub use wire::WrittenTooMuch;

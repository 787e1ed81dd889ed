//! `lonc-smol`: the production lonc daemon, on smol/async-io.
//!
//! The command line, the files, `lonc send`, `lonc demo` and the simulated lond are shared
//! with the blocking runtime and live in `lonc-edge`; this crate is the event loop ([`serve`]).

pub mod serve;

//! `lonc-smol`: the lonc daemon driven by smol/async-io, and the simulated lond binary.
//!
//! The command line, the files, `lonc send`, `lonc demo` and the simulated lond are shared
//! with the blocking runtime and live in `lonc-blocking`; this crate is the event loop.

pub mod serve;

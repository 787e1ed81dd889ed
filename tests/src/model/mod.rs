//! Reference models of lonc-core's state machines, written from their documented rules, and the
//! drivers that run the real machine next to its model.
//!
//! [`host`] is the one model of the per-host scheduler; [`host_driver`] drives a real
//! `lonc_core::host::Host` and the model together and compares every step. Both the proptest
//! model test (`tests/tests/host_model.rs`) and the `host` fuzz target
//! (`fuzz_logic::host`) run it.
//!
//! [`node`] drives a whole `lonc_core::node::Node` as a runtime does and checks the rules any
//! correct daemon keeps (`tests/tests/node_model.rs`).

pub mod host;
pub mod host_driver;
pub mod node;

//! `lonc-smol`: the lonc daemon driven by smol/async-io, the simulated lond and the demo.

pub mod sim;

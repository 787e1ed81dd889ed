//! `lonc-smol`: the lonc daemon driven by smol/async-io, the simulated lond, `lonc send` and
//! `lonc demo`.

pub mod cli;
pub mod demo;
pub mod files;
pub mod send;
pub mod serve;
pub mod sim;
mod sys;

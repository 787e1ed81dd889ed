//! Shared harnesses for lonc's cross-crate tests and fuzz targets, and the load tool.

pub mod bench;
pub mod cluster;
pub mod conformance;
pub mod fuzz_logic;
pub mod model;
pub mod pair;
pub mod prom;
pub mod rng;

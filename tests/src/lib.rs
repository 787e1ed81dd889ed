//! Shared harnesses for lonc's cross-crate tests and fuzz targets.

pub mod fuzz_logic;
pub mod pair;
pub mod rng;

//! Thin wrapper: the checks live in `lonc_tests::fuzz_logic::session` so that the corpus replays
//! on stable in `cargo test`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lonc_tests::fuzz_logic::session::run(data));

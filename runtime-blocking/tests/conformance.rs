//! The conformance suite of `tests/` against the blocking daemon.

lonc_tests::conformance_suite!(env!("CARGO_BIN_EXE_lonc-blocking"));

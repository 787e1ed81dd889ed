//! The load tool (`lonc-bench standard --smoke`) against this runtime's `lonc-blocking`, for a
//! few seconds: it keeps the benchmark working. Its figures are printed, never asserted; every
//! set-up it asks for (direct, null relay, this daemon) must run, none skipped.

#[test]
fn the_standard_benchmark_runs_in_smoke_mode() {
    let daemon = std::path::Path::new(env!("CARGO_BIN_EXE_lonc-blocking"));
    let report = lonc_tests::bench::smoke(None, Some(daemon));
    println!("{report}");
}

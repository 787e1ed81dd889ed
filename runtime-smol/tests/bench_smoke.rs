//! The load tool (`lonc-bench standard --smoke`) against this runtime's `lonc`, for a few
//! seconds: it keeps the benchmark working. Its figures are printed, never asserted; every set-up
//! it asks for (direct, null relay, this daemon) must run, none skipped. The null relay runs as a
//! process of its own: this test binary again, running only `null_relay_process`.

#[test]
fn the_standard_benchmark_runs_in_smoke_mode() {
    let lonc = std::path::Path::new(env!("CARGO_BIN_EXE_lonc"));
    let relay = lonc_tests::bench::relay::Launcher::test_binary("null_relay_process")
        .expect("this test binary");
    let report = lonc_tests::bench::smoke(Some(lonc), None, relay);
    println!("{report}");
}

/// The null relay's process for the smoke test above; does nothing when run by hand.
#[test]
#[ignore = "the null relay's process, started by the smoke test"]
fn null_relay_process() {
    lonc_tests::bench::relay::serve_if_asked();
}

//! The load tool (`lonc-bench standard --smoke`) against this runtime's `lonc-blocking`, for a
//! few seconds: it keeps the benchmark working. Its figures are printed, never asserted; every
//! set-up it asks for (direct, null relay, this daemon) must run, none skipped. The null relay
//! runs as a process of its own: this test binary again, running only `null_relay_process`.

#[test]
fn the_standard_benchmark_runs_in_smoke_mode() {
    let daemon = std::path::Path::new(env!("CARGO_BIN_EXE_lonc-blocking"));
    let relay = lonc_tests::bench::relay::Launcher::test_binary("null_relay_process")
        .expect("this test binary");
    let report = lonc_tests::bench::smoke(None, Some(daemon), relay);
    println!("{report}");
}

/// `lonc-bench delivery --smoke` against this runtime's `lonc-blocking`: a spool file delivered with
/// no traffic, spooled requests drained under live clients, a lond that closes each link after
/// one reply, a frozen lond. Figures printed, never asserted; asserted: every part ran, every
/// spooled request was delivered, none and no live request ran twice. The frozen lond runs as
/// a process of its own: this test binary again, running only `lond_process`.
#[test]
fn the_delivery_benchmark_runs_in_smoke_mode() {
    let daemon = std::path::Path::new(env!("CARGO_BIN_EXE_lonc-blocking"));
    let lond =
        lonc_tests::bench::relay::Launcher::test_binary("lond_process").expect("this test binary");
    let report = lonc_tests::bench::delivery::smoke("lonc-blocking", daemon, lond);
    println!("{report}");
}

/// The simulated lond's process for the delivery smoke test; does nothing when run by hand.
#[test]
#[ignore = "the simulated lond's process, started by the delivery smoke test"]
fn lond_process() {
    lonc_tests::bench::delivery::lond_if_asked();
}

/// The null relay's process for the smoke test above; does nothing when run by hand.
#[test]
#[ignore = "the null relay's process, started by the smoke test"]
fn null_relay_process() {
    lonc_tests::bench::relay::serve_if_asked();
}

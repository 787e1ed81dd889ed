//! `lonc-bench`, the load tool: throughput, latency, memory and fail-fast of the daemons
//! against two floors, on one machine in one run.
//!
//! Set-ups, all against the same simulated lond ([`lonc_edge::sim::Sim`]):
//!
//! * (a) *direct*: the bench speaks the lond protocol itself over persistent TCP links
//!   ([`link::SyncLink`], the core's `Link` driven with blocking I/O): the network floor;
//! * (b) *null relay* ([`relay::NullRelay`]): the simplest UNIX→TCP relay, the ceiling for any
//!   daemon with lonc's socket model, run as a process of its own ([`relay::RelayProcess`]);
//! * (c) `lonc` (smol) and (d) `lonc-blocking`, started as child processes on a temporary
//!   LON-CAPA layout ([`daemon`]).
//!
//! The load model is in [`load`]; the standard run and its report in [`standard`]. The
//! measurements of spooled delivery and of faulty londs (issue 13) are in [`delivery`].

pub mod cpu;
pub mod daemon;
pub mod delivery;
pub mod instructions;
pub mod link;
pub mod load;
pub mod relay;
pub mod standard;
pub mod syscalls;

/// Runs the smoke version of the standard comparison against the daemon binaries given (and
/// only those: a daemon not given is not asked for) and returns its report; panics if any
/// set-up was skipped or failed to answer. For a `#[test]`: the figures are never asserted.
/// `relay` starts the null relay's process: in a test binary,
/// [`relay::Launcher::test_binary`] naming an `#[ignore]`d test that calls
/// [`relay::serve_if_asked`].
pub fn smoke(
    lonc: Option<&std::path::Path>,
    lonc_blocking: Option<&std::path::Path>,
    relay: relay::Launcher,
) -> String {
    let mut only = vec!["direct".to_string(), "relay".to_string()];
    only.extend(lonc.map(|_| "lonc".to_string()));
    only.extend(lonc_blocking.map(|_| "blocking".to_string()));
    let options = standard::Options {
        lonc: lonc.map(Into::into),
        lonc_blocking: lonc_blocking.map(Into::into),
        relay: Some(relay),
        only,
        ..standard::Options::smoke()
    };
    let report = standard::run(&options).expect("the smoke benchmark runs");
    assert!(
        report.skipped.is_empty(),
        "set-ups skipped: {:?}",
        report.skipped
    );
    let mut asked = vec![standard::DIRECT, standard::RELAY];
    asked.extend(lonc.map(|_| standard::LONC));
    asked.extend(lonc_blocking.map(|_| standard::BLOCKING));
    for setup in &asked {
        assert!(
            report.rows.iter().any(|r| r.setup == *setup),
            "{setup}: not measured"
        );
    }
    let daemons: Vec<&str> = report.daemons.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        daemons,
        asked[2..],
        "the daemons' memory and fail-fast figures"
    );
    assert!(
        !report.rounds.is_empty(),
        "the goals' interleaved rounds were not run"
    );
    if let Some(floor) = &report.relay_dead {
        assert!(floor.ok > 0, "the dead-host floor: no request answered");
    }
    for row in report.rows.iter().chain(&report.rounds) {
        assert!(
            row.out.ok > 0,
            "{} {} C={}: no request answered",
            row.setup,
            row.mode,
            row.clients
        );
    }
    report.markdown()
}

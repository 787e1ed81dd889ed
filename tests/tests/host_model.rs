//! Model test of the host scheduler: random configurations (small queue bounds by count and by
//! bytes, 1 to 4 links, 0 to 4 retries, zero and huge durations, short request timeouts) and
//! random sequences of requests, `close_connection_exit`, hang-ups, link events (closed with the
//! request read or unread), delayed files (readable, unreadable, vanishing, delivered and put
//! back), scans, reads answered in any order, resets, `stop_replay`, shutdowns, stale events and
//! clock jumps, each step checked against the one reference model (`lonc_tests::model::host`,
//! driven by `HostDriver`; the `host` fuzz target runs the same).
//!
//! The model predicts every answer exactly (a `con_lost` only for its cause), every start (FIFO,
//! most recently idle link, requests sent again first), every link opened and closed, the
//! delayed directory's scans, reads, replay window, skipped files and deliveries, the status
//! line and counters; timers (request deadlines included) only within their windows. At the end
//! every link is let finish and every client that stayed must have its answer.

use std::time::Duration;

use bytes::Bytes;
use lonc_core::host::HostConfig;
use lonc_core::reason::CloseReason;
use lonc_tests::model::host::{Cause, HOST};
use lonc_tests::model::host_driver::{HostDriver, Step, Tally, request};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn config() -> impl Strategy<Value = HostConfig> {
    (
        1usize..=4,
        0u32..=4,
        prop_oneof![
            (0u64..4).prop_map(secs),
            (30u64..200).prop_map(secs),
            Just(Duration::MAX)
        ],
        prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::from_millis(250)),
            Just(secs(1))
        ],
        0usize..=6,
        prop_oneof![0usize..120, Just(1usize << 20)],
        prop_oneof![4 => (0u64..4).prop_map(secs), 1 => Just(Duration::MAX)],
        prop_oneof![(0u64..60).prop_map(secs), Just(Duration::MAX)],
        prop_oneof![
            2 => (0u64..5).prop_map(secs),
            2 => (5u64..120).prop_map(secs),
            1 => Just(Duration::from_millis(1500)),
            1 => Just(Duration::MAX)
        ],
    )
        .prop_map(
            |(
                max_links,
                retries,
                idle_timeout,
                tick,
                max_queue_len,
                max_queue_bytes,
                probe_min,
                probe_max,
                request_timeout,
            )| {
                HostConfig {
                    max_links,
                    retries,
                    idle_timeout,
                    tick,
                    max_queue_len,
                    max_queue_bytes,
                    probe_min,
                    probe_max,
                    request_timeout,
                }
            },
        )
}

fn step() -> impl Strategy<Value = Step> {
    let submit = (any::<bool>(), 0u64..1000, 0usize..30)
        .prop_map(|(enc, n, pad)| Step::Submit(request(enc, n, pad)));
    let spool = (0u64..50, 0u8..3, 0u8..10, any::<bool>()).prop_map(|(time, count, kind, enc)| {
        let name = match kind {
            0 => format!("junk{time}"),
            1 => format!("{time}.{count}.1.put.other"),
            _ => format!("{time}.{count}.1.put.{HOST}"),
        };
        let request = if enc {
            format!("encrypt:passwd:msu:{name}:hunter2")
        } else {
            format!("put:msu:{name}")
        };
        Step::Spool {
            name,
            request: Bytes::from(request),
        }
    });
    let lost = (any::<usize>(), 0u8..4).prop_map(|(i, how)| match how {
        0 => Step::LinkLost(i, CloseReason::StepTimeout, false),
        1 => Step::LinkLost(i, CloseReason::Eof, false),
        2 => Step::LinkLost(i, CloseReason::Eof, true),
        _ => Step::LinkLost(
            i,
            CloseReason::ReadError(std::io::ErrorKind::ConnectionReset),
            true,
        ),
    });
    let unreadable = (0u64..50, 0u8..3)
        .prop_map(|(time, count)| Step::SpoolUnreadable(format!("{time}.{count}.2.put.{HOST}")));
    let advance = prop_oneof![
        (0u64..3000).prop_map(Duration::from_millis),
        (0u64..400).prop_map(secs)
    ]
    .prop_map(Step::Advance);
    prop_oneof![
        48 => submit,
        6 => Just(Step::Submit(Bytes::from_static(b"close_connection_exit"))),
        12 => any::<usize>().prop_map(Step::ClientGone),
        40 => any::<usize>().prop_map(Step::LinkReady),
        16 => any::<usize>().prop_map(Step::ConnectFail),
        56 => any::<usize>().prop_map(Step::Reply),
        16 => lost,
        16 => spool,
        3 => unreadable,
        3 => any::<usize>().prop_map(Step::Unspool),
        3 => any::<usize>().prop_map(Step::DeletionFailed),
        8 => Just(Step::Offer),
        10 => Just(Step::Scan),
        16 => any::<usize>().prop_map(Step::Read),
        8 => Just(Step::Reset),
        1 => Just(Step::StopReplay),
        1 => Just(Step::CloseAll),
        24 => advance,
        8 => any::<u8>().prop_map(Step::Stale),
    ]
}

fn script() -> impl Strategy<Value = (HostConfig, u64, Vec<Step>)> {
    (
        config(),
        any::<u64>(),
        proptest::collection::vec(step(), 0..100),
    )
}

fn run(config: HostConfig, seed: u64, steps: &[Step]) -> Result<Tally, String> {
    let mut driver = HostDriver::new(config, seed);
    for s in steps {
        driver.step(s)?;
    }
    driver.finish()?;
    Ok(driver.tally().clone())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn host_matches_the_reference_model((config, seed, steps) in script()) {
        run(config, seed, &steps).map_err(TestCaseError::fail)?;
    }
}

/// The generator reaches every cause of `con_lost`, probes, prunes, replies, delayed deliveries,
/// skipped files, requests sent again and timed out (fixed seed), so the model test above is
/// not vacuous.
#[test]
fn the_generated_scripts_reach_every_cause() {
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[11; 32]),
    );
    let strategy = script();
    let mut total = Tally::default();
    for _ in 0..128 {
        let (config, seed, steps) = strategy.new_tree(&mut runner).unwrap().current();
        let t = run(config, seed, &steps).unwrap_or_else(|e| panic!("{e}"));
        total.replies += t.replies;
        total.deleted += t.deleted;
        total.read += t.read;
        total.skipped += t.skipped;
        total.resent += t.resent;
        total.timed_out += t.timed_out;
        total.probes += t.probes;
        total.prunes += t.prunes;
        total.was_dead |= t.was_dead;
        for (cause, n) in t.con_lost {
            *total.con_lost.entry(cause).or_default() += n;
        }
    }
    for cause in [
        Cause::DeadAtSubmit,
        Cause::ClosedAtSubmit,
        Cause::QueueFull,
        Cause::ConnectFailed,
        Cause::MarkedDead,
        Cause::BusyLinkLost,
        Cause::CloseConnectionExit,
        Cause::Shutdown,
        Cause::Deadline,
    ] {
        assert!(
            total.con_lost.contains_key(&cause),
            "no con_lost for {cause}: {total:?}"
        );
    }
    assert!(
        total.replies > 0 && total.deleted > 0 && total.probes > 0 && total.prunes > 0,
        "{total:?}"
    );
    assert!(
        total.read > 0 && total.skipped > 0 && total.resent > 0 && total.timed_out > 0,
        "{total:?}"
    );
}

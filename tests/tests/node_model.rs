//! Model test of the whole `Node`, the only API the runtimes call: random configurations and
//! random sequences of what a runtime and the world do (clients connecting, writing whole lines,
//! pieces, pipelined lines, over-long lines, binary bytes and `close_connection_exit`, hanging
//! up or failing; londs up, refusing, hanging or holding their replies; links failing or
//! stalling; the clock moving (request deadlines, periodic scans of the delayed directory); USR1,
//! USR2, HUP and reloads, TERM and INT; delayed files, odd names in the delayed directory and a
//! `lonnet.perm.log` that cannot be written), each
//! step checked by `lonc_tests::model::node::NodeDriver` (its documentation lists every rule),
//! then everything let finish: every client that stayed answered, closed on EOF, and a TERM
//! exiting at once.

use std::time::Duration;

use lonc_core::daemon::{DaemonConfig, Signal};
use lonc_core::host::HostConfig;
use lonc_core::link::LinkConfig;
use lonc_core::node::NodeConfig;
use lonc_tests::model::node::{LinkFault, LondMode, NodeDriver, Op, Payload, Reload, Tally};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn config() -> impl Strategy<Value = NodeConfig> {
    let host = (
        1usize..=3,
        0u32..=3,
        prop_oneof![Just(secs(10)), Just(secs(100)), Just(secs(3600))],
        prop_oneof![Just(secs(1)), Just(Duration::from_millis(250))],
        prop_oneof![Just(0usize), Just(1), Just(2), Just(1024)],
        prop_oneof![Just(100usize), Just(8 << 20)],
        prop_oneof![Just(secs(1)), Just(secs(2))],
        prop_oneof![Just(secs(1)), Just(secs(10)), Just(secs(60))],
        prop_oneof![Just(secs(3)), Just(secs(30)), Just(Duration::MAX)],
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
            )| HostConfig {
                max_links,
                retries,
                idle_timeout,
                tick,
                max_queue_len,
                max_queue_bytes,
                probe_min,
                probe_max,
                request_timeout,
            },
        );
    let link = (
        prop_oneof![Just(secs(1)), Just(secs(5))],
        prop_oneof![Just(secs(2)), Just(secs(30))],
        prop_oneof![Just(64usize), Just(300)],
    )
        .prop_map(|(connect_timeout, step_timeout, max_line)| LinkConfig {
            connect_timeout,
            step_timeout,
            max_line,
        });
    let daemon = (
        prop_oneof![Just(secs(1)), Just(secs(5)), Just(secs(30))],
        any::<bool>(),
    )
        .prop_map(|(shutdown_grace, debug)| DaemonConfig {
            shutdown_grace,
            debug,
        });
    let scan_interval = prop_oneof![Just(secs(1)), Just(secs(5)), Just(secs(60))];
    (daemon, host, link, scan_interval).prop_map(|(daemon, host, link, scan_interval)| NodeConfig {
        daemon,
        host,
        link,
        scan_interval,
        metrics_listen: None,
    })
}

fn table() -> impl Strategy<Value = Vec<(u8, u8)>> {
    proptest::collection::vec((0u8..4, 0u8..2), 0..4)
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        8 => (any::<bool>(), 0u8..60).prop_map(|(enc, pad)| Payload::Line { enc, pad }),
        3 => (any::<u8>(), any::<bool>())
            .prop_map(|(count, enc)| Payload::Pipelined { count, enc }),
        3 => (any::<bool>(), any::<u8>()).prop_map(|(enc, cut)| Payload::Piece { enc, cut }),
        3 => Just(Payload::Rest),
        1 => any::<u8>().prop_map(|extra| Payload::OverLong { extra }),
        1 => proptest::collection::vec(any::<u8>(), 1..12).prop_map(Payload::Binary),
        1 => Just(Payload::CloseConnectionExit),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let mode = prop_oneof![
        3 => Just(LondMode::Up),
        1 => Just(LondMode::Refusing),
        1 => Just(LondMode::Hanging),
        1 => Just(LondMode::Holding),
    ];
    let fault = prop_oneof![
        Just(LinkFault::Eof),
        Just(LinkFault::ReadError),
        Just(LinkFault::WriteError)
    ];
    let advance = prop_oneof![
        (0u64..3000).prop_map(Duration::from_millis),
        (0u64..400).prop_map(secs)
    ];
    let signal = prop_oneof![
        3 => Just(Signal::Usr1),
        1 => Just(Signal::Usr2),
        3 => Just(Signal::Hup),
        2 => Just(Signal::Term),
        1 => Just(Signal::Int),
    ];
    let reload = prop_oneof![
        4 => table().prop_map(Reload::Table),
        1 => Just(Reload::Failed),
    ];
    prop_oneof![
        12 => any::<u8>().prop_map(Op::Connect),
        30 => (any::<u8>(), payload()).prop_map(|(client, payload)| Op::Write { client, payload }),
        5 => any::<u8>().prop_map(Op::Eof),
        2 => any::<u8>().prop_map(Op::ClientError),
        8 => (any::<u8>(), mode).prop_map(|(host, mode)| Op::Lond { host, mode }),
        4 => (any::<u8>(), fault).prop_map(|(link, fault)| Op::LinkFault { link, fault }),
        5 => any::<u8>().prop_map(Op::Stall),
        6 => (any::<u8>(), 0u8..40).prop_map(|(link, n)| Op::WriteSome { link, n }),
        4 => any::<u8>().prop_map(Op::LondAnswer),
        8 => advance.prop_map(Op::Advance),
        5 => Just(Op::AdvanceToDeadline),
        4 => signal.prop_map(Op::Signal),
        3 => reload.prop_map(Op::Reload),
        3 => (any::<u8>(), any::<bool>()).prop_map(|(host, enc)| Op::Spool { host, enc }),
        1 => any::<u8>().prop_map(Op::SpoolOdd),
        1 => any::<bool>().prop_map(Op::PermLogFails),
        3 => any::<u8>().prop_map(Op::SpoolDelete),
        2 => any::<u8>().prop_map(Op::Stale),
        3 => any::<u8>().prop_map(Op::Control),
    ]
}

/// A configuration, the first `hosts.tab`, the probe seed, the ops, and how many signals (TERM,
/// then INT) begin the end.
type Script = (NodeConfig, Vec<(u8, u8)>, u64, Vec<Op>, u8);

fn script() -> impl Strategy<Value = Script> {
    (
        config(),
        table(),
        any::<u64>(),
        proptest::collection::vec(op(), 0..80),
        prop_oneof![6 => Just(0u8), 1 => Just(1), 1 => Just(2)],
    )
}

fn run((config, table, seed, ops, signals): &Script) -> Result<Tally, String> {
    let mut driver = NodeDriver::new(config.clone(), table, *seed)?;
    for op in ops {
        driver.step(op)?;
    }
    driver.finish(*signals)?;
    Ok(driver.tally().clone())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_node_keeps_every_rule_whatever_happens(script in script()) {
        run(&script).map_err(TestCaseError::fail)?;
    }
}

/// The generator reaches what the rules are about (fixed seed), so the test above is not
/// vacuous: replies, pipelined replies, `con_lost` for each kind of cause (a request deadline
/// included), hang-ups, refused accepts, delayed deliveries (failed records and deliveries again
/// included), warnings about odd names, `spool delete` deleting files and refusing one being
/// delivered, farewells, partial writes, dead hosts, reloads that change the hosts, both kinds
/// of exit and a second TERM/INT during a shutdown.
#[test]
fn the_generated_scripts_reach_every_rule() {
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[12; 32]),
    );
    let strategy = script();
    let mut total = Tally::default();
    for _ in 0..512 {
        let script = strategy.new_tree(&mut runner).unwrap().current();
        let t = run(&script).unwrap_or_else(|e| panic!("{e}"));
        total.replies += t.replies;
        total.control_ok += t.control_ok;
        total.control_errors += t.control_errors;
        total.pipelined += t.pipelined;
        total.hung_up += t.hung_up;
        total.refused_accepts += t.refused_accepts;
        total.deleted += t.deleted;
        total.record_failed += t.record_failed;
        total.redelivered += t.redelivered;
        total.spool_warnings += t.spool_warnings;
        total.spool_deleted += t.spool_deleted;
        total.spool_delete_busy += t.spool_delete_busy;
        total.farewells += t.farewells;
        total.partial_writes += t.partial_writes;
        total.dead += t.dead;
        total.reloads += t.reloads;
        total.drained_exits += t.drained_exits;
        total.forced_exits += t.forced_exits;
        total.second_signals += t.second_signals;
        for (cause, n) in t.con_lost {
            *total.con_lost.entry(cause).or_default() += n;
        }
    }
    for cause in [
        "over-long line",
        "close_connection_exit",
        "shutdown",
        "host removed",
        "host dead",
        "link failed",
        "queue may be full",
        "deadline",
    ] {
        assert!(
            total.con_lost.contains_key(cause),
            "no con_lost for {cause}: {total:?}"
        );
    }
    let counts = [
        ("replies", total.replies),
        ("control_ok", total.control_ok),
        ("control_errors", total.control_errors),
        ("pipelined", total.pipelined),
        ("hung_up", total.hung_up),
        ("refused_accepts", total.refused_accepts),
        ("deleted", total.deleted),
        ("record_failed", total.record_failed),
        ("redelivered", total.redelivered),
        ("spool_warnings", total.spool_warnings),
        ("spool_deleted", total.spool_deleted),
        ("spool_delete_busy", total.spool_delete_busy),
        ("farewells", total.farewells),
        ("partial_writes", total.partial_writes),
        ("dead", total.dead),
        ("reloads", total.reloads),
        ("drained_exits", total.drained_exits),
        ("forced_exits", total.forced_exits),
        ("second_signals", total.second_signals),
    ];
    for (what, n) in counts {
        assert!(n > 0, "no {what}: {total:?}");
    }
}

/// The shortest sequence of a bug the model test found: at +10 s one `handle_timeout` finds
/// msul5's connect timed out (its `con_lost` answers the last waiting client, so the node exits)
/// and msul1's idle link due for pruning, which the node used to prune after `Exit`.
#[test]
fn nothing_follows_a_drained_exit_in_handle_timeout() {
    let config = NodeConfig {
        daemon: DaemonConfig {
            shutdown_grace: secs(1),
            debug: false,
        },
        host: HostConfig {
            max_links: 1,
            retries: 0,
            idle_timeout: secs(10),
            tick: secs(1),
            max_queue_len: 1,
            max_queue_bytes: 100,
            probe_min: secs(1),
            probe_max: secs(1),
            request_timeout: secs(30),
        },
        link: LinkConfig {
            connect_timeout: secs(1),
            step_timeout: secs(2),
            max_line: 64,
        },
        scan_interval: secs(5),
        metrics_listen: None,
    };
    let line = || Payload::Line { enc: false, pad: 0 };
    let ops = vec![
        // msul5 (the third host) hangs; a client of msul1 gets its link.
        Op::Lond {
            host: 3,
            mode: LondMode::Hanging,
        },
        Op::Connect(0),
        Op::Write {
            client: 0,
            payload: line(),
        },
        // A client of msul5 waits on a hanging connect; then TERM, and the clock jumps.
        Op::Connect(2),
        Op::Write {
            client: 1,
            payload: line(),
        },
        Op::Signal(Signal::Term),
        Op::Advance(secs(10)),
    ];
    let mut driver = NodeDriver::new(config, &[(0, 0), (1, 0), (3, 0)], 0).unwrap();
    for op in &ops {
        driver.step(op).unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(driver.has_exited());
}

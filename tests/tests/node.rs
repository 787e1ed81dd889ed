//! The whole daemon's decisions with in-memory londs: hosts, signals, reloads and shutdown.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use lonc_core::daemon::{DaemonConfig, STARTING_MESSAGE, Signal};
use lonc_core::log::Severity;
use lonc_core::node::NodeConfig;
use lonc_tests::cluster::{Lond, NodeHarness};

fn node(remote: &[&str]) -> NodeHarness {
    NodeHarness::new(NodeConfig::default(), remote)
}

#[test]
fn it_listens_for_every_remote_host_but_never_for_itself() {
    let h = node(&["msul1", "msul3"]);
    assert_eq!(
        h.listening.keys().collect::<Vec<_>>(),
        vec!["msul1", "msul3"]
    );
    assert!(
        h.logged("Parent Server")
            .contains(&STARTING_MESSAGE.to_owned())
    );
}

#[test]
fn requests_reach_their_own_host_and_are_answered() {
    let mut h = node(&["msul1", "msul3"]);
    h.submit("msul1", 1, b"echo:one");
    h.submit("msul3", 2, b"encrypt:passwd:x");
    assert_eq!(h.answers_to(1), vec![Bytes::from("echo:one")]);
    assert_eq!(h.answers_to(2), vec![Bytes::from("passwd:x")]);
}

#[test]
fn a_request_for_a_host_no_longer_served_is_answered_con_lost() {
    let mut h = node(&["msul1"]);
    h.submit("gone", 1, b"ping");
    assert_eq!(h.answers_to(1), vec![Bytes::from("con_lost")]);
}

#[test]
fn usr1_writes_the_status_report_and_revives_dead_hosts() {
    let mut h = node(&["msul1", "msul3"]);
    h.lond.insert("msul1".into(), Lond::Down);
    for c in 0..5 {
        h.submit("msul1", c, b"ping");
    }
    let key = h.key("msul1");
    assert!(h.node.host(key).unwrap().is_dead());
    h.lond.insert("msul1".into(), Lond::Up);
    h.signal(Signal::Usr1);
    let status = h.status_files.last().expect("a status report");
    assert!(status.starts_with("LONC status Wed Jun  8 19:31:02 2005 - parent 4242 \n\n"));
    assert!(status.contains("4242\tmsul1\tWed Jun  8 19:31:02 2005: msul1 >>> DEAD !!!! <<<\t"));
    assert!(status.contains("4242\tmsul3\tWed Jun  8 19:31:02 2005: msul3 Connection count: 0"));
    assert!(!h.node.host(key).unwrap().is_dead(), "USR1 revived it");
    h.submit("msul1", 9, b"ping");
    assert_eq!(h.answers_to(9), vec![Bytes::from("ping")]);
}

#[test]
fn hup_reloads_adding_and_removing_hosts_and_answers_the_removed_hosts_clients() {
    let mut h = node(&["msul1", "msul3"]);
    h.lond.insert("msul3".into(), Lond::Hanging);
    h.submit("msul3", 1, b"ping");
    assert!(h.answers_to(1).is_empty());
    h.signal(Signal::Hup);
    assert_eq!(h.reload_requests, 1);
    let msul1 = h.key("msul1");
    h.reload(&["msul1", "msul4"]);
    assert_eq!(
        h.listening.keys().collect::<Vec<_>>(),
        vec!["msul1", "msul4"]
    );
    assert_eq!(h.key("msul1"), msul1, "an unchanged host keeps its socket");
    assert_eq!(h.answers_to(1), vec![Bytes::from("con_lost")]);
}

#[test]
fn term_with_nothing_waiting_removes_the_files_and_exits_at_once() {
    let mut h = node(&["msul1"]);
    h.signal(Signal::Term);
    assert!(!h.accepting);
    assert_eq!(h.exit, Some(0));
    assert_eq!(
        h.removed_files,
        vec![
            PathBuf::from("/lonc/sockets/msul1"),
            PathBuf::from("/lonc/perl/logs/lonc.pid")
        ]
    );
}

#[test]
fn term_waits_for_waiting_clients_within_the_grace_then_answers_con_lost() {
    let mut h = NodeHarness::new(
        NodeConfig {
            daemon: DaemonConfig {
                shutdown_grace: Duration::from_secs(3),
                ..DaemonConfig::default()
            },
            ..NodeConfig::default()
        },
        &["msul1"],
    );
    h.lond.insert("msul1".into(), Lond::Hanging);
    h.submit("msul1", 1, b"ping");
    assert!(
        h.connect("msul1", 2),
        "a client connected before the signal"
    );
    h.signal(Signal::Int);
    assert_eq!(h.exit, None);
    assert!(!h.connect("msul1", 3), "no new connections while draining");
    h.send(2, b"ping\n");
    assert_eq!(
        h.answers_to(2),
        vec![Bytes::from("con_lost")],
        "no new work while draining"
    );
    h.advance(Duration::from_millis(2_999));
    assert_eq!(h.exit, None);
    assert!(h.answers_to(1).is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(h.answers_to(1), vec![Bytes::from("con_lost")]);
    assert_eq!(h.exit, Some(0));
}

#[test]
fn term_exits_as_soon_as_the_last_waiting_client_is_answered() {
    let mut h = node(&["msul1"]);
    h.lond.insert("msul1".into(), Lond::Hanging);
    h.submit("msul1", 1, b"ping");
    h.advance(Duration::from_secs(2));
    h.signal(Signal::Term);
    assert_eq!(h.exit, None);
    // The connect times out 5 s after the request, which answers the client: the daemon
    // exits then, 2 s before its grace of 5 s from the signal runs out.
    h.advance(Duration::from_secs(3));
    assert_eq!(h.answers_to(1), vec![Bytes::from("con_lost")]);
    assert_eq!(h.exit, Some(0));
}

#[test]
fn usr2_toggles_debug_lines_of_the_hosts() {
    let mut h = node(&["msul1"]);
    h.lond.insert("msul1".into(), Lond::Down);
    for c in 0..5 {
        h.submit("msul1", c, b"ping");
    }
    let debug_lines = |h: &NodeHarness| {
        h.logs
            .iter()
            .filter(|(host, e)| host == "msul1" && e.severity() == Severity::Debug)
            .count()
    };
    h.submit("msul1", 10, b"ping");
    assert_eq!(debug_lines(&h), 0);
    h.signal(Signal::Usr2);
    h.submit("msul1", 11, b"ping");
    assert!(debug_lines(&h) > 0);
}

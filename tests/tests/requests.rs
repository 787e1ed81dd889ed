//! One remote host through the whole node: requests through real handshakes with in-memory
//! londs, dead hosts, delayed files, idle links.

use std::time::Duration;

use bytes::Bytes;
use lonc_core::host::{DelayedFile, HostConfig};
use lonc_core::log::{LogEvent, Severity};
use lonc_core::node::NodeConfig;
use lonc_tests::cluster::{Lond, NodeHarness};

const HOST: &str = "msul1";

fn harness() -> NodeHarness {
    NodeHarness::new(NodeConfig::default(), &[HOST])
}

fn set_lond(h: &mut NodeHarness, mode: Lond) {
    h.lond.insert(HOST.into(), mode);
}

#[test]
fn a_request_opens_a_link_handshakes_and_is_answered() {
    let mut h = harness();
    h.submit(HOST, 1, b"echo:hello");
    assert_eq!(h.answers_to(1), vec![Bytes::from("echo:hello")]);
    assert_eq!(h.connects, 1);
    assert_eq!(h.node.host(h.key(HOST)).unwrap().link_count(), 1);
    h.submit(HOST, 2, b"ping");
    assert_eq!(h.connects, 1, "the idle link is reused");
    assert_eq!(h.answers_to(2), vec![Bytes::from("ping")]);
}

#[test]
fn encrypt_requests_reach_the_lond_decrypted_and_marked() {
    let mut h = harness();
    h.submit(HOST, 1, b"encrypt:passwd:msu:jdoe:old:new");
    assert_eq!(
        h.lond_saw(),
        vec![(Bytes::from("passwd:msu:jdoe:old:new"), true)]
    );
    assert_eq!(
        h.answers_to(1),
        vec![Bytes::from("passwd:msu:jdoe:old:new")]
    );
}

#[test]
fn a_down_lond_answers_con_lost_then_the_host_dies_and_stops_connecting() {
    let mut h = harness();
    set_lond(&mut h, Lond::Down);
    for client in 0..5 {
        h.submit(HOST, client, b"ping");
        assert_eq!(h.answers_to(client), vec![Bytes::from("con_lost")]);
    }
    assert_eq!(h.connects, 5);
    assert!(h.node.host(h.key(HOST)).unwrap().is_dead());
    assert_eq!(
        h.node.host(h.key(HOST)).unwrap().status(),
        "msul1 >>> DEAD !!!! <<<"
    );
    h.submit(HOST, 9, b"ping");
    assert_eq!(h.answers_to(9), vec![Bytes::from("con_lost")]);
    assert_eq!(h.connects, 5, "a dead host touches no network");
    assert!(
        h.logs
            .iter()
            .any(|(_, l)| *l == LogEvent::HostMarkedDead && l.severity() == Severity::Critical)
    );
}

#[test]
fn a_dead_host_comes_back_through_a_probe() {
    let mut h = harness();
    set_lond(&mut h, Lond::Down);
    for client in 0..5 {
        h.submit(HOST, client, b"ping");
    }
    assert!(h.node.host(h.key(HOST)).unwrap().is_dead());
    set_lond(&mut h, Lond::Up);
    h.advance(Duration::from_secs(2));
    assert!(
        !h.node.host(h.key(HOST)).unwrap().is_dead(),
        "the first probe after 1 s revived it"
    );
    h.submit(HOST, 10, b"ping");
    assert_eq!(h.answers_to(10), vec![Bytes::from("ping")]);
}

#[test]
fn a_hanging_connect_is_given_up_after_the_connect_timeout() {
    let mut h = harness();
    set_lond(&mut h, Lond::Hanging);
    h.submit(HOST, 1, b"ping");
    assert!(h.answers_to(1).is_empty());
    h.advance(Duration::from_millis(4_999));
    assert!(h.answers_to(1).is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(h.answers_to(1), vec![Bytes::from("con_lost")]);
}

#[test]
fn delayed_files_are_replayed_on_the_first_link_deleted_and_logged() {
    let mut h = harness();
    h.delayed_dir = vec![
        DelayedFile {
            name: "1100000000.2.77.put.msul1".into(),
            request: Bytes::from("put:b:2"),
        },
        DelayedFile {
            name: "999999999.1.77.put.msul1".into(),
            request: Bytes::from("put:a:1"),
        },
    ];
    h.submit(HOST, 1, b"ping");
    let seen: Vec<Bytes> = h.lond_saw().iter().map(|(l, _)| l.clone()).collect();
    assert_eq!(seen, vec!["ping", "put:a:1", "put:b:2"]);
    assert!(h.delayed_dir.is_empty());
    assert_eq!(h.perm_log, vec!["S:msul1:put:a:1", "S:msul1:put:b:2"]);
}

#[test]
fn pruning_an_idle_link_says_exit_and_closes_its_socket() {
    let mut h = NodeHarness::new(
        NodeConfig {
            host: HostConfig {
                idle_timeout: Duration::from_secs(10),
                ..HostConfig::default()
            },
            ..NodeConfig::default()
        },
        &[HOST],
    );
    h.submit(HOST, 1, b"ping");
    assert_eq!(h.open_links.len(), 1);
    h.advance(Duration::from_secs(11));
    assert!(h.open_links.is_empty());
    assert_eq!(h.farewells, vec![Bytes::from("exit\n")]);
}

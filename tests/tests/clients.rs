//! The lonnet side of a client connection, through the whole node and without sockets:
//! pipelined lines, lines in pieces, over-long lines, hang-ups, half-closed connections.

use bytes::Bytes;
use lonc_core::log::Severity;
use lonc_core::logfmt::message;
use lonc_core::node::NodeConfig;
use lonc_core::stats::LostCause;
use lonc_tests::cluster::{Lond, NodeHarness};

const HOST: &str = "msul1";

/// A node whose lines (the clients' and the links') may be `max_line` bytes; the handshake's
/// lines need about 30.
fn harness(max_line: usize) -> NodeHarness {
    let mut config = NodeConfig::default();
    config.link.max_line = max_line;
    NodeHarness::new(config, &[HOST])
}

fn lines(items: &[&str]) -> Vec<Bytes> {
    items.iter().map(|s| Bytes::from(s.to_string())).collect()
}

#[test]
fn pipelined_lines_are_answered_in_order_one_at_a_time() {
    let mut h = harness(1000);
    h.lond.insert(HOST.into(), Lond::Silent);
    assert!(h.connect(HOST, 1));
    h.send(1, b"echo:one\necho:two\necho:three\n");
    // The lond never answers: only the first request went out.
    let sent: Vec<Bytes> = h.lond_saw().iter().map(|(l, _)| l.clone()).collect();
    assert_eq!(sent, lines(&["echo:one"]));
    assert!(h.answers_to(1).is_empty());

    let mut h = harness(1000);
    assert!(h.connect(HOST, 1));
    h.send(1, b"echo:one\necho:two\necho:three\n");
    // The in-memory lond answers every request with its own text.
    assert_eq!(
        h.answers_to(1),
        lines(&["echo:one", "echo:two", "echo:three"])
    );
    assert!(!h.is_closed(1), "the client may send more");
    h.send(1, b"ping\n");
    assert_eq!(h.answers_to(1).last(), Some(&Bytes::from("ping")));
}

#[test]
fn a_line_in_pieces_is_one_request_and_bytes_pass_untouched() {
    let mut h = harness(1000);
    assert!(h.connect(HOST, 1));
    for b in b"echo:\x00\xff\r" {
        h.send(1, &[*b]);
        assert!(h.lond_saw().is_empty());
    }
    h.send(1, b"\n");
    assert_eq!(
        h.answers_to(1),
        vec![Bytes::from_static(b"echo:\x00\xff\r")]
    );
}

#[test]
fn a_line_over_the_bound_is_answered_con_lost_and_closed_with_a_warning() {
    let mut h = harness(40);
    assert!(h.connect(HOST, 1));
    h.send(1, &[b'x'; 41]);
    assert_eq!(h.answers_to(1), lines(&["con_lost"]));
    assert!(h.is_closed(1));
    assert!(h.lond_saw().is_empty(), "nothing of it went out");
    let warnings: Vec<String> = h
        .logs
        .iter()
        .filter(|(host, e)| host == HOST && e.severity() == Severity::Warning)
        .map(|(host, e)| message(e, host))
        .collect();
    assert_eq!(
        warnings,
        vec!["A client sent a line longer than 40 bytes: answered con_lost"]
    );
    // Counted as a request lost, for `lonc status` and the metrics.
    let stats = h.node.host(h.key(HOST)).unwrap().stats();
    assert_eq!(
        (
            stats.requests(),
            stats.lost(LostCause::TooLong),
            stats.lost_total()
        ),
        (1, 1, 1)
    );
    // Exactly the bound is fine.
    assert!(h.connect(HOST, 2));
    let exact = format!("echo:{}", "y".repeat(35));
    h.send(2, format!("{exact}\n").as_bytes());
    assert_eq!(h.answers_to(2), lines(&[&exact]));
}

#[test]
fn a_line_over_the_bound_while_waiting_drops_the_client_with_the_same_warning() {
    let mut h = harness(40);
    h.lond.insert(HOST.into(), Lond::Silent);
    assert!(h.connect(HOST, 1));
    h.send(1, b"ping\n");
    h.send(1, &[b'x'; 41]);
    assert!(h.is_closed(1));
    assert!(
        h.answers_to(1).is_empty(),
        "its request is still on the link"
    );
    assert_eq!(
        h.logged(HOST)
            .iter()
            .filter(|m| m.contains("longer than 40 bytes"))
            .count(),
        1
    );
    // The host is not waiting for it any more.
    assert_eq!(h.node.host(h.key(HOST)).unwrap().waiting_clients(), 0);
}

#[test]
fn the_node_stops_reading_behind_a_waiting_request_once_a_line_is_buffered() {
    let mut h = harness(40);
    h.lond.insert(HOST.into(), Lond::Silent);
    assert!(h.connect(HOST, 1));
    h.send(1, b"ping\n");
    assert!(h.wants_input(1));
    h.send(1, &[b'x'; 40]);
    assert!(h.wants_input(1), "exactly a line's worth is still read");
    h.send(1, b"\n");
    assert!(!h.wants_input(1));
}

#[test]
fn a_client_that_hangs_up_while_waiting_loses_its_request() {
    let mut h = harness(1000);
    h.lond.insert(HOST.into(), Lond::Hanging);
    assert!(h.connect(HOST, 1));
    h.send(1, b"ping\n");
    assert_eq!(h.node.host(h.key(HOST)).unwrap().queue_len(), 1);
    h.hang_up(1);
    assert!(h.is_closed(1));
    assert_eq!(h.node.host(h.key(HOST)).unwrap().queue_len(), 0);
    assert_eq!(h.node.client_count(), 0);
}

#[test]
fn a_client_that_closes_its_side_after_its_answers_is_closed_and_a_partial_line_dropped() {
    let mut h = harness(1000);
    assert!(h.connect(HOST, 1));
    h.send(1, b"echo:a\necho:b\npartial");
    assert_eq!(h.answers_to(1), lines(&["echo:a", "echo:b"]));
    assert!(!h.is_closed(1));
    h.hang_up(1);
    assert!(h.is_closed(1));
    assert_eq!(
        h.lond_saw().len(),
        2,
        "the partial last line never went out"
    );
}

#[test]
fn an_idle_client_that_hangs_up_is_closed() {
    let mut h = harness(1000);
    assert!(h.connect(HOST, 1));
    assert!(!h.is_closed(1));
    h.hang_up(1);
    assert!(h.is_closed(1));
    assert!(h.answers_to(1).is_empty());
}

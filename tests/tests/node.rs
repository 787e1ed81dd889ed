//! The whole daemon's decisions with in-memory londs: hosts, signals, reloads and shutdown.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use lonc_core::control::{COMMAND_TIMEOUT, MAX_CONTROL_CLIENTS};
use lonc_core::daemon::{DaemonConfig, STARTING_MESSAGE, Signal};
use lonc_core::log::{LogEvent, Severity};
use lonc_core::metrics::{MAX_SCRAPERS, SCRAPE_TIMEOUT};
use lonc_core::node::NodeConfig;
use lonc_core::stats::LostCause;
use lonc_tests::cluster::{Lond, NodeHarness};
use lonc_tests::prom::Scraped;

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
fn ready_comes_once_every_socket_is_reported_and_some_listens() {
    let mut h =
        NodeHarness::with_unlistenable(NodeConfig::default(), &["msul1", "msul3"], &["msul3"]);
    assert_eq!(h.ready, 1);
    assert_eq!(h.exit, None);
    h.submit("msul1", 1, b"ping");
    assert_eq!(h.answers_to(1), vec![Bytes::from("ping")]);
    // The socket that never listened is not ours to remove.
    h.signal(Signal::Term);
    assert_eq!(h.exit, Some(0));
    assert_eq!(
        h.removed_files,
        [
            PathBuf::from("/lonc/sockets/msul1"),
            PathBuf::from("/lonc/perl/logs/lonc.pid"),
            PathBuf::from("/lonc/perl/logs/lonc.ctl")
        ]
    );
    assert_eq!(h.ready, 1, "once");
}

#[test]
fn a_host_whose_socket_never_listened_is_removed_without_unlisten() {
    let mut h =
        NodeHarness::with_unlistenable(NodeConfig::default(), &["msul1", "msul3"], &["msul3"]);
    h.signal(Signal::Hup);
    h.reload(&["msul1"]); // the harness fails on an `Unlisten` of a socket not listening
    assert!(
        h.logged("Parent Server")
            .contains(&"Host msul3 removed".to_owned())
    );
    assert_eq!(h.ready, 1);
}

#[test]
fn no_socket_listening_at_start_exits_1_leaving_the_sockets_alone() {
    let h = NodeHarness::with_unlistenable(
        NodeConfig::default(),
        &["msul1", "msul3"],
        &["msul1", "msul3"],
    );
    assert_eq!(h.ready, 0);
    assert_eq!(h.exit, Some(1));
    assert_eq!(
        h.removed_files,
        [
            PathBuf::from("/lonc/perl/logs/lonc.pid"),
            PathBuf::from("/lonc/perl/logs/lonc.ctl")
        ]
    );
    assert!(
        h.logged("Parent Server")
            .contains(&"Cannot listen on any host's socket: nothing to serve".to_owned())
    );
}

#[test]
fn the_summary_counts_hosts_dead_hosts_and_links() {
    let mut h = node(&["msul1", "msul3"]);
    assert_eq!(h.node.summary(), "2 hosts, 0 dead, 0 links");
    h.lond.insert("msul1".into(), Lond::Down);
    for c in 0..5 {
        h.submit("msul1", c, b"ping");
    }
    h.submit("msul3", 9, b"ping");
    assert_eq!(h.node.summary(), "2 hosts, 1 dead, 1 links - dead: msul1");
}

/// What `ps` and systemd show: the whole state once the start is over, then each change, at
/// most once a second.
#[test]
fn the_summary_is_shown_at_start_then_on_change_at_most_once_a_second() {
    let mut h = node(&["msul1", "msul3", "msul4"]);
    h.lond.insert("msul4".into(), Lond::Silent);
    let t0 = h.now;
    let shown = |h: &NodeHarness| -> Vec<(Duration, String)> {
        h.statuses
            .iter()
            .map(|(at, s)| (*at - t0, s.clone()))
            .collect()
    };
    let s = |ms: u64, text: &str| (Duration::from_millis(ms), text.to_owned());
    // Every host at once, not one host on the way.
    assert_eq!(shown(&h), [s(0, "3 hosts, 0 dead, 0 links")]);
    h.advance(Duration::from_millis(300));
    h.submit("msul3", 1, b"ping");
    assert_eq!(h.answers_to(1), vec![Bytes::from("ping")]);
    assert_eq!(shown(&h).len(), 1, "a change 300 ms after the last waits");
    h.advance(Duration::from_millis(699));
    assert_eq!(shown(&h).len(), 1);
    h.advance(Duration::from_millis(1));
    assert_eq!(shown(&h)[1], s(1_000, "3 hosts, 0 dead, 1 links"));
    // A request on the idle link changes nothing: nothing is shown.
    h.advance(Duration::from_millis(1_500));
    h.submit("msul3", 2, b"ping");
    h.advance(Duration::from_millis(1_500));
    assert_eq!(shown(&h).len(), 2);
    // Long after the last, a change is shown at once.
    h.lond.insert("msul1".into(), Lond::Down);
    for c in 10..15 {
        h.submit("msul1", c, b"ping");
    }
    assert_eq!(
        shown(&h)[2],
        s(4_000, "3 hosts, 1 dead, 1 links - dead: msul1")
    );
    // Stopping, with a client still waiting on a lond that never answers.
    h.submit("msul4", 20, b"ping");
    h.signal(Signal::Term);
    assert_eq!(h.exit, None);
    h.advance(Duration::from_millis(1_000));
    let last = h
        .statuses
        .last()
        .map(|(_, s)| s.clone())
        .unwrap_or_default();
    assert_eq!(last, h.node.summary());
    assert!(last.starts_with("stopping: 3 hosts, 1 dead, "), "{last}");
    assert!(last.ends_with(" links - dead: msul1"), "{last}");
}

/// A runtime may handle a client before the summary's timer once that timer is due: a change
/// then is shown at the end of that call, not later, and the interval runs from there.
#[test]
fn a_change_after_the_interval_is_shown_at_once_even_before_the_timer_is_handled() {
    let mut h = node(&["msul1", "msul3", "msul4"]);
    let t0 = h.now;
    h.advance(Duration::from_millis(300));
    h.submit("msul3", 1, b"ping");
    assert_eq!(h.statuses.len(), 1, "a change 300 ms after the last waits");
    // The timer (at 1 s) is due, but the runtime reads a client first.
    h.now = t0 + Duration::from_millis(1_500);
    h.submit("msul1", 2, b"ping");
    let shown: Vec<(Duration, &str)> = h
        .statuses
        .iter()
        .map(|(at, s)| (*at - t0, s.as_str()))
        .collect();
    assert_eq!(
        shown[1..],
        [(Duration::from_millis(1_500), "3 hosts, 0 dead, 2 links")]
    );
    // The late timer shows nothing more; the next change waits a second from the last.
    h.advance(Duration::ZERO);
    h.submit("msul4", 3, b"ping");
    assert_eq!(h.statuses.len(), 2);
    h.advance(Duration::from_millis(999));
    assert_eq!(h.statuses.len(), 2);
    h.advance(Duration::from_millis(1));
    assert_eq!(
        h.statuses[2],
        (
            t0 + Duration::from_millis(2_500),
            "3 hosts, 0 dead, 3 links".to_owned()
        )
    );
}

#[test]
fn the_summary_names_five_dead_hosts_and_counts_the_rest() {
    let ids = ["h1", "h2", "h3", "h4", "h5", "h6", "h7"];
    let mut h = node(&ids);
    for (c, id) in ids.iter().enumerate() {
        h.lond.insert(id.to_string(), Lond::Down);
        for n in 0..5 {
            h.submit(id, (c * 10 + n) as u64, b"ping");
        }
        if c == 4 {
            // Five dead: all named, none left to count.
            let summary = h.node.summary();
            assert!(summary.ends_with("dead: h1 h2 h3 h4 h5"), "{summary}");
        }
    }
    h.advance(Duration::from_secs(1));
    let last = h
        .statuses
        .last()
        .map(|(_, s)| s.clone())
        .unwrap_or_default();
    assert_eq!(last, h.node.summary());
    assert!(last.ends_with("dead: h1 h2 h3 h4 h5 and 2 more"), "{last}");
}

/// A reload that gives a host a new address keeps its socket and its waiting clients: the
/// request on the old link finishes there, then that link closes, and the queued request goes
/// out on a link to the new address.
#[test]
fn a_host_that_moves_keeps_its_clients_and_replaces_its_links() {
    let mut config = NodeConfig::default();
    config.host.max_links = 1;
    let mut h = NodeHarness::new(config, &["msul1", "msul3"]);
    h.lond.insert("msul1".into(), Lond::Holding);
    let key = h.key("msul1");
    h.submit("msul1", 1, b"echo:one");
    h.submit("msul1", 2, b"echo:two"); // queued behind it: one link at most
    assert_eq!(h.connected_to, ["127.0.0.2:5663".parse().unwrap()]);
    h.signal(Signal::Hup);
    h.reload(&["msul3", "msul1"]); // msul1 is now 127.0.0.3
    assert!(
        h.logged("Parent Server").contains(
            &"Host msul1 moved from 127.0.0.2:5663 to 127.0.0.3:5663: its links are replaced, \
              its clients wait"
                .to_owned()
        )
    );
    assert_eq!(h.key("msul1"), key, "the same socket");
    assert!(h.answers_to(1).is_empty() && h.answers_to(2).is_empty());
    h.release_held(); // the old lond answers the request it has
    assert_eq!(h.answers_to(1), vec![Bytes::from("echo:one")]);
    assert_eq!(
        h.open_links.len(),
        1,
        "the old link closed, one to the new address"
    );
    assert_eq!(
        h.connected_to.last(),
        Some(&"127.0.0.3:5663".parse().unwrap())
    );
    h.release_held();
    assert_eq!(h.answers_to(2), vec![Bytes::from("echo:two")]);
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
            PathBuf::from("/lonc/perl/logs/lonc.pid"),
            PathBuf::from("/lonc/perl/logs/lonc.ctl")
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
    let stats = h.node.host(h.key("msul1")).unwrap().stats();
    assert_eq!(
        (stats.requests(), stats.lost(LostCause::Shutdown)),
        (2, 1),
        "counted as a request lost to the shutdown"
    );
    h.advance(Duration::from_millis(2_999));
    assert_eq!(h.exit, None);
    assert!(h.answers_to(1).is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(h.answers_to(1), vec![Bytes::from("con_lost")]);
    assert_eq!(h.exit, Some(0));
}

#[test]
fn a_line_pipelined_behind_a_request_is_con_lost_once_the_drain_began() {
    let mut h = node(&["msul1"]);
    h.lond.insert("msul1".into(), Lond::Holding);
    assert!(h.connect("msul1", 1));
    h.send(1, b"ping\necho:two\n");
    h.signal(Signal::Term);
    h.release_held();
    assert_eq!(
        h.answers_to(1),
        vec![Bytes::from("ping"), Bytes::from("con_lost")],
        "the first completes, the second is no new work"
    );
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

#[test]
fn status_on_the_control_socket_counts_what_each_host_did() {
    let mut h = node(&["msul1", "msul3"]);
    h.submit("msul1", 1, b"ping");
    h.submit("msul1", 2, b"echo:x");
    h.lond.insert("msul3".into(), Lond::Down);
    h.submit("msul3", 3, b"ping");
    let answer = h.control("status --json");
    let (json, last) = answer.trim_end().rsplit_once('\n').expect("two lines");
    assert_eq!(last, "ok");
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["daemon"]["hosts"], 2);
    assert_eq!(v["hosts"][0]["id"], "msul1");
    assert_eq!(v["hosts"][0]["requests"], 2);
    assert_eq!(v["hosts"][0]["replies"], 2);
    assert_eq!(v["hosts"][0]["links"]["idle"], 1);
    assert_eq!(v["hosts"][0]["links"]["busy"], 0);
    assert_eq!(v["hosts"][0]["links"]["handshaking"], 0);
    assert_eq!(v["hosts"][1]["requests"], 1);
    assert_eq!(v["hosts"][1]["con_lost"]["connect_failed"], 1);
    assert_eq!(v["hosts"][1]["retries_left"], 4);
    // In text: a table of every host, or the named hosts in detail.
    let all = h.control("status");
    assert!(all.contains("\nHOST ") && all.contains("\nmsul3 "), "{all}");
    let one = h.control("status msul1");
    assert!(
        !one.contains("\nHOST ") && one.contains("\nmsul1: ok"),
        "{one}"
    );
    assert!(!one.contains("msul3"), "{one}");
    let answer = h.control("status nosuch");
    assert_eq!(answer, "error: no such host: nosuch\n");
    let answer = h.control("shutdown");
    assert!(answer.starts_with("error: unknown command"), "{answer}");
}

#[test]
fn a_control_client_has_ten_seconds_to_send_its_command() {
    let mut h = node(&["msul1"]);
    let silent = h.control_connect().unwrap();
    h.control_send(silent, b"stat");
    h.advance(COMMAND_TIMEOUT / 2);
    let later = h.control_connect().unwrap();
    h.advance(COMMAND_TIMEOUT / 2 - Duration::from_millis(1));
    assert_eq!(h.controls[&silent], "");
    h.advance(Duration::from_millis(1));
    assert_eq!(h.controls[&silent], "error: no command within 10 s\n");
    assert!(h.closed_clients.contains(&silent));
    // Each has its own ten seconds.
    assert_eq!(h.controls[&later], "");
    h.advance(COMMAND_TIMEOUT / 2);
    assert_eq!(h.controls[&later], "error: no command within 10 s\n");
    // A client that closes its side before a whole command is told so at once.
    let early = h.control_connect().unwrap();
    h.control_send(early, b"stat");
    h.node.handle_client_eof(h.now, early);
    h.run();
    assert_eq!(h.controls[&early], "error: no command\n");
}

#[test]
fn control_slots_are_few_and_free_again_when_a_client_goes() {
    let mut h = node(&["msul1"]);
    let ids: Vec<_> = (0..MAX_CONTROL_CLIENTS)
        .map(|_| h.control_connect().expect("a slot"))
        .collect();
    assert!(h.control_connect().is_none());
    h.node
        .handle_client_error(h.now, ids[0], std::io::ErrorKind::BrokenPipe);
    h.run();
    assert!(h.control_connect().is_some());
    // lonnet's clients are not held up.
    h.submit("msul1", 1, b"ping");
    assert_eq!(h.answers_to(1), vec![Bytes::from("ping")]);
    // A client that fails while another waits for a reload leaves that one waiting.
    h.control_send(ids[1], b"reload\n");
    h.node
        .handle_client_error(h.now, ids[2], std::io::ErrorKind::ConnectionReset);
    h.reload(&["msul1"]);
    assert!(
        h.controls[&ids[1]].ends_with("ok\n"),
        "{:?}",
        h.controls[&ids[1]]
    );
}

#[test]
fn only_the_daemons_user_and_root_may_use_the_control_socket() {
    let mut h = node(&["msul1"]);
    h.node.set_identity(4242, "test", Some(1000));
    let refused = |h: &NodeHarness| {
        h.logs
            .iter()
            .filter(|(_, e)| *e == LogEvent::ControlRefused { uid: 1001 })
            .count()
    };
    assert_eq!(h.node.accept_control_from(h.now, Some(1001)), None);
    h.run();
    assert_eq!(refused(&h), 1);
    assert_eq!(
        lonc_core::logfmt::message(&LogEvent::ControlRefused { uid: 1001 }, ""),
        "Control connection from uid 1001 refused: only the daemon's user and root may use it"
    );
    assert_eq!(
        LogEvent::ControlRefused { uid: 1001 }.severity(),
        Severity::Warning
    );
    for uid in [Some(1000), Some(0), None] {
        let id = h.node.accept_control_from(h.now, uid);
        assert!(id.is_some(), "{uid:?}");
    }
    h.run();
    assert_eq!(refused(&h), 1);
    // lonnet's clients are not held up.
    h.submit("msul1", 1, b"ping");
    assert_eq!(h.answers_to(1), vec![Bytes::from("ping")]);
}

/// What a runtime asks before it reads a client's socket: whether to read (`client_wants_input`)
/// and whether the client only waits for its answer (`client_waiting`).
#[test]
fn the_runtime_is_told_when_to_read_a_client_and_when_it_waits() {
    let mut h = node(&["msul1"]);
    let told = |h: &NodeHarness, id| (h.node.client_wants_input(id), h.node.client_waiting(id));
    // A control client is read until its command is in, then waits for the answer.
    let id = h.control_connect().unwrap();
    assert_eq!(told(&h, id), (true, false));
    h.control_send(id, b"reload\n");
    assert_eq!(told(&h, id), (false, true), "its reload is under way");
    h.reload(&["msul1"]);
    assert!(h.controls[&id].ends_with("ok\n"));
    assert_eq!(told(&h, id), (false, false), "answered and gone");
    // A lonnet client waits while its request is out, and is read again once answered.
    h.lond.insert("msul1".into(), Lond::Silent);
    assert!(h.connect("msul1", 1));
    let c = h.clients[&1];
    assert_eq!(told(&h, c), (true, false));
    h.send(1, b"ping\n");
    assert!(h.node.client_waiting(c));
    // A metrics client is read until its request is in, and never waits.
    let m = h.scrape_connect().unwrap();
    assert_eq!(told(&h, m), (true, false));
    h.scrape_send(m, Some(b"GET /metrics HTTP/1.0\r\n\r\n"));
    assert_eq!(told(&h, m), (false, false));
}

#[test]
fn reload_revive_and_debug_on_the_control_socket() {
    let mut h = node(&["msul1", "msul3"]);
    let id = h.control_connect().unwrap();
    h.control_send(id, b"reload\n");
    assert_eq!(h.reload_requests, 1);
    assert_eq!(h.controls[&id], "", "answered once the files are read");
    assert_eq!(
        h.control("reload"),
        "error: a reload is already under way\n"
    );
    h.reload(&["msul1", "msul4"]);
    assert_eq!(
        h.controls[&id],
        "reloaded: 2 hosts served; added: msul4; removed: msul3; changed: none\nok\n"
    );
    h.lond.insert("msul1".into(), Lond::Down);
    for c in 0..5 {
        h.submit("msul1", c, b"ping");
    }
    assert!(h.node.host(h.key("msul1")).unwrap().is_dead());
    h.lond.insert("msul1".into(), Lond::Up);
    assert_eq!(
        h.control("revive msul1"),
        "msul1 was dead: revived, and a link is opening to probe it\nok\n"
    );
    assert!(!h.node.host(h.key("msul1")).unwrap().is_dead());
    assert_eq!(
        h.control("revive msul1"),
        "msul1 was not dead: its retry budget is full again\nok\n"
    );
    assert_eq!(h.control("debug on"), "debug logging on (was off)\nok\n");
    assert!(h.node.daemon().debug());
    assert_eq!(h.control("debug on"), "debug logging on (was on)\nok\n");
    assert_eq!(h.control("debug off"), "debug logging off (was on)\nok\n");
    assert!(!h.node.daemon().debug());
}

fn with_metrics(remote: &[&str]) -> NodeHarness {
    let config = NodeConfig {
        metrics_listen: Some("127.0.0.1:9661".parse().unwrap()),
        ..NodeConfig::default()
    };
    NodeHarness::new(config, remote)
}

/// The body of an HTTP answer, after checking its status line and `Content-Length`.
#[track_caller]
fn http_body<'a>(answer: &'a str, status: &str) -> &'a str {
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .expect("headers, then the body");
    assert!(
        head.starts_with(&format!("HTTP/1.1 {status}\r\n")),
        "{answer}"
    );
    assert!(
        head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())),
        "{head}"
    );
    assert!(head.ends_with("\r\nConnection: close"), "{head}");
    body
}

#[test]
fn metrics_on_the_control_socket_count_what_each_host_did() {
    let mut h = node(&["msul1", "msul3"]);
    h.submit("msul1", 1, b"ping");
    h.submit("msul1", 2, b"echo:x");
    h.lond.insert("msul3".into(), Lond::Down);
    h.submit("msul3", 3, b"ping");
    let answer = h.control("metrics");
    let text = answer
        .strip_suffix("ok\n")
        .expect("the exposition, then ok");
    let m = Scraped::parse(text);
    assert_eq!(m.value("lonc_hosts", &[]), 2.0);
    assert_eq!(m.value("lonc_requests_total", &[("host", "msul1")]), 2.0);
    assert_eq!(m.value("lonc_replies_total", &[("host", "msul1")]), 2.0);
    assert_eq!(m.value("lonc_requests_total", &[("host", "msul3")]), 1.0);
    let lost = |host, cause| m.value("lonc_con_lost_total", &[("host", host), ("cause", cause)]);
    assert_eq!(lost("msul3", "connect_failed"), 1.0);
    assert_eq!(lost("msul1", "connect_failed"), 0.0);
    assert_eq!(m.value("lonc_retries_left", &[("host", "msul3")]), 4.0);
    assert_eq!(
        m.value("lonc_links", &[("host", "msul1"), ("state", "idle")]),
        1.0
    );
    let (buckets, count, _) = m.histogram("lonc_reply_latency_seconds", &[("host", "msul1")]);
    assert_eq!(count, 2);
    assert_eq!(buckets.last(), Some(&(f64::INFINITY, 2.0)));
    assert_eq!(h.control("metrics x"), "error: usage: metrics\n");
}

#[test]
fn no_metrics_address_unless_asked_for() {
    let h = node(&["msul1"]);
    assert_eq!(h.metrics_listen, None);
    let h = with_metrics(&["msul1"]);
    assert_eq!(h.metrics_listen, Some("127.0.0.1:9661".parse().unwrap()));
}

#[test]
fn get_metrics_is_answered_and_other_requests_refused() {
    let mut h = with_metrics(&["msul1"]);
    h.submit("msul1", 1, b"ping");
    let answer = h.scrape("GET /metrics HTTP/1.1\r\nHost: lonc\r\nAccept: */*\r\n\r\n");
    assert!(
        answer.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{answer}"
    );
    let m = Scraped::parse(http_body(&answer, "200 OK"));
    assert_eq!(m.value("lonc_requests_total", &[("host", "msul1")]), 1.0);
    // The control command and the HTTP answer say the same.
    let control = h.control("metrics");
    assert_eq!(control.strip_suffix("ok\n"), Some(m.text.as_str()));
    // A request in pieces is answered once whole.
    let id = h.scrape_connect().unwrap();
    h.scrape_send(id, Some(b"GET /metr"));
    assert!(h.scrapers[&id].is_empty());
    assert!(h.node.client_wants_input(id));
    h.scrape_send(id, Some(b"ics HTTP/1.0\r\n\r\n"));
    http_body(&String::from_utf8_lossy(&h.scrapers[&id]), "200 OK");
    assert!(h.closed_clients.contains(&id));
    assert!(!h.node.client_wants_input(id));

    let head = h.scrape("HEAD /metrics HTTP/1.1\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    http_body(&h.scrape("GET / HTTP/1.1\r\n\r\n"), "404 Not Found");
    let post = h.scrape("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    http_body(&post, "405 Method Not Allowed");
    assert!(post.contains("\r\nAllow: GET, HEAD\r\n"));
    http_body(&h.scrape("status --json\n"), "400 Bad Request");
    http_body(&h.scrape("\u{0}\u{1}\u{2}\r\n\r\n"), "400 Bad Request");
    let long = format!("GET /metrics HTTP/1.1\r\nX: {}", "a".repeat(20_000));
    http_body(&h.scrape(&long), "431 Request Header Fields Too Large");
    // Half a request, then the end of the stream: 400; nothing at all: closed unanswered.
    let id = h.scrape_connect().unwrap();
    h.scrape_send(id, Some(b"GET /metrics HT"));
    h.scrape_send(id, None);
    http_body(
        &String::from_utf8_lossy(&h.scrapers[&id]),
        "400 Bad Request",
    );
    let id = h.scrape_connect().unwrap();
    h.scrape_send(id, None);
    assert!(h.scrapers[&id].is_empty() && h.closed_clients.contains(&id));
    // Every slot was freed as its connection closed; lonnet was served throughout.
    assert_eq!(h.node.metrics_client_count(), 0);
    h.submit("msul1", 2, b"ping");
    assert_eq!(h.answers_to(2), vec![Bytes::from("ping")]);
}

#[test]
fn scrapers_are_few_timed_out_and_dropped_if_they_do_not_read() {
    let mut h = with_metrics(&["msul1"]);
    h.scrapers_read = false;
    let ids: Vec<_> = (0..MAX_SCRAPERS)
        .map(|_| h.scrape_connect().expect("a slot"))
        .collect();
    assert!(h.scrape_connect().is_none(), "all slots taken");
    // The first asks and never reads its answer; the others say nothing.
    h.scrape_send(ids[0], Some(b"GET /metrics HTTP/1.1\r\n\r\n"));
    h.scrape_send(ids[1], Some(b"GET /met"));
    h.advance(SCRAPE_TIMEOUT - Duration::from_millis(1));
    assert!(h.scrapers[&ids[1]].is_empty());
    assert!(h.aborted.is_empty());
    h.advance(Duration::from_millis(1));
    for id in &ids[1..] {
        http_body(
            &String::from_utf8_lossy(&h.scrapers[id]),
            "408 Request Timeout",
        );
    }
    assert_eq!(h.aborted, [ids[0]], "answered, not read in time: dropped");
    assert!(h.scrape_connect().is_some(), "its slot is free");
    h.advance(SCRAPE_TIMEOUT);
    assert_eq!(h.aborted.len(), MAX_SCRAPERS, "{:?}", h.aborted);
    assert_eq!(h.node.metrics_client_count(), 1, "the new one");
    // lonnet's clients are never held up.
    h.submit("msul1", 1, b"ping");
    assert_eq!(h.answers_to(1), vec![Bytes::from("ping")]);
}

#[test]
fn each_scraper_has_its_own_ten_seconds() {
    let mut h = with_metrics(&["msul1"]);
    let first = h.scrape_connect().unwrap();
    h.advance(SCRAPE_TIMEOUT / 2);
    let second = h.scrape_connect().unwrap();
    h.advance(SCRAPE_TIMEOUT / 2);
    http_body(
        &String::from_utf8_lossy(&h.scrapers[&first]),
        "408 Request Timeout",
    );
    assert!(h.scrapers[&second].is_empty());
    h.advance(SCRAPE_TIMEOUT / 2);
    http_body(
        &String::from_utf8_lossy(&h.scrapers[&second]),
        "408 Request Timeout",
    );
}

proptest::proptest! {
    /// Any bytes, cut anywhere, from an HTTP client: the node never panics, answers once with
    /// a whole HTTP response of a known status (or closes without a word if nothing came),
    /// reads nothing more after it, and lonnet's clients are still served.
    #[test]
    fn any_bytes_from_an_http_client_get_one_answer(
        chunks in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::collection::vec(proptest::num::u8::ANY, 0..64),
                proptest::strategy::Just(b"GET /metrics HTTP/1.1\r\n".to_vec()),
                proptest::strategy::Just(b"\r\n".to_vec()),
                proptest::collection::vec(proptest::strategy::Just(b'a'), 0..9000),
            ],
            0..6,
        ),
        eof in proptest::bool::ANY,
    ) {
        let mut h = with_metrics(&["msul1"]);
        let id = h.scrape_connect().unwrap();
        for chunk in &chunks {
            h.scrape_send(id, Some(chunk));
        }
        if eof {
            h.scrape_send(id, None);
        }
        let answer = String::from_utf8_lossy(&h.scrapers[&id]).into_owned();
        if h.closed_clients.contains(&id) {
            proptest::prop_assert!(!h.node.client_wants_input(id));
            if !answer.is_empty() {
                let status = answer.split("\r\n").next().unwrap_or_default();
                proptest::prop_assert!(
                    [
                        "HTTP/1.1 200 OK",
                        "HTTP/1.1 400 Bad Request",
                        "HTTP/1.1 404 Not Found",
                        "HTTP/1.1 405 Method Not Allowed",
                        "HTTP/1.1 431 Request Header Fields Too Large",
                    ]
                    .contains(&status),
                    "{}", answer
                );
                let (head, body) = answer.split_once("\r\n\r\n").expect("headers and a body");
                let length = format!("\r\nContent-Length: {}\r\n", body.len());
                proptest::prop_assert!(head.contains(&length) || status.ends_with("200 OK"));
            }
        } else {
            proptest::prop_assert!(answer.is_empty());
            proptest::prop_assert!(!eof, "the end of the stream always closes it");
        }
        h.submit("msul1", 1, b"ping");
        proptest::prop_assert_eq!(h.answers_to(1), vec![Bytes::from("ping")]);
    }
}

/// The host timer that answers the last client of a shutdown ends the daemon: a control
/// client's deadline at the same instant gets nothing after the exit.
#[test]
fn nothing_follows_the_exit_in_the_same_timeout() {
    let mut h = node(&["msul1"]);
    h.lond.insert("msul1".into(), Lond::Hanging);
    let silent = h.control_connect().unwrap();
    h.advance(Duration::from_secs(5));
    h.submit("msul1", 1, b"ping"); // its connect times out 5 s later, with the control client
    h.advance(Duration::from_secs(1));
    h.signal(Signal::Term);
    assert_eq!(h.exit, None);
    h.advance(Duration::from_secs(4));
    assert_eq!(h.answers_to(1), vec![Bytes::from("con_lost")]);
    assert_eq!(h.exit, Some(0));
    assert_eq!(h.controls[&silent], "", "nothing after the exit");
}

/// A lond that sends a reply and, in the same read, bytes nobody asked for: the link closes
/// after the reply. The request queued behind it was handed to that link but never written:
/// it goes out on a new link and is answered; the log says an idle link closed.
#[test]
fn a_request_given_to_a_link_that_closes_after_its_reply_goes_out_on_a_new_one() {
    let mut config = NodeConfig::default();
    config.host.max_links = 1;
    let mut h = NodeHarness::new(config, &["msul3"]);
    h.lond.insert("msul3".into(), Lond::Holding);
    h.submit("msul3", 1, b"first");
    assert_eq!(h.londs.held(), 1);
    h.submit("msul3", 2, b"second");
    assert_eq!(h.londs.held(), 1, "one link: the second request waits");
    let [link] = h.open_links[..] else {
        panic!("one link: {:?}", h.open_links);
    };
    let now = h.now;
    h.node.handle_link_input(now, link, b"first\nunasked");
    h.run();
    assert_eq!(h.answers_to(1), vec![Bytes::from("first")]);
    assert!(!h.open_links.contains(&link), "the link closed");
    h.release_held();
    assert_eq!(h.answers_to(2), vec![Bytes::from("second")]);
    assert_eq!(
        h.logged("msul3"),
        [
            "Connection 1 to msul3 now ready for action",
            "Idle connection to msul3 closed: data from peer when no reply was due",
            "Connection 1 to msul3 now ready for action",
        ]
    );
}

//! `lonc spool flush` and `lonc spool delete` on the control socket, through the whole node
//! with in-memory londs and delayed directory: what is deleted, what is refused, the `R:`
//! record, and that a deleted file is never delivered nor a delivered one deleted.

use lonc_core::node::NodeConfig;
use lonc_tests::cluster::{Lond, NodeHarness};

const A: &str = "1000.0.1.putmsua.msul1";
const B: &str = "1001.0.1.encryptpasswd.msul1";
const C: &str = "1002.0.1.putmsub.msul1";

/// msul1 dead (its lond down) with three files spooled for it.
fn dead_host_with_files() -> NodeHarness {
    let mut h = NodeHarness::new(NodeConfig::default(), &["msul1", "msul3"]);
    h.lond.insert("msul1".into(), Lond::Down);
    for c in 0..5 {
        h.submit("msul1", c, b"ping");
    }
    assert!(h.node.host(h.key("msul1")).unwrap().is_dead());
    h.spool(A, "put:msu:a");
    h.spool(B, "encrypt:passwd:msu:jdoe:oldpw:newpw");
    h.spool(C, "put:msu:b");
    h
}

fn read_after(h: &NodeHarness, from: usize) -> Vec<String> {
    h.reads[from..].iter().flatten().cloned().collect()
}

#[test]
fn a_file_deleted_while_its_host_is_down_is_recorded_and_never_delivered() {
    let mut h = dead_host_with_files();
    let flushed = "msul1: 3 waiting, 0 being delivered; the host is dead: they go once it is \
         back (`lonc revive msul1` probes it now)\nflushed: 3 delayed files of 1 host\nok\n";
    assert_eq!(h.control("spool flush msul1"), flushed);
    assert_eq!(h.control("spool flush"), flushed, "only hosts with files");
    assert_eq!(
        h.control("spool flush nosuch"),
        "error: no such host: nosuch\n"
    );
    assert_eq!(
        h.control(&format!("spool delete {A}")),
        format!("deleted {A} (msul1: put:msu:a)\nok\n")
    );
    assert_eq!(h.removals.len(), 1);
    assert_eq!(
        h.removals[0].2, None,
        "the harness's control clients have no uid"
    );
    assert_eq!(h.perm_log, [format!("R:msul1:{A}:?:put:msu:a")]);
    assert!(!h.delayed_dir.contains_key(A));
    assert_eq!(
        h.node.host(h.key("msul1")).unwrap().delayed_waiting(),
        2,
        "gone from the replay at once"
    );
    // Back up: the other two are delivered, in order, the deleted one never read.
    let reads = h.reads.len();
    h.lond.insert("msul1".into(), Lond::Up);
    h.control("revive msul1");
    assert_eq!(read_after(&h, reads), [B, C]);
    assert_eq!(
        h.perm_log,
        [
            format!("R:msul1:{A}:?:put:msu:a"),
            "S:msul1:encrypt:passwd".to_owned(),
            "S:msul1:put:msu:b".to_owned()
        ]
    );
    assert!(h.delayed_dir.is_empty());
    assert_eq!(
        h.control("spool flush"),
        "flushed: no delayed file waits\nok\n"
    );
    // A dead host with no file waiting gets no word about waiting for it.
    h.lond.insert("msul3".into(), Lond::Down);
    for c in 10..15 {
        h.submit("msul3", c, b"ping");
    }
    assert!(h.node.host(h.key("msul3")).unwrap().is_dead());
    assert_eq!(
        h.control("spool flush msul3"),
        "msul3: 0 waiting, 0 being delivered\nflushed: no delayed file waits\nok\n"
    );
}

#[test]
fn a_file_on_a_link_is_not_deleted_and_a_delivered_one_not_deleted_again() {
    let mut h = NodeHarness::new(NodeConfig::default(), &["msul1"]);
    h.lond.insert("msul1".into(), Lond::Holding);
    h.spool(A, "put:msu:a");
    h.control("spool flush");
    assert!(h.lond_saw().iter().any(|(l, _)| l == "put:msu:a"));
    let answer = h.control(&format!("spool delete {A}"));
    assert_eq!(
        answer,
        format!(
            "not deleted {A}: being delivered now; try again once it is done\n\
             error: 1 of 1 file not deleted\n"
        )
    );
    assert!(h.removals.is_empty(), "nothing handed to the runtime");
    assert!(h.perm_log.is_empty());
    h.release_held();
    assert_eq!(h.perm_log, ["S:msul1:put:msu:a"]);
    // The runtime deleted it; a scan made before may still list it.
    h.spool(A, "put:msu:a");
    let answer = h.control(&format!("spool delete {A}"));
    assert!(
        answer.contains("not deleted") && answer.contains("already delivered"),
        "{answer}"
    );
    assert!(h.removals.is_empty());
}

#[test]
fn names_outside_the_delayed_directory_are_refused_and_nothing_is_touched() {
    let mut h = dead_host_with_files();
    let answer = h.control(&format!(
        "spool delete ../x /etc/passwd {A}/../../x .{A}.tmp delayed/{A} junk {A}"
    ));
    assert_eq!(
        answer,
        format!(
            "not deleted ../x: not a file of the delayed directory (a path, or a hidden file)\n\
             not deleted /etc/passwd: not a file of the delayed directory (a path, or a hidden \
             file)\n\
             not deleted {A}/../../x: not a file of the delayed directory (a path, or a hidden \
             file)\n\
             not deleted .{A}.tmp: not a file of the delayed directory (a path, or a hidden \
             file)\n\
             not deleted delayed/{A}: not a file of the delayed directory (a path, or a hidden \
             file)\n\
             not deleted junk: not a delayed-request name (not of the form \
             <time>.<count>.<pid>.<cmd>.<host>)\n\
             deleted {A} (msul1: put:msu:a)\n\
             error: 6 of 7 files not deleted\n"
        )
    );
    assert_eq!(h.removals.len(), 1);
    assert_eq!(h.removals[0].1, [A]);
}

#[test]
fn a_file_named_twice_or_by_two_clients_at_once_is_deleted_once() {
    let mut h = dead_host_with_files();
    h.hold_removals = true;
    let first = h.control(&format!("spool delete {A} {A}"));
    assert_eq!(first, "", "answered once the runtime reports");
    let second = h.control(&format!("spool delete {A}"));
    assert_eq!(
        second,
        format!("not deleted {A}: already being deleted\nerror: 1 of 1 file not deleted\n")
    );
    assert_eq!(h.removals.len(), 1);
    assert_eq!(h.removals[0].1, [A], "handed over once");
    // Meanwhile the host comes back and scans: the file, still there, is not read.
    let reads = h.reads.len();
    h.lond.insert("msul1".into(), Lond::Up);
    h.control("revive msul1");
    assert!(h.delayed_dir.contains_key(A));
    assert_eq!(read_after(&h, reads), [B, C]);
    let (client, names, uid) = h.removals[0].clone();
    h.remove_delayed(client, names, uid);
    h.run();
    assert_eq!(
        h.controls[&client],
        format!(
            "deleted {A} (msul1: put:msu:a)\nnot deleted {A}: already being deleted\n\
             error: 1 of 2 files not deleted\n"
        )
    );
    assert_eq!(h.perm_log.iter().filter(|r| r.starts_with("R:")).count(), 1);
}

#[test]
fn a_record_that_cannot_be_written_keeps_the_file_in_the_replay() {
    let mut h = dead_host_with_files();
    h.perm_log_fails = true;
    let answer = h.control(&format!("spool delete {A}"));
    assert_eq!(
        answer,
        format!(
            "not deleted {A}: lonnet.perm.log cannot be written (Permission denied); the file \
             is kept\nerror: 1 of 1 file not deleted\n"
        )
    );
    assert!(h.delayed_dir.contains_key(A));
    h.perm_log_fails = false;
    h.lond.insert("msul1".into(), Lond::Up);
    h.control("revive msul1");
    assert_eq!(h.perm_log[0], "S:msul1:put:msu:a", "delivered after all");
    assert!(h.delayed_dir.is_empty());
}

#[test]
fn flush_scans_now_and_tries_unreadable_files_again() {
    let mut h = NodeHarness::new(NodeConfig::default(), &["msul1", "msul3"]);
    h.spool(A, "put:msu:a");
    h.unreadable.insert(A.to_owned());
    h.control("spool flush");
    assert_eq!(read_after(&h, 0), [A], "tried once");
    // A scan of the timer skips it while it stays.
    h.advance(lonc_core::node::DEFAULT_SCAN_INTERVAL);
    assert_eq!(read_after(&h, 0), [A]);
    let scans = h.scans;
    assert_eq!(
        h.control("spool flush msul1"),
        "msul1: 0 waiting, 1 being delivered\nflushed: 1 delayed file of 1 host\nok\n",
        "answered once the scan is in, the file being read again"
    );
    assert_eq!(h.scans, scans + 1, "scanned now");
    assert_eq!(read_after(&h, 0), [A, A], "tried again");
    h.unreadable.clear();
    h.control("spool flush");
    assert_eq!(h.perm_log, ["S:msul1:put:msu:a"]);
    assert_eq!(
        h.control("spool flush nosuch"),
        "error: no such host: nosuch\n"
    );
}

#[test]
fn a_shutdown_waits_for_a_deletion_under_way_and_takes_no_new_one() {
    use lonc_core::daemon::Signal;
    let mut h = dead_host_with_files();
    h.hold_removals = true;
    assert_eq!(h.control(&format!("spool delete {A}")), "");
    h.signal(Signal::Term);
    assert_eq!(h.exit, None, "the deletion under way is finished first");
    assert_eq!(
        h.control(&format!("spool delete {B}")),
        "error: the daemon is stopping: delete the files once it is stopped, or after it starts \
         again\n"
    );
    let (client, names, uid) = h.removals[0].clone();
    h.remove_delayed(client, names, uid);
    h.run();
    assert_eq!(h.exit, Some(0));
    assert_eq!(h.perm_log, [format!("R:msul1:{A}:?:put:msu:a")]);
    assert_eq!(h.removals.len(), 1);
}

#[test]
fn a_flush_whose_host_is_removed_before_its_scan_is_in_says_so() {
    let mut h = NodeHarness::new(NodeConfig::default(), &["msul1", "msul3"]);
    let id = h.control_connect().unwrap();
    // The command is in; its scan is not answered before the reload removes the host.
    h.node
        .handle_client_input(h.now, id, b"spool flush msul3\n");
    h.reload(&["msul1"]);
    assert_eq!(h.controls[&id], "error: no such host: msul3\n");
}

#[test]
fn files_for_a_host_not_served_are_warned_about_once_and_our_own_left_quietly() {
    let mut h = NodeHarness::new(NodeConfig::default(), &["msul1"]);
    // msul2 is this node's own id (lonc-tests' settings).
    h.spool("1000.0.1.ping.msul2", "ping");
    h.spool("1001.0.1.ping.nosuch", "ping");
    h.control("spool flush");
    h.control("spool flush");
    let warned: Vec<String> = h
        .logged("Parent Server")
        .into_iter()
        .filter(|m| m.contains("Ignoring delayed file"))
        .collect();
    assert_eq!(
        warned,
        ["Ignoring delayed file \"1001.0.1.ping.nosuch\": it is for \"nosuch\", a host not served"]
    );
    assert_eq!(h.delayed_dir.len(), 2, "both stay");
}

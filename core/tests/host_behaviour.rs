//! One test per behaviour of the host scheduler, on a virtual clock.

mod host_common;

use std::time::{Duration, Instant};

use host_common::*;
use lonc_core::host::{Host, HostAction, HostConfig};
use lonc_core::ids::{HostKey, LinkId};
use lonc_core::log::{LogEvent, Severity};
use lonc_core::reason::CloseReason;

fn refused() -> CloseReason {
    CloseReason::ConnectFailed(std::io::ErrorKind::ConnectionRefused)
}

#[test]
fn request_opens_a_link_on_demand_and_runs_when_it_is_ready() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    assert!(drain(&mut h).is_empty());
    h.submit(t0, c(1), b("get:msu:jdoe:env"));
    let a = drain(&mut h);
    assert_eq!(opens(&a), [LinkId(0)]);
    assert!(starts(&a).is_empty() && answers(&a).is_empty());
    h.handle_link_ready(t0, LinkId(0));
    let a = drain(&mut h);
    assert_eq!(starts(&a), [(LinkId(0), "get:msu:jdoe:env".to_string())]);
    h.handle_reply(t0, LinkId(0), b("ok"));
    let a = drain(&mut h);
    assert_eq!(answers(&a), [(1, "ok".to_string())]);
    assert_eq!(h.status(), "msul1 Connection count: 1 Retries remaining: 5");
}

#[test]
fn idle_links_are_reused_last_in_first_out() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    h.submit(t0, c(1), b("a"));
    h.submit(t0, c(2), b("b"));
    let a = drain(&mut h);
    assert_eq!(opens(&a), [LinkId(0)]);
    h.handle_link_ready(t0, LinkId(0));
    let a = drain(&mut h);
    assert_eq!(opens(&a), [LinkId(1)], "queue not empty: one more link");
    assert!(events(&a).contains(&LogEvent::LinkReady { count: 1 }));
    h.handle_link_ready(t0, LinkId(1));
    let a = drain(&mut h);
    assert!(events(&a).contains(&LogEvent::LinkReady { count: 2 }));
    h.handle_reply(t0, LinkId(1), b("rb")); // link 1 idle first
    h.handle_reply(t0, LinkId(0), b("ra")); // then link 0: most recent
    let _ = drain(&mut h);
    h.submit(t0, c(3), b("c"));
    let a = drain(&mut h);
    assert_eq!(starts(&a), [(LinkId(0), "c".to_string())]);
    h.submit(t0, c(4), b("d"));
    let a = drain(&mut h);
    assert_eq!(starts(&a), [(LinkId(1), "d".to_string())]);
    assert!(opens(&a).is_empty());
}

#[test]
fn queue_is_fifo_and_only_one_link_is_in_handshake() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    for i in 0..5 {
        h.submit(t0, c(i), b(&format!("r{i}")));
    }
    let a = drain(&mut h);
    assert_eq!(opens(&a).len(), 1, "no second link while one is connecting");
    let mut started = vec![];
    for l in 0..3 {
        h.handle_link_ready(t0, LinkId(l));
        let a = drain(&mut h);
        started.extend(starts(&a).into_iter().map(|s| s.1));
        assert_eq!(opens(&a), [LinkId(l + 1)]);
    }
    h.handle_reply(t0, LinkId(1), b("x"));
    let a = drain(&mut h);
    started.extend(starts(&a).into_iter().map(|s| s.1));
    assert_eq!(started, ["r0", "r1", "r2", "r3"]);
}

#[test]
fn never_more_than_max_links() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_links: 2,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    for i in 0..6 {
        h.submit(t0, c(i), b("r"));
    }
    let a = drain(&mut h);
    assert_eq!(opens(&a), [LinkId(0)]);
    h.handle_link_ready(t0, LinkId(0));
    assert_eq!(opens(&drain(&mut h)), [LinkId(1)]);
    h.handle_link_ready(t0, LinkId(1));
    assert!(opens(&drain(&mut h)).is_empty());
    assert_eq!(h.link_count(), 2);
    assert_eq!(h.queue_len(), 4);
    // A busy link dies: its place is taken by a new link, still at most two.
    h.handle_link_closed(t0, LinkId(0), CloseReason::Eof, false);
    assert_eq!(opens(&drain(&mut h)), [LinkId(2)]);
    assert_eq!(h.link_count(), 2);
}

#[test]
fn connect_failure_fails_the_whole_queue_and_uses_one_retry() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    for i in 0..3 {
        h.submit(t0, c(i), b("get:msu:x"));
    }
    let _ = drain(&mut h);
    h.handle_link_closed(t0, LinkId(0), refused(), false);
    let a = drain(&mut h);
    assert_eq!(
        answers(&a),
        [0, 1, 2].map(|i| (i, "con_lost".to_string())).to_vec()
    );
    assert_eq!(logs(&a, Severity::Warning).len(), 3);
    assert!(logs(&a, Severity::Warning)[0].starts_with("Failing transaction get:msu"));
    assert!(opens(&a).is_empty(), "no retry loop without work");
    assert_eq!(h.status(), "msul1 Connection count: 0 Retries remaining: 4");
    assert!(!h.is_dead());
}

#[test]
fn handshake_failure_counts_like_a_connect_failure() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    h.submit(t0, c(1), b("ping"));
    let _ = drain(&mut h);
    h.handle_link_closed(t0, LinkId(0), CloseReason::Refused, false);
    assert_eq!(answers(&drain(&mut h)), [(1, "con_lost".to_string())]);
    assert!(h.status().ends_with("Retries remaining: 4"));
}

#[test]
fn a_ready_link_restores_the_retry_budget() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    for l in 0..3 {
        h.submit(t0, c(l), b("ping"));
        let _ = drain(&mut h);
        h.handle_link_closed(t0, LinkId(l), CloseReason::ConnectTimeout, false);
    }
    assert!(h.status().ends_with("Retries remaining: 2"));
    h.submit(t0, c(9), b("ping"));
    let _ = drain(&mut h);
    h.handle_link_ready(t0, LinkId(3));
    let _ = drain(&mut h);
    assert!(h.status().ends_with("Retries remaining: 5"));
}

fn kill(h: &mut Host, t: Instant, retries: u32) -> Vec<HostAction> {
    let mut all = vec![];
    for i in 0..retries {
        h.submit(t, c(100 + u64::from(i)), b("ping"));
        let a = drain(h);
        all.extend(a.clone());
        let link = *opens(&a).last().expect("a link is opened");
        h.handle_link_closed(t, link, refused(), false);
        all.extend(drain(h));
    }
    all
}

#[test]
fn retries_exhausted_marks_the_host_dead_and_fails_at_once() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let a = kill(&mut h, t0, 5);
    assert_eq!(
        logs(&a, Severity::Critical)
            .iter()
            .filter(|m| *m == "Host marked DEAD: msul1")
            .count(),
        1
    );
    assert!(h.is_dead());
    assert_eq!(h.status(), "msul1 >>> DEAD !!!! <<<");
    h.submit(t0, c(1), b("ping"));
    let a = drain(&mut h);
    assert_eq!(answers(&a), [(1, "con_lost".to_string())]);
    assert!(!touches_network(&a));
}

#[test]
fn marking_dead_closes_the_remaining_links_and_fails_their_transactions() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        retries: 1,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    h.submit(t0, c(1), b("slow"));
    let _ = drain(&mut h);
    h.handle_link_ready(t0, LinkId(0)); // link 0 busy with "slow"
    let _ = drain(&mut h);
    h.submit(t0, c(2), b("ping"));
    assert_eq!(opens(&drain(&mut h)), [LinkId(1)]);
    h.handle_link_closed(t0, LinkId(1), refused(), false);
    let a = drain(&mut h);
    assert!(h.is_dead());
    assert_eq!(closes(&a), [LinkId(0)]);
    let mut ans = answers(&a);
    ans.sort();
    assert_eq!(
        ans,
        [(1, "con_lost".to_string()), (2, "con_lost".to_string())]
    );
    // The late reply of the closed link is stale.
    h.handle_reply(t0, LinkId(0), b("late"));
    assert!(answers(&drain(&mut h)).is_empty());
}

#[test]
fn a_failed_transaction_is_answered_con_lost_and_its_link_dropped() {
    for reason in [
        CloseReason::Eof,
        CloseReason::StepTimeout,
        CloseReason::WriteError(std::io::ErrorKind::BrokenPipe),
        CloseReason::ReadError(std::io::ErrorKind::ConnectionReset),
    ] {
        let t0 = Instant::now();
        let mut h = host(HostConfig::default(), t0);
        let link = one_ready_link(&mut h, t0);
        h.submit(t0, c(1), b("put:msu:jdoe:x=1"));
        let _ = drain(&mut h);
        h.handle_link_closed(t0, link, reason.clone(), false);
        let a = drain(&mut h);
        assert_eq!(answers(&a), [(1, "con_lost".to_string())], "{reason:?}");
        assert!(logs(&a, Severity::Warning).contains(&"Failing transaction put:msu".to_string()));
        assert_eq!(h.link_count(), 0);
        assert!(
            h.status().ends_with("Retries remaining: 5"),
            "a live host's lost link is no connect failure"
        );
        assert!(opens(&a).is_empty(), "nothing queued, nothing opened");
    }
}

#[test]
fn a_lost_busy_link_with_queued_work_is_replaced() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_links: 1,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    h.submit(t0, c(1), b("a"));
    h.submit(t0, c(2), b("b"));
    let _ = drain(&mut h);
    h.handle_link_ready(t0, LinkId(0));
    let _ = drain(&mut h);
    h.handle_link_closed(t0, LinkId(0), CloseReason::Eof, false);
    let a = drain(&mut h);
    assert_eq!(answers(&a), [(1, "con_lost".to_string())]);
    assert_eq!(opens(&a), [LinkId(1)]);
    h.handle_link_ready(t0, LinkId(1));
    assert_eq!(starts(&drain(&mut h)), [(LinkId(1), "b".to_string())]);
}

#[test]
fn a_dead_host_is_probed_with_exponential_backoff_and_jitter() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        retries: 1,
        tick: Duration::ZERO,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    let _ = kill(&mut h, t0, 1);
    assert!(h.is_dead());
    let mut now = t0;
    let mut delays = vec![];
    for attempt in 0..12u32 {
        let due = h.poll_timeout().expect("a probe is scheduled");
        let delay = due - now;
        let cap = Duration::from_secs(1u64 << attempt.min(20)).min(secs(300));
        assert!(delay >= secs(1) && delay <= cap, "{attempt}: {delay:?}");
        delays.push(delay);
        // Nothing happens before the deadline.
        h.handle_timeout(due - Duration::from_millis(1));
        assert!(!touches_network(&drain(&mut h)));
        now = due;
        h.handle_timeout(now);
        let a = drain(&mut h);
        let probe = opens(&a);
        assert_eq!(probe.len(), 1);
        // While the probe runs, requests are still answered at once.
        h.submit(now, c(50), b("ping"));
        let a = drain(&mut h);
        assert_eq!(answers(&a), [(50, "con_lost".to_string())]);
        assert!(!touches_network(&a));
        h.handle_link_closed(now, probe[0], refused(), false);
        let a = drain(&mut h);
        assert!(
            logs(&a, Severity::Critical).is_empty(),
            "probes fail quietly"
        );
        assert!(h.is_dead());
    }
    assert!(delays.iter().skip(9).all(|d| *d <= secs(300)));
    assert!(delays.iter().any(|d| *d > secs(8)), "back-off grows");
    // Same seed, same schedule (determinism).
    let mut h2 = host(
        HostConfig {
            retries: 1,
            tick: Duration::ZERO,
            ..HostConfig::default()
        },
        t0,
    );
    let _ = kill(&mut h2, t0, 1);
    let _ = h2.poll_timeout();
    h2.handle_timeout(t0 + delays[0]);
    let p = opens(&drain(&mut h2));
    h2.handle_link_closed(t0 + delays[0], p[0], refused(), false);
    assert_eq!(h2.poll_timeout(), Some(t0 + delays[0] + delays[1]));
}

/// Full jitter: at back-off step 5 (cap `probe_min * 32` = 32 s, far above `probe_min`), the
/// delay before the next probe is drawn from the whole of `[probe_min, cap]`. Across 64 fixed
/// seeds the delays must spread over that range: an implementation that always waits the cap,
/// the minimum or any fixed fraction of the range fails.
#[test]
fn probe_delays_spread_over_the_whole_back_off_range() {
    const STEP: u32 = 5;
    let cfg = HostConfig {
        retries: 1,
        tick: Duration::ZERO,
        probe_min: secs(1),
        probe_max: secs(300),
        ..HostConfig::default()
    };
    let (min, cap) = (secs(1), secs(1 << STEP));
    let mut delays = vec![];
    for seed in 0..64u64 {
        let t0 = Instant::now();
        let mut h = lonc_core::host::Host::new(HostKey(0), HOST, cfg.clone(), t0, seed);
        let _ = kill(&mut h, t0, 1);
        let mut now = t0;
        for _ in 0..STEP {
            now = h.poll_timeout().expect("a probe is scheduled");
            h.handle_timeout(now);
            let probe = opens(&drain(&mut h));
            assert_eq!(probe.len(), 1, "seed {seed}: one probe");
            h.handle_link_closed(now, probe[0], refused(), false);
            let _ = drain(&mut h);
        }
        let delay = h.poll_timeout().expect("a probe is scheduled") - now;
        assert!(delay >= min && delay <= cap, "seed {seed}: {delay:?}");
        delays.push(delay);
    }
    let span = cap - min;
    let mid = min + span / 2;
    let below = delays.iter().filter(|d| **d < mid).count();
    let above = delays.iter().filter(|d| **d > mid).count();
    assert!(
        below >= 16 && above >= 16,
        "{below} below and {above} above the middle: {delays:?}"
    );
    assert!(
        delays.iter().any(|d| *d < min + span / 4) && delays.iter().any(|d| *d > cap - span / 4),
        "both ends of the range reached: {delays:?}"
    );
    let mut distinct = delays.clone();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() >= 32, "{} distinct delays", distinct.len());
}

#[test]
fn a_probe_that_completes_its_handshake_revives_the_host() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        retries: 2,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    let _ = kill(&mut h, t0, 2);
    let due = h.poll_timeout().unwrap();
    h.handle_timeout(due);
    let probe = opens(&drain(&mut h))[0];
    h.handle_link_ready(due, probe);
    let a = drain(&mut h);
    assert!(!h.is_dead());
    assert_eq!(
        scans(&a),
        1,
        "a host back: its delayed files are looked for"
    );
    assert_eq!(h.status(), "msul1 Connection count: 1 Retries remaining: 2");
    h.submit(due, c(1), b("ping"));
    assert_eq!(starts(&drain(&mut h)), [(probe, "ping".to_string())]);
}

#[test]
fn reset_revives_a_dead_host_and_probes_now() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let _ = kill(&mut h, t0, 5);
    assert!(h.is_dead());
    let t1 = t0 + secs(1000);
    h.reset(t1);
    let a = drain(&mut h);
    let probe = opens(&a);
    assert_eq!(probe.len(), 1);
    assert_eq!(
        scans(&a),
        1,
        "a host back: its delayed files are looked for"
    );
    assert!(!h.is_dead());
    assert!(h.status().ends_with("Retries remaining: 5"));
    // The host is alive again: requests wait for the link.
    h.submit(t1, c(1), b("ping"));
    let a = drain(&mut h);
    assert!(answers(&a).is_empty() && opens(&a).is_empty());
    h.handle_link_ready(t1, probe[0]);
    assert_eq!(starts(&drain(&mut h)), [(probe[0], "ping".to_string())]);
}

#[test]
fn reset_while_a_probe_connects_opens_no_second_link() {
    let t0 = Instant::now();
    let mut h = host(
        HostConfig {
            retries: 1,
            ..HostConfig::default()
        },
        t0,
    );
    let _ = kill(&mut h, t0, 1);
    let due = h.poll_timeout().unwrap();
    h.handle_timeout(due);
    assert_eq!(opens(&drain(&mut h)).len(), 1);
    h.reset(due);
    assert!(opens(&drain(&mut h)).is_empty());
    assert!(!h.is_dead());
    assert_eq!(h.link_count(), 1);
}

#[test]
fn reset_of_a_live_host_restores_the_budget_only() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let _ = kill(&mut h, t0, 2);
    assert!(h.status().ends_with("Retries remaining: 3"));
    h.reset(t0);
    assert!(!touches_network(&drain(&mut h)));
    assert!(h.status().ends_with("Retries remaining: 5"));
}

#[test]
fn idle_links_are_pruned_one_per_idle_timeout() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    h.submit(t0, c(1), b("a"));
    h.submit(t0, c(2), b("b"));
    let _ = drain(&mut h);
    h.handle_link_ready(t0, LinkId(0));
    let _ = drain(&mut h);
    h.handle_link_ready(t0, LinkId(1));
    let _ = drain(&mut h);
    h.handle_reply(t0, LinkId(0), b("x"));
    h.handle_reply(t0, LinkId(1), b("y"));
    let _ = drain(&mut h);
    assert_eq!(h.poll_timeout(), Some(t0 + secs(3600)));
    h.handle_timeout(t0 + secs(3599));
    assert!(closes(&drain(&mut h)).is_empty());
    h.handle_timeout(t0 + secs(3600));
    let a = drain(&mut h);
    assert_eq!(closes(&a), [LinkId(0)], "the link idle longest goes first");
    assert_eq!(h.poll_timeout(), Some(t0 + secs(7200)));
    h.handle_timeout(t0 + secs(7200));
    assert_eq!(closes(&drain(&mut h)), [LinkId(1)]);
    assert_eq!(h.poll_timeout(), None, "no links, no timer");
    assert_eq!(h.status(), "msul1 Connection count: 0 Retries remaining: 5");
}

#[test]
fn idle_count_restarts_when_the_idle_links_are_all_used() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    assert_eq!(h.poll_timeout(), Some(t0 + secs(3600)));
    let t1 = t0 + secs(3000);
    h.submit(t1, c(1), b("ping"));
    let _ = drain(&mut h);
    assert_eq!(
        h.poll_timeout(),
        Some(t1 + secs(30)),
        "the request's deadline only"
    );
    h.handle_reply(t1, link, b("pong"));
    let _ = drain(&mut h);
    assert_eq!(h.poll_timeout(), Some(t1 + secs(3600)));
    h.handle_timeout(t0 + secs(3600));
    assert!(closes(&drain(&mut h)).is_empty());
}

#[test]
fn deadlines_are_rounded_up_to_the_tick() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let t = t0 + Duration::from_millis(2500);
    one_ready_link(&mut h, t);
    assert_eq!(h.poll_timeout(), Some(t0 + secs(3603)));
}

#[test]
fn an_idle_link_closed_by_the_peer_is_forgotten_quietly() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    h.handle_link_closed(t0, link, CloseReason::Eof, false);
    let a = drain(&mut h);
    assert!(answers(&a).is_empty() && logs(&a, Severity::Warning).is_empty());
    assert_eq!(h.link_count(), 0);
    assert_eq!(h.poll_timeout(), None);
    assert!(h.status().ends_with("Retries remaining: 5"));
}

// ----- delayed replay -----

#[test]
fn a_ready_link_asks_for_no_listing_of_its_own() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    h.submit(t0, c(1), b("live"));
    let _ = drain(&mut h);
    h.handle_link_ready(t0, LinkId(0));
    let a = drain(&mut h);
    assert_eq!(
        scans(&a),
        0,
        "the node scans; a first link is nothing special"
    );
    assert!(reads(&a).is_empty());
    assert_eq!(starts(&a), [(LinkId(0), "live".to_string())]);
}

#[test]
fn a_scan_reads_the_host_s_files_and_replays_them_in_time_order() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    // Listed in string order, which is not time order.
    let mut sp = Spool::with(&[
        ("1000000000.10.7.c.msul1", "c"),
        ("1000000000.9.7.b.msul1", "b"),
        ("999999999.0.7.a.msul1", "a"),
    ]);
    h.spool_listed(t0, sp.names());
    let a = drain(&mut h);
    assert_eq!(
        reads(&a),
        [vec![
            "999999999.0.7.a.msul1".to_string(),
            "1000000000.9.7.b.msul1".into(),
            "1000000000.10.7.c.msul1".into(),
        ]]
    );
    assert!(!touches_network(&a), "nothing goes out before it is read");
    // The driver answers in any order: the host keeps time order.
    let mut names = reads(&a).remove(0);
    names.reverse();
    let a = sp.read_once(&mut h, t0, &names);
    assert_eq!(starts(&a), [(link, "a".to_string())]);
    assert_eq!(opens(&a), [LinkId(1)], "work queued: another link");
    assert_eq!(h.queue_len(), 2);
    h.handle_reply(t0, link, b("ok"));
    let a = drain(&mut h);
    sp.carry_out(&a);
    assert_eq!(deleted(&a), ["999999999.0.7.a.msul1"]);
    assert_eq!(perm(&a), ["S:msul1:a"]);
    assert!(logs(&a, Severity::Success).contains(&"A delayed transaction was completed".into()));
    assert!(answers(&a).is_empty());
    assert_eq!(starts(&a), [(link, "b".to_string())]);
    h.handle_link_ready(t0, LinkId(1));
    assert_eq!(starts(&drain(&mut h)), [(LinkId(1), "c".to_string())]);
    h.handle_reply(t0, link, b("ok"));
    h.handle_reply(t0, LinkId(1), b("ok"));
    let a = drain(&mut h);
    sp.carry_out(&a);
    assert_eq!(perm(&a), ["S:msul1:b", "S:msul1:c"]);
    assert!(sp.files.is_empty());
}

#[test]
fn a_scan_with_no_traffic_opens_a_link_for_the_replay() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let mut sp = Spool::with(&[("5.0.1.put.msul1", "put:msu:x")]);
    let a = sp.scan(&mut h, t0);
    assert_eq!(opens(&a), [LinkId(0)]);
    assert!(starts(&a).is_empty());
    h.handle_link_ready(t0, LinkId(0));
    assert_eq!(
        starts(&drain(&mut h)),
        [(LinkId(0), "put:msu:x".to_string())]
    );
    h.handle_reply(t0, LinkId(0), b("ok"));
    let a = drain(&mut h);
    sp.carry_out(&a);
    assert_eq!(perm(&a), ["S:msul1:put:msu:x"]);
    assert!(sp.files.is_empty());
    assert!(h.is_drained());
}

#[test]
fn any_reply_completes_a_delayed_request() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    let mut sp = Spool::with(&[("5.0.1.put.msul1", "put:msu:x")]);
    let a = sp.scan(&mut h, t0);
    assert_eq!(starts(&a), [(link, "put:msu:x".to_string())]);
    h.handle_reply(t0, link, b("error:no_such_thing"));
    assert_eq!(deleted(&drain(&mut h)), ["5.0.1.put.msul1"]);
}

#[test]
fn a_delayed_file_is_never_read_or_queued_twice() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_links: 2,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    let link = one_ready_link(&mut h, t0);
    h.submit(t0, c(1), b("busy"));
    let _ = drain(&mut h);
    let mut sp = Spool::with(&[("5.0.1.a.msul1", "a"), ("6.0.1.b.msul1", "b")]);
    h.spool_listed(t0, sp.names());
    let asked = reads(&drain(&mut h));
    assert_eq!(asked.len(), 1);
    // Listed again while being read: not asked for again.
    h.spool_listed(t0, sp.names());
    assert!(reads(&drain(&mut h)).is_empty());
    let _ = sp.read_once(&mut h, t0, &asked[0]);
    assert_eq!(h.queue_len(), 2);
    // The same answer again (a confused driver): ignored.
    let a = sp.read_once(&mut h, t0, &asked[0]);
    assert!(a.iter().all(|x| matches!(x, HostAction::Log(_))));
    assert_eq!(h.queue_len(), 2);
    // Listed again while queued.
    let a = sp.scan(&mut h, t0);
    assert!(reads(&a).is_empty());
    h.handle_reply(t0, link, b("r"));
    assert_eq!(starts(&drain(&mut h)), [(link, "a".to_string())]);
    // "a" in flight, "b" queued.
    let a = sp.scan(&mut h, t0);
    assert!(reads(&a).is_empty());
    assert_eq!(h.queue_len(), 1);
    let a = sp.after(&mut h, t0, |h| h.handle_reply(t0, link, b("r")));
    let b_ = sp.after(&mut h, t0, |h| h.handle_reply(t0, link, b("r")));
    assert_eq!(deleted(&a), ["5.0.1.a.msul1"]);
    assert_eq!(deleted(&b_), ["6.0.1.b.msul1"]);
    assert_eq!(h.queue_len(), 0);
    assert!(sp.files.is_empty());
}

#[test]
fn a_failed_delayed_request_leaves_its_file_for_the_next_scan() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    let mut sp = Spool::with(&[("5.0.1.a.msul1", "a")]);
    let a = sp.scan(&mut h, t0);
    assert_eq!(starts(&a), [(link, "a".to_string())]);
    let a = sp.after(&mut h, t0, |h| {
        h.handle_link_closed(t0, link, CloseReason::Eof, false)
    });
    assert!(deleted(&a).is_empty() && answers(&a).is_empty());
    assert!(
        reads(&a).is_empty(),
        "not read again before a scan lists it"
    );
    assert!(!touches_network(&a));
    assert!(sp.contains("5.0.1.a.msul1"));
    // The next scan lists it: read and replayed again.
    let a = sp.scan(&mut h, t0);
    assert_eq!(reads(&a), [vec!["5.0.1.a.msul1".to_string()]]);
    let l2 = opens(&a)[0];
    h.handle_link_ready(t0, l2);
    assert_eq!(starts(&drain(&mut h)), [(l2, "a".to_string())]);
}

#[test]
fn queued_delayed_requests_stay_on_disk_when_the_connection_fails() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let mut sp = Spool::with(&[("5.0.1.a.msul1", "a")]);
    let a = sp.scan(&mut h, t0);
    let l = opens(&a)[0];
    assert_eq!(h.queue_len(), 1);
    let a = sp.after(&mut h, t0, |h| {
        h.handle_link_closed(t0, l, refused(), false)
    });
    assert!(deleted(&a).is_empty() && answers(&a).is_empty());
    assert_eq!(h.queue_len(), 0);
    assert!(h.status().ends_with("Retries remaining: 4"));
    // Not remembered as queued: the next scan reads it again.
    let a = sp.scan(&mut h, t0);
    assert_eq!(reads(&a).len(), 1);
    assert_eq!(h.queue_len(), 1);
}

#[test]
fn names_that_are_not_the_host_s_files_are_ignored_quietly() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    one_ready_link(&mut h, t0);
    // The node warns about bad names and unknown hosts once; the host just ignores them.
    let sp = Spool::with(&[
        ("garbage", "a"),
        ("5.0.1.a.msul10", "b"),
        ("5.0.1.a.xmsul1", "b"),
        ("5.0.1.a.other", "c"),
        (".5.0.1.a.msul1.tmp", "d"),
    ]);
    h.spool_listed(t0, sp.names());
    let a = drain(&mut h);
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(h.delayed_waiting(), 0);
    assert_eq!(h.queue_len(), 0);
}

#[test]
fn encrypted_delayed_requests_are_submitted_as_is_and_logged_without_arguments() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    let mut sp = Spool::with(&[(
        "5.0.1.encryptpasswdms.msul1",
        "encrypt:passwd:msu:jdoe:oldpw:newpw",
    )]);
    assert_eq!(
        starts(&sp.scan(&mut h, t0)),
        [(link, "encrypt:passwd:msu:jdoe:oldpw:newpw".to_string())]
    );
    h.handle_reply(t0, link, b("ok"));
    let a = drain(&mut h);
    assert_eq!(perm(&a), ["S:msul1:encrypt:passwd"]);
    assert!(all_logs(&a).iter().all(|m| !m.contains("oldpw")));
}

#[test]
fn a_dead_host_reads_nothing_and_reads_its_files_once_it_is_back() {
    let t0 = Instant::now();
    let mut h = host(
        HostConfig {
            retries: 1,
            ..HostConfig::default()
        },
        t0,
    );
    let _ = kill(&mut h, t0, 1);
    let mut sp = Spool::with(&[("5.0.1.a.msul1", "a"), ("6.0.1.b.msul1", "b")]);
    h.spool_listed(t0, sp.names());
    let a = drain(&mut h);
    assert!(reads(&a).is_empty() && !touches_network(&a));
    assert_eq!(h.delayed_waiting(), 2, "the names wait for the host");
    assert_eq!(h.queue_len(), 0);
    let a = sp.after(&mut h, t0, |h| h.reset(t0));
    assert_eq!(scans(&a), 1);
    assert_eq!(
        reads(&a),
        [vec!["5.0.1.a.msul1".to_string(), "6.0.1.b.msul1".into()]]
    );
    assert_eq!(h.queue_len(), 2);
    assert_eq!(h.delayed_waiting(), 0);
}

#[test]
fn the_replay_window_holds_at_most_max_links_files_and_a_live_request_waits_behind_it() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_links: 2,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    let mut sp = Spool::default();
    for i in 1..=5 {
        sp.put(&format!("{i}.0.1.put.msul1"), &format!("f{i}"));
    }
    let name = |i: u32| format!("{i}.0.1.put.msul1");
    // Names asked for and not answered, and files queued or in flight: never more than 2.
    let mut in_use = 0usize;
    let mut all = Vec::new();
    let mut step = |h: &mut lonc_core::host::Host,
                    sp: &mut Spool,
                    in_use: &mut usize,
                    f: &dyn Fn(&mut lonc_core::host::Host)| {
        f(h);
        let a = drain(h);
        sp.carry_out(&a);
        *in_use += reads(&a).iter().map(Vec::len).sum::<usize>();
        *in_use -= deleted(&a).len();
        assert!(*in_use <= 2, "{in_use} files in the window: {a:?}");
        all.extend(a.clone());
        a
    };
    let a = step(&mut h, &mut sp, &mut in_use, &|h| {
        h.spool_listed(t0, (1..=5).map(name).collect())
    });
    assert_eq!(reads(&a), [vec![name(1), name(2)]]);
    // Listed again: the window is full, nothing more is read.
    let a = step(&mut h, &mut sp, &mut in_use, &|h| {
        h.spool_listed(t0, (1..=5).map(name).collect())
    });
    assert!(reads(&a).is_empty());
    let (files, _) = sp.answer(&[name(1), name(2)]);
    let a = step(&mut h, &mut sp, &mut in_use, &|h| {
        h.delayed_read(t0, files.clone(), vec![])
    });
    assert_eq!(opens(&a), [LinkId(0)]);
    assert!(reads(&a).is_empty(), "queued files are in the window");
    // A live request comes: it waits behind the two files, no more.
    step(&mut h, &mut sp, &mut in_use, &|h| {
        h.submit(t0, c(1), b("live"))
    });
    assert_eq!(h.queue_len(), 3);
    step(&mut h, &mut sp, &mut in_use, &|h| {
        h.handle_link_ready(t0, LinkId(0))
    });
    step(&mut h, &mut sp, &mut in_use, &|h| {
        h.handle_link_ready(t0, LinkId(1))
    });
    // f1 delivered: the live request takes its link; one more file is read.
    let a = step(&mut h, &mut sp, &mut in_use, &|h| {
        h.handle_reply(t0, LinkId(0), b("ok"))
    });
    assert_eq!(starts(&a), [(LinkId(0), "live".to_string())]);
    assert_eq!(reads(&a), [vec![name(3)]]);
    let (files, _) = sp.answer(&[name(3)]);
    step(&mut h, &mut sp, &mut in_use, &|h| {
        h.delayed_read(t0, files.clone(), vec![])
    });
    let a = step(&mut h, &mut sp, &mut in_use, &|h| {
        h.handle_reply(t0, LinkId(1), b("ok"))
    });
    assert_eq!(starts(&a), [(LinkId(1), "f3".to_string())]);
    assert_eq!(reads(&a), [vec![name(4)]]);
    let (files, _) = sp.answer(&[name(4)]);
    step(&mut h, &mut sp, &mut in_use, &|h| {
        h.delayed_read(t0, files.clone(), vec![])
    });
    let a = step(&mut h, &mut sp, &mut in_use, &|h| {
        h.handle_reply(t0, LinkId(0), b("ok"))
    });
    assert_eq!(answers(&a), [(1, "ok".to_string())]);
    assert_eq!(starts(&a), [(LinkId(0), "f4".to_string())]);
    assert!(reads(&a).is_empty(), "f3 and f4 fill the window");
    let a = step(&mut h, &mut sp, &mut in_use, &|h| {
        h.handle_reply(t0, LinkId(1), b("ok"))
    });
    assert_eq!(reads(&a), [vec![name(5)]]);
    assert_eq!(
        started(&all),
        ["f1", "f2", "live", "f3", "f4"],
        "the live request waited behind two files"
    );
}

#[test]
fn a_file_that_does_not_fit_the_queue_waits_unread_and_goes_as_soon_as_there_is_room() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_links: 1,
        max_queue_len: 1,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    let link = one_ready_link(&mut h, t0);
    h.submit(t0, c(1), b("busy"));
    h.submit(t0, c(2), b("queued"));
    let _ = drain(&mut h);
    assert_eq!(h.queue_len(), 1, "the queue is full");
    let mut sp = Spool::with(&[("5.0.1.a.msul1", "a")]);
    h.spool_listed(t0, sp.names());
    let asked = reads(&drain(&mut h));
    assert_eq!(asked.len(), 1);
    let a = sp.read_once(&mut h, t0, &asked[0]);
    assert_eq!(h.queue_len(), 1, "no room: not queued");
    assert!(
        reads(&a).is_empty(),
        "and not read again while there is no room"
    );
    assert!(logs(&a, Severity::Warning).is_empty());
    assert_eq!(h.delayed_waiting(), 1);
    // A scan meanwhile changes nothing.
    assert!(reads(&sp.scan(&mut h, t0)).is_empty());
    // The queue moves: there is room, the file is read and queued.
    h.handle_reply(t0, link, b("r1"));
    let a = drain(&mut h);
    assert_eq!(starts(&a), [(link, "queued".to_string())]);
    assert_eq!(reads(&a), [vec!["5.0.1.a.msul1".to_string()]]);
    let _ = sp.read_once(&mut h, t0, &reads(&a)[0]);
    assert_eq!(h.queue_len(), 1);
    let a = sp.after(&mut h, t0, |h| h.handle_reply(t0, link, b("r2")));
    assert_eq!(starts(&a), [(link, "a".to_string())]);
}

#[test]
fn files_keep_their_time_order_when_the_first_does_not_fit() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_links: 2,
        max_queue_bytes: 10,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    let link = one_ready_link(&mut h, t0);
    h.submit(t0, c(1), b("busy"));
    h.submit(t0, c(2), b("qqqqqq"));
    let _ = drain(&mut h); // a second link connects, and never gets ready
    // 7 bytes do not fit after 6; the later 1 byte would, but waits its turn.
    let mut sp = Spool::with(&[("5.0.1.a.msul1", "aaaaaaa"), ("6.0.1.b.msul1", "b")]);
    let a = sp.scan(&mut h, t0);
    assert_eq!(reads(&a).len(), 1);
    assert_eq!(h.queue_len(), 1);
    let a = sp.after(&mut h, t0, |h| h.handle_reply(t0, link, b("r")));
    assert_eq!(starts(&a), [(link, "qqqqqq".to_string())]);
    assert_eq!(h.queue_len(), 2);
    let mut order = vec![];
    for _ in 0..3 {
        let a = sp.after(&mut h, t0, |h| h.handle_reply(t0, link, b("r")));
        order.extend(started(&a));
    }
    assert_eq!(order, ["aaaaaaa", "b"]);
}

#[test]
fn a_file_too_large_for_the_queue_is_skipped_with_one_warning() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_queue_bytes: 10,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    let link = one_ready_link(&mut h, t0);
    let mut sp = Spool::with(&[("5.0.1.a.msul1", "a234567890x"), ("6.0.1.b.msul1", "b")]);
    let a = sp.scan(&mut h, t0);
    let warnings = logs(&a, Severity::Warning);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("5.0.1.a.msul1"), "{warnings:?}");
    assert_eq!(starts(&a), [(link, "b".to_string())], "the others go");
    let a = sp.after(&mut h, t0, |h| h.handle_reply(t0, link, b("ok")));
    assert_eq!(deleted(&a), ["6.0.1.b.msul1"]);
    let a = sp.scan(&mut h, t0);
    assert!(reads(&a).is_empty() && logs(&a, Severity::Warning).is_empty());
    assert!(sp.contains("5.0.1.a.msul1"), "it stays in the directory");
}

#[test]
fn with_no_queue_at_all_a_delayed_file_is_skipped_with_one_warning() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_queue_len: 0,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    let mut sp = Spool::with(&[("5.0.1.a.msul1", "a")]);
    let a = sp.scan(&mut h, t0);
    let warnings = logs(&a, Severity::Warning);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("5.0.1.a.msul1"), "{warnings:?}");
    let a = sp.scan(&mut h, t0);
    assert!(reads(&a).is_empty() && logs(&a, Severity::Warning).is_empty());
    assert!(sp.contains("5.0.1.a.msul1"), "it stays in the directory");
}

#[test]
fn an_unreadable_file_is_warned_about_once_and_tried_again_once_it_comes_back() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    let mut sp = Spool::default();
    sp.put_unreadable("5.0.1.a.msul1", "Is a directory");
    sp.put("6.0.1.b.msul1", "b");
    let a = sp.scan(&mut h, t0);
    assert_eq!(
        events(&a)
            .into_iter()
            .filter(|e| matches!(e, LogEvent::DelayedUnreadable { .. }))
            .collect::<Vec<_>>(),
        [LogEvent::DelayedUnreadable {
            name: "5.0.1.a.msul1".into(),
            why: "Is a directory".into()
        }]
    );
    assert_eq!(logs(&a, Severity::Warning).len(), 1);
    assert_eq!(starts(&a), [(link, "b".to_string())]);
    let _ = sp.after(&mut h, t0, |h| h.handle_reply(t0, link, b("ok")));
    // Listed by later scans: skipped, quietly.
    for _ in 0..3 {
        let a = sp.scan(&mut h, t0);
        assert!(reads(&a).is_empty());
        assert!(logs(&a, Severity::Warning).is_empty());
    }
    // It goes away, then comes back readable: tried again.
    sp.remove("5.0.1.a.msul1");
    assert!(sp.scan(&mut h, t0).is_empty());
    sp.put("5.0.1.a.msul1", "a");
    let a = sp.scan(&mut h, t0);
    assert_eq!(starts(&a), [(link, "a".to_string())]);
    // And one that comes back still unreadable is warned about again.
    let a = sp.after(&mut h, t0, |h| h.handle_reply(t0, link, b("ok")));
    assert_eq!(deleted(&a), ["5.0.1.a.msul1"]);
    sp.put_unreadable("7.0.1.c.msul1", "Permission denied");
    assert_eq!(logs(&sp.scan(&mut h, t0), Severity::Warning).len(), 1);
    sp.remove("7.0.1.c.msul1");
    sp.scan(&mut h, t0);
    sp.put_unreadable("7.0.1.c.msul1", "Permission denied");
    assert_eq!(logs(&sp.scan(&mut h, t0), Severity::Warning).len(), 1);
}

#[test]
fn a_delivered_file_listed_again_is_not_replayed_twice() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    let mut sp = Spool::with(&[("5.0.1.a.msul1", "a")]);
    let _ = sp.scan(&mut h, t0);
    // A scan made before the delivery comes back after it (the runtime lists the directory
    // while the reply arrives), and a deletion that failed leaves the file in place.
    let listed_before = sp.names();
    let a = sp.after(&mut h, t0, |h| h.handle_reply(t0, link, b("ok")));
    assert_eq!(deleted(&a), ["5.0.1.a.msul1"]);
    h.spool_listed(t0, listed_before);
    let a = drain(&mut h);
    assert!(reads(&a).is_empty(), "{a:?}");
    sp.put("5.0.1.a.msul1", "a");
    let a = sp.scan(&mut h, t0);
    assert!(reads(&a).is_empty() && !touches_network(&a), "{a:?}");
}

#[test]
fn close_connection_exit_closes_links_fails_waiters_and_keeps_serving() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_links: 2,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    let _ = kill(&mut h, t0, 2); // budget 3
    for i in 0..4 {
        h.submit(t0, c(i), b("r"));
    }
    let _ = drain(&mut h);
    h.handle_link_ready(t0, LinkId(2));
    let _ = drain(&mut h);
    h.handle_link_ready(t0, LinkId(3)); // two busy, two queued
    let _ = drain(&mut h);
    h.submit(t0, c(9), b("close_connection_exit"));
    let a = drain(&mut h);
    assert!(
        logs(&a, Severity::Critical)
            .iter()
            .any(|m| m.starts_with("Request Close Connection"))
    );
    let mut cl = closes(&a);
    cl.sort();
    assert_eq!(cl, [LinkId(2), LinkId(3)]);
    let mut ans = answers(&a);
    ans.sort();
    assert_eq!(
        ans,
        [0, 1, 2, 3, 9]
            .map(|i| (i, "con_lost".to_string()))
            .to_vec()
    );
    assert!(!touches_network(&a));
    assert_eq!(h.status(), "msul1 Connection count: 0 Retries remaining: 5");
    h.submit(t0, c(10), b("ping"));
    assert_eq!(opens(&drain(&mut h)).len(), 1, "still serving");
}

#[test]
fn a_hung_up_client_s_queued_request_is_never_sent() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    h.submit(t0, c(1), b("one"));
    h.submit(t0, c(2), b("two"));
    let _ = drain(&mut h);
    h.client_gone(t0, c(1));
    assert_eq!(
        events(&drain(&mut h)),
        [LogEvent::ClientHungUp {
            client: c(1),
            dropped: 1,
            orphaned: 0
        }]
    );
    assert_eq!(h.report(t0).queue.bytes, 3, "\"two\" is left");
    h.handle_link_ready(t0, LinkId(0));
    let a = drain(&mut h);
    assert_eq!(starts(&a), [(LinkId(0), "two".to_string())]);
    assert!(answers(&a).is_empty());
    // A client with nothing queued or in flight hangs up unremarked.
    h.client_gone(t0, c(3));
    assert_eq!(events(&drain(&mut h)), []);
}

#[test]
fn a_hung_up_client_s_sent_request_completes_and_the_reply_is_discarded() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    h.submit(t0, c(1), b("one"));
    h.submit(t0, c(2), b("two"));
    let _ = drain(&mut h);
    h.client_gone(t0, c(1));
    let a = drain(&mut h);
    assert!(closes(&a).is_empty(), "the link stays in step");
    assert_eq!(
        events(&a),
        [LogEvent::ClientHungUp {
            client: c(1),
            dropped: 0,
            orphaned: 1
        }]
    );
    h.handle_reply(t0, link, b("r1"));
    let a = drain(&mut h);
    assert!(answers(&a).is_empty());
    assert_eq!(starts(&a), [(link, "two".to_string())]);
    h.handle_reply(t0, link, b("r2"));
    assert_eq!(answers(&drain(&mut h)), [(2, "r2".to_string())]);
}

#[test]
fn the_queue_is_bounded_by_count_and_bytes() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_queue_len: 2,
        max_queue_bytes: 10,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    h.submit(t0, c(1), b("aaaa"));
    h.submit(t0, c(2), b("bbbbbbb")); // 11 bytes in all: over
    let a = drain(&mut h);
    assert_eq!(answers(&a), [(2, "con_lost".to_string())]);
    assert_eq!(
        logs(&a, Severity::Warning),
        ["Queue for msul1 full (1 requests, 4 bytes): failing transaction bbbbbbb"]
    );
    h.submit(t0, c(3), b("cc"));
    h.submit(t0, c(4), b("d")); // third request: over the count
    let a = drain(&mut h);
    assert_eq!(answers(&a), [(4, "con_lost".to_string())]);
    assert_eq!(h.queue_len(), 2);
    assert_eq!(h.report(t0).queue.bytes, 6);
    h.handle_link_ready(t0, LinkId(0));
    assert_eq!(starts(&drain(&mut h)), [(LinkId(0), "aaaa".to_string())]);
    assert_eq!(h.report(t0).queue.bytes, 2);
}

#[test]
fn expired_requests_give_their_room_in_the_queue_back() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_queue_bytes: 10,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    h.submit(t0, c(1), b("aaaa")); // waits for a link that never becomes ready
    let _ = drain(&mut h);
    let due = h.poll_timeout().expect("the request's deadline");
    h.handle_timeout(due);
    assert_eq!(answers(&drain(&mut h)), [(1, "con_lost".to_string())]);
    assert_eq!(h.report(due).queue.bytes, 0);
    h.submit(due, c(2), b("bbbbbbbbbb")); // all ten bytes
    assert!(answers(&drain(&mut h)).is_empty(), "it fits");
}

#[test]
fn logs_never_show_the_arguments_of_encrypted_requests() {
    let t0 = Instant::now();
    let mut h = host(
        HostConfig {
            max_queue_len: 1,
            ..HostConfig::default()
        },
        t0,
    );
    let secret = "encrypt:passwd:msu:jdoe:oldpw:newpw";
    let mut all = vec![];
    h.submit(t0, c(1), b(secret));
    h.submit(t0, c(2), b(secret)); // overflow
    all.extend(drain(&mut h));
    h.handle_link_ready(t0, LinkId(0));
    h.submit(t0, c(3), b(secret));
    all.extend(drain(&mut h));
    h.handle_link_closed(t0, LinkId(0), CloseReason::Eof, false); // fails in flight
    all.extend(drain(&mut h));
    h.handle_link_closed(t0, LinkId(1), refused(), false); // fails queued
    all.extend(drain(&mut h));
    let logs = all_logs(&all);
    assert!(logs.iter().any(|m| m.contains("encrypt:passwd")));
    assert!(
        logs.iter()
            .all(|m| !m.contains("oldpw") && !m.contains("jdoe"))
    );
}

#[test]
fn stale_events_are_ignored() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    h.handle_reply(t0, LinkId(42), b("x"));
    h.handle_link_ready(t0, LinkId(42));
    h.handle_link_closed(t0, LinkId(42), CloseReason::Eof, false);
    let link = one_ready_link(&mut h, t0);
    h.handle_reply(t0, link, b("reply on an idle link"));
    h.handle_link_ready(t0, link);
    h.handle_link_closed(t0, link, CloseReason::Eof, false);
    h.handle_link_closed(t0, link, CloseReason::Eof, false);
    h.client_gone(t0, c(77));
    h.handle_timeout(t0 - Duration::from_secs(0));
    let a = drain(&mut h);
    assert!(!touches_network(&a) && answers(&a).is_empty());
    assert!(
        a.iter()
            .filter_map(|x| match x {
                HostAction::Log(e) => Some(e.severity()),
                _ => None,
            })
            .all(|s| s == Severity::Debug || s == Severity::Info)
    );
}

#[test]
fn a_moved_host_closes_each_busy_link_once_its_reply_is_in() {
    // The first busy link fails (closed, or its request times out); the second still closes
    // once its reply is in.
    for timed_out in [false, true] {
        let t0 = Instant::now();
        let config = HostConfig {
            request_timeout: secs(10),
            ..HostConfig::default()
        };
        let mut h = host(config, t0);
        let mut busy = Vec::new();
        for (n, line) in [(1u64, "one"), (2, "two")] {
            let t = t0 + secs(n - 1);
            h.submit(t, c(n), b(line));
            let link = opens(&drain(&mut h))[0];
            h.handle_link_ready(t, link);
            assert_eq!(starts(&drain(&mut h)), [(link, line.to_string())]);
            busy.push(link);
        }
        h.moved(t0 + secs(2));
        assert!(
            closes(&drain(&mut h)).is_empty(),
            "their requests went to the old address"
        );
        let t = t0 + secs(10);
        if timed_out {
            h.handle_timeout(t);
            assert_eq!(closes(&drain(&mut h)), [busy[0]]);
        } else {
            h.handle_link_closed(t, busy[0], CloseReason::Eof, false);
            let _ = drain(&mut h);
        }
        h.handle_reply(t, busy[1], b("r2"));
        let a = drain(&mut h);
        assert_eq!(
            answers(&a),
            [(2, "r2".to_string())],
            "timed out: {timed_out}"
        );
        assert_eq!(closes(&a), [busy[1]], "timed out: {timed_out}");
        assert_eq!(h.link_count(), 0);
    }
}

#[test]
fn close_all_answers_everyone_and_opens_nothing_afterwards() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    let mut sp = Spool::with(&[("5.0.1.a.msul1", "a"), ("6.0.1.b.msul1", "b")]);
    h.submit(t0, c(1), b("x"));
    h.submit(t0, c(2), b("y"));
    let _ = drain(&mut h);
    let a = sp.scan(&mut h, t0);
    assert_eq!(h.queue_len(), 3, "y and both files wait");
    assert!(deleted(&a).is_empty());
    h.close_all(t0);
    let a = drain(&mut h);
    assert!(closes(&a).contains(&link));
    let mut ans = answers(&a);
    ans.sort();
    assert_eq!(
        ans,
        [(1, "con_lost".to_string()), (2, "con_lost".to_string())]
    );
    assert!(deleted(&a).is_empty());
    assert_eq!(h.queue_len(), 0);
    assert!(events(&a).contains(&LogEvent::ClosingAll));
    h.close_all(t0);
    assert_eq!(events(&drain(&mut h)), [], "said once");
    h.submit(t0, c(3), b("z"));
    h.reset(t0);
    h.handle_timeout(t0 + secs(100_000));
    let a = sp.scan(&mut h, t0 + secs(100_000));
    let mut a2 = drain(&mut h);
    a2.extend(a);
    assert_eq!(answers(&a2), [(3, "con_lost".to_string())]);
    assert!(!touches_network(&a2));
    assert!(
        reads(&a2).is_empty() && scans(&a2) == 0,
        "nothing read after close_all"
    );
    assert_eq!(h.poll_timeout(), None);
}

#[test]
fn degenerate_configurations_do_not_panic() {
    let t0 = Instant::now();
    for cfg in [
        HostConfig {
            max_links: 0,
            retries: 0,
            request_timeout: Duration::ZERO,
            ..HostConfig::default()
        },
        HostConfig {
            idle_timeout: Duration::MAX,
            tick: Duration::MAX,
            probe_min: Duration::ZERO,
            probe_max: Duration::ZERO,
            max_queue_len: 0,
            max_queue_bytes: 0,
            ..HostConfig::default()
        },
        HostConfig {
            probe_min: Duration::from_secs(u64::MAX / 4),
            probe_max: Duration::from_secs(1),
            retries: 1,
            request_timeout: Duration::MAX,
            ..HostConfig::default()
        },
        HostConfig {
            max_queue_len: 1,
            max_queue_bytes: 1,
            request_timeout: Duration::from_nanos(1),
            tick: Duration::ZERO,
            ..HostConfig::default()
        },
    ] {
        let mut h = host(cfg, t0);
        let mut sp = Spool::with(&[("1.0.1.a.msul1", "a"), ("2.0.1.b.msul1", "bb")]);
        sp.put_unreadable("3.0.1.c.msul1", "Is a directory");
        let mut now = t0;
        for i in 0..50u64 {
            h.submit(now, c(i), b("ping"));
            if i % 4 == 1 {
                h.spool_listed(now, sp.names());
            }
            let mut pending = drain(&mut h);
            for round in 0.. {
                assert!(round < 1000, "the host never settles");
                if pending.is_empty() {
                    break;
                }
                for a in std::mem::take(&mut pending) {
                    match a {
                        HostAction::OpenLink(l) if i % 3 == 0 => h.handle_link_ready(now, l),
                        HostAction::OpenLink(l) => h.handle_link_closed(now, l, refused(), false),
                        HostAction::Start { link, .. } if i % 5 == 0 => {
                            h.handle_link_closed(now, link, reset(), true)
                        }
                        HostAction::Start { link, .. } => h.handle_reply(now, link, b("ok")),
                        HostAction::ReadDelayed(names) => {
                            let (files, unreadable) = sp.answer(&names);
                            h.delayed_read(now, files, unreadable);
                        }
                        HostAction::Delivered { name, .. } => sp.remove(&name),
                        _ => {}
                    }
                    pending.extend(drain(&mut h));
                }
            }
            now += secs(1 << (i % 20));
            h.handle_timeout(now);
            let _ = drain(&mut h);
            let _ = h.poll_timeout();
            if i == 40 {
                h.stop_replay(now);
                let _ = drain(&mut h);
            }
        }
        h.close_all(now);
        let _ = drain(&mut h);
    }
}

// ----- request deadlines -----

fn timed_out(a: &[HostAction]) -> usize {
    events(a)
        .iter()
        .filter(|e| matches!(e, LogEvent::RequestTimedOut { .. }))
        .count()
}

#[test]
fn queued_requests_are_answered_con_lost_at_their_deadline() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_links: 1,
        tick: secs(10),
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    let link = one_ready_link(&mut h, t0);
    h.submit(t0 + secs(1), c(1), b("on-the-link"));
    h.submit(t0 + secs(2), c(2), b("queued"));
    let _ = drain(&mut h);
    assert_eq!(h.queue_len(), 1);
    // Deadlines 31 s and 32 s, on the 10 s tick: both at 40 s.
    assert_eq!(h.poll_timeout(), Some(t0 + secs(40)));
    h.handle_timeout(t0 + secs(39));
    assert!(drain(&mut h).is_empty());
    h.handle_timeout(t0 + secs(40));
    let a = drain(&mut h);
    let mut ans = answers(&a);
    ans.sort();
    assert_eq!(
        ans,
        [(1, "con_lost".to_string()), (2, "con_lost".to_string())]
    );
    assert_eq!(closes(&a), [link]);
    assert!(starts(&a).is_empty(), "the queued request never went out");
    assert_eq!(timed_out(&a), 2);
    assert_eq!(logs(&a, Severity::Warning).len(), 2);
    assert!(
        logs(&a, Severity::Warning)
            .iter()
            .any(|m| m == "Request queued to msul1 not answered within 30 s: answered con_lost"),
        "{:?}",
        logs(&a, Severity::Warning)
    );
    assert_eq!(h.queue_len(), 0);
    assert!(opens(&a).is_empty(), "nothing left to do");
}

#[test]
fn a_request_waiting_for_a_handshake_is_answered_con_lost_at_its_deadline() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    h.submit(t0, c(1), b("ping"));
    let a = drain(&mut h);
    assert_eq!(opens(&a), [LinkId(0)]);
    assert_eq!(h.poll_timeout(), Some(t0 + secs(30)));
    h.handle_timeout(t0 + secs(29));
    assert!(drain(&mut h).is_empty());
    h.handle_timeout(t0 + secs(30));
    let a = drain(&mut h);
    assert_eq!(answers(&a), [(1, "con_lost".to_string())]);
    assert_eq!(timed_out(&a), 1);
    assert!(closes(&a).is_empty(), "the connect is the link's business");
    assert_eq!(h.queue_len(), 0);
    // The link that finally gets ready finds nothing to do.
    h.handle_link_ready(t0 + secs(31), LinkId(0));
    let a = drain(&mut h);
    assert!(starts(&a).is_empty() && answers(&a).is_empty());
    assert!(h.status().ends_with("Retries remaining: 5"));
}

#[test]
fn a_request_on_a_link_at_its_deadline_closes_the_link_and_gets_con_lost() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    h.submit(t0 + secs(5), c(1), b("get:msu:slow"));
    h.submit(t0 + secs(6), c(2), b("next"));
    let a = drain(&mut h);
    assert_eq!(starts(&a), [(link, "get:msu:slow".to_string())]);
    assert_eq!(opens(&a), [LinkId(1)]);
    h.handle_timeout(t0 + secs(35));
    let a = drain(&mut h);
    assert_eq!(answers(&a), [(1, "con_lost".to_string())]);
    assert_eq!(
        closes(&a),
        [link],
        "its reply could no longer be told apart"
    );
    assert_eq!(
        logs(&a, Severity::Warning),
        ["Request get:msu to msul1 not answered within 30 s: answered con_lost"]
    );
    assert!(
        h.status().ends_with("Retries remaining: 5"),
        "no retry used"
    );
    // The late reply is stale; the queued request goes on the next link.
    h.handle_reply(t0 + secs(35), link, b("late"));
    assert!(answers(&drain(&mut h)).is_empty());
    h.handle_link_ready(t0 + secs(35), LinkId(1));
    assert_eq!(starts(&drain(&mut h)), [(LinkId(1), "next".to_string())]);
}

#[test]
fn a_deadline_fires_at_most_one_tick_late() {
    for (tick_ms, at_ms) in [(1000u64, 300u64), (1000, 0), (250, 999), (0, 300)] {
        let t0 = Instant::now();
        let cfg = HostConfig {
            tick: Duration::from_millis(tick_ms),
            request_timeout: secs(30),
            ..HostConfig::default()
        };
        let mut h = host(cfg, t0);
        let arrival = t0 + Duration::from_millis(at_ms);
        let deadline = arrival + secs(30);
        h.submit(arrival, c(1), b("ping"));
        let _ = drain(&mut h);
        let due = h.poll_timeout().expect("a deadline");
        assert!(
            due >= deadline && due <= deadline + Duration::from_millis(tick_ms),
            "tick {tick_ms} ms: due {:?} after the deadline",
            due - deadline
        );
        if due > deadline {
            h.handle_timeout(due - Duration::from_nanos(1));
            assert!(answers(&drain(&mut h)).is_empty(), "tick {tick_ms} ms");
        }
        h.handle_timeout(due);
        assert_eq!(
            answers(&drain(&mut h)),
            [(1, "con_lost".to_string())],
            "tick {tick_ms} ms"
        );
    }
}

#[test]
fn a_delayed_request_past_its_deadline_stays_on_disk_for_the_next_scan() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    let mut sp = Spool::with(&[("5.0.1.put.msul1", "put:msu:x")]);
    let t1 = t0 + secs(10);
    let a = sp.scan(&mut h, t1);
    assert_eq!(starts(&a), [(link, "put:msu:x".to_string())]);
    // Its deadline runs from when it was read.
    h.handle_timeout(t1 + secs(29));
    assert!(drain(&mut h).is_empty());
    let a = sp.after(&mut h, t1 + secs(30), |h| h.handle_timeout(t1 + secs(30)));
    assert_eq!(closes(&a), [link]);
    assert_eq!(timed_out(&a), 1);
    assert!(deleted(&a).is_empty() && answers(&a).is_empty());
    assert!(
        reads(&a).is_empty(),
        "not read again before a scan lists it"
    );
    assert!(sp.contains("5.0.1.put.msul1"));
    let a = sp.scan(&mut h, t1 + secs(31));
    assert_eq!(reads(&a).len(), 1);
    assert_eq!(opens(&a).len(), 1);
}

#[test]
fn no_deadline_for_an_answered_request_a_file_not_yet_read_or_an_endless_timeout() {
    let t0 = Instant::now();
    // An answered request leaves no deadline behind: only the idle link's prune timer.
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    h.submit(t0 + secs(1), c(1), b("ping"));
    let _ = drain(&mut h);
    assert_eq!(h.poll_timeout(), Some(t0 + secs(31)));
    h.handle_reply(t0 + secs(2), link, b("pong"));
    let _ = drain(&mut h);
    assert_eq!(h.poll_timeout(), Some(t0 + secs(3602)));
    h.handle_timeout(t0 + secs(31));
    assert!(drain(&mut h).is_empty(), "the link stays");

    // Files a scan listed and that wait to be read (the host is dead) have no deadline.
    let mut h = host(
        HostConfig {
            retries: 1,
            probe_min: secs(1000),
            probe_max: secs(1000),
            ..HostConfig::default()
        },
        t0,
    );
    let _ = kill(&mut h, t0, 1);
    let mut sp = Spool::with(&[("5.0.1.a.msul1", "a")]);
    assert!(sp.scan(&mut h, t0).is_empty());
    assert_eq!(h.poll_timeout(), Some(t0 + secs(1000)), "the probe only");
    assert_eq!(h.delayed_waiting(), 1);

    // A request timeout too long to represent means no deadline, and no panic.
    let mut h = host(
        HostConfig {
            request_timeout: Duration::MAX,
            ..HostConfig::default()
        },
        t0,
    );
    h.submit(t0, c(1), b("ping"));
    let _ = drain(&mut h);
    assert_eq!(h.poll_timeout(), None);
    h.handle_timeout(t0 + secs(1_000_000));
    assert!(drain(&mut h).is_empty());
}

// ----- a request the peer cannot have read -----

fn resent(a: &[HostAction]) -> usize {
    events(a)
        .iter()
        .filter(|e| matches!(e, LogEvent::RequestResent { .. }))
        .count()
}

fn reset() -> CloseReason {
    CloseReason::ReadError(std::io::ErrorKind::ConnectionReset)
}

/// A host of one link, ready, on which clients 1, 2, ... submitted `requests`: the first is on
/// the link, the others wait.
fn one_link_and_requests(t0: Instant, requests: &[&str]) -> (Host, LinkId) {
    let cfg = HostConfig {
        max_links: 1,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    let link = one_ready_link(&mut h, t0);
    for (n, request) in (1..).zip(requests) {
        h.submit(t0, c(n), b(request));
    }
    let _ = drain(&mut h);
    (h, link)
}

#[test]
fn an_unread_request_goes_back_to_the_head_of_the_queue_once() {
    let t0 = Instant::now();
    let (mut h, link) = one_link_and_requests(t0, &["first", "second"]);
    h.handle_link_closed(t0, link, reset(), true);
    let a = drain(&mut h);
    assert!(answers(&a).is_empty(), "not answered: sent again");
    assert_eq!(resent(&a), 1);
    assert_eq!(logs(&a, Severity::Info).len(), 1);
    assert!(logs(&a, Severity::Warning).is_empty());
    assert_eq!(opens(&a), [LinkId(1)]);
    assert_eq!(h.queue_len(), 2);
    assert_eq!(h.waiting_clients(), 2);
    h.handle_link_ready(t0, LinkId(1));
    assert_eq!(
        starts(&drain(&mut h)),
        [(LinkId(1), "first".to_string())],
        "at the head, before the request that waited"
    );
    // Unread a second time: not sent a third time.
    h.handle_link_closed(t0, LinkId(1), reset(), true);
    let a = drain(&mut h);
    assert_eq!(answers(&a), [(1, "con_lost".to_string())]);
    assert_eq!(resent(&a), 0);
    assert_eq!(opens(&a), [LinkId(2)]);
    h.handle_link_ready(t0, LinkId(2));
    assert_eq!(starts(&drain(&mut h)), [(LinkId(2), "second".to_string())]);
}

/// A reply hands the link the next request; if the same read then closes the link (bytes after
/// the reply), the driver has not started that request yet: it is not lost and not counted as
/// sent again, but waits at the head of the queue for the next link.
#[test]
fn a_request_handed_to_a_link_that_closes_before_the_driver_starts_it_waits_again() {
    let t0 = Instant::now();
    let (mut h, link) = one_link_and_requests(t0, &["first", "second", "third"]);
    h.handle_reply(t0, link, b("first"));
    h.handle_link_closed(t0, link, CloseReason::UnsolicitedData, false);
    let a = drain(&mut h);
    assert_eq!(answers(&a), [(1, "first".to_string())]);
    assert!(starts(&a).is_empty(), "{a:?}");
    assert_eq!(resent(&a), 0);
    assert_eq!(
        events(&a),
        [LogEvent::IdleLinkClosed {
            reason: CloseReason::UnsolicitedData
        }]
    );
    assert_eq!(opens(&a), [LinkId(1)]);
    assert_eq!(h.queue_len(), 2);
    h.handle_link_ready(t0, LinkId(1));
    assert_eq!(
        starts(&drain(&mut h)),
        [(LinkId(1), "second".to_string())],
        "at the head, before the request that waited behind it"
    );
    // Not marked as sent once: if this link too closes unread, it goes out once more.
    h.handle_link_closed(t0, LinkId(1), reset(), true);
    let a = drain(&mut h);
    assert!(answers(&a).is_empty(), "{a:?}");
    assert_eq!(resent(&a), 1);
}

#[test]
fn the_link_tells_whether_its_request_can_have_been_read_and_the_host_acts_on_it() {
    // (bytes of `ping\n` written, reply bytes, how it ends) -> unread
    let cases: [(usize, &[u8], End, bool); 8] = [
        // Nothing written: the peer has nothing to run.
        (0, b"", End::Eof, true),
        // All written, then EOF and no reset within the wait: the peer may have run it.
        (5, b"", End::Eof, false),
        // All written, EOF, then the reset the request's bytes met: it was never read.
        (5, b"", End::EofThenReset, true),
        (2, b"", End::EofThenReset, true),
        // EOF after the reply began: it was read (no wait, no probe).
        (5, b"po", End::Eof, false),
        // A reset before a byte of reply: the peer closed with the request unread.
        (3, b"", End::Reset, true),
        (5, b"", End::Reset, true),
        // A reset after the reply began: it was read.
        (5, b"po", End::Reset, false),
    ];
    for (written, reply, end, want) in cases {
        let (reason, unread) = link_closes(written, reply, end);
        assert_eq!(unread, want, "{written} written, {reply:?}, {end:?}");
        let t0 = Instant::now();
        let mut h = host(HostConfig::default(), t0);
        let link = one_ready_link(&mut h, t0);
        h.submit(t0, c(1), b("ping"));
        let _ = drain(&mut h);
        h.handle_link_closed(t0, link, reason, unread);
        let a = drain(&mut h);
        if unread {
            assert!(answers(&a).is_empty());
            assert_eq!(resent(&a), 1);
            assert_eq!(opens(&a).len(), 1);
        } else {
            assert_eq!(answers(&a), [(1, "con_lost".to_string())]);
            assert!(logs(&a, Severity::Warning).contains(&"Failing transaction ping".into()));
        }
    }
}

/// A request sent again goes to a link that has carried nothing yet: the link that just
/// answered may be closing as well (a lond that closes links after a reply or an idle time),
/// and the request would meet the same race a second time.
#[test]
fn an_unread_request_goes_to_a_fresh_link() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_links: 3,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    h.submit(t0, c(1), b("a"));
    h.submit(t0, c(2), b("b"));
    let _ = drain(&mut h);
    h.handle_link_ready(t0, LinkId(0));
    h.handle_link_ready(t0, LinkId(1));
    h.handle_reply(t0, LinkId(0), b("ra"));
    h.handle_reply(t0, LinkId(1), b("rb"));
    let _ = drain(&mut h);
    // Two idle links that have carried a request; "c" goes on link 1, which closes before
    // the peer read it.
    h.submit(t0, c(3), b("c"));
    assert_eq!(starts(&drain(&mut h)), [(LinkId(1), "c".to_string())]);
    h.handle_link_closed(t0, LinkId(1), reset(), true);
    let a = drain(&mut h);
    assert!(
        starts(&a).is_empty(),
        "not on link 0, which has carried one"
    );
    assert_eq!(opens(&a), [LinkId(2)]);
    // A live request still takes the idle link at once.
    h.submit(t0, c(4), b("d"));
    assert_eq!(starts(&drain(&mut h)), [(LinkId(0), "d".to_string())]);
    h.handle_link_ready(t0, LinkId(2));
    assert_eq!(starts(&drain(&mut h)), [(LinkId(2), "c".to_string())]);
    assert_eq!(h.queue_len(), 0);
}

/// With the pool full no fresh link can come soon: a link that has carried a request takes
/// the request sent again at once.
#[test]
fn an_unread_request_takes_any_idle_link_when_the_pool_is_full() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_links: 2,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    h.submit(t0, c(1), b("a"));
    h.submit(t0, c(2), b("b"));
    let _ = drain(&mut h);
    h.handle_link_ready(t0, LinkId(0));
    h.handle_link_ready(t0, LinkId(1));
    assert_eq!(starts(&drain(&mut h)).len(), 2);
    // "b" comes back unread from link 1; a new link opens in its place (the pool is full).
    h.handle_link_closed(t0, LinkId(1), reset(), true);
    assert_eq!(opens(&drain(&mut h)), [LinkId(2)]);
    // Link 0 answers: it has carried a request, but no other link can come: it takes "b".
    h.handle_reply(t0, LinkId(0), b("ra"));
    assert_eq!(starts(&drain(&mut h)), [(LinkId(0), "b".to_string())]);
}

#[test]
fn a_request_sent_again_keeps_its_deadline_and_unread_requests_wait_in_deadline_order() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_links: 2,
        tick: Duration::ZERO,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    let l0 = one_ready_link(&mut h, t0);
    h.submit(t0, c(1), b("older"));
    let _ = drain(&mut h);
    h.submit(t0 + secs(5), c(2), b("newer"));
    let l1 = opens(&drain(&mut h))[0];
    h.handle_link_ready(t0 + secs(5), l1);
    assert_eq!(starts(&drain(&mut h)), [(l1, "newer".to_string())]);
    // Both come back unread, the older first; a third link connects and hangs.
    h.handle_link_closed(t0 + secs(6), l0, reset(), true);
    h.handle_link_closed(t0 + secs(7), l1, reset(), true);
    let a = drain(&mut h);
    assert_eq!(resent(&a), 2);
    assert_eq!(opens(&a).len(), 1);
    assert_eq!(h.queue_len(), 2);
    // "older" arrived at t0: its deadline is t0 + 30 s, not 30 s after it came back.
    assert_eq!(h.poll_timeout(), Some(t0 + secs(30)));
    h.handle_timeout(t0 + secs(30));
    assert_eq!(answers(&drain(&mut h)), [(1, "con_lost".to_string())]);
    assert_eq!(h.poll_timeout(), Some(t0 + secs(35)));
    h.handle_timeout(t0 + secs(35));
    assert_eq!(answers(&drain(&mut h)), [(2, "con_lost".to_string())]);
}

#[test]
fn the_request_of_a_client_that_hung_up_is_not_sent_again() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    h.submit(t0, c(1), b("put:msu:x"));
    let _ = drain(&mut h);
    h.client_gone(t0, c(1));
    let _ = drain(&mut h);
    h.handle_link_closed(t0, link, reset(), true);
    let a = drain(&mut h);
    assert!(!touches_network(&a), "{a:?}");
    assert!(answers(&a).is_empty());
    assert_eq!(h.queue_len(), 0);
}

#[test]
fn unread_means_nothing_for_a_link_with_no_request() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    h.handle_link_closed(t0, link, reset(), true);
    let a = drain(&mut h);
    assert!(!touches_network(&a) && answers(&a).is_empty() && resent(&a) == 0);
    assert_eq!(h.link_count(), 0);
}

#[test]
fn an_unread_delayed_request_is_sent_again_once() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    let mut sp = Spool::with(&[("5.0.1.a.msul1", "a")]);
    let _ = sp.scan(&mut h, t0);
    h.handle_link_closed(t0, link, reset(), true);
    let a = drain(&mut h);
    assert_eq!(resent(&a), 1);
    let l1 = opens(&a)[0];
    h.handle_link_ready(t0, l1);
    assert_eq!(starts(&drain(&mut h)), [(l1, "a".to_string())]);
    let a = sp.after(&mut h, t0, |h| h.handle_reply(t0, l1, b("ok")));
    assert_eq!(deleted(&a), ["5.0.1.a.msul1"]);
}

// ----- the orderly shutdown -----

#[test]
fn stop_replay_puts_queued_files_back_and_reads_nothing_more() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_links: 2,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    let link = one_ready_link(&mut h, t0);
    h.submit(t0, c(1), b("live"));
    let _ = drain(&mut h);
    let mut sp = Spool::with(&[
        ("1.0.1.a.msul1", "a"),
        ("2.0.1.b.msul1", "b"),
        ("3.0.1.c.msul1", "c"),
    ]);
    let a = sp.scan(&mut h, t0);
    assert_eq!(reads(&a).concat().len(), 2, "the window");
    assert_eq!(h.queue_len(), 2);
    let l1 = opens(&a)[0];
    assert!(!h.is_drained(), "a client waits");
    h.stop_replay(t0);
    let a = drain(&mut h);
    assert!(a.iter().all(|x| matches!(x, HostAction::Log(_))), "{a:?}");
    assert_eq!(h.queue_len(), 0, "the queued files go back to disk");
    assert_eq!(h.delayed_waiting(), 0);
    let a = sp.scan(&mut h, t0);
    assert!(reads(&a).is_empty(), "nothing more is read");
    h.handle_link_ready(t0, l1);
    assert!(starts(&drain(&mut h)).is_empty());
    assert!(!h.is_drained());
    let a = sp.after(&mut h, t0, |h| h.handle_reply(t0, link, b("ok")));
    assert_eq!(answers(&a), [(1, "ok".to_string())]);
    assert!(reads(&a).is_empty() && deleted(&a).is_empty());
    assert!(h.is_drained());
    assert_eq!(sp.files.len(), 3, "every file stays");
}

#[test]
fn reads_answered_after_stop_replay_are_ignored() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    one_ready_link(&mut h, t0);
    let mut sp = Spool::with(&[("1.0.1.a.msul1", "a")]);
    h.spool_listed(t0, sp.names());
    let asked = reads(&drain(&mut h));
    h.stop_replay(t0);
    let _ = drain(&mut h);
    let a = sp.read_once(&mut h, t0, &asked[0]);
    assert!(!touches_network(&a));
    assert_eq!(h.queue_len(), 0);
    assert!(h.is_drained());
}

#[test]
fn a_delayed_request_on_a_link_holds_the_drain_until_it_is_delivered() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    let mut sp = Spool::with(&[("1.0.1.a.msul1", "a"), ("2.0.1.b.msul1", "b")]);
    let a = sp.scan(&mut h, t0);
    assert_eq!(starts(&a), [(link, "a".to_string())]);
    assert_eq!(h.waiting_clients(), 0);
    h.stop_replay(t0);
    let _ = drain(&mut h);
    assert!(!h.is_drained(), "a delivery is half-way");
    let a = sp.after(&mut h, t0, |h| h.handle_reply(t0, link, b("ok")));
    assert_eq!(deleted(&a), ["1.0.1.a.msul1"]);
    assert!(starts(&a).is_empty(), "b is not started");
    assert!(h.is_drained());
    assert!(sp.contains("2.0.1.b.msul1"));
}

#[test]
fn after_stop_replay_an_unread_delayed_request_stays_on_disk() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    let mut sp = Spool::with(&[("1.0.1.a.msul1", "a")]);
    let _ = sp.scan(&mut h, t0);
    h.stop_replay(t0);
    let _ = drain(&mut h);
    h.handle_link_closed(t0, link, reset(), true);
    let a = drain(&mut h);
    assert!(
        !touches_network(&a),
        "nothing is started after the shutdown began: {a:?}"
    );
    assert_eq!(h.queue_len(), 0);
    assert!(h.is_drained());
    assert!(sp.contains("1.0.1.a.msul1"));
}

//! One test per behaviour of the host scheduler, on a virtual clock.

mod host_common;

use std::time::{Duration, Instant};

use host_common::*;
use lonc_core::host::{HostAction, HostConfig};
use lonc_core::ids::{HostKey, LinkId};
use lonc_core::log::Severity;
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
    h.handle_link_ready(t0, LinkId(1));
    let _ = drain(&mut h);
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
    h.handle_link_closed(t0, LinkId(0), CloseReason::Eof);
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
    h.handle_link_closed(t0, LinkId(0), refused());
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
    h.handle_link_closed(t0, LinkId(0), CloseReason::Refused);
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
        h.handle_link_closed(t0, LinkId(l), CloseReason::ConnectTimeout);
    }
    assert!(h.status().ends_with("Retries remaining: 2"));
    h.submit(t0, c(9), b("ping"));
    let _ = drain(&mut h);
    h.handle_link_ready(t0, LinkId(3));
    let _ = drain(&mut h);
    assert!(h.status().ends_with("Retries remaining: 5"));
}

fn kill(h: &mut lonc_core::host::Host, t: Instant, retries: u32) -> Vec<HostAction> {
    let mut all = vec![];
    for i in 0..retries {
        h.submit(t, c(100 + u64::from(i)), b("ping"));
        let a = drain(h);
        all.extend(a.clone());
        let link = *opens(&a).last().expect("a link is opened");
        h.handle_link_closed(t, link, refused());
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
    h.handle_link_closed(t0, LinkId(1), refused());
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
        h.handle_link_closed(t0, link, reason.clone());
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
    h.handle_link_closed(t0, LinkId(0), CloseReason::Eof);
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
        h.handle_link_closed(now, probe[0], refused());
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
    h2.handle_link_closed(t0 + delays[0], p[0], refused());
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
            h.handle_link_closed(now, probe[0], refused());
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
    assert_eq!(lists(&a), 1, "first link: replay delayed files");
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
    assert_eq!(h.poll_timeout(), None);
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
    h.handle_link_closed(t0, link, CloseReason::Eof);
    let a = drain(&mut h);
    assert!(answers(&a).is_empty() && logs(&a, Severity::Warning).is_empty());
    assert_eq!(h.link_count(), 0);
    assert_eq!(h.poll_timeout(), None);
    assert!(h.status().ends_with("Retries remaining: 5"));
}

#[test]
fn first_ready_link_asks_for_delayed_files_and_replays_them_in_time_order() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    h.submit(t0, c(1), b("live"));
    let _ = drain(&mut h);
    h.handle_link_ready(t0, LinkId(0));
    let a = drain(&mut h);
    assert_eq!(lists(&a), 1);
    assert_eq!(starts(&a), [(LinkId(0), "live".to_string())]);
    // Offered in string order, which is not time order.
    h.offer_delayed(
        t0,
        vec![
            file("1000000000.10.7.c.msul1", "c"),
            file("1000000000.9.7.b.msul1", "b"),
            file("999999999.0.7.a.msul1", "a"),
        ],
    );
    let a = drain(&mut h);
    assert_eq!(opens(&a), [LinkId(1)], "work queued: another link");
    h.handle_reply(t0, LinkId(0), b("ok"));
    h.handle_link_ready(t0, LinkId(1));
    let a = drain(&mut h);
    assert_eq!(lists(&a), 0, "not the first link");
    let order: Vec<String> = starts(&a).into_iter().map(|s| s.1).collect();
    assert_eq!(order, ["a", "b"]);
    h.handle_reply(t0, LinkId(0), b("ok"));
    let a = drain(&mut h);
    assert_eq!(deleted(&a), ["999999999.0.7.a.msul1"]);
    assert_eq!(perm(&a), ["S:msul1:a"]);
    assert!(logs(&a, Severity::Success).contains(&"A delayed transaction was completed".into()));
    assert!(answers(&a).is_empty());
    assert_eq!(starts(&a), [(LinkId(0), "c".to_string())]);
}

#[test]
fn any_reply_completes_a_delayed_request() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    h.offer_delayed(t0, vec![file("5.0.1.put.msul1", "put:msu:x")]);
    assert_eq!(starts(&drain(&mut h)), [(link, "put:msu:x".to_string())]);
    h.handle_reply(t0, link, b("error:no_such_thing"));
    assert_eq!(deleted(&drain(&mut h)), ["5.0.1.put.msul1"]);
}

#[test]
fn a_delayed_file_is_never_queued_twice() {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_links: 1,
        ..HostConfig::default()
    };
    let mut h = host(cfg, t0);
    let link = one_ready_link(&mut h, t0);
    h.submit(t0, c(1), b("busy"));
    let _ = drain(&mut h);
    let files = vec![file("5.0.1.a.msul1", "a"), file("6.0.1.b.msul1", "b")];
    h.offer_delayed(t0, files.clone());
    h.offer_delayed(t0, files.clone()); // offered again while queued
    h.offer_delayed(t0, vec![files[0].clone(), files[0].clone()]);
    let _ = drain(&mut h);
    assert_eq!(h.queue_len(), 2);
    h.handle_reply(t0, link, b("r"));
    assert_eq!(starts(&drain(&mut h)), [(link, "a".to_string())]);
    h.offer_delayed(t0, files.clone()); // "a" in flight, "b" queued
    let _ = drain(&mut h);
    assert_eq!(h.queue_len(), 1);
    h.handle_reply(t0, link, b("r"));
    h.handle_reply(t0, link, b("r"));
    let a = drain(&mut h);
    assert_eq!(deleted(&a), ["5.0.1.a.msul1", "6.0.1.b.msul1"]);
    assert_eq!(h.queue_len(), 0);
}

#[test]
fn a_failed_delayed_request_leaves_its_file_for_the_next_first_link() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    let f = file("5.0.1.a.msul1", "a");
    h.offer_delayed(t0, vec![f.clone()]);
    let _ = drain(&mut h);
    h.handle_link_closed(t0, link, CloseReason::Eof);
    let a = drain(&mut h);
    assert!(deleted(&a).is_empty() && answers(&a).is_empty() && perm(&a).is_empty());
    // Next first link: offered again and replayed.
    h.submit(t0, c(1), b("x"));
    let l2 = opens(&drain(&mut h))[0];
    h.handle_link_ready(t0, l2);
    let a = drain(&mut h);
    assert_eq!(lists(&a), 1);
    h.handle_reply(t0, l2, b("x"));
    h.offer_delayed(t0, vec![f]);
    assert_eq!(starts(&drain(&mut h)), [(l2, "a".to_string())]);
}

#[test]
fn queued_delayed_requests_stay_on_disk_when_the_connection_fails() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    h.offer_delayed(t0, vec![file("5.0.1.a.msul1", "a")]);
    let l = opens(&drain(&mut h))[0];
    h.handle_link_closed(t0, l, refused());
    let a = drain(&mut h);
    assert!(deleted(&a).is_empty() && answers(&a).is_empty());
    assert_eq!(h.queue_len(), 0);
    // Not remembered as queued: it may be offered again.
    h.offer_delayed(t0, vec![file("5.0.1.a.msul1", "a")]);
    let _ = drain(&mut h);
    assert_eq!(h.queue_len(), 1);
}

#[test]
fn bad_or_foreign_delayed_names_are_ignored_with_a_warning() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    one_ready_link(&mut h, t0);
    h.offer_delayed(
        t0,
        vec![
            file("garbage", "a"),
            file("5.0.1.a.msul10", "b"),
            file("5.0.1.a.xmsul1", "b"),
            file("5.0.1.a.other", "c"),
        ],
    );
    let a = drain(&mut h);
    assert_eq!(logs(&a, Severity::Warning).len(), 4);
    assert!(!touches_network(&a));
    assert_eq!(h.queue_len(), 0);
}

#[test]
fn encrypted_delayed_requests_are_submitted_as_is_and_logged_without_arguments() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    h.offer_delayed(
        t0,
        vec![file(
            "5.0.1.encryptpasswdms.msul1",
            "encrypt:passwd:msu:jdoe:oldpw:newpw",
        )],
    );
    assert_eq!(
        starts(&drain(&mut h)),
        [(link, "encrypt:passwd:msu:jdoe:oldpw:newpw".to_string())]
    );
    h.handle_reply(t0, link, b("ok"));
    let a = drain(&mut h);
    assert_eq!(perm(&a), ["S:msul1:encrypt:passwd"]);
}

#[test]
fn offers_while_dead_are_ignored() {
    let t0 = Instant::now();
    let mut h = host(
        HostConfig {
            retries: 1,
            ..HostConfig::default()
        },
        t0,
    );
    let _ = kill(&mut h, t0, 1);
    h.offer_delayed(t0, vec![file("5.0.1.a.msul1", "a")]);
    let a = drain(&mut h);
    assert!(!touches_network(&a));
    assert_eq!(h.queue_len(), 0);
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
    let _ = drain(&mut h);
    h.handle_link_ready(t0, LinkId(0));
    let a = drain(&mut h);
    assert_eq!(starts(&a), [(LinkId(0), "two".to_string())]);
    assert!(answers(&a).is_empty());
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
    assert!(closes(&drain(&mut h)).is_empty(), "the link stays in step");
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
    assert!(logs(&a, Severity::Warning)[0].contains("full"));
    h.submit(t0, c(3), b("cc"));
    h.submit(t0, c(4), b("d")); // third request: over the count
    let a = drain(&mut h);
    assert_eq!(answers(&a), [(4, "con_lost".to_string())]);
    assert_eq!(h.queue_len(), 2);
    // Delayed files beyond the bound stay on disk.
    h.offer_delayed(t0, vec![file("5.0.1.a.msul1", "a")]);
    let a = drain(&mut h);
    assert!(logs(&a, Severity::Warning)[0].contains("left for a later replay"));
    assert_eq!(h.queue_len(), 2);
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
    h.handle_link_closed(t0, LinkId(0), CloseReason::Eof); // fails in flight
    all.extend(drain(&mut h));
    h.handle_link_closed(t0, LinkId(1), refused()); // fails queued
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
    h.handle_link_closed(t0, LinkId(42), CloseReason::Eof);
    let link = one_ready_link(&mut h, t0);
    h.handle_reply(t0, link, b("reply on an idle link"));
    h.handle_link_ready(t0, link);
    h.handle_link_closed(t0, link, CloseReason::Eof);
    h.handle_link_closed(t0, link, CloseReason::Eof);
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
fn close_all_answers_everyone_and_opens_nothing_afterwards() {
    let t0 = Instant::now();
    let mut h = host(HostConfig::default(), t0);
    let link = one_ready_link(&mut h, t0);
    h.offer_delayed(t0, vec![file("5.0.1.a.msul1", "a")]);
    h.submit(t0, c(1), b("x"));
    h.submit(t0, c(2), b("y"));
    let _ = drain(&mut h);
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
    h.submit(t0, c(3), b("z"));
    h.reset(t0);
    h.handle_timeout(t0 + secs(100_000));
    let a = drain(&mut h);
    assert_eq!(answers(&a), [(3, "con_lost".to_string())]);
    assert!(!touches_network(&a));
    assert_eq!(h.poll_timeout(), None);
}

#[test]
fn degenerate_configurations_do_not_panic() {
    let t0 = Instant::now();
    for cfg in [
        HostConfig {
            max_links: 0,
            retries: 0,
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
            ..HostConfig::default()
        },
    ] {
        let mut h = host(cfg, t0);
        let mut now = t0;
        for i in 0..50u64 {
            h.submit(now, c(i), b("ping"));
            for a in drain(&mut h) {
                match a {
                    HostAction::OpenLink(l) if i % 3 == 0 => h.handle_link_ready(now, l),
                    HostAction::OpenLink(l) => h.handle_link_closed(now, l, refused()),
                    HostAction::Start { link, .. } => h.handle_reply(now, link, b("ok")),
                    _ => {}
                }
            }
            now += secs(1 << (i % 20));
            h.handle_timeout(now);
            let _ = drain(&mut h);
            let _ = h.poll_timeout();
        }
        h.close_all(now);
        let _ = drain(&mut h);
    }
}

//! Link and session talking in memory: the outcome must not depend on how the byte streams are
//! cut, and the keys both ends derive must agree.

use std::time::Duration;

use lonc_core::link::{LinkEvent, LinkState};
use lonc_core::reason::CloseReason;
use lonc_core::session::{SessionEvent, SessionState};
use lonc_tests::pair::{Answer, Pair, Transcript, replies};
use proptest::prelude::*;

/// A script exercising the handshake, plain and encrypted requests, an encrypted reply and a
/// request whose length is a multiple of 8.
fn script(cut_seed: u64, max_chunk: usize) -> Transcript {
    let mut pair = Pair::new("msul1", "msul2", cut_seed, max_chunk);
    pair.server = Box::new(|line, encrypted| {
        if line.starts_with(b"secret") {
            Answer::Encrypted(b"top:secret:reply".to_vec())
        } else {
            Answer::Plain([line, if encrypted { b" (enc)" } else { b" (plain)" }].concat())
        }
    });
    pair.run();
    assert!(
        pair.link_ready(),
        "handshake completes for cut {cut_seed}/{max_chunk}"
    );
    pair.transact(b"ping");
    pair.transact(b"encrypt:passwd:msu:jdoe:old:new");
    pair.transact(b"encrypt:12345678");
    pair.transact(b"encrypt:");
    pair.transact(b"secret");
    pair.transact(b"put:k:\xff\xfe\x00v");
    pair.transcript
}

#[test]
fn outcome_is_identical_for_every_cut() {
    let reference = script(0, usize::MAX);
    let want: [&[u8]; 6] = [
        b"ping (plain)",
        b"passwd:msu:jdoe:old:new (enc)",
        b"12345678 (enc)",
        b" (enc)",
        b"top:secret:reply",
        b"put:k:\xff\xfe\x00v (plain)",
    ];
    assert_eq!(
        replies(&reference.link),
        want.map(bytes::Bytes::from_static)
    );
    for max_chunk in [1, 2, 3, 5, 8, 17, 64] {
        for seed in 0..40 {
            assert_eq!(script(seed, max_chunk), reference, "cut {seed}/{max_chunk}");
        }
    }
}

#[test]
fn session_sees_the_decrypted_text_and_that_it_came_encrypted() {
    let t = script(7, 3);
    let requests: Vec<(Vec<u8>, bool)> = t
        .session
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Request { line, encrypted } => Some((line.to_vec(), *encrypted)),
            _ => None,
        })
        .collect();
    assert_eq!(requests[0], (b"ping".to_vec(), false));
    assert_eq!(requests[1], (b"passwd:msu:jdoe:old:new".to_vec(), true));
    assert_eq!(requests[2], (b"12345678".to_vec(), true));
    assert_eq!(requests[3], (b"".to_vec(), true));
}

#[test]
fn handshake_stalls_are_timed_out_on_the_virtual_clock() {
    // The server never answers `init`: 29 s pass quietly, the 30th closes the link.
    let mut pair = Pair::new("msul1", "msul2", 1, 4);
    pair.session.handle_eof(pair.now); // server side gone silent: its bytes never come
    pair.run();
    pair.advance(Duration::from_secs(29));
    assert_eq!(pair.link.state(), LinkState::Initialized);
    pair.advance(Duration::from_secs(1));
    assert_eq!(
        pair.transcript.link.last(),
        Some(&LinkEvent::Closed {
            reason: CloseReason::StepTimeout,
            failed_request: false
        })
    );
}

#[test]
fn a_silent_server_fails_the_transaction_after_the_step_timeout() {
    let mut pair = Pair::new("msul1", "msul2", 3, 2);
    pair.server = Box::new(|_, _| Answer::Silent);
    pair.run();
    assert!(pair.link_ready());
    pair.link.start(pair.now, b"ping").unwrap();
    pair.run();
    assert_eq!(pair.link.state(), LinkState::ReceivingReply);
    pair.advance(Duration::from_secs(30));
    assert_eq!(
        pair.transcript.link.last(),
        Some(&LinkEvent::Closed {
            reason: CloseReason::StepTimeout,
            failed_request: true
        })
    );
}

#[test]
fn idle_links_and_ready_sessions_never_time_out() {
    let mut pair = Pair::new("msul1", "msul2", 5, 9);
    pair.run();
    pair.advance(Duration::from_secs(86_400));
    assert_eq!(pair.link.state(), LinkState::Idle);
    assert_eq!(pair.session.state(), SessionState::Ready);
    assert_eq!(pair.link.poll_timeout(), None);
}

#[test]
fn a_refusing_server_closes_the_link_as_refused() {
    let mut pair = Pair::new("msul1", "msul2", 11, 3);
    pair.session.refuse(pair.now);
    pair.run();
    assert_eq!(
        pair.transcript.link.last(),
        Some(&LinkEvent::Closed {
            reason: CloseReason::Refused,
            failed_request: false
        })
    );
    assert_eq!(
        pair.transcript.session.last(),
        Some(&SessionEvent::Closed(CloseReason::Local))
    );
}

fn host_id() -> impl Strategy<Value = String> {
    // Any printable ASCII but `:` (the hosts.tab separator), 1 to 40 characters.
    proptest::string::string_regex("[ -9;-~]{1,40}").unwrap()
}

proptest! {
    #[test]
    fn arbitrary_host_ids_complete_the_handshake_and_agree_on_the_key(
        server in host_id(),
        client in host_id(),
        cmd in proptest::collection::vec(any::<u8>(), 0..64),
        cut in any::<u64>(),
        max_chunk in 1usize..32,
    ) {
        prop_assume!(!cmd.contains(&b'\n'));
        let mut pair = Pair::new(&server, &client, cut, max_chunk);
        pair.run();
        prop_assert!(pair.link_ready());
        let mut request = b"encrypt:".to_vec();
        request.extend_from_slice(&cmd);
        let events = pair.transact(&request);
        prop_assert_eq!(replies(&events), vec![bytes::Bytes::from(cmd.clone())]);
    }
}

#[test]
fn an_encrypted_reply_of_two_lines_closes_the_link_and_fails_the_transaction() {
    let mut pair = Pair::new("msul1", "msul2", 0, usize::MAX);
    pair.server = Box::new(|_, _| Answer::Encrypted(b"first\nsecond".to_vec()));
    pair.run();
    assert!(pair.link_ready());
    let events = pair.transact(b"ping");
    assert!(replies(&events).is_empty(), "no reply reaches the client");
    assert!(
        events.contains(&LinkEvent::Closed {
            reason: CloseReason::ReplyHasLineFeed,
            failed_request: true,
        }),
        "{events:?}"
    );
}

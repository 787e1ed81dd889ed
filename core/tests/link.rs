//! The client link driven by hand: one test per transition and per failure reason, and the
//! hostile inputs a peer can send.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use lonc_core::enc::EncError;
use lonc_core::link::{Link, LinkConfig, LinkEvent, LinkMisuse, LinkState, RESET_WAIT};
use lonc_core::log::{LogEvent, Severity};
use lonc_core::reason::CloseReason;

const BUILD_KEY: &[u8] = b"777A0E0000000DBDBCACC712\n";

struct Drive {
    link: Link,
    t0: Instant,
    now: Instant,
}

impl Drive {
    fn new() -> Self {
        Self::with_config(LinkConfig::default())
    }

    fn with_config(config: LinkConfig) -> Self {
        let t0 = Instant::now();
        Drive {
            link: Link::new(t0, config, "msul1", "msul2"),
            t0,
            now: t0,
        }
    }

    fn at(&mut self, secs: f64) -> Instant {
        self.now = self.t0 + Duration::from_secs_f64(secs);
        self.now
    }

    /// Takes everything queued for sending and reports it written in one go.
    fn sent(&mut self) -> Vec<u8> {
        let mut out = BytesMut::new();
        let n = self.link.poll_transmit(&mut out);
        self.link.handle_written(self.now, n).unwrap();
        out.to_vec()
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.link.handle_input(self.now, bytes);
    }

    fn events(&mut self) -> Vec<LinkEvent> {
        std::iter::from_fn(|| self.link.poll_event()).collect()
    }

    /// Connected and through the handshake with the Appendix A key.
    fn idle() -> Self {
        Self::idle_with(LinkConfig::default())
    }

    fn idle_with(config: LinkConfig) -> Self {
        let mut d = Drive::with_config(config);
        d.link.handle_connected(d.now);
        assert_eq!(d.sent(), b"init\n");
        d.feed(b"42421050000000\n");
        assert_eq!(d.sent(), b"42421050000000\n");
        d.feed(b"ok\n");
        assert_eq!(d.sent(), b"ekey\n");
        d.feed(BUILD_KEY);
        assert_eq!(d.events(), vec![LinkEvent::Ready]);
        assert_eq!(d.link.state(), LinkState::Idle);
        d
    }

    /// Closed for `reason`; `failed_request` says a transaction failed with it, one the peer
    /// may have read (`unread` false).
    fn assert_closed(&mut self, reason: CloseReason, failed_request: bool) {
        self.assert_closed_event(closed(reason, failed_request));
    }

    /// Closed for `reason` with a transaction the peer cannot have read.
    fn assert_closed_unread(&mut self, reason: CloseReason) {
        self.assert_closed_event(closed_unread(reason));
    }

    fn assert_closed_event(&mut self, event: LinkEvent) {
        assert_eq!(self.events().last(), Some(&event));
        assert!(self.link.is_closed());
        assert_eq!(self.link.poll_timeout(), None);
    }

    /// A transaction started with `ping`, `written` bytes of `ping\n` reported written.
    fn transacting(written: usize) -> Self {
        let mut d = Drive::idle();
        d.link.start(d.now, b"ping").unwrap();
        let mut out = BytesMut::new();
        assert_eq!(d.link.poll_transmit(&mut out), 5);
        d.link.handle_written(d.now, written).unwrap();
        d
    }
}

fn closed(reason: CloseReason, failed_request: bool) -> LinkEvent {
    LinkEvent::Closed {
        reason,
        failed_request,
        unread: false,
    }
}

fn closed_unread(reason: CloseReason) -> LinkEvent {
    LinkEvent::Closed {
        reason,
        failed_request: true,
        unread: true,
    }
}

// ---- transitions ----

#[test]
fn a_new_link_waits_for_the_connect_with_a_five_second_deadline() {
    let mut d = Drive::new();
    assert_eq!(d.link.state(), LinkState::Connecting);
    assert_eq!(d.link.poll_timeout(), Some(d.t0 + Duration::from_secs(5)));
    let t = d.at(4.999);
    d.link.handle_timeout(t);
    assert_eq!(d.events(), vec![]);
    let t = d.at(5.0);
    d.link.handle_timeout(t);
    d.assert_closed(CloseReason::ConnectTimeout, false);
}

#[test]
fn a_failed_connect_closes_with_its_error() {
    let mut d = Drive::new();
    d.link
        .handle_connect_failed(d.now, ErrorKind::ConnectionRefused);
    d.assert_closed(
        CloseReason::ConnectFailed(ErrorKind::ConnectionRefused),
        false,
    );
}

#[test]
fn each_handshake_step_moves_the_state_as_londconnection_did() {
    let mut d = Drive::new();
    d.link.handle_connected(d.now);
    assert_eq!(d.link.state(), LinkState::Connected);
    assert!(d.link.wants_write());
    assert_eq!(d.sent(), b"init\n");
    assert_eq!(d.link.state(), LinkState::Initialized);
    d.feed(b"12345");
    assert_eq!(
        d.link.state(),
        LinkState::Initialized,
        "half a line does nothing"
    );
    d.feed(b"678\n");
    assert_eq!(d.link.state(), LinkState::ChallengeReceived);
    assert_eq!(d.sent(), b"12345678\n", "the challenge is echoed unchanged");
    assert_eq!(d.link.state(), LinkState::ChallengeReplied);
    d.feed(b"ok\n");
    assert_eq!(d.link.state(), LinkState::RequestingKey);
    assert_eq!(d.sent(), b"ekey\n");
    assert_eq!(d.link.state(), LinkState::ReceivingKey);
    d.feed(BUILD_KEY);
    assert_eq!(d.link.state(), LinkState::Idle);
    assert_eq!(d.events(), vec![LinkEvent::Ready]);
}

#[test]
fn a_plain_transaction_goes_out_in_clear_and_its_reply_comes_back_without_lf() {
    let mut d = Drive::idle();
    d.link.start(d.now, b"ping").unwrap();
    assert_eq!(d.link.state(), LinkState::SendingRequest);
    assert_eq!(d.sent(), b"ping\n");
    assert_eq!(d.link.state(), LinkState::ReceivingReply);
    d.feed(b"msul1\n");
    assert_eq!(d.events(), vec![LinkEvent::Reply("msul1".into())]);
    assert_eq!(d.link.state(), LinkState::Idle);
}

#[test]
fn an_encrypt_request_goes_out_as_the_appendix_enc_line() {
    let mut d = Drive::idle();
    d.link
        .start(d.now, b"encrypt:passwd:msu:jdoe:old:new")
        .unwrap();
    assert_eq!(
        d.sent(),
        b"enc:23:ea647e5ad65dce171259ca656401c05a2a9ecd51c601949f\n"
    );
}

#[test]
fn an_enc_reply_is_decrypted_before_it_is_handed_up() {
    let mut d = Drive::idle();
    d.link.start(d.now, b"ping").unwrap();
    d.sent();
    d.feed(b"enc:8:7679c3a1b5c8bc965696aa54ab77bbec\n");
    assert_eq!(d.events(), vec![LinkEvent::Reply("12345678".into())]);
}

#[test]
fn a_partial_write_keeps_the_state_and_restarts_the_step_timer() {
    let mut d = Drive::new();
    d.link.handle_connected(d.now);
    let mut out = BytesMut::new();
    assert_eq!(d.link.poll_transmit(&mut out), 5);
    let t = d.at(20.0);
    d.link.handle_written(t, 2).unwrap();
    assert_eq!(d.link.state(), LinkState::Connected);
    assert_eq!(d.link.poll_timeout(), Some(t + Duration::from_secs(30)));
    d.link.handle_written(t, 0).unwrap();
    assert_eq!(d.link.state(), LinkState::Connected);
    d.link.handle_written(t, 3).unwrap();
    assert_eq!(d.link.state(), LinkState::Initialized);
}

#[test]
fn a_zero_byte_write_is_no_progress() {
    let mut d = Drive::new();
    d.link.handle_connected(d.now);
    let mut out = BytesMut::new();
    assert_eq!(d.link.poll_transmit(&mut out), 5);
    let t = d.at(10.0);
    d.link.handle_written(t, 2).unwrap();
    assert_eq!(d.link.poll_timeout(), Some(d.t0 + Duration::from_secs(40)));
    let t = d.at(20.0);
    d.link.handle_written(t, 0).unwrap();
    assert_eq!(
        d.link.poll_timeout(),
        Some(d.t0 + Duration::from_secs(40)),
        "the deadline stays where the last byte put it"
    );
    let t = d.at(40.0);
    d.link.handle_timeout(t);
    d.assert_closed(CloseReason::StepTimeout, false);
}

#[test]
fn every_byte_of_reply_restarts_the_step_timeout() {
    let mut d = Drive::idle();
    d.link.start(d.now, b"ping").unwrap();
    d.sent();
    d.at(20.0);
    d.feed(b"par");
    let t = d.at(49.0);
    d.link.handle_timeout(t);
    assert_eq!(d.events(), vec![]);
    let t = d.at(50.0);
    d.link.handle_timeout(t);
    d.assert_closed(CloseReason::StepTimeout, true);
}

#[test]
fn a_reply_buffered_before_the_send_completes_is_taken_after_it() {
    // A runtime may read the reply before it reports the last bytes of the request written.
    let mut d = Drive::idle();
    d.link.start(d.now, b"ping").unwrap();
    let mut out = BytesMut::new();
    d.link.poll_transmit(&mut out);
    d.feed(b"pong\n");
    assert_eq!(d.events(), vec![]);
    d.link.handle_written(d.now, out.len()).unwrap();
    assert_eq!(d.events(), vec![LinkEvent::Reply("pong".into())]);
}

#[test]
fn short_ids_give_a_warning_about_the_key() {
    let t0 = Instant::now();
    let mut link: Link = Link::new(t0, LinkConfig::default(), "a", "b");
    link.handle_connected(t0);
    let mut out = BytesMut::new();
    for input in [&b"1\n"[..], b"ok\n", b"7\n"] {
        out.clear();
        let n = link.poll_transmit(&mut out);
        link.handle_written(t0, n).unwrap();
        link.handle_input(t0, input);
    }
    let events: Vec<_> = std::iter::from_fn(|| link.poll_event()).collect();
    assert_eq!(events[0], LinkEvent::Log(LogEvent::ShortSessionKey));
    assert_eq!(LogEvent::ShortSessionKey.severity(), Severity::Warning);
    assert_eq!(events[1], LinkEvent::Ready);
}

#[test]
fn a_reply_that_is_the_word_refused_is_a_reply() {
    // `refused` closes a link only during the handshake; on a ready link it is lond's answer.
    let mut d = Drive::idle();
    d.link.start(d.now, b"ping").unwrap();
    d.sent();
    d.feed(b"refused\n");
    assert_eq!(d.events(), vec![LinkEvent::Reply("refused".into())]);
    assert!(d.link.is_idle());

    // Also when it arrives before the request is reported written.
    d.link.start(d.now, b"ping").unwrap();
    let mut out = BytesMut::new();
    d.link.poll_transmit(&mut out);
    d.feed(b"refused\n");
    assert_eq!(d.events(), vec![]);
    d.link.handle_written(d.now, out.len()).unwrap();
    assert_eq!(d.events(), vec![LinkEvent::Reply("refused".into())]);
    assert!(d.link.is_idle());
}

// ---- failure reasons ----

#[test]
fn refused_closes_the_link() {
    let mut d = Drive::new();
    d.link.handle_connected(d.now);
    d.sent();
    d.feed(b"refused\n");
    d.assert_closed(CloseReason::Refused, false);
}

#[test]
fn refused_while_init_is_still_being_sent_closes_at_once() {
    let mut d = Drive::new();
    d.link.handle_connected(d.now);
    d.feed(b"refused\n");
    d.assert_closed(CloseReason::Refused, false);
}

#[test]
fn ok_where_a_challenge_was_due_is_unexpected() {
    let mut d = Drive::new();
    d.link.handle_connected(d.now);
    d.sent();
    d.feed(b"ok\n");
    d.assert_closed(
        CloseReason::UnexpectedLine {
            state: "Initialized",
        },
        false,
    );
}

#[test]
fn a_challenge_that_is_not_digits_is_unexpected() {
    for bad in [&b"\n"[..], b"12a4\n", b"12 34\n"] {
        let mut d = Drive::new();
        d.link.handle_connected(d.now);
        d.sent();
        d.feed(bad);
        d.assert_closed(
            CloseReason::UnexpectedLine {
                state: "Initialized",
            },
            false,
        );
    }
}

#[test]
fn anything_but_ok_after_the_echo_is_unexpected() {
    let mut d = Drive::new();
    d.link.handle_connected(d.now);
    d.sent();
    d.feed(b"123\n");
    d.sent();
    d.feed(b"no\n");
    d.assert_closed(
        CloseReason::UnexpectedLine {
            state: "ChallengeReplied",
        },
        false,
    );
}

#[test]
fn an_empty_build_key_is_unexpected() {
    let mut d = Drive::new();
    d.link.handle_connected(d.now);
    d.sent();
    d.feed(b"123\n");
    d.sent();
    d.feed(b"ok\n");
    d.sent();
    d.feed(b"\n");
    d.assert_closed(
        CloseReason::UnexpectedLine {
            state: "ReceivingKey",
        },
        false,
    );
}

#[test]
fn eof_in_the_handshake_and_in_a_transaction() {
    let mut d = Drive::new();
    d.link.handle_connected(d.now);
    d.link.handle_eof(d.now);
    d.assert_closed(CloseReason::Eof, false);

    let mut d = Drive::idle();
    d.link.start(d.now, b"ping").unwrap();
    d.sent();
    d.eof_without_a_reset();
}

impl Drive {
    /// An end of stream in a transaction before a byte of reply: the link waits
    /// [`RESET_WAIT`] (nothing happens before), asks for a probe, and, told the end of stream
    /// again, closes: the peer may have read the request.
    fn eof_without_a_reset(&mut self) {
        self.link.handle_eof(self.now);
        assert_eq!(self.events(), vec![]);
        assert!(!self.link.is_closed());
        let probe = self.now + RESET_WAIT;
        assert_eq!(self.link.poll_timeout(), Some(probe));
        self.link.handle_timeout(probe - Duration::from_millis(1));
        assert_eq!(self.events(), vec![]);
        self.link.handle_timeout(probe);
        assert_eq!(self.events(), vec![LinkEvent::ProbeReset]);
        self.link.handle_eof(probe);
        self.assert_closed(CloseReason::Eof, true);
    }
}

/// The end of stream, then the reset its request met (an error on the socket when the link
/// probes): the peer never read the request.
#[test]
fn a_reset_found_by_the_probe_after_an_eof_means_unread() {
    for written in [2usize, 5] {
        let mut d = Drive::transacting(written);
        d.link.handle_eof(d.now);
        let probe = d.now + RESET_WAIT;
        d.link.handle_timeout(probe);
        assert_eq!(d.events(), vec![LinkEvent::ProbeReset]);
        d.link.handle_read_error(probe, ErrorKind::BrokenPipe);
        d.assert_closed_unread(CloseReason::ReadError(ErrorKind::BrokenPipe));
    }
    // The wait is never longer than the step timeout.
    let mut d = Drive::idle_with(LinkConfig {
        step_timeout: Duration::from_millis(300),
        ..LinkConfig::default()
    });
    d.link.start(d.now, b"ping").unwrap();
    d.sent();
    d.link.handle_eof(d.now);
    assert_eq!(
        d.link.poll_timeout(),
        Some(d.now + Duration::from_millis(300))
    );
}

#[test]
fn read_and_write_errors_close_with_their_kind() {
    let mut d = Drive::idle();
    d.link.start(d.now, b"ping").unwrap();
    d.link.handle_write_error(d.now, ErrorKind::BrokenPipe);
    d.assert_closed_unread(CloseReason::WriteError(ErrorKind::BrokenPipe));

    let mut d = Drive::idle();
    d.link.handle_read_error(d.now, ErrorKind::ConnectionReset);
    d.assert_closed(CloseReason::ReadError(ErrorKind::ConnectionReset), false);
}

#[test]
fn the_step_timeout_covers_every_handshake_step() {
    let script: [&[u8]; 3] = [b"123\n", b"ok\n", BUILD_KEY];
    for steps in 0..3 {
        let mut d = Drive::new();
        d.link.handle_connected(d.now);
        for line in &script[..steps] {
            d.sent();
            d.feed(line);
        }
        let t = d.at(29.9);
        d.link.handle_timeout(t);
        assert!(!d.link.is_closed(), "step {steps}");
        let t = d.at(30.0);
        d.link.handle_timeout(t);
        d.assert_closed(CloseReason::StepTimeout, false);
    }
}

// ---- can the peer have read the request? ----

#[test]
fn a_request_no_byte_of_which_was_written_is_unread() {
    let mut d = Drive::transacting(0);
    d.link.handle_eof(d.now);
    d.assert_closed_unread(CloseReason::Eof);
    let mut d = Drive::transacting(0);
    let t = d.at(30.0);
    d.link.handle_timeout(t);
    d.assert_closed_unread(CloseReason::StepTimeout);
    let mut d = Drive::transacting(0);
    d.link.handle_write_error(d.now, ErrorKind::TimedOut);
    d.assert_closed_unread(CloseReason::WriteError(ErrorKind::TimedOut));
}

#[test]
fn a_request_written_then_ended_by_eof_or_a_timeout_may_have_been_read() {
    for written in [1usize, 4, 5] {
        let mut d = Drive::transacting(written);
        d.eof_without_a_reset();
    }
    let mut d = Drive::transacting(5);
    let t = d.at(30.0);
    d.link.handle_timeout(t);
    d.assert_closed(CloseReason::StepTimeout, true);
    let mut d = Drive::transacting(2);
    d.link.handle_write_error(d.now, ErrorKind::TimedOut);
    d.assert_closed(CloseReason::WriteError(ErrorKind::TimedOut), true);
}

#[test]
fn a_reset_before_a_byte_of_reply_means_unread() {
    for written in [2usize, 5] {
        let mut d = Drive::transacting(written);
        d.link.handle_read_error(d.now, ErrorKind::ConnectionReset);
        d.assert_closed_unread(CloseReason::ReadError(ErrorKind::ConnectionReset));
        let mut d = Drive::transacting(written);
        d.link.handle_write_error(d.now, ErrorKind::BrokenPipe);
        d.assert_closed_unread(CloseReason::WriteError(ErrorKind::BrokenPipe));
        let mut d = Drive::transacting(written);
        d.link.handle_write_error(d.now, ErrorKind::ConnectionReset);
        d.assert_closed_unread(CloseReason::WriteError(ErrorKind::ConnectionReset));
    }
}

#[test]
fn a_reset_after_a_byte_of_reply_means_read() {
    let mut d = Drive::transacting(5);
    d.feed(b"p");
    d.link.handle_read_error(d.now, ErrorKind::ConnectionReset);
    d.assert_closed(CloseReason::ReadError(ErrorKind::ConnectionReset), true);
    // Even a reply byte that came while the request was still being written.
    let mut d = Drive::transacting(3);
    d.feed(b"p");
    d.link.handle_write_error(d.now, ErrorKind::BrokenPipe);
    d.assert_closed(CloseReason::WriteError(ErrorKind::BrokenPipe), true);
}

#[test]
fn unread_is_about_the_current_request_only() {
    // The first request was written and answered; the second is cut off before a byte of it.
    let mut d = Drive::transacting(5);
    d.feed(b"pong\n");
    assert_eq!(d.events(), vec![LinkEvent::Reply("pong".into())]);
    d.link.start(d.now, b"ping").unwrap();
    d.link.handle_eof(d.now);
    d.assert_closed_unread(CloseReason::Eof);
    // A reply byte of the first request does not count for the second.
    let mut d = Drive::transacting(5);
    d.feed(b"pong\n");
    let _ = d.events();
    d.link.start(d.now, b"ping").unwrap();
    d.sent();
    d.link.handle_read_error(d.now, ErrorKind::ConnectionReset);
    d.assert_closed_unread(CloseReason::ReadError(ErrorKind::ConnectionReset));
    // No transaction, nothing unread.
    let mut d = Drive::idle();
    d.link.handle_read_error(d.now, ErrorKind::ConnectionReset);
    d.assert_closed(CloseReason::ReadError(ErrorKind::ConnectionReset), false);
}

// ---- hostile peer input ----

fn bad_reply(reply: &[u8], want: EncError) {
    let mut d = Drive::idle();
    d.link.start(d.now, b"ping").unwrap();
    d.sent();
    d.feed(reply);
    d.assert_closed(CloseReason::BadEnc(want), true);
}

#[test]
fn a_non_hex_enc_body_fails_the_transaction() {
    bad_reply(
        b"enc:8:7679c3a1b5c8bc96zz96aa54ab77bbec\n",
        EncError::NotHex,
    );
}

#[test]
fn an_odd_length_enc_body_fails_the_transaction() {
    bad_reply(b"enc:8:7679c3a1b5c8bc965\n", EncError::BadBlockCount);
}

#[test]
fn an_enc_length_that_is_not_a_number_fails_the_transaction() {
    bad_reply(b"enc:eight:7679c3a1b5c8bc96\n", EncError::BadLength);
}

#[test]
fn an_enc_length_beyond_the_data_fails_the_transaction() {
    bad_reply(b"enc:9:7679c3a1b5c8bc96\n", EncError::LengthTooLarge);
}

#[test]
fn a_hundred_megabytes_without_newline_close_the_link_with_bounded_memory() {
    let max_line = 1 << 20;
    let mut d = Drive::idle_with(LinkConfig {
        max_line,
        ..LinkConfig::default()
    });
    d.link.start(d.now, b"get").unwrap();
    d.sent();
    let chunk = vec![b'x'; 64 << 10];
    let mut fed = 0usize;
    while !d.link.is_closed() && fed < 100 << 20 {
        d.feed(&chunk);
        fed += chunk.len();
    }
    assert!(
        fed <= max_line + chunk.len(),
        "closed at the limit, after {fed} bytes"
    );
    d.assert_closed(CloseReason::LineTooLong, true);
    for _ in 0..100 {
        d.feed(&chunk);
    }
    assert_eq!(d.events(), vec![], "nothing more after the close");
}

#[test]
fn bytes_after_eof_are_ignored() {
    let mut d = Drive::idle();
    d.link.handle_eof(d.now);
    d.assert_closed(CloseReason::Eof, false);
    d.feed(b"late\n");
    d.link.handle_eof(d.now);
    d.link.handle_timeout(d.now + Duration::from_secs(999));
    assert_eq!(d.events(), vec![]);
    assert_eq!(d.link.handle_written(d.now, 0), Ok(()));
}

#[test]
fn a_second_reply_with_no_request_is_unsolicited() {
    let mut d = Drive::idle();
    d.link.start(d.now, b"ping").unwrap();
    d.sent();
    d.feed(b"one\ntwo\n");
    assert_eq!(
        d.events(),
        vec![
            LinkEvent::Reply("one".into()),
            closed(CloseReason::UnsolicitedData, false)
        ]
    );
}

#[test]
fn even_a_partial_line_on_an_idle_link_is_unsolicited() {
    let mut d = Drive::idle();
    d.feed(b"x");
    d.assert_closed(CloseReason::UnsolicitedData, false);
}

#[test]
fn lines_piling_up_while_the_link_sends_are_bounded() {
    let mut d = Drive::with_config(LinkConfig {
        max_line: 16,
        ..LinkConfig::default()
    });
    d.link.handle_connected(d.now);
    // `init` not yet written: challenges pile up.
    d.feed(b"1234567\n1234567\n");
    assert!(!d.link.is_closed());
    assert_eq!(d.link.buffered_input(), 16);
    d.feed(b"1\n");
    d.assert_closed(CloseReason::UnsolicitedData, false);
    assert_eq!(d.link.buffered_input(), 0, "a closed link holds nothing");
}

// ---- local misuse and local close ----

#[test]
fn start_needs_an_idle_link_and_a_single_line() {
    let mut d = Drive::new();
    assert_eq!(
        d.link.start(d.now, b"ping"),
        Err(LinkMisuse::NotIdle(LinkState::Connecting))
    );
    let mut d = Drive::idle();
    assert_eq!(
        d.link.start(d.now, b"a\nb"),
        Err(LinkMisuse::RequestHasNewline)
    );
    d.link.start(d.now, b"ping").unwrap();
    assert_eq!(
        d.link.start(d.now, b"ping"),
        Err(LinkMisuse::NotIdle(LinkState::SendingRequest))
    );
}

#[test]
fn reporting_more_written_than_handed_out_is_misuse() {
    let mut d = Drive::new();
    d.link.handle_connected(d.now);
    let mut out = BytesMut::new();
    d.link.poll_transmit(&mut out);
    assert!(matches!(
        d.link.handle_written(d.now, 6),
        Err(LinkMisuse::WrittenTooMuch(_))
    ));
}

#[test]
fn closing_an_idle_link_sends_exit_and_closes_locally() {
    let mut d = Drive::idle();
    d.link.close(d.now);
    d.assert_closed(CloseReason::Local, false);
    let mut out = BytesMut::new();
    d.link.poll_transmit(&mut out);
    assert_eq!(&out[..], b"exit\n");
}

#[test]
fn closing_during_a_transaction_fails_it_and_sends_nothing_more() {
    let mut d = Drive::idle();
    d.link.start(d.now, b"ping").unwrap();
    d.link.close(d.now);
    d.assert_closed_unread(CloseReason::Local);
    assert!(!d.link.wants_write());
    assert_eq!(
        d.link.start(d.now, b"ping"),
        Err(LinkMisuse::NotIdle(LinkState::Disconnected))
    );
}

#[test]
fn misuse_is_described_in_words() {
    // The text goes into lonc.log (`Link <id>: <misuse>`).
    assert_eq!(
        LinkMisuse::NotIdle(LinkState::ReceivingReply).to_string(),
        "link is ReceivingReply, not Idle"
    );
    assert_eq!(
        LinkMisuse::RequestHasNewline.to_string(),
        "request contains a newline"
    );
    let mut d = Drive::new();
    d.link.handle_connected(d.now);
    let mut out = BytesMut::new();
    d.link.poll_transmit(&mut out);
    let err = d.link.handle_written(d.now, 6).unwrap_err();
    assert_eq!(
        err.to_string(),
        "driver reported 6 bytes written but only 5 were handed out"
    );
}

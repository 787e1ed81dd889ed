//! The lond side of set-up driven by hand.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use lonc_core::enc::EncError;
use lonc_core::key::KeySeed;
use lonc_core::reason::CloseReason;
use lonc_core::session::{Session, SessionConfig, SessionEvent, SessionState};

const SEED: KeySeed = KeySeed {
    time: 1_050_000_000,
    pid: 4242,
    random: 31337,
    prefix: 777,
    suffix: 12,
};

struct Drive {
    s: Session,
    t0: Instant,
    now: Instant,
}

impl Drive {
    fn new() -> Self {
        Self::with_config(SessionConfig::default())
    }

    fn with_config(config: SessionConfig) -> Self {
        let t0 = Instant::now();
        Drive {
            s: Session::new(t0, config, "msul1", "msul2", SEED),
            t0,
            now: t0,
        }
    }

    /// Moves the virtual clock to `secs` after the session was created.
    fn at(&mut self, secs: u64) -> Instant {
        self.now = self.t0 + Duration::from_secs(secs);
        self.now
    }

    /// The step deadline, in seconds after the session was created.
    fn deadline(&self) -> Option<u64> {
        self.s.poll_timeout().map(|t| (t - self.t0).as_secs())
    }

    fn sent(&mut self) -> Vec<u8> {
        let mut out = BytesMut::new();
        let n = self.s.poll_transmit(&mut out);
        self.s.handle_written(self.now, n).unwrap();
        out.to_vec()
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.s.handle_input(self.now, bytes);
    }

    fn events(&mut self) -> Vec<SessionEvent> {
        std::iter::from_fn(|| self.s.poll_event()).collect()
    }

    fn ready() -> Self {
        let mut d = Drive::new();
        d.feed(b"init\n");
        assert_eq!(d.sent(), b"42421050000000\n");
        d.feed(b"42421050000000\n");
        assert_eq!(d.sent(), b"ok\n");
        d.feed(b"ekey\n");
        assert_eq!(d.sent(), b"777A0E0000000DBDBCACC712\n");
        assert_eq!(d.events(), vec![SessionEvent::Ready]);
        d
    }
}

#[test]
fn the_handshake_sends_challenge_ok_and_the_appendix_build_key() {
    let d = Drive::ready();
    assert_eq!(d.s.state(), SessionState::Ready);
}

#[test]
fn encrypted_requests_are_decrypted_and_marked() {
    let mut d = Drive::ready();
    d.feed(b"enc:23:ea647e5ad65dce171259ca656401c05a2a9ecd51c601949f\nping\n");
    assert_eq!(
        d.events(),
        vec![
            SessionEvent::Request {
                line: "passwd:msu:jdoe:old:new".into(),
                encrypted: true
            },
            SessionEvent::Request {
                line: "ping".into(),
                encrypted: false
            },
        ]
    );
    d.s.reply(b"ok");
    d.s.reply_encrypted(b"12345678");
    assert_eq!(d.sent(), b"ok\nenc:8:7679c3a1b5c8bc965696aa54ab77bbec\n");
}

#[test]
fn the_echo_is_compared_on_word_characters() {
    let mut d = Drive::new();
    d.feed(b"init\n");
    d.sent();
    d.feed(b"4242-1050000000\r\n");
    assert_eq!(d.sent(), b"ok\n");
}

#[test]
fn a_wrong_echo_closes_without_ok() {
    let mut d = Drive::new();
    d.feed(b"init\n");
    d.sent();
    d.feed(b"4242105000000\n");
    assert_eq!(
        d.events(),
        vec![SessionEvent::Closed(CloseReason::UnexpectedLine {
            state: "AwaitingEcho"
        })]
    );
    assert_eq!(d.sent(), b"");
}

#[test]
fn anything_but_init_first_closes() {
    let mut d = Drive::new();
    d.feed(b"init:ssl:1.0\n");
    assert_eq!(
        d.events(),
        vec![SessionEvent::Closed(CloseReason::UnexpectedLine {
            state: "AwaitingInit"
        })]
    );
}

#[test]
fn requests_before_ekey_close() {
    let mut d = Drive::new();
    d.feed(b"init\n");
    d.sent();
    d.feed(b"42421050000000\n");
    d.sent();
    d.feed(b"ping\n");
    assert_eq!(
        d.events(),
        vec![SessionEvent::Closed(CloseReason::UnexpectedLine {
            state: "AwaitingEkey"
        })]
    );
}

#[test]
fn a_bad_enc_request_closes() {
    let mut d = Drive::ready();
    d.feed(b"enc:99:00\n");
    assert_eq!(
        d.events(),
        vec![SessionEvent::Closed(CloseReason::BadEnc(
            EncError::BadBlockCount
        ))]
    );
}

#[test]
fn refusing_sends_refused_then_closes() {
    let mut d = Drive::new();
    d.s.refuse(d.now);
    assert_eq!(d.sent(), b"refused\n");
    assert_eq!(d.events(), vec![SessionEvent::Closed(CloseReason::Local)]);
    d.feed(b"init\n");
    assert_eq!(d.events(), vec![]);
}

#[test]
fn a_stalled_handshake_times_out_but_a_ready_session_does_not() {
    let mut d = Drive::new();
    d.s.handle_timeout(d.now + Duration::from_secs(29));
    assert_eq!(d.events(), vec![]);
    d.s.handle_timeout(d.now + Duration::from_secs(30));
    assert_eq!(
        d.events(),
        vec![SessionEvent::Closed(CloseReason::StepTimeout)]
    );

    let mut d = Drive::ready();
    assert_eq!(d.s.poll_timeout(), None);
    d.s.handle_timeout(d.now + Duration::from_secs(100_000));
    assert_eq!(d.events(), vec![]);
}

#[test]
fn eof_closes() {
    let mut d = Drive::ready();
    d.s.handle_eof(d.now);
    assert_eq!(d.events(), vec![SessionEvent::Closed(CloseReason::Eof)]);
}

#[test]
fn lines_piling_up_while_the_session_sends_are_bounded() {
    let now = Instant::now();
    let config = SessionConfig {
        max_line: 16,
        ..SessionConfig::default()
    };
    let mut s: Session = Session::new(now, config, "msul1", "msul2", SEED);
    // The challenge is not written yet: the echo and what follows wait in the buffer.
    s.handle_input(now, b"init\n42421050000000\n");
    assert_eq!(s.state(), SessionState::SendingChallenge);
    assert_eq!(s.buffered_input(), 15);
    s.handle_input(now, b"ekey\n");
    assert_eq!(s.state(), SessionState::Closed);
    assert_eq!(s.buffered_input(), 0, "a closed session holds nothing");
    let events: Vec<SessionEvent> = std::iter::from_fn(|| s.poll_event()).collect();
    assert_eq!(
        events,
        vec![SessionEvent::Closed(CloseReason::UnsolicitedData)]
    );
}

#[test]
fn read_and_write_errors_close_with_their_kind() {
    let mut d = Drive::ready();
    d.s.handle_read_error(d.now, ErrorKind::ConnectionReset);
    assert_eq!(d.s.state(), SessionState::Closed);
    assert_eq!(
        d.events(),
        vec![SessionEvent::Closed(CloseReason::ReadError(
            ErrorKind::ConnectionReset
        ))]
    );

    let mut d = Drive::new();
    d.feed(b"init\n");
    d.s.handle_write_error(d.now, ErrorKind::BrokenPipe);
    assert_eq!(d.s.state(), SessionState::Closed);
    assert_eq!(
        d.events(),
        vec![SessionEvent::Closed(CloseReason::WriteError(
            ErrorKind::BrokenPipe
        ))]
    );
    assert_eq!(d.s.poll_timeout(), None);
}

// ---- the step timeout ----

#[test]
fn each_handshake_state_gets_a_fresh_step_deadline_and_ready_none() {
    let mut d = Drive::new();
    assert_eq!(d.deadline(), Some(30));
    d.at(10);
    d.feed(b"init\n");
    assert_eq!(d.s.state(), SessionState::SendingChallenge);
    assert_eq!(d.deadline(), Some(40));
    d.at(20);
    d.sent();
    assert_eq!(d.s.state(), SessionState::AwaitingEcho);
    assert_eq!(d.deadline(), Some(50));
    d.at(30);
    d.feed(b"42421050000000\n");
    assert_eq!(d.s.state(), SessionState::SendingOk);
    assert_eq!(d.deadline(), Some(60));
    d.at(40);
    d.sent();
    assert_eq!(d.s.state(), SessionState::AwaitingEkey);
    assert_eq!(d.deadline(), Some(70));
    d.at(50);
    d.feed(b"ekey\n");
    assert_eq!(d.s.state(), SessionState::SendingKey);
    assert_eq!(d.deadline(), Some(80));
    d.at(60);
    d.sent();
    assert_eq!(d.s.state(), SessionState::Ready);
    assert_eq!(d.deadline(), None);
}

#[test]
fn input_that_completes_no_line_pushes_the_step_deadline_back() {
    let mut d = Drive::new();
    d.at(10);
    d.feed(b"in");
    assert_eq!(d.s.state(), SessionState::AwaitingInit);
    assert_eq!(d.deadline(), Some(40));
    let t = d.at(39);
    d.s.handle_timeout(t);
    assert_eq!(d.events(), vec![]);
    let t = d.at(40);
    d.s.handle_timeout(t);
    assert_eq!(
        d.events(),
        vec![SessionEvent::Closed(CloseReason::StepTimeout)]
    );
}

#[test]
fn a_partial_write_pushes_the_step_deadline_back_and_a_zero_byte_write_does_not() {
    let mut d = Drive::new();
    d.feed(b"init\n");
    let mut out = BytesMut::new();
    assert_eq!(d.s.poll_transmit(&mut out), 15);
    let t = d.at(10);
    d.s.handle_written(t, 3).unwrap();
    assert_eq!(d.s.state(), SessionState::SendingChallenge);
    assert_eq!(d.deadline(), Some(40));
    let t = d.at(20);
    d.s.handle_written(t, 0).unwrap();
    assert_eq!(d.s.state(), SessionState::SendingChallenge);
    assert_eq!(d.deadline(), Some(40), "writing nothing is no progress");
    let t = d.at(30);
    d.s.handle_written(t, 12).unwrap();
    assert_eq!(d.s.state(), SessionState::AwaitingEcho);
    assert_eq!(d.deadline(), Some(60));
}

#[test]
fn a_ready_session_has_no_step_deadline_while_it_writes_replies() {
    let mut d = Drive::ready();
    d.at(10);
    d.feed(b"ping\n");
    d.s.reply(b"msul1");
    let mut out = BytesMut::new();
    assert_eq!(d.s.poll_transmit(&mut out), 6);
    let t = d.at(20);
    d.s.handle_written(t, 2).unwrap();
    assert_eq!(d.deadline(), None);
    let t = d.at(30);
    d.s.handle_written(t, 4).unwrap();
    assert_eq!(d.deadline(), None);
    d.s.handle_timeout(d.t0 + Duration::from_secs(100_000));
    assert_eq!(
        d.events(),
        vec![SessionEvent::Request {
            line: "ping".into(),
            encrypted: false
        }]
    );
    assert_eq!(d.s.state(), SessionState::Ready);
}

// ---- input when no line is due ----

#[test]
fn input_while_refusing_and_after_the_close_is_ignored() {
    let mut d = Drive::new();
    d.s.refuse(d.now);
    d.at(10);
    d.feed(b"init\n");
    assert_eq!(d.s.buffered_input(), 0);
    assert_eq!(
        d.deadline(),
        Some(30),
        "input is no progress while refusing"
    );
    assert_eq!(d.sent(), b"refused\n");
    assert_eq!(d.events(), vec![SessionEvent::Closed(CloseReason::Local)]);
    d.feed(b"init\n42");
    assert_eq!(d.s.buffered_input(), 0);
    assert_eq!(d.s.state(), SessionState::Closed);
    assert_eq!(d.events(), vec![]);
}

#[test]
fn exactly_max_line_bytes_may_wait_while_the_session_sends() {
    let mut d = Drive::with_config(SessionConfig {
        max_line: 16,
        ..SessionConfig::default()
    });
    d.feed(b"init\n0123456789abcdef");
    assert_eq!(d.s.state(), SessionState::SendingChallenge);
    assert_eq!(d.s.buffered_input(), 16);
    assert_eq!(d.events(), vec![]);
    d.feed(b"\n");
    assert_eq!(
        d.events(),
        vec![SessionEvent::Closed(CloseReason::UnsolicitedData)]
    );
}

#[test]
fn raw_lines_go_out_until_the_session_closes() {
    let mut d = Drive::ready();
    d.s.send_raw_line(b"enc:zz:not-hex");
    assert_eq!(d.sent(), b"enc:zz:not-hex\n");
    d.s.handle_eof(d.now);
    d.s.send_raw_line(b"late");
    assert_eq!(d.sent(), b"");
}

//! The seed corpora of the fuzz targets, written as readable values.
//!
//! `cargo test -p lonc-tests --test fuzz_corpus -- --ignored write_seed_corpus` writes them
//! to `fuzz/corpus/<target>/seed-*`; the replay test checks that every seed here is committed
//! unchanged, and that each structured script encodes to bytes that decode back to it.

use super::{Chunk, host, link, session};

fn c(bytes: &[u8]) -> Chunk {
    Chunk(bytes.to_vec())
}

/// Appendix A of protocol.md: the build key lond sends and the session key's lines.
const APPENDIX_ENC: &[&str] = &[
    "enc:23:ea647e5ad65dce171259ca656401c05a2a9ecd51c601949f",
    "enc:8:7679c3a1b5c8bc965696aa54ab77bbec",
    "enc:0:5696aa54ab77bbec",
];

/// Every seed: (target, file name, bytes).
pub fn all() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, bytes) in framing() {
        out.push(("framing", format!("seed-{name}"), bytes));
    }
    for (name, bytes) in enc_codec() {
        out.push(("enc_codec", format!("seed-{name}"), bytes));
    }
    for (name, s) in link_scripts() {
        out.push(("link", format!("seed-{name}"), s.encode()));
    }
    for (name, s) in session_scripts() {
        out.push(("session", format!("seed-{name}"), s.encode()));
    }
    for (name, s) in host_scripts() {
        out.push(("host", format!("seed-{name}"), s.encode()));
    }
    for (name, text) in config() {
        out.push(("config", format!("seed-{name}"), text.as_bytes().to_vec()));
    }
    out
}

fn framing() -> Vec<(&'static str, Vec<u8>)> {
    let with = |header: [u8; 4], body: &[u8]| [&header[..], body].concat();
    vec![
        (
            "appendix-lond-handshake",
            with(
                [255, 6, 1, 0],
                b"42421050000000\nok\n777A0E0000000DBDBCACC712\nmsul1\n",
            ),
        ),
        (
            "appendix-lonc-handshake-lazy",
            with(
                [64, 2, 7, 1],
                b"init\n42421050000000\nekey\nenc:23:ea647e5ad65dce171259ca656401c05a2a9ecd51c601949f\n",
            ),
        ),
        ("over-the-limit", with([4, 0, 0, 0], b"abcd\nabcde\nab\n")),
        (
            "binary-and-crlf",
            with([255, 255, 9, 1], b"\r\n\x00\xff\xfe:\r\n\n\nend"),
        ),
        ("max-zero-empty-lines", with([0, 1, 0, 0], b"\n\n\n")),
        ("no-newline", with([8, 2, 5, 0], &[b'x'; 64])),
    ]
}

fn enc_codec() -> Vec<(&'static str, Vec<u8>)> {
    let fixed = |plain: &[u8]| {
        let mut out = bytes::BytesMut::new();
        lonc_core::enc::encode(&super::FixedKeyCipher, plain, &mut out);
        out.to_vec()
    };
    vec![
        ("appendix-passwd", APPENDIX_ENC[0].as_bytes().to_vec()),
        ("appendix-eight", APPENDIX_ENC[1].as_bytes().to_vec()),
        ("appendix-empty", APPENDIX_ENC[2].as_bytes().to_vec()),
        (
            "appendix-upper-case",
            b"enc:8:7679C3A1B5C8BC965696AA54AB77BBEC".to_vec(),
        ),
        (
            "appendix-short-length",
            b"enc:3:7679c3a1b5c8bc965696aa54ab77bbec".to_vec(),
        ),
        (
            "leading-zero-length",
            b"enc:08:7679c3a1b5c8bc965696aa54ab77bbec".to_vec(),
        ),
        ("fixed-key-passwd", fixed(b"passwd:msu:jdoe:old:new")),
        ("fixed-key-reply", fixed(b"ok")),
        ("fixed-key-empty", fixed(b"")),
        ("bad-hex", b"enc:1:5696aa54ab77bbeg".to_vec()),
        ("bad-block-count", b"enc:1:5696aa54ab77bbe".to_vec()),
        ("length-too-large", b"enc:9:5696aa54ab77bbec".to_vec()),
        (
            "length-overflow",
            b"enc:99999999999999999999999:5696aa54ab77bbec".to_vec(),
        ),
        ("no-prefix", b"5696aa54ab77bbec".to_vec()),
    ]
}

/// Seed scripts of the `link` target.
pub fn link_scripts() -> Vec<(&'static str, link::Script)> {
    use link::{Op::*, PeerLine};
    let script = |start_idle, ops| link::Script {
        max_line: 0,
        connect_secs: 5,
        step_secs: 30,
        start_idle,
        ops,
    };
    let line = |line, cut| Line { line, cut };
    vec![
        (
            "appendix-handshake-and-transactions",
            script(
                false,
                vec![
                    Connected,
                    WriteAll,
                    line(PeerLine::TheChallenge, 3),
                    WriteAll,
                    line(PeerLine::Ok, 0),
                    WriteAll,
                    line(PeerLine::BuildKey, 10),
                    Start {
                        encrypt: false,
                        body: c(b"ping"),
                    },
                    WriteAll,
                    line(PeerLine::Reply(c(b"msul1")), 2),
                    Start {
                        encrypt: true,
                        body: c(b"passwd:msu:jdoe:old:new"),
                    },
                    Write(7),
                    Write(0),
                    WriteAll,
                    line(PeerLine::EncReply(c(b"ok")), 5),
                    Close,
                    WriteAll,
                ],
            ),
        ),
        (
            "handshake-in-one-read",
            script(
                false,
                vec![
                    Connected,
                    Peer(c(b"42421050000000\nok\n777A0E0000000DBDBCACC712\n")),
                    Write(2),
                    Advance(500),
                    WriteAll,
                    WriteAll,
                    WriteAll,
                    Start {
                        encrypt: false,
                        body: c(b"get:msu:jdoe:environment"),
                    },
                    WriteAll,
                    Peer(c(b"enc:8:7679c3a1")),
                    Peer(c(b"b5c8bc965696aa54ab77bbec\n")),
                ],
            ),
        ),
        (
            "refused",
            script(false, vec![Connected, WriteAll, line(PeerLine::Refused, 4)]),
        ),
        (
            "connect-timeout",
            script(false, vec![AdvanceSecs(4), AdvanceSecs(1)]),
        ),
        (
            "step-timeout-mid-reply",
            script(
                true,
                vec![
                    Start {
                        encrypt: true,
                        body: c(b"auth:msu:jdoe:pw"),
                    },
                    WriteAll,
                    Peer(c(b"enc:16:")),
                    AdvanceSecs(29),
                    Peer(c(b"0")),
                    Sleep(40_000),
                    Timeout,
                ],
            ),
        ),
        (
            "line-too-long",
            link::Script {
                max_line: 30,
                ..script(
                    true,
                    vec![
                        Start {
                            encrypt: false,
                            body: c(b"get"),
                        },
                        WriteAll,
                        Peer(c(&[b'y'; 40])),
                    ],
                )
            },
        ),
        ("unsolicited", script(true, vec![Peer(c(b"x"))])),
        (
            "hang-ups",
            script(
                true,
                vec![
                    Start {
                        encrypt: false,
                        body: c(b"ping"),
                    },
                    Write(2),
                    WriteTooMuch(9),
                    Eof,
                    ReadError,
                    WriteError,
                    Peer(c(b"late\n")),
                ],
            ),
        ),
        (
            "wrong-handshake-lines",
            script(
                false,
                vec![
                    Connected,
                    line(PeerLine::Challenge(7), 0),
                    WriteAll,
                    line(PeerLine::Reply(c(b"nope")), 1),
                    WriteAll,
                ],
            ),
        ),
        (
            "two-replies",
            script(
                true,
                vec![
                    Start {
                        encrypt: false,
                        body: c(b"ping"),
                    },
                    WriteAll,
                    Peer(c(b"one\ntwo\n")),
                    ConnectFailed,
                ],
            ),
        ),
    ]
}

/// Seed scripts of the `session` target.
pub fn session_scripts() -> Vec<(&'static str, session::Script)> {
    use session::{ClientLine, Op::*};
    let script = |start_ready, ops| session::Script {
        max_line: 0,
        step_secs: 30,
        pid: 4242,
        time: 1_050_000_000,
        random: 31337,
        start_ready,
        ops,
    };
    let line = |line, cut| Line { line, cut };
    vec![
        (
            "appendix-handshake-and-requests",
            script(
                false,
                vec![
                    line(ClientLine::Init, 2),
                    WriteAll,
                    line(ClientLine::Echo, 5),
                    WriteAll,
                    line(ClientLine::Ekey, 0),
                    Write(10),
                    WriteAll,
                    line(ClientLine::Request(c(b"ping")), 1),
                    Reply(c(b"msul1")),
                    line(ClientLine::EncRequest(c(b"passwd:msu:jdoe:old:new")), 9),
                    ReplyEncrypted(c(b"ok")),
                    WriteAll,
                    Eof,
                ],
            ),
        ),
        (
            "handshake-in-one-read",
            script(
                false,
                vec![
                    Client(c(b"init\n42421050000000\nekey\nping\n")),
                    Write(3),
                    WriteAll,
                    WriteAll,
                    WriteAll,
                    Reply(c(b"pong")),
                ],
            ),
        ),
        (
            "refuse",
            script(
                false,
                vec![Refuse, Write(3), Client(c(b"init\n")), WriteAll],
            ),
        ),
        (
            "wrong-echo",
            script(
                false,
                vec![line(ClientLine::Init, 0), WriteAll, Client(c(b"123\n"))],
            ),
        ),
        (
            "handshake-timeout",
            script(
                false,
                vec![
                    line(ClientLine::Init, 0),
                    AdvanceSecs(29),
                    WriteAll,
                    Sleep(31_000),
                    Timeout,
                ],
            ),
        ),
        (
            "bad-enc-request",
            script(
                true,
                vec![
                    Client(c(b"enc:9:5696aa54ab77bbec\n")),
                    SendRaw(c(b"late")),
                    WriteTooMuch(1),
                ],
            ),
        ),
        (
            "line-too-long",
            session::Script {
                max_line: 20,
                ..script(false, vec![Client(c(&[b'i'; 30]))])
            },
        ),
        (
            "requests-piling-up",
            session::Script {
                max_line: 40,
                ..script(
                    false,
                    vec![
                        Client(c(b"init\n42421050000000\nekey\nreq\nreq\nreq\nreq\n")),
                        ReadError,
                        WriteError,
                    ],
                )
            },
        ),
    ]
}

/// Seed scripts of the `host` target.
pub fn host_scripts() -> Vec<(&'static str, host::Script)> {
    use host::Op::*;
    let config = host::Config {
        max_links: 3,
        retries: 3,
        idle_secs: 100,
        tick_ms: 1000,
        queue_len: 7,
        queue_bytes: 4096,
        probe_min_secs: 1,
        probe_max_secs: 20,
        request_secs: 255,
    };
    let script = |ops| host::Script {
        config: config.clone(),
        seed: 99,
        ops,
    };
    let submit = Submit {
        encrypted: false,
        pad: 0,
    };
    let advance = |secs| Advance { secs, millis: 0 };
    vec![
        (
            "requests-and-idle-pruning",
            script(vec![
                submit.clone(),
                ConnectOk(0),
                Reply(0),
                submit.clone(),
                submit.clone(),
                Submit {
                    encrypted: true,
                    pad: 3,
                },
                ConnectOk(0),
                ConnectOk(0),
                Reply(0),
                Reply(1),
                Reply(0),
                advance(150),
                advance(150),
            ]),
        ),
        (
            "dead-host-probed-and-revived",
            script(vec![
                submit.clone(),
                ConnectFail(0),
                submit.clone(),
                ConnectFail(0),
                submit.clone(),
                ConnectFail(0),
                submit.clone(),
                advance(2),
                ConnectFail(0),
                advance(5),
                ConnectOk(0),
                submit.clone(),
                Reply(0),
            ]),
        ),
        (
            "delayed-replay",
            script(vec![
                Spool {
                    time: 20,
                    count: 1,
                    kind: 0,
                },
                Spool {
                    time: 3,
                    count: 0,
                    kind: 0,
                },
                Spool {
                    time: 5,
                    count: 0,
                    kind: 1,
                },
                Spool {
                    time: 6,
                    count: 0,
                    kind: 2,
                },
                SpoolRaw(c(b"1060000000.3.4242.putmsujdoe.msul1")),
                submit.clone(),
                ConnectOk(0),
                Offer,
                Reply(0),
                Offer,
                LinkLost(0),
                Reply(0),
                Offer,
                ConnectOk(0),
                Reply(0),
                Reply(0),
            ]),
        ),
        (
            "hang-ups-resets-and-shutdown",
            script(vec![
                submit.clone(),
                submit.clone(),
                ClientGone(1),
                ConnectOk(0),
                ClientGone(0),
                Reply(0),
                SubmitRaw(c(b"put:msu:jdoe:x=1")),
                CloseExit,
                Reset,
                Stale(3),
                Stale(4),
                Stale(5),
                submit.clone(),
                CloseAll,
                submit.clone(),
                ConnectOk(0),
            ]),
        ),
        (
            "degenerate-config",
            host::Script {
                config: host::Config {
                    max_links: 0,
                    retries: 0,
                    idle_secs: 0,
                    tick_ms: 0,
                    queue_len: 0,
                    queue_bytes: 0,
                    probe_min_secs: 0,
                    probe_max_secs: 0,
                    request_secs: 0,
                },
                seed: 0,
                ops: vec![
                    submit.clone(),
                    ConnectFail(0),
                    advance(0),
                    ConnectOk(0),
                    submit.clone(),
                    advance(0),
                    Reset,
                ],
            },
        ),
        (
            "queue-full",
            host::Script {
                config: host::Config {
                    queue_len: 2,
                    queue_bytes: 40,
                    ..config.clone()
                },
                seed: 7,
                ops: vec![
                    Submit {
                        encrypted: false,
                        pad: 30,
                    },
                    submit.clone(),
                    submit.clone(),
                    ConnectOk(0),
                    Reply(0),
                    Reply(0),
                ],
            },
        ),
        (
            "never-probe",
            host::Script {
                config: host::Config {
                    retries: 1,
                    idle_secs: 255,
                    probe_min_secs: 255,
                    probe_max_secs: 255,
                    ..config.clone()
                },
                seed: 1,
                ops: vec![submit.clone(), ConnectFail(0), advance(65_535), Reset],
            },
        ),
        (
            "delayed-read-waits-for-room-in-the-queue",
            host::Script {
                config: host::Config {
                    queue_len: 3,
                    queue_bytes: 50,
                    ..config.clone()
                },
                seed: 3,
                ops: vec![
                    // 17, 35 and 17 bytes: the second does not fit after the first, so it and
                    // the third wait, unread, until the queue has room (time order is kept).
                    Spool {
                        time: 1,
                        count: 0,
                        kind: 0,
                    },
                    SpoolRaw(c(b"2.0.1234567890123456789.put.msul1")),
                    Spool {
                        time: 3,
                        count: 0,
                        kind: 0,
                    },
                    Offer,
                    ConnectOk(0),
                    Reply(0),
                    ReadDone(0),
                    Reply(0),
                    Offer,
                    Reply(0),
                ],
            },
        ),
        (
            "replay-window-unreadable-and-delivered-files",
            host::Script {
                config: host::Config {
                    max_links: 2,
                    ..config.clone()
                },
                seed: 5,
                ops: vec![
                    Spool {
                        time: 1,
                        count: 0,
                        kind: 0,
                    },
                    SpoolUnreadable { time: 2, count: 0 },
                    Spool {
                        time: 3,
                        count: 0,
                        kind: 0,
                    },
                    Spool {
                        time: 4,
                        count: 0,
                        kind: 0,
                    },
                    Spool {
                        time: 5,
                        count: 0,
                        kind: 2,
                    },
                    // Two names read at a time; the unreadable one is warned about once.
                    Scan,
                    ReadDone(0),
                    submit.clone(),
                    ConnectOk(0),
                    ReadDone(0),
                    Scan,
                    ConnectOk(0),
                    Reply(0),
                    Reply(0),
                    // A delivered file whose deletion failed is not replayed twice.
                    DeletionFailed(0),
                    Scan,
                    ReadDone(0),
                    Reply(0),
                    Reply(0),
                    Unspool(0),
                    Scan,
                ],
            },
        ),
        (
            "request-deadlines-and-unread-requests",
            host::Script {
                config: host::Config {
                    max_links: 2,
                    tick_ms: 500,
                    request_secs: 10,
                    ..config.clone()
                },
                seed: 11,
                ops: vec![
                    submit.clone(),
                    submit.clone(),
                    ConnectOk(0),
                    // Reset before it was read: sent again, at the head; then once more: lost.
                    LinkLostUnread(0),
                    ConnectOk(0),
                    LinkLostUnread(0),
                    ConnectOk(0),
                    // The second request waits on a silent link past its deadline; a third,
                    // and a delayed file read at 11 s, wait for a handshake past theirs.
                    advance(5),
                    submit.clone(),
                    advance(6),
                    Spool {
                        time: 1,
                        count: 0,
                        kind: 0,
                    },
                    Offer,
                    advance(11),
                    // The file stayed: the next scan reads it again, and it is delivered.
                    Offer,
                    ConnectOk(0),
                    Reply(0),
                ],
            },
        ),
        (
            "stop-replay-drains-the-files-in-flight",
            script(vec![
                Spool {
                    time: 1,
                    count: 0,
                    kind: 0,
                },
                Spool {
                    time: 2,
                    count: 0,
                    kind: 0,
                },
                Spool {
                    time: 3,
                    count: 0,
                    kind: 0,
                },
                Offer,
                ConnectOk(0),
                ConnectOk(0),
                StopReplay,
                LinkLostUnread(0),
                Scan,
                Reply(0),
                submit.clone(),
                Reply(0),
            ]),
        ),
        (
            "idle-link-pruned-on-time-across-other-inputs",
            script(vec![
                submit.clone(),
                ConnectOk(0),
                Reply(0),
                // Inputs that leave the host prunable do not restart the idle count.
                advance(50),
                Reset,
                Offer,
                advance(30),
                Reset,
                advance(30),
                advance(101),
            ]),
        ),
    ]
}

fn config() -> Vec<(&'static str, String)> {
    vec![
        (
            "loncapa-conf",
            "# loncapa.conf\n\
             <IfModule mod_perl.c>\n\
             PerlSetVar     lonHostID      msul1\n\
             PerlSetVar     lonSockDir     /home/httpd/sockets\n\
             PerlSetVar     lonDaemons     /home/httpd/perl\n\
             PerlSetVar     lonDocRoot     /home/httpd/html\n\
             PerlSetVar     lonTabDir      /home/httpd/lonTabs\n\
             PerlSetVar     londPort       5663\n\
             </IfModule>\n"
                .into(),
        ),
        (
            "loncapa-conf-quirks",
            "\u{feff}perlsetvar \"lonHostID\" 'msul1'  # trailing\n\
             \tPerlSetVar lonSockDir\n\
             PerlSetVar\n\
             PerlSetVar lonDaemons \"/home/httpd/perl\n\
             PerlSetVar londPort 70000\r\n\
             PerlSetVar lonHostID ../x\n\
             PerlSetVarX ignored value\n"
                .into(),
        ),
        (
            "two-files-merged",
            "PerlSetVar lonHostID msul1\nPerlSetVar lonSockDir /a\n\u{c}\
             PerlSetVar lonSockDir /b\nPerlSetVar lonDaemons /d\nPerlSetVar lonDocRoot /r\n\
             PerlSetVar lonTabDir /t\n"
                .into(),
        ),
        (
            "hosts-tab",
            "# LON-CAPA hosts\n\
             msul1:msu:library:zaphod.lite.msu.edu:35.8.63.51\n\
             \n\
             msua1:msu:access:agrajag.lite.msu.edu:35.8.63.68  \n\
             v6:msu:access:six.example.edu:2001:db8::1\n"
                .into(),
        ),
        (
            "hosts-tab-quirks",
            "msul1:msu:library:a.example.edu:10.0.0.1\r\n\
             msul2:msu:library:b.example.edu:10.0.0.2 # lab\n\
             msul3:msu:library:c.example.edu:10.0.0.3:extra:fields\n\
             msul1:msu:access:dup.example.edu:10.0.0.9\n\
             ../etc:msu:library:d.example.edu:10.0.0.4\n\
             short:msu:library\n\
             bad:msu:library:e.example.edu:not-an-ip\n\
             \t# indented comment\n"
                .into(),
        ),
        (
            "delayed-names",
            "1060000000.3.4242.putmsujdoe.msul1\n\
             1060000000.0.77.putmsujdoeenv.msul1\n\
             1.2.3..a.b\n\
             01.2.3.x.h\n\
             1.2.3.cmd\n\
             x.2.3.cmd.h\n\
             1.2.99999999999999999999.cmd.h\n\
             1.2.3.abcdefghijklmnopq.h\n\
             1.2.3.cmd.a/b\n\
             .tmp.1.2.3\n"
                .into(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbitrary::{Arbitrary, Unstructured};

    #[test]
    fn structured_seeds_decode_to_their_scripts() {
        for (name, s) in link_scripts() {
            let back = link::Script::arbitrary_take_rest(Unstructured::new(&s.encode()));
            assert_eq!(back.as_ref(), Ok(&s), "link seed {name}");
        }
        for (name, s) in session_scripts() {
            let back = session::Script::arbitrary_take_rest(Unstructured::new(&s.encode()));
            assert_eq!(back.as_ref(), Ok(&s), "session seed {name}");
        }
        for (name, s) in host_scripts() {
            let back = host::Script::arbitrary_take_rest(Unstructured::new(&s.encode()));
            assert_eq!(back.as_ref(), Ok(&s), "host seed {name}");
        }
    }

    #[test]
    fn seeds_reach_what_their_names_say() {
        let link: std::collections::BTreeMap<_, _> = link_scripts()
            .into_iter()
            .map(|(n, s)| (n, link::run_script(&s)))
            .collect();
        let o = &link["appendix-handshake-and-transactions"];
        assert!(o.ready && o.replies == 2 && o.closed, "{o:?}");
        let o = &link["handshake-in-one-read"];
        assert!(o.ready && o.replies == 1 && !o.closed, "{o:?}");
        for name in ["refused", "connect-timeout", "wrong-handshake-lines"] {
            assert!(!link[name].ready && link[name].closed, "{name}");
        }
        for name in [
            "step-timeout-mid-reply",
            "line-too-long",
            "unsolicited",
            "hang-ups",
        ] {
            assert!(link[name].ready && link[name].closed, "{name}");
        }
        assert_eq!(link["two-replies"].replies, 1);

        let session: std::collections::BTreeMap<_, _> = session_scripts()
            .into_iter()
            .map(|(n, s)| (n, session::run_script(&s)))
            .collect();
        let o = &session["appendix-handshake-and-requests"];
        assert!(o.ready && o.requests == 2 && o.closed, "{o:?}");
        let o = &session["handshake-in-one-read"];
        assert!(o.ready && o.requests == 1 && !o.closed, "{o:?}");
        for name in ["refuse", "wrong-echo", "handshake-timeout", "line-too-long"] {
            assert!(!session[name].ready && session[name].closed, "{name}");
        }
        assert!(session["bad-enc-request"].closed);
        assert!(session["requests-piling-up"].closed);

        let host: std::collections::BTreeMap<_, _> = host_scripts()
            .into_iter()
            .map(|(n, s)| (n, host::run_script(&s)))
            .collect();
        assert_eq!(host["requests-and-idle-pruning"].replies, 4);
        let o = &host["dead-host-probed-and-revived"];
        assert!(o.was_dead && o.replies == 1, "{o:?}");
        let o = &host["delayed-replay"];
        assert!(o.deleted == 3 && o.replies == 1, "{o:?}");
        assert!(host["queue-full"].con_lost >= 1);
        assert!(host["never-probe"].was_dead);
        assert_eq!(host["delayed-read-waits-for-room-in-the-queue"].deleted, 3);
        let o = &host["replay-window-unreadable-and-delivered-files"];
        assert!(o.deleted == 3 && o.skipped == 1 && o.replies == 1, "{o:?}");
        let o = &host["request-deadlines-and-unread-requests"];
        assert!(
            o.resent == 1 && o.timed_out == 3 && o.con_lost == 3 && o.deleted == 1,
            "{o:?}"
        );
        let o = &host["stop-replay-drains-the-files-in-flight"];
        assert!(o.deleted == 1 && o.replies == 1, "{o:?}");
        assert_eq!(
            host["idle-link-pruned-on-time-across-other-inputs"].replies,
            1
        );
    }

    #[test]
    fn every_seed_passes_its_target() {
        for (target, name, bytes) in all() {
            let run = super::super::TARGETS
                .iter()
                .find(|(t, _)| *t == target)
                .expect("a known target")
                .1;
            let r = std::panic::catch_unwind(|| run(&bytes));
            assert!(r.is_ok(), "{target}/{name}");
        }
    }
}

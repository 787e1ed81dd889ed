//! The metrics scenario: `lonc metrics` and `--metrics-listen`, on either daemon.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;

use lonc_core::metrics::MAX_SCRAPERS;
use lonc_edge::sim::{Faults, free_port};

use super::{Fixture, PATIENCE, closed_unanswered, eventually, lonc, stdout};
use crate::prom::Scraped;

/// One HTTP exchange on a new connection to `addr`: `request` out, everything the daemon
/// answers until it closes.
fn http(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).expect("the metrics address accepts");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.set_write_timeout(Some(PATIENCE)).unwrap();
    s.write_all(request).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)
        .expect("the answer, then the end");
    String::from_utf8(answer).expect("UTF-8")
}

/// The status line and the body of an HTTP answer, its `Content-Length` checked.
#[track_caller]
fn split(answer: &str) -> (&str, &str) {
    let (head, body) = answer.split_once("\r\n\r\n").expect("headers, then a body");
    assert!(
        head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())),
        "{answer}"
    );
    assert!(head.ends_with("\r\nConnection: close"), "{head}");
    (head.lines().next().unwrap_or_default(), body)
}

/// `lonc metrics` prints the daemon's counters in Prometheus' text format, and with
/// `--metrics-listen` the same is served at `GET /metrics` over HTTP; other requests are
/// refused with the right status, silent HTTP clients hold only the few metrics slots, and
/// lonnet is served throughout.
pub fn metrics_are_printed_and_served_over_http(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let port = free_port(&[loopback]).expect("a free port");
    let addr = SocketAddr::new(loopback, port);
    f.start_daemon(&[
        "--retries",
        "1",
        "--probe-min",
        "3600",
        "--probe-max",
        "3600",
        "--connect-timeout",
        "30",
        "--metrics-listen",
        &addr.to_string(),
    ]);
    eventually("the metrics address", || TcpStream::connect(addr).is_ok());
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    assert_eq!(f.ask("alpha", "echo:x"), "x");
    f.assert_con_lost_at_once("gamma", "ping");

    let out = lonc(&f, &["metrics"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let check = |m: &Scraped| {
        assert_eq!(m.value("lonc_hosts", &[]), 3.0);
        assert_eq!(m.value("lonc_requests_total", &[("host", "alpha")]), 2.0);
        assert_eq!(m.value("lonc_replies_total", &[("host", "alpha")]), 2.0);
        let lost =
            |host, cause| m.value("lonc_con_lost_total", &[("host", host), ("cause", cause)]);
        assert_eq!(lost("gamma", "connect_failed"), 1.0);
        assert_eq!(lost("alpha", "connect_failed"), 0.0);
        assert_eq!(m.value("lonc_host_dead", &[("host", "gamma")]), 1.0);
        assert_eq!(m.value("lonc_host_dead", &[("host", "alpha")]), 0.0);
        assert_eq!(
            m.value("lonc_links", &[("host", "alpha"), ("state", "idle")]),
            1.0
        );
        let (buckets, count, sum) = m.histogram("lonc_reply_latency_seconds", &[("host", "alpha")]);
        assert_eq!(count, 2);
        assert!(sum > 0.0, "{sum}");
        assert_eq!(buckets.last(), Some(&(f64::INFINITY, 2.0)));
        let version = format!("{} (", env!("CARGO_PKG_VERSION"));
        assert!(
            m.text
                .contains(&format!("lonc_build_info{{version=\"{version}"))
        );
    };
    check(&Scraped::parse(&stdout(&out)));

    let answer = http(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: lonc\r\nAccept: */*\r\n\r\n",
    );
    let (status, body) = split(&answer);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        answer.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{answer}"
    );
    check(&Scraped::parse(body));

    let status = |request: &[u8]| split(&http(addr, request)).0.to_owned();
    assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), "HTTP/1.1 404 Not Found");
    assert_eq!(
        status(b"DELETE /metrics HTTP/1.1\r\n\r\n"),
        "HTTP/1.1 405 Method Not Allowed"
    );
    assert_eq!(
        status(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
        "HTTP/1.1 400 Bad Request"
    );
    assert_eq!(status(b"status\n"), "HTTP/1.1 400 Bad Request");

    // Silent HTTP clients fill the few slots: one more is closed at once, while lonnet and
    // `lonc metrics` are served; the slots free as the clients go.
    let silent: Vec<TcpStream> = (0..MAX_SCRAPERS)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    eventually("one HTTP client too many refused", || {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        closed_unanswered(s, b"GET /metrics HTTP/1.1\r\n\r\n")
    });
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    assert_eq!(lonc(&f, &["metrics"]).status.code(), Some(0));
    drop(silent);
    eventually("the slots free again", || {
        http(addr, b"GET /metrics HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200 OK\r\n")
    });
}

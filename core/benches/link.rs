//! CPU cost of the link through the pure core: one full handshake, one 100-byte plain
//! transaction, one 100-byte `encrypt:` transaction. Run with `cargo bench -p lonc-core --bench link`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use lonc_core::link::{Link, LinkConfig, LinkEvent};

const BUILD_KEY: &[u8] = b"777A0E0000000DBDBCACC712\n";

/// Best of several rounds of `iters` calls of `f`, in nanoseconds per call.
fn measure(iters: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iters / 10 {
        f();
    }
    (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .fold(f64::INFINITY, f64::min)
}

fn send_all(link: &mut Link, now: Instant, out: &mut BytesMut) {
    out.clear();
    let n = link.poll_transmit(out);
    link.handle_written(now, n)
        .expect("written what was handed out");
}

fn handshake(now: Instant, out: &mut BytesMut) -> Link {
    let mut link = Link::new(now, LinkConfig::default(), "msul1", "msul2");
    link.handle_connected(now);
    for line in [&b"42421050000000\n"[..], b"ok\n", BUILD_KEY] {
        send_all(&mut link, now, out);
        link.handle_input(now, line);
    }
    assert_eq!(link.poll_event(), Some(LinkEvent::Ready));
    link
}

fn transaction(link: &mut Link, now: Instant, out: &mut BytesMut, request: &[u8], reply: &[u8]) {
    link.start(now, request).expect("link is idle");
    send_all(link, now, out);
    link.handle_input(now, reply);
    match link.poll_event() {
        Some(LinkEvent::Reply(r)) => {
            black_box(r);
        }
        other => panic!("expected a reply, got {other:?}"),
    }
}

fn main() {
    let now = Instant::now() + Duration::from_secs(1);
    let mut out = BytesMut::with_capacity(4096);

    let handshake_ns = measure(20_000, || {
        black_box(handshake(now, &mut out));
    });

    let mut link = handshake(now, &mut out);
    let plain_request = vec![b'p'; 100];
    let mut plain_reply = vec![b'r'; 100];
    plain_reply.push(b'\n');
    let plain_ns = measure(200_000, || {
        transaction(&mut link, now, &mut out, &plain_request, &plain_reply)
    });

    let mut encrypt_request = b"encrypt:".to_vec();
    encrypt_request.extend(std::iter::repeat_n(b'e', 100));
    let encrypted_ns = measure(200_000, || {
        transaction(&mut link, now, &mut out, &encrypt_request, &plain_reply)
    });

    println!("lonc-core link benchmark (pure core, one thread, best of 7 rounds)");
    println!("{:<42} {:>10} {:>8}", "operation", "ns/op", "goal");
    for (name, ns, goal) in [
        ("full handshake (client side)", handshake_ns, 20_000.0),
        ("100-byte plain transaction", plain_ns, 2_000.0),
        ("100-byte encrypt: transaction", encrypted_ns, 10_000.0),
    ] {
        let verdict = if ns <= goal { "ok" } else { "MISSED" };
        println!("{name:<42} {ns:>10.0} {goal:>8.0} {verdict}");
    }
}

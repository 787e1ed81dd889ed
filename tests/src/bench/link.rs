//! A blocking driver of the core's [`Link`]: one handshaken TCP link to a lond, one
//! transaction at a time. Set-ups (a) *direct* and (b) *null relay* are built on it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lonc_core::link::{Link, LinkConfig, LinkEvent};

/// One handshaken link to a lond, driven with blocking reads and writes.
pub struct SyncLink {
    stream: TcpStream,
    link: Link,
    out: BytesMut,
    buf: Box<[u8; 4096]>,
}

impl SyncLink {
    /// Connects to `addr` and completes the profile-A handshake as `own_id` talking to
    /// `peer_id`.
    pub fn connect(addr: SocketAddr, peer_id: &str, own_id: &str) -> io::Result<SyncLink> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let now = Instant::now();
        let mut link = Link::new(now, LinkConfig::default(), peer_id, own_id);
        link.handle_connected(now);
        let mut s = SyncLink {
            stream,
            link,
            out: BytesMut::with_capacity(256),
            buf: Box::new([0; 4096]),
        };
        match s.run()? {
            LinkEvent::Ready => Ok(s),
            other => Err(io::Error::other(format!("handshake: {other:?}"))),
        }
    }

    /// One transaction: `request` (no LF; `encrypt:` requests go out as `enc:`) and its reply.
    pub fn transact(&mut self, request: &[u8]) -> io::Result<Bytes> {
        self.link
            .start(Instant::now(), request)
            .map_err(io::Error::other)?;
        match self.run()? {
            LinkEvent::Reply(line) => Ok(line),
            other => Err(io::Error::other(format!("transaction: {other:?}"))),
        }
    }

    /// Drives the link until it has something for its owner (log events are dropped).
    fn run(&mut self) -> io::Result<LinkEvent> {
        loop {
            if self.link.poll_transmit(&mut self.out) > 0 {
                self.stream.write_all(&self.out)?;
                let n = self.out.len();
                self.out.clear();
                self.link
                    .handle_written(Instant::now(), n)
                    .map_err(io::Error::other)?;
                continue;
            }
            match self.link.poll_event() {
                Some(LinkEvent::Log(_)) => continue,
                Some(LinkEvent::Closed { reason, .. }) => {
                    return Err(io::Error::other(format!("link closed: {reason}")));
                }
                Some(event) => return Ok(event),
                None => {}
            }
            let n = self.stream.read(&mut self.buf[..])?;
            if n == 0 {
                self.link.handle_eof(Instant::now());
            } else {
                self.link.handle_input(Instant::now(), &self.buf[..n]);
            }
        }
    }
}

//! A simulated lond built on the core's [`Session`]: the profile-A handshake, `enc:` requests
//! decrypted, and a small command set. The peer of tests, the demo and the benchmarks.
//!
//! Commands: `ping` → its host id, `echo:<text>` → `<text>`, `put:<key>:<value>` → `ok`,
//! `get:<key>` → the value (or `no_such_key`), anything else `unknown_cmd`.
//!
//! One thread accepts; one thread serves each connection with blocking reads and writes (a
//! lond forks a child per connection; a thread is the cheap equivalent). Nothing is logged or
//! allocated per request beyond the reply itself, unless a request log is asked for.
//!
//! [`free_port`] is the one way the suite, the demo and the benchmark choose the port their
//! simulated londs share.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use lonc_core::key::KeySeed;
use lonc_core::session::{Session, SessionConfig, SessionEvent};

/// Faults a simulated lond can be told to commit.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Answer every connection `refused` and close it.
    pub refuse: bool,
    /// Accept connections and never send a byte.
    pub silent: bool,
    /// Close each connection after answering this many requests.
    pub close_after: Option<u64>,
    /// Wait this long before each reply.
    pub delay: Option<Duration>,
    /// Answer every request with a malformed `enc:` line.
    pub garbage: bool,
    /// Read at most this many bytes per read call (a slow reader).
    pub read_chunk: Option<usize>,
    /// Wait this long before each read call: with `read_chunk`, a reader whose top speed is
    /// known, `read_chunk` bytes per `read_delay`. The connections' receive buffers are then
    /// kept to about `read_chunk` bytes, so the kernel does not read far ahead on its behalf.
    pub read_delay: Option<Duration>,
    /// Apply `read_chunk` and `read_delay` to the first this many bytes each connection
    /// receives only, then read at full speed. `None`: to every byte.
    pub slow_bytes: Option<u64>,
    /// Follow every reply, in the same write, with a line nobody asked for (`unasked`): a lond
    /// that breaks the protocol right after it answers.
    pub unasked: bool,
}

/// What a simulated lond is and does.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Its own LON-CAPA host id.
    pub host_id: String,
    /// The host id of its client (the lonc), which lond would find from the source address.
    pub client_id: String,
    /// The faults to commit.
    pub faults: Faults,
    /// Append every request received, decrypted, to this file: `P:<line>` or `E:<line>`.
    pub request_log: Option<PathBuf>,
}

/// Counters of a running simulated lond.
#[derive(Debug, Default)]
pub struct SimStats {
    /// Connections accepted so far.
    pub connections: AtomicU64,
    /// Connections open now.
    pub open_connections: AtomicU64,
    /// Requests received so far.
    pub requests: AtomicU64,
    /// Of those, the ones that came as `enc:`.
    pub encrypted_requests: AtomicU64,
}

struct Shared {
    config: SimConfig,
    stats: SimStats,
    store: Mutex<HashMap<Bytes, Bytes>>,
    log: Option<Mutex<File>>,
    stopping: AtomicBool,
    /// Set by [`Sim::hold_replies`]: replies wait, until it is cleared or the lond stops.
    holding: Mutex<bool>,
    released: Condvar,
    /// Clones of the open connections, to shut them down on stop.
    open: Mutex<HashMap<u64, TcpStream>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running simulated lond; stopped (listener and every connection closed) when dropped or
/// [`Sim::stop`]ped.
pub struct Sim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Sim {
    /// Binds the listener now (so the address is known and connectable on return) and serves
    /// on threads of its own.
    pub fn start(config: SimConfig) -> io::Result<Sim> {
        let receive_buffer = config
            .faults
            .read_delay
            .map(|_| config.faults.read_chunk.unwrap_or(1));
        let listener = listen(config.listen, receive_buffer)?;
        let addr = listener.local_addr()?;
        let log = match &config.request_log {
            Some(path) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )),
            None => None,
        };
        let shared = Arc::new(Shared {
            config,
            stats: SimStats::default(),
            store: Mutex::new(HashMap::new()),
            log,
            stopping: AtomicBool::new(false),
            holding: Mutex::new(false),
            released: Condvar::new(),
            open: Mutex::new(HashMap::new()),
        });
        let s = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name(format!("lond-sim {}", shared.config.host_id))
            .spawn(move || accept_loop(&s, listener))?;
        Ok(Sim {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its counters.
    pub fn stats(&self) -> &SimStats {
        &self.shared.stats
    }

    /// While on, every connection still receives and counts its requests, but their replies
    /// wait until it is turned off (or the lond stops).
    pub fn hold_replies(&self, on: bool) {
        *lock(&self.shared.holding) = on;
        self.shared.released.notify_all();
    }

    /// Stops listening and closes every connection; returns when the listener is closed.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the connections holding replies (under the lock: none misses it).
        drop(lock(&self.shared.holding));
        self.shared.released.notify_all();
        // Wake the acceptor with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let _ = acceptor.join();
        for (_, s) in lock(&self.shared.open).drain() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A TCP port free on every address of `ips` (simulated londs share one `londPort`), for the
/// conformance suite, the demo and the benchmark alike.
///
/// Ports come from 10000 up to the kernel's ephemeral range (`ip_local_port_range`; at most
/// 29999), never from it: a port a test frees for a moment (a lond stopped and started again)
/// is then never handed to a `bind(…:0)` or an outgoing connection elsewhere. Processes start
/// in blocks of 100 ports chosen by their pid, and a counter moves each process on, so calls in
/// one process never return the same port and processes running side by side seldom meet.
/// Every candidate is checked by binding it on each address. An error if no port is free.
pub fn free_port(ips: &[IpAddr]) -> io::Result<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 10_000;
    let high = match ephemeral_low() {
        Some(low) if low >= LOW + 1_000 => low.min(30_000),
        // An ephemeral range that starts this low cannot be kept clear of.
        _ => 30_000,
    };
    let span = high - LOW;
    let base = std::process::id() % (span / 100) * 100;
    let candidates = (0..span).filter_map(|_| {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        u16::try_from(LOW + (base + n) % span).ok()
    });
    first_free(ips, candidates).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("no port of {LOW}-{} free on {ips:?}", high - 1),
        )
    })
}

/// The first of `candidates` that can be bound on every address of `ips`.
fn first_free(ips: &[IpAddr], mut candidates: impl Iterator<Item = u16>) -> Option<u16> {
    candidates.find(|port| ips.iter().all(|ip| TcpListener::bind((*ip, *port)).is_ok()))
}

/// The first port of the kernel's ephemeral range, if it can be read.
fn ephemeral_low() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A listener on `addr` (with `SO_REUSEADDR`, as std's); its connections get a receive buffer
/// of `receive_buffer` bytes if given (the kernel doubles it and keeps a minimum).
fn listen(addr: SocketAddr, receive_buffer: Option<usize>) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if let Some(bytes) = receive_buffer {
        // Set before listen, so the window offered from the handshake on follows it.
        socket.set_recv_buffer_size(bytes)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// The longest line a simulated lond takes. lond itself has no limit; this is far above any
/// daemon limit a test or the benchmark sets.
const MAX_LINE: usize = 256 << 20;

fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    let mut next = 0u64;
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            // Out of descriptors, most likely: breathe instead of spinning.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let id = next;
        next += 1;
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.open).insert(id, clone);
        }
        shared.stats.connections.fetch_add(1, Ordering::Relaxed);
        shared
            .stats
            .open_connections
            .fetch_add(1, Ordering::Relaxed);
        let s = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("lond-sim conn".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                let _ = connection(&s, stream, id);
                lock(&s.open).remove(&id);
                s.stats.open_connections.fetch_sub(1, Ordering::Relaxed);
            });
        if spawned.is_err() {
            lock(&shared.open).remove(&id);
            shared
                .stats
                .open_connections
                .fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn connection(shared: &Shared, mut stream: TcpStream, id: u64) -> io::Result<()> {
    let config = &shared.config;
    stream.set_nodelay(true)?;
    // Room for a whole `read_chunk`, so the chunk is what one read takes.
    let size = config
        .faults
        .read_chunk
        .unwrap_or(0)
        .clamp(16 << 10, 16 << 20);
    let mut buf = vec![0u8; size];
    if config.faults.silent {
        while stream.read(&mut buf)? > 0 {}
        return Ok(());
    }
    let mut session: Session = Session::new(
        Instant::now(),
        SessionConfig {
            max_line: MAX_LINE,
            ..SessionConfig::default()
        },
        &config.host_id,
        &config.client_id,
        draw_seed(),
    );
    if config.faults.refuse {
        session.refuse(Instant::now());
    }
    let mut out = BytesMut::with_capacity(4096);
    let mut answered = 0u64;
    let mut received = 0u64;
    loop {
        let mut closed = false;
        while let Some(event) = session.poll_event() {
            match event {
                SessionEvent::Ready => {}
                SessionEvent::Closed(_) => closed = true,
                SessionEvent::Request { line, encrypted } => {
                    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
                    if encrypted {
                        shared
                            .stats
                            .encrypted_requests
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(log) = &shared.log {
                        let mark: &[u8] = if encrypted { b"E:" } else { b"P:" };
                        let _ = lock(log).write_all(&[mark, &line, b"\n"].concat());
                    }
                    if let Some(d) = config.faults.delay {
                        std::thread::sleep(d);
                    }
                    let held = lock(&shared.holding);
                    let waiting =
                        |held: &mut bool| *held && !shared.stopping.load(Ordering::SeqCst);
                    drop(shared.released.wait_while(held, waiting));
                    if config.faults.garbage {
                        session.send_raw_line(b"enc:zz:not-hex");
                    } else {
                        session.reply(&answer(config, &shared.store, &line));
                    }
                    if config.faults.unasked {
                        session.send_raw_line(b"unasked");
                    }
                    answered += 1;
                }
            }
        }
        session.poll_transmit(&mut out);
        if !out.is_empty() {
            stream.write_all(&out)?;
            let n = out.len();
            out.clear();
            if session.handle_written(Instant::now(), n).is_err() {
                return Ok(());
            }
            continue;
        }
        if closed || config.faults.close_after.is_some_and(|n| answered >= n) {
            // Closed as a lond child closes its end, by exiting: one close(2) of the last
            // descriptor (the clone kept for `Sim::stop` goes first), which sends an end of
            // stream, or a reset if a request waits unread. A shutdown(2) first would open a
            // window no lond has, where the end of stream is out and a request that arrives
            // is neither read nor answered with a reset until the close.
            drop(lock(&shared.open).remove(&id));
            return Ok(());
        }
        let faults = &config.faults;
        let slow = faults.slow_bytes.is_none_or(|n| received < n);
        if slow && let Some(delay) = faults.read_delay {
            std::thread::sleep(delay);
        }
        let timeout = session.poll_timeout().map(|t| {
            t.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        });
        stream.set_read_timeout(timeout)?;
        let chunk = match faults.read_chunk {
            Some(n) if slow => n,
            _ => buf.len(),
        }
        .clamp(1, buf.len());
        match stream.read(&mut buf[..chunk]) {
            Ok(0) => session.handle_eof(Instant::now()),
            Ok(n) => {
                received += n as u64;
                session.handle_input(Instant::now(), &buf[..n])
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                session.handle_timeout(Instant::now())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => session.handle_read_error(Instant::now(), e.kind()),
        }
    }
}

fn answer(config: &SimConfig, store: &Mutex<HashMap<Bytes, Bytes>>, line: &Bytes) -> Bytes {
    let mut parts = line.splitn(3, |&c| c == b':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(b"ping"), None, None) => Bytes::from(config.host_id.clone().into_bytes()),
        (Some(b"echo"), Some(_), _) => line.slice(5..),
        (Some(b"put"), Some(key), Some(value)) => {
            lock(store).insert(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
            Bytes::from_static(b"ok")
        }
        (Some(b"get"), Some(key), None) => lock(store)
            .get(key)
            .cloned()
            .unwrap_or(Bytes::from_static(b"no_such_key")),
        _ => Bytes::from_static(b"unknown_cmd"),
    }
}

/// The numbers lond draws for a session: its pid, the time and three random numbers.
fn draw_seed() -> KeySeed {
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    KeySeed {
        time,
        pid: std::process::id(),
        random: fastrand::u32(0..100_000),
        prefix: fastrand::u32(0..100_000),
        suffix: fastrand::u32(0..100_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn cfg() -> SimConfig {
        SimConfig {
            listen: SocketAddr::new(LOCAL, free_port(&[LOCAL]).unwrap()),
            host_id: "sim1".into(),
            client_id: "me".into(),
            faults: Faults::default(),
            request_log: None,
        }
    }

    #[test]
    fn the_command_set() {
        let store = Mutex::new(HashMap::new());
        let c = cfg();
        let ask = |l: &'static [u8]| answer(&c, &store, &Bytes::from_static(l));
        assert_eq!(ask(b"ping"), "sim1");
        assert_eq!(ask(b"echo:a:b c"), "a:b c");
        assert_eq!(ask(b"echo:"), "");
        assert_eq!(ask(b"get:k"), "no_such_key");
        assert_eq!(ask(b"put:k:v:w"), "ok");
        assert_eq!(ask(b"get:k"), "v:w");
        assert_eq!(ask(b"pingx"), "unknown_cmd");
        assert_eq!(ask(b"ping:x"), "unknown_cmd");
        assert_eq!(ask(b""), "unknown_cmd");
    }

    #[test]
    fn stop_frees_the_port_and_closes_connections() {
        let sim = Sim::start(cfg()).unwrap();
        let addr = sim.addr();
        let mut conn = TcpStream::connect(addr).unwrap();
        conn.write_all(b"init\n").unwrap();
        let mut challenge = vec![0u8; 1];
        conn.read_exact(&mut challenge).unwrap();
        sim.stop();
        // The rest of the challenge line, then the end of the stream (or a reset): a
        // connection left open runs into the read timeout instead.
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        match conn.read_to_end(&mut challenge) {
            Ok(_) => assert_eq!(
                challenge.iter().position(|&b| b == b'\n'),
                Some(challenge.len() - 1),
                "{challenge:?} is not one line"
            ),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
        }
        TcpListener::bind(addr).expect("the port is free again");
    }

    #[test]
    fn free_port_is_free_on_every_address_and_new_in_each_call() {
        let ips = [[127, 0, 0, 2], [127, 0, 0, 3], [127, 0, 0, 4]].map(IpAddr::from);
        let first = free_port(&ips).unwrap();
        let second = free_port(&ips).unwrap();
        assert_ne!(first, second);
        for port in [first, second] {
            assert!((10_000..30_000).contains(&port), "{port}");
            if let Some(low) = ephemeral_low().filter(|low| *low >= 11_000) {
                assert!(u32::from(port) < low, "{port} is in the ephemeral range");
            }
            let held: Vec<TcpListener> = ips
                .iter()
                .map(|ip| TcpListener::bind((*ip, port)).expect("free on every address"))
                .collect();
            drop(held);
        }
    }

    #[test]
    fn a_port_taken_on_one_address_is_passed_over() {
        let ips = [[127, 0, 0, 2], [127, 0, 0, 3]].map(IpAddr::from);
        let [taken, next] = [0, 1].map(|_| free_port(&ips).unwrap());
        let _held = TcpListener::bind((ips[1], taken)).unwrap();
        assert_eq!(first_free(&ips, [taken, next].into_iter()), Some(next));
    }
}

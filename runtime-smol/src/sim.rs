//! A simulated lond built on the core's [`Session`]: the profile-A handshake, `enc:` requests
//! decrypted, and a small command set. The peer of tests, the demo and the benchmarks.
//!
//! Commands: `ping` → its host id, `echo:<text>` → `<text>`, `put:<key>:<value>` → `ok`,
//! `get:<key>` → the value (or `no_such_key`), anything else `unknown_cmd`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_io::{Async, Timer};
use bytes::{Bytes, BytesMut};
use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
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
}

/// What a simulated lond is and does.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub listen: SocketAddr,
    /// Its own LON-CAPA host id.
    pub host_id: String,
    /// The host id of its client (the lonc), which lond would find from the source address.
    pub client_id: String,
    pub faults: Faults,
    /// Append every request received, decrypted, to this file: `P:<line>` or `E:<line>`.
    pub request_log: Option<PathBuf>,
}

/// Counters of a running simulated lond.
#[derive(Debug, Default)]
pub struct SimStats {
    pub connections: AtomicU64,
    pub open_connections: AtomicU64,
    pub requests: AtomicU64,
    pub encrypted_requests: AtomicU64,
}

/// A simulated lond running on its own thread; dropped or [`Sim::stop`]ped, it closes its
/// listener and every connection.
pub struct Sim {
    addr: SocketAddr,
    stats: Arc<SimStats>,
    stop: Option<smol::channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sim {
    /// Binds the listener now (so the address is known and connectable on return) and serves
    /// on a thread of its own.
    pub fn start(config: SimConfig) -> io::Result<Sim> {
        let listener = TcpListener::bind(config.listen)?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(SimStats::default());
        let (tx, rx) = smol::channel::bounded::<()>(1);
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name(format!("lond-sim {}", config.host_id))
            .spawn(move || {
                let ex = smol::LocalExecutor::new();
                let result = smol::block_on(ex.run(async {
                    serve(&ex, listener, config, thread_stats)
                        .or(async {
                            // Resolves when the sender is dropped.
                            let _ = rx.recv().await;
                            Ok(())
                        })
                        .await
                }));
                if let Err(e) = result {
                    eprintln!("lond-sim: {e}");
                }
            })?;
        Ok(Sim {
            addr,
            stats,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its counters.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// Stops listening and closes every connection; returns when the port is free.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Serves until the future is dropped.
pub async fn serve(
    ex: &smol::LocalExecutor<'_>,
    listener: TcpListener,
    config: SimConfig,
    stats: Arc<SimStats>,
) -> io::Result<()> {
    let listener = Async::new(listener)?;
    let store = Rc::new(RefCell::new(HashMap::<Bytes, Bytes>::new()));
    let log = match &config.request_log {
        Some(path) => Some(Arc::new(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ))),
        None => None,
    };
    let config = Rc::new(config);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            // Out of descriptors or a connection reset before accept: keep serving.
            Err(_) => {
                Timer::after(Duration::from_millis(10)).await;
                continue;
            }
        };
        stats.connections.fetch_add(1, Ordering::Relaxed);
        let (config, store, stats, log) =
            (config.clone(), store.clone(), stats.clone(), log.clone());
        ex.spawn(async move {
            stats.open_connections.fetch_add(1, Ordering::Relaxed);
            let _ = connection(stream, &config, &store, &stats, log.as_deref()).await;
            stats.open_connections.fetch_sub(1, Ordering::Relaxed);
        })
        .detach();
    }
}

async fn connection(
    mut stream: Async<TcpStream>,
    config: &SimConfig,
    store: &RefCell<HashMap<Bytes, Bytes>>,
    stats: &SimStats,
    log: Option<&Mutex<std::fs::File>>,
) -> io::Result<()> {
    let _ = stream.get_ref().set_nodelay(true);
    if config.faults.silent {
        // Read and discard until the client gives up.
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        return Ok(());
    }
    let now = Instant::now();
    let seed = draw_seed();
    let mut session: Session = Session::new(
        now,
        SessionConfig::default(),
        &config.host_id,
        &config.client_id,
        seed,
    );
    if config.faults.refuse {
        session.refuse(now);
    }
    let mut out = BytesMut::with_capacity(4096);
    let mut buf = vec![0u8; 16 * 1024];
    let mut answered = 0u64;
    loop {
        let mut closed = false;
        while let Some(event) = session.poll_event() {
            match event {
                SessionEvent::Ready => {}
                SessionEvent::Closed(_) => closed = true,
                SessionEvent::Request { line, encrypted } => {
                    stats.requests.fetch_add(1, Ordering::Relaxed);
                    if encrypted {
                        stats.encrypted_requests.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(log) = log {
                        let mut f = log.lock().unwrap_or_else(|e| e.into_inner());
                        let mark: &[u8] = if encrypted { b"E:" } else { b"P:" };
                        let _ = f.write_all(&[mark, &line, b"\n"].concat());
                    }
                    if let Some(d) = config.faults.delay {
                        Timer::after(d).await;
                    }
                    if config.faults.garbage {
                        session.send_raw_line(b"enc:zz:not-hex");
                    } else {
                        session.reply(&answer(config, store, &line));
                    }
                    answered += 1;
                }
            }
        }
        session.poll_transmit(&mut out);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            let n = out.len();
            out.clear();
            if session.handle_written(Instant::now(), n).is_err() {
                return Ok(());
            }
            continue;
        }
        if closed || config.faults.close_after.is_some_and(|n| answered >= n) {
            return Ok(());
        }
        let read = stream.read(&mut buf);
        let n = match session.poll_timeout() {
            Some(deadline) => {
                let timeout = async {
                    Timer::at(deadline).await;
                    Err(io::ErrorKind::TimedOut.into())
                };
                match read.or(timeout).await {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                        session.handle_timeout(Instant::now());
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            None => read.await?,
        };
        if n == 0 {
            session.handle_eof(Instant::now());
        } else {
            session.handle_input(Instant::now(), &buf[..n]);
        }
    }
}

fn answer(config: &SimConfig, store: &RefCell<HashMap<Bytes, Bytes>>, line: &Bytes) -> Bytes {
    let mut parts = line.splitn(3, |&c| c == b':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(b"ping"), None, None) => Bytes::from(config.host_id.clone().into_bytes()),
        (Some(b"echo"), Some(_), _) => line.slice(5..),
        (Some(b"put"), Some(key), Some(value)) => {
            store
                .borrow_mut()
                .insert(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
            Bytes::from_static(b"ok")
        }
        (Some(b"get"), Some(key), None) => store
            .borrow()
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

    fn cfg() -> SimConfig {
        SimConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            host_id: "sim1".into(),
            client_id: "me".into(),
            faults: Faults::default(),
            request_log: None,
        }
    }

    #[test]
    fn the_command_set() {
        let store = RefCell::new(HashMap::new());
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
}

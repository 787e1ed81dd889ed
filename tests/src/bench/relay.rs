//! Set-up (b), the *null relay*: the simplest possible UNIX→TCP relay. A pool of threads
//! blocks in `accept` on one UNIX socket; each serves its connection line by line, taking a
//! handshaken link from a mutex-guarded stack (or opening one while fewer than `max_links`
//! exist, else waiting for one to come back). No request queue, no timers, no logging.
//! It is the ceiling for any daemon with lonc's socket model. With no links allowed it answers
//! every request `con_lost` at once: the floor for a daemon's answer about a dead host.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use super::link::SyncLink;

struct Pool {
    addr: SocketAddr,
    peer_id: String,
    own_id: String,
    max_links: usize,
    /// Idle links, and how many links exist in all.
    links: Mutex<(Vec<SyncLink>, usize)>,
    returned: Condvar,
}

impl Pool {
    fn take(&self) -> io::Result<SyncLink> {
        if self.max_links == 0 {
            return Err(io::ErrorKind::NotConnected.into());
        }
        let mut g = self.links.lock().unwrap();
        loop {
            if let Some(link) = g.0.pop() {
                return Ok(link);
            }
            if g.1 < self.max_links {
                g.1 += 1;
                drop(g);
                return SyncLink::connect(self.addr, &self.peer_id, &self.own_id).inspect_err(
                    |_| {
                        self.links.lock().unwrap().1 -= 1;
                    },
                );
            }
            g = self.returned.wait(g).unwrap();
        }
    }

    fn give_back(&self, link: Option<SyncLink>) {
        let mut g = self.links.lock().unwrap();
        match link {
            Some(link) => g.0.push(link),
            None => g.1 -= 1,
        }
        drop(g);
        self.returned.notify_one();
    }
}

/// A running null relay; stopped when dropped.
pub struct NullRelay {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl NullRelay {
    /// Listens on `path` with `threads` accepting threads and relays to the lond at `addr`
    /// over at most `max_links` links (none: every request is answered `con_lost`).
    pub fn start(
        path: &Path,
        addr: SocketAddr,
        peer_id: &str,
        own_id: &str,
        threads: usize,
        max_links: usize,
    ) -> io::Result<NullRelay> {
        let _ = std::fs::remove_file(path);
        let listener = Arc::new(UnixListener::bind(path)?);
        let pool = Arc::new(Pool {
            addr,
            peer_id: peer_id.into(),
            own_id: own_id.into(),
            max_links,
            links: Mutex::new((Vec::new(), 0)),
            returned: Condvar::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for _ in 0..threads.max(1) {
            let (listener, pool, stop) = (listener.clone(), pool.clone(), stop.clone());
            handles.push(
                std::thread::Builder::new()
                    .name("null-relay".into())
                    .stack_size(64 * 1024)
                    .spawn(move || {
                        while let Ok((stream, _)) = listener.accept() {
                            if stop.load(Ordering::SeqCst) {
                                return;
                            }
                            let _ = serve(&pool, stream);
                        }
                    })?,
            );
        }
        Ok(NullRelay {
            path: path.to_path_buf(),
            stop,
            threads: handles,
        })
    }
}

impl Drop for NullRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake every accepting thread with a connection of our own.
        let wakers: Vec<_> = (0..self.threads.len())
            .filter_map(|_| UnixStream::connect(&self.path).ok())
            .collect();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        drop(wakers);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One client connection: lines in, replies out, until the client closes.
fn serve(pool: &Pool, mut stream: UnixStream) -> io::Result<()> {
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 4096];
    let mut reply = Vec::with_capacity(256);
    loop {
        let line_end = loop {
            if let Some(i) = buf.iter().position(|&b| b == b'\n') {
                break i;
            }
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let answer = pool.take().and_then(|mut link| {
            let r = link.transact(&buf[..line_end]);
            pool.give_back(r.is_ok().then_some(link));
            r
        });
        buf.drain(..=line_end);
        reply.clear();
        match answer {
            Ok(line) => reply.extend_from_slice(&line),
            Err(_) => reply.extend_from_slice(b"con_lost"),
        }
        reply.push(b'\n');
        stream.write_all(&reply)?;
    }
}

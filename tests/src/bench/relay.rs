//! Set-up (b), the *null relay*: the simplest possible UNIX→TCP relay. A pool of threads
//! blocks in `accept` on one UNIX socket; each serves its connection line by line, taking a
//! handshaken link from a mutex-guarded stack (or opening one while fewer than `max_links`
//! exist, else waiting for one to come back). No request queue, no timers, no logging.
//! It is the ceiling for any daemon with lonc's socket model. With no links allowed it answers
//! every request `con_lost` at once: the floor for a daemon's answer about a dead host.
//!
//! The benchmark runs it as a process of its own ([`RelayProcess`]), started like the daemons,
//! so that its CPU time per request is read from `/proc/<pid>` exactly as theirs is. The
//! process is the bench's own executable re-run by a [`Launcher`]: `lonc-bench relay`, or, in a
//! test binary, one `#[ignore]`d test that calls [`serve_if_asked`]. Either way the relay's
//! settings travel in the environment variable [`SPEC_VAR`].

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

/// The environment variable that carries a relay process's [`RelaySpec`].
pub const SPEC_VAR: &str = "LONC_BENCH_RELAY";

/// What one relay process serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelaySpec {
    /// The UNIX socket it listens on.
    pub socket: PathBuf,
    /// The lond it relays to.
    pub lond: SocketAddr,
    pub peer_id: String,
    pub own_id: String,
    /// Threads blocking in `accept`.
    pub threads: usize,
    /// Most links (0: every request is answered `con_lost` at once).
    pub max_links: usize,
}

impl RelaySpec {
    /// The spec as the value of [`SPEC_VAR`]: tab-separated fields, the socket path last.
    pub fn encode(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            self.lond,
            self.peer_id,
            self.own_id,
            self.threads,
            self.max_links,
            self.socket.display()
        )
    }

    pub fn decode(value: &str) -> Option<RelaySpec> {
        let mut f = value.splitn(6, '\t');
        Some(RelaySpec {
            lond: f.next()?.parse().ok()?,
            peer_id: f.next()?.into(),
            own_id: f.next()?.into(),
            threads: f.next()?.parse().ok()?,
            max_links: f.next()?.parse().ok()?,
            socket: f.next()?.into(),
        })
    }
}

/// Runs the relay of [`SPEC_VAR`] until the process is killed, if the variable is set; returns
/// at once otherwise. The entry point of the relay process.
pub fn serve_if_asked() {
    let Ok(value) = std::env::var(SPEC_VAR) else {
        return;
    };
    let spec = match RelaySpec::decode(&value) {
        Some(spec) => spec,
        None => {
            eprintln!("null relay: cannot parse {SPEC_VAR}={value:?}");
            std::process::exit(2);
        }
    };
    // Die with the bench, should it die without stopping us.
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a property of this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
    }
    // Bind under a temporary name and rename once listening, so that the socket appears only
    // when it accepts.
    let tmp = spec.socket.with_extension("binding");
    let started = NullRelay::start(
        &tmp,
        spec.lond,
        &spec.peer_id,
        &spec.own_id,
        spec.threads,
        spec.max_links,
    )
    .and_then(|relay| {
        std::fs::rename(&tmp, &spec.socket)?;
        Ok(relay)
    });
    match started {
        Ok(relay) => {
            // The threads serve; this one waits to be killed.
            loop {
                std::thread::park();
                let _ = &relay;
            }
        }
        Err(e) => {
            eprintln!("null relay: {}: {e}", spec.socket.display());
            std::process::exit(1);
        }
    }
}

/// How the bench starts a relay process: a program (the bench's own executable) and the
/// arguments that make it call [`serve_if_asked`].
#[derive(Clone, Debug)]
pub struct Launcher {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl Launcher {
    /// `lonc-bench relay`: this executable with the hidden `relay` sub-command.
    pub fn bench_subcommand() -> io::Result<Launcher> {
        Ok(Launcher {
            program: std::env::current_exe()?,
            args: vec!["relay".into()],
        })
    }

    /// This test binary running only the test `name`, which must call [`serve_if_asked`] (and
    /// be `#[ignore]`d, so that it does nothing in an ordinary run).
    pub fn test_binary(name: &str) -> io::Result<Launcher> {
        Ok(Launcher {
            program: std::env::current_exe()?,
            args: [
                name,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ]
            .map(String::from)
            .to_vec(),
        })
    }
}

/// A null relay running as a process of its own; killed when dropped.
pub struct RelayProcess {
    child: Child,
    socket: PathBuf,
}

impl RelayProcess {
    /// Starts the relay of `spec` with `launcher`; returns once its socket accepts.
    pub fn start(launcher: &Launcher, spec: &RelaySpec) -> io::Result<RelayProcess> {
        let _ = std::fs::remove_file(&spec.socket);
        let child = Command::new(&launcher.program)
            .args(&launcher.args)
            .env(SPEC_VAR, spec.encode())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut relay = RelayProcess {
            child,
            socket: spec.socket.clone(),
        };
        let end = Instant::now() + Duration::from_secs(30);
        while !relay.socket.exists() {
            if let Some(status) = relay.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "the null relay process ({}) exited at start: {status}",
                    launcher.program.display()
                )));
            }
            if Instant::now() > end {
                return Err(io::Error::other("the null relay: no socket after 30 s"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(relay)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_survives_its_encoding() {
        let spec = RelaySpec {
            socket: "/tmp/a dir/with\ttab/alpha".into(),
            lond: "127.0.0.2:5663".parse().unwrap(),
            peer_id: "alpha".into(),
            own_id: "me".into(),
            threads: 72,
            max_links: 10,
        };
        assert_eq!(RelaySpec::decode(&spec.encode()), Some(spec));
        assert_eq!(RelaySpec::decode("nonsense"), None);
    }
}

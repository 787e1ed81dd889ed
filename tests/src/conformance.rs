//! The daemon conformance suite: scenarios run against a real `lonc` binary (either runtime),
//! with temporary directories, real UNIX sockets and simulated londs on loopback addresses.
//!
//! Each runtime instantiates the whole suite with [`conformance_suite!`](crate::conformance_suite)
//! and the path of its binary, so every scenario is written once and run against both.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lonc_client::{Client, ReplyError};
use lonc_edge::sim::{Faults, Sim, SimConfig, free_port};

/// Instantiates every scenario as a `#[test]` for the daemon binary at `$bin`.
#[macro_export]
macro_rules! conformance_suite {
    ($bin:expr) => {
        $crate::conformance_tests!($bin;
            plain_and_encrypted_requests_are_answered,
            several_clients_share_at_most_max_links,
            a_request_while_the_peer_is_down_is_con_lost,
            a_dead_host_answers_at_once_and_usr1_revives_it,
            a_dead_host_comes_back_by_itself,
            usr1_writes_the_status_file,
            a_delayed_file_is_replayed_once_deleted_and_logged,
            hup_with_a_changed_hosts_tab_adds_and_removes_sockets,
            term_removes_the_socket_and_pid_files,
            hostile_clients_leave_the_daemon_serving_others,
            a_garbage_peer_costs_only_its_transaction,
            a_client_may_send_several_requests_on_one_connection,
            a_missing_host_id_is_one_line_and_status_2,
            send_and_critical_from_the_command_line,
            a_slow_reading_client_gets_a_large_reply_whole,
            a_slow_reading_peer_gets_a_large_request_whole,
            a_stalled_peer_is_timed_out,
            term_lets_a_waiting_client_finish,
            usr2_toggles_debug_logging,
            daemonize_detaches_and_serves,
            the_demo_runs_and_exits_0,
            running_out_of_descriptors_is_logged_sparingly_and_survived,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! conformance_tests {
    ($bin:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::conformance::$name(::std::path::Path::new($bin));
            }
        )*
    };
}

/// The bound on every wait for the daemon (it normally takes milliseconds).
const PATIENCE: Duration = Duration::from_secs(20);

/// The bound on an answer due at once (a dead host, a refused connection, a malformed reply):
/// scenarios that claim one configure the timeout a wrong daemon would wait for (connect,
/// step) to at least ten times this.
const AT_ONCE: Duration = Duration::from_secs(3);

/// The bound on an answer due within a configured timeout: a generous multiple of it.
fn within(timeout: Duration) -> Duration {
    timeout * 10
}

/// Asks `ready` every few milliseconds until it holds or `PATIENCE` runs out.
pub fn eventually(what: &str, mut ready: impl FnMut() -> bool) {
    let end = Instant::now() + PATIENCE;
    while !ready() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// True once the daemon listens on the socket `path`. The file exists from `bind` on, a moment
/// before `listen`, when a connection would still be refused; so ask with a connection.
pub fn accepting(path: &Path) -> bool {
    UnixStream::connect(path).is_ok()
}

/// The hosts of a fixture: our own id `me` and peers on 127.0.0.2 upwards.
pub const PEERS: [(&str, [u8; 4]); 3] = [
    ("alpha", [127, 0, 0, 2]),
    ("beta", [127, 0, 0, 3]),
    ("gamma", [127, 0, 0, 4]),
];

/// A LON-CAPA layout in a temporary directory, simulated londs and the daemon under test.
pub struct Fixture {
    pub bin: PathBuf,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub conf: PathBuf,
    pub hosts_file: PathBuf,
    pub sock_dir: PathBuf,
    pub logs: PathBuf,
    pub status_file: PathBuf,
    daemon: Option<Child>,
    sims: HashMap<String, Sim>,
}

impl Fixture {
    /// A layout whose hosts.tab lists `me` and every peer of [`PEERS`].
    pub fn new(bin: &Path) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let ips = PEERS.map(|(_, ip)| IpAddr::from(ip));
        let port = free_port(&ips).expect("a port free on every peer address");
        let (sock_dir, logs) = (root.join("sockets"), root.join("perl/logs"));
        std::fs::create_dir_all(sock_dir.join("delayed")).unwrap();
        std::fs::create_dir_all(root.join("lonTabs")).unwrap();
        let conf = root.join("loncapa.conf");
        std::fs::write(
            &conf,
            format!(
                "PerlSetVar lonHostID me\nPerlSetVar lonSockDir {}\nPerlSetVar lonDaemons {}\n\
                 PerlSetVar lonDocRoot {}\nPerlSetVar lonTabDir {}\nPerlSetVar londPort {port}\n",
                sock_dir.display(),
                root.join("perl").display(),
                root.join("html").display(),
                root.join("lonTabs").display(),
            ),
        )
        .unwrap();
        let hosts_file = root.join("lonTabs/hosts.tab");
        let f = Fixture {
            bin: bin.to_path_buf(),
            port,
            conf,
            hosts_file,
            status_file: root.join("html/lon-status/loncstatus.txt"),
            sock_dir,
            logs,
            dir,
            daemon: None,
            sims: HashMap::new(),
        };
        f.write_hosts(&["alpha", "beta", "gamma"]);
        f
    }

    /// Rewrites hosts.tab with `me` and the named peers.
    pub fn write_hosts(&self, peers: &[&str]) {
        let mut text = String::from("# test hosts\nme:test:library:me.test:127.0.0.1\n");
        for (id, ip) in PEERS.iter().filter(|(id, _)| peers.contains(id)) {
            let ip = Ipv4Addr::from(*ip);
            text.push_str(&format!("{id}:test:access:{id}.test:{ip}\n"));
        }
        std::fs::write(&self.hosts_file, text).unwrap();
    }

    fn addr(&self, host: &str) -> SocketAddr {
        let ip = PEERS
            .iter()
            .find(|(id, _)| *id == host)
            .expect("a known peer")
            .1;
        SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), self.port)
    }

    /// Starts a simulated lond for `host`, logging its requests to `<dir>/<host>.requests`.
    pub fn start_sim(&mut self, host: &str, faults: Faults) {
        let log = self.dir.path().join(format!("{host}.requests"));
        self.start_sim_logging(host, faults, Some(log));
    }

    /// [`Fixture::start_sim`] without the request log: for requests too large to copy to a
    /// file between the last byte read and the reply.
    pub fn start_sim_unlogged(&mut self, host: &str, faults: Faults) {
        self.start_sim_logging(host, faults, None);
    }

    fn start_sim_logging(&mut self, host: &str, faults: Faults, request_log: Option<PathBuf>) {
        let config = SimConfig {
            listen: self.addr(host),
            host_id: host.into(),
            client_id: "me".into(),
            faults,
            request_log,
        };
        // A lond started again on its port may find the port still held for a moment by the
        // connections of the one before; wait until the kernel lets it go.
        let mut started = None;
        eventually("the simulated lond to listen", || {
            match Sim::start(config.clone()) {
                Ok(sim) => started = Some(sim),
                Err(e) => assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e}"),
            }
            started.is_some()
        });
        self.sims.insert(host.into(), started.expect("listening"));
    }

    pub fn stop_sim(&mut self, host: &str) {
        if let Some(sim) = self.sims.remove(host) {
            sim.stop();
        }
    }

    pub fn sim(&self, host: &str) -> &Sim {
        &self.sims[host]
    }

    /// The requests `host`'s lond received, as `P:<line>` / `E:<line>`.
    pub fn sim_requests(&self, host: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join(format!("{host}.requests")))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Starts the daemon with extra flags and waits until its sockets exist.
    pub fn start_daemon(&mut self, extra: &[&str]) {
        self.start_daemon_limited(None, extra);
    }

    /// [`Fixture::start_daemon`], with at most `open_files` descriptors (`RLIMIT_NOFILE`) if
    /// given.
    pub fn start_daemon_limited(&mut self, open_files: Option<u64>, extra: &[&str]) {
        use std::os::unix::process::CommandExt as _;
        let mut command = Command::new(&self.bin);
        command
            .arg("--conf")
            .arg(&self.conf)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(n) = open_files {
            let limit = libc::rlimit {
                rlim_cur: n as libc::rlim_t,
                rlim_max: n as libc::rlim_t,
            };
            // SAFETY: setrlimit(2) is async-signal-safe, and `limit` is a plain copy.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let child = command.spawn().expect("the daemon starts");
        self.daemon = Some(child);
        let sockets: Vec<PathBuf> = ["alpha", "beta", "gamma"]
            .iter()
            .map(|h| self.sock_dir.join(h))
            .collect();
        eventually("the daemon's sockets", || {
            sockets.iter().all(|s| accepting(s))
        });
    }

    pub fn pid(&self) -> u32 {
        self.daemon.as_ref().expect("daemon running").id()
    }

    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.pid() as libc::pid_t, signal);
        }
    }

    /// Waits for the daemon to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let child = self.daemon.as_mut().expect("daemon running");
        let mut status = None;
        eventually("the daemon to exit", || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        });
        self.daemon = None;
        status.expect("exited")
    }

    /// A client of the daemon's sockets, patient for [`PATIENCE`].
    pub fn client(&self) -> Client {
        Client::new(&self.sock_dir).with_timeout(PATIENCE)
    }

    /// One request through the daemon; the daemon's answer as text. Panics if the daemon did
    /// not answer: only a whole line the daemon wrote counts, never the client giving up.
    #[track_caller]
    pub fn ask(&self, host: &str, request: &str) -> String {
        self.ask_within(host, request, PATIENCE)
    }

    /// [`Fixture::ask`], the whole exchange bounded by `bound`.
    #[track_caller]
    pub fn ask_within(&self, host: &str, request: &str, bound: Duration) -> String {
        let client = self.client().with_timeout(bound);
        String::from_utf8_lossy(&answer(&client, host, request.as_bytes())).into_owned()
    }

    /// [`Fixture::ask`], to be answered `con_lost` at once ([`AT_ONCE`]).
    #[track_caller]
    pub fn assert_con_lost_at_once(&self, host: &str, request: &str) {
        assert_eq!(self.ask_within(host, request, AT_ONCE), "con_lost");
    }

    pub fn lonc_log(&self) -> String {
        std::fs::read_to_string(self.logs.join("lonc.log")).unwrap_or_default()
    }

    pub fn perm_log(&self) -> String {
        std::fs::read_to_string(self.logs.join("lonnet.perm.log")).unwrap_or_default()
    }
}

/// The daemon's answer to `request` through `client`. Panics if no whole line came back
/// (no socket, refused, the client's timeout, end of stream before the line): the daemon did
/// not answer.
#[track_caller]
pub fn answer(client: &Client, host: &str, request: &[u8]) -> Vec<u8> {
    let started = Instant::now();
    match client.try_reply(host, request) {
        Ok(line) => line,
        Err(ReplyError::ConLost(e)) => {
            let why = match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => "no line before the bound",
                ErrorKind::UnexpectedEof => "closed before a whole line",
                _ => "no exchange",
            };
            panic!(
                "the daemon did not answer {host} {:?} within {:?}: {why} ({e}, after {:?})",
                short(request),
                client.timeout(),
                started.elapsed()
            )
        }
        Err(ReplyError::Invalid(e)) => panic!("not a request: {e}"),
    }
}

/// A request as a failure message shows it: at most 60 bytes.
fn short(request: &[u8]) -> String {
    let text = String::from_utf8_lossy(&request[..request.len().min(60)]).into_owned();
    if request.len() > 60 {
        format!("{text}... ({} bytes)", request.len())
    } else {
        text
    }
}

/// Reads from a raw connection to the daemon up to and including the first LF, one byte at a
/// time (nothing after the LF is taken), giving up after `bound`. Panics if the daemon closes
/// first or the bound passes: only a whole line counts.
#[track_caller]
pub fn read_line(stream: &mut UnixStream, bound: Duration) -> Vec<u8> {
    let end = Instant::now() + bound;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the daemon did not answer within {bound:?}; read so far: {:?}",
            short(&line)
        );
        stream.set_read_timeout(Some(left)).expect("a read timeout");
        match stream.read(&mut byte) {
            Ok(0) => panic!(
                "the daemon closed the connection before a whole line; read so far: {:?}",
                short(&line)
            ),
            Ok(_) => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    return line;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!(
                "reading the daemon's answer: {e}; read so far: {:?}",
                short(&line)
            ),
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What the daemon saw, for the failure report.
            eprintln!(
                "---- lonc.log of the failed scenario ----\n{}",
                self.lonc_log()
            );
        }
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------- scenarios

pub fn plain_and_encrypted_requests_are_answered(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&[]);
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    assert_eq!(f.ask("alpha", "echo:a b:c"), "a b:c");
    assert_eq!(f.ask("alpha", "encrypt:echo:my secret"), "my secret");
    assert_eq!(f.ask("alpha", "put:k:v"), "ok");
    assert_eq!(f.ask("alpha", "encrypt:get:k"), "v");
    assert_eq!(
        f.sim_requests("alpha"),
        vec![
            "P:ping",
            "P:echo:a b:c",
            "E:echo:my secret",
            "P:put:k:v",
            "E:get:k"
        ]
    );
    assert!(
        !f.lonc_log().contains("my secret"),
        "encrypted requests never reach the log"
    );
}

pub fn several_clients_share_at_most_max_links(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim(
        "alpha",
        Faults {
            delay: Some(Duration::from_millis(20)),
            ..Faults::default()
        },
    );
    f.start_daemon(&["--max-links", "3"]);
    let client = f.client();
    let threads: Vec<_> = (0..24)
        .map(|i| {
            let client = client.clone();
            std::thread::spawn(move || {
                let reply = answer(&client, "alpha", format!("echo:{i}").as_bytes());
                assert_eq!(reply, format!("{i}").into_bytes());
            })
        })
        .collect();
    for t in threads {
        t.join().expect("every client is answered");
    }
    let stats = f.sim("alpha").stats();
    assert_eq!(stats.requests.load(Ordering::Relaxed), 24);
    let links = stats.connections.load(Ordering::Relaxed);
    assert!((1..=3).contains(&links), "{links} links opened");
}

/// A refused connection is answered `con_lost` at once, not after the connect timeout; the
/// host is not dead after one failure, so the next request connects again.
pub fn a_request_while_the_peer_is_down_is_con_lost(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_daemon(&["--connect-timeout", "30"]);
    f.assert_con_lost_at_once("beta", "ping");
    f.start_sim("beta", Faults::default());
    assert_eq!(f.ask("beta", "ping"), "beta", "the next request connects");
}

pub fn a_dead_host_answers_at_once_and_usr1_revives_it(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_daemon(&[
        "--retries",
        "2",
        "--probe-min",
        "3600",
        "--probe-max",
        "3600",
        "--connect-timeout",
        "30",
        "--step-timeout",
        "60",
    ]);
    f.assert_con_lost_at_once("gamma", "ping");
    f.assert_con_lost_at_once("gamma", "ping");
    eventually("the host marked dead", || {
        f.lonc_log().contains("Host marked DEAD: gamma")
    });
    f.start_sim("gamma", Faults::default());
    // Dead: answered at once without a connection attempt, although the lond is up now.
    f.assert_con_lost_at_once("gamma", "ping");
    assert_eq!(
        f.sim("gamma").stats().connections.load(Ordering::Relaxed),
        0
    );
    f.signal(libc::SIGUSR1);
    eventually("USR1 to revive the host", || {
        f.ask("gamma", "ping") == "gamma"
    });
}

/// With `--retries 1` and short probe delays, a host whose lond is down is marked dead and
/// answered at once; once its lond is up, a probe revives it with no signal, and requests
/// reach the lond again.
pub fn a_dead_host_comes_back_by_itself(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_daemon(&[
        "--retries",
        "1",
        "--probe-min",
        "0.2",
        "--probe-max",
        "0.5",
        "--connect-timeout",
        "30",
        "--step-timeout",
        "60",
    ]);
    f.assert_con_lost_at_once("beta", "ping");
    eventually("the host marked dead", || {
        f.lonc_log().contains("Host marked DEAD: beta")
    });
    // A lond that accepts and never answers: a request sent to it would wait for the step
    // timeout, 60 s. Dead, the host answers at once.
    f.start_sim(
        "beta",
        Faults {
            silent: true,
            ..Faults::default()
        },
    );
    f.assert_con_lost_at_once("beta", "ping");
    f.stop_sim("beta");
    f.start_sim("beta", Faults::default());
    eventually("a probe to revive the host", || {
        f.lonc_log().contains("Host beta is reachable again")
    });
    assert_eq!(f.ask("beta", "ping"), "beta");
}

pub fn usr1_writes_the_status_file(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&[]);
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    f.signal(libc::SIGUSR1);
    eventually("the status file", || {
        std::fs::read_to_string(&f.status_file).is_ok_and(|s| s.lines().count() == 5)
    });
    let status = std::fs::read_to_string(&f.status_file).unwrap();
    let mut lines = status.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("LONC status "), "{header}");
    assert!(
        header.ends_with(&format!(" - parent {} ", f.pid())),
        "{header}"
    );
    assert_eq!(lines.next(), Some(""));
    let alpha: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(alpha[0], f.pid().to_string());
    assert_eq!(alpha[1], "alpha");
    assert!(
        alpha[2].ends_with("alpha Connection count: 1 Retries remaining: 5"),
        "{}",
        alpha[2]
    );
}

pub fn a_delayed_file_is_replayed_once_deleted_and_logged(bin: &Path) {
    let mut f = Fixture::new(bin);
    let delayed = f.sock_dir.join("delayed");
    let name = "1700000000.1.4242.putgrade.alpha";
    std::fs::write(delayed.join(name), "put:grade:A\n").unwrap();
    std::fs::write(delayed.join("1700000000.1.4242.put.beta"), "put:x:y\n").unwrap();
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&[]);
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    eventually("the delayed file to be delivered", || {
        !delayed.join(name).exists()
    });
    assert_eq!(f.ask("alpha", "get:grade"), "A");
    let replays = f
        .sim_requests("alpha")
        .iter()
        .filter(|r| *r == "P:put:grade:A")
        .count();
    assert_eq!(replays, 1);
    assert!(
        f.perm_log().contains(":S:alpha:put:grade:A:"),
        "{}",
        f.perm_log()
    );
    assert!(f.lonc_log().contains("A delayed transaction was completed"));
    assert!(
        delayed.join("1700000000.1.4242.put.beta").exists(),
        "another host's file stays"
    );
}

pub fn hup_with_a_changed_hosts_tab_adds_and_removes_sockets(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.write_hosts(&["alpha", "beta", "gamma"]);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&[]);
    f.write_hosts(&["alpha", "beta"]);
    f.signal(libc::SIGHUP);
    eventually("gamma's socket to go", || {
        !f.sock_dir.join("gamma").exists()
    });
    assert!(f.sock_dir.join("beta").exists());
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    f.write_hosts(&["alpha", "beta", "gamma"]);
    f.signal(libc::SIGHUP);
    eventually("gamma's socket to come back", || {
        accepting(&f.sock_dir.join("gamma"))
    });
    // A socket that cannot be bound (a directory in its place): one CRITICAL line, and the
    // other hosts go on being served.
    f.write_hosts(&["alpha", "beta"]);
    f.signal(libc::SIGHUP);
    eventually("gamma's socket to go again", || {
        !f.sock_dir.join("gamma").exists()
    });
    std::fs::create_dir(f.sock_dir.join("gamma")).unwrap();
    f.write_hosts(&["alpha", "beta", "gamma"]);
    f.signal(libc::SIGHUP);
    eventually("the failure to bind gamma's socket in the log", || {
        f.lonc_log().contains("Cannot listen on")
    });
    assert!(f.lonc_log().contains("for gamma"), "{}", f.lonc_log());
    assert_eq!(f.ask("alpha", "ping"), "alpha");
}

pub fn term_removes_the_socket_and_pid_files(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_daemon(&[]);
    let pid_file = f.logs.join("lonc.pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        format!("{}\n", f.pid())
    );
    f.signal(libc::SIGTERM);
    let status = f.wait_exit();
    assert_eq!(status.code(), Some(0));
    assert!(!pid_file.exists());
    for h in ["alpha", "beta", "gamma"] {
        assert!(!f.sock_dir.join(h).exists(), "{h}'s socket removed");
    }
}

pub fn hostile_clients_leave_the_daemon_serving_others(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&["--max-line", "1048576"]);
    let socket = f.sock_dir.join("alpha");
    // 500 idle connections.
    let idle: Vec<UnixStream> = (0..500)
        .map(|_| UnixStream::connect(&socket).expect("connect"))
        .collect();
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    // A 20 MiB line: answered con_lost once it is over the limit.
    let mut big = UnixStream::connect(&socket).unwrap();
    big.set_write_timeout(Some(PATIENCE)).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..20 {
        if big.write_all(&chunk).is_err() {
            break;
        }
    }
    assert_eq!(read_line(&mut big, PATIENCE), b"con_lost\n");
    // Binary bytes are passed through untouched.
    let mut bin_client = UnixStream::connect(&socket).unwrap();
    bin_client.write_all(b"echo:\x00\xff\xfe\r\n").unwrap();
    assert_eq!(read_line(&mut bin_client, PATIENCE), b"\x00\xff\xfe\r\n");
    drop(idle);
    // A client that hangs up in the middle of a line.
    let mut half = UnixStream::connect(&socket).unwrap();
    half.write_all(b"echo:never fin").unwrap();
    drop(half);
    assert_eq!(f.ask("alpha", "echo:still here"), "still here");
}

/// A malformed reply closes the link at once (not after the step timeout) and fails only its
/// own transaction.
pub fn a_garbage_peer_costs_only_its_transaction(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim(
        "alpha",
        Faults {
            garbage: true,
            ..Faults::default()
        },
    );
    f.start_sim("beta", Faults::default());
    f.start_daemon(&["--step-timeout", "60"]);
    f.assert_con_lost_at_once("alpha", "ping");
    assert_eq!(f.ask("beta", "ping"), "beta");
    f.stop_sim("alpha");
    f.start_sim("alpha", Faults::default());
    assert_eq!(f.ask("alpha", "ping"), "alpha");
}

pub fn a_client_may_send_several_requests_on_one_connection(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&[]);
    let mut s = UnixStream::connect(f.sock_dir.join("alpha")).unwrap();
    s.write_all(b"echo:one\necho:two\n").unwrap();
    assert_eq!(read_line(&mut s, PATIENCE), b"one\n");
    assert_eq!(read_line(&mut s, PATIENCE), b"two\n");
    // One byte at a time, reading the reply one byte at a time.
    for b in b"ping\n" {
        s.write_all(&[*b]).unwrap();
    }
    assert_eq!(read_line(&mut s, PATIENCE), b"alpha\n");
}

pub fn a_missing_host_id_is_one_line_and_status_2(bin: &Path) {
    let f = Fixture::new(bin);
    std::fs::write(&f.conf, "PerlSetVar lonSockDir /nonexistent\n").unwrap();
    let out = Command::new(bin)
        .arg("--conf")
        .arg(&f.conf)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("lonHostID") && stderr.contains("--host-id"),
        "{stderr}"
    );
}

/// `lonc send` prints the daemon's answer; `con_lost` with nothing on standard error is the
/// daemon's own, and when the daemon does not answer at all, standard error says so.
pub fn send_and_critical_from_the_command_line(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&["--connect-timeout", "30"]);
    let send_with = |config: &[&std::ffi::OsStr], args: &[&str]| {
        let out = Command::new(bin)
            .args(config)
            .arg("send")
            .args(args)
            .output()
            .expect("runs");
        assert!(out.status.success());
        (
            String::from_utf8_lossy(&out.stdout).trim_end().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let send = |args: &[&str]| {
        let (stdout, stderr) = send_with(&["--conf".as_ref(), f.conf.as_os_str()], args);
        assert_eq!(stderr, "", "lonc send {args:?}");
        stdout
    };
    assert_eq!(send(&["alpha", "ping"]), "alpha");
    // Not in hosts.tab: lonnet's answer, and nothing spooled.
    assert_eq!(send(&["nowhere", "ping"]), "no_such_host");
    assert_eq!(send(&["--critical", "nowhere", "put:g:B"]), "no_such_host");
    // The daemon's own con_lost: nothing on standard error.
    assert_eq!(send(&["--timeout", "3", "beta", "ping"]), "con_lost");
    assert_eq!(send(&["--critical", "beta", "put:g:B"]), "con_delayed");
    let spooled: Vec<String> = std::fs::read_dir(f.sock_dir.join("delayed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(spooled.len(), 1);
    assert!(spooled[0].ends_with(".putgB.beta"), "{spooled:?}");
    assert!(f.perm_log().contains(":D:beta:put:g:B:"));
    // No daemon behind the socket directory: con_lost as lonnet's, and why on standard error.
    let empty = f.dir.path().join("no-daemon");
    std::fs::create_dir(&empty).unwrap();
    let (stdout, stderr) = send_with(
        &[
            "--conf".as_ref(),
            f.conf.as_os_str(),
            "--sock-dir".as_ref(),
            empty.as_os_str(),
        ],
        &["alpha", "ping"],
    );
    assert_eq!(stdout, "con_lost");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("lonc send: no answer from the daemon: "),
        "{stderr}"
    );
    f.start_sim("beta", Faults::default());
    assert_eq!(f.ask("beta", "ping"), "beta");
    eventually("the spooled request to be delivered", || {
        f.ask("beta", "get:g") == "B"
    });
}

pub fn a_slow_reading_client_gets_a_large_reply_whole(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&[]);
    let text: String = (0..512 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let mut s = UnixStream::connect(f.sock_dir.join("alpha")).unwrap();
    s.write_all(format!("echo:{text}\n").as_bytes()).unwrap();
    // One byte at a time: the daemon's writes to this client are partial throughout.
    let reply = read_line(&mut s, PATIENCE);
    assert_eq!(reply.len(), text.len() + 1);
    assert!(reply.starts_with(text.as_bytes()));
    assert_eq!(f.ask("alpha", "ping"), "alpha");
}

/// A lond reading a large request slowly, for several step timeouts: the daemon's writes to
/// the link are partial, and the request arrives whole only if the step timeout restarts on
/// every byte of progress.
pub fn a_slow_reading_peer_gets_a_large_request_whole(bin: &Path) {
    let mut f = Fixture::new(bin);
    let step = Duration::from_secs(2);
    // What the kernel may hold of the request between the daemon's writes and the lond's
    // reads: the daemon's send buffer (at most tcp_wmem's maximum) and the lond's receive
    // buffer (one read, below, which the kernel doubles).
    let send_buffer = tcp_wmem_max();
    // The lond reads `chunk` bytes every 10 ms for the first `slow` bytes: at most a send
    // buffer a second, so a third of one (what frees a full buffer for writing again) takes
    // about 0.3 s, well within a step; and `slow` takes at least three steps.
    let every = Duration::from_millis(10);
    let chunk = send_buffer / 100;
    let slow = 6 * send_buffer;
    // More than the lond reads slowly and the kernel holds: the daemon is still writing when
    // the slow reading ends, three steps after it began. The rest is read at full speed, and
    // not logged, so the reply follows the last byte well within a step.
    let size = slow + send_buffer + 4 * chunk + (1 << 20);
    f.start_sim_unlogged(
        "alpha",
        Faults {
            read_chunk: Some(chunk),
            read_delay: Some(every),
            slow_bytes: Some(slow as u64),
            ..Faults::default()
        },
    );
    let limit = (2 * size).to_string();
    f.start_daemon(&[
        "--step-timeout",
        &step.as_secs().to_string(),
        "--max-line",
        &limit,
        "--max-queue-bytes",
        &limit,
    ]);
    let text = "x".repeat(size);
    let request = format!("echo:{text}");
    let client = f
        .client()
        .with_timeout(within(step * 3))
        .with_max_reply(2 * size);
    let reply = answer(&client, "alpha", request.as_bytes());
    assert!(
        reply == text.as_bytes(),
        "a reply of {} bytes: {:?}",
        reply.len(),
        short(&reply)
    );
    assert_eq!(f.ask("alpha", "encrypt:echo:after"), "after");
}

/// The most a TCP socket's send buffer grows to (`net.ipv4.tcp_wmem`'s maximum; Linux's
/// default, 4 MiB, if it cannot be read).
fn tcp_wmem_max() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20)
}

/// A lond that never answers: the request is answered `con_lost` once the step timeout has
/// passed (bounded by ten times it), and other hosts are served meanwhile.
pub fn a_stalled_peer_is_timed_out(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim(
        "alpha",
        Faults {
            silent: true,
            ..Faults::default()
        },
    );
    f.start_sim("beta", Faults::default());
    f.start_daemon(&["--step-timeout", "1"]);
    let step = Duration::from_secs(1);
    assert_eq!(f.ask_within("alpha", "ping", within(step)), "con_lost");
    assert_eq!(f.ask("beta", "ping"), "beta");
}

pub fn term_lets_a_waiting_client_finish(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim(
        "alpha",
        Faults {
            delay: Some(Duration::from_millis(300)),
            ..Faults::default()
        },
    );
    f.start_daemon(&[]);
    let client = f.client();
    let waiting = std::thread::spawn(move || answer(&client, "alpha", b"echo:slow"));
    eventually("the request to reach the lond", || {
        f.sim("alpha").stats().requests.load(Ordering::Relaxed) == 1
    });
    f.signal(libc::SIGTERM);
    assert_eq!(
        waiting.join().expect("the waiting client is answered"),
        b"slow"
    );
    assert_eq!(f.wait_exit().code(), Some(0));
}

pub fn usr2_toggles_debug_logging(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_daemon(&[
        "--retries",
        "1",
        "--probe-min",
        "3600",
        "--probe-max",
        "3600",
        "--connect-timeout",
        "30",
    ]);
    f.assert_con_lost_at_once("gamma", "ping");
    f.assert_con_lost_at_once("gamma", "ping");
    assert!(!f.lonc_log().contains("-Debug-"));
    f.signal(libc::SIGUSR2);
    eventually("debug logging on", || {
        f.lonc_log().contains("Debug logging on")
    });
    f.assert_con_lost_at_once("gamma", "ping");
    eventually("a debug line", || f.lonc_log().contains("INFO: -Debug- "));
}

/// Kills a detached daemon if a test fails before it is stopped.
struct Detached(libc::pid_t);

impl Drop for Detached {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the daemon this test started.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
        }
    }
}

pub fn daemonize_detaches_and_serves(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    let launcher = Command::new(bin)
        .arg("--conf")
        .arg(&f.conf)
        .arg("--daemonize")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("runs");
    assert!(launcher.success(), "the launching process exits 0");
    let pid_file = f.logs.join("lonc.pid");
    let read_pid =
        || -> Option<libc::pid_t> { std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok() };
    eventually("the detached daemon's pid file", || read_pid().is_some());
    let pid = read_pid().expect("a pid");
    let guard = Detached(pid);
    eventually("the detached daemon's sockets", || {
        accepting(&f.sock_dir.join("alpha"))
    });
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    // SAFETY: kill(2) on the daemon this test started.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    eventually("the detached daemon to exit", || !pid_file.exists());
    drop(guard);
}

pub fn the_demo_runs_and_exits_0(bin: &Path) {
    let out = Command::new(bin)
        .arg("demo")
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    for expected in [
        "demo1 ping                                   -> demo1",
        "demo1 encrypt:echo:my password               -> my password",
        "critical demo2 put:grade:A                   -> con_delayed",
        "demo2 get:grade                              -> A",
        ":S:demo2:put:grade:A:",
        "demo3 >>> DEAD !!!! <<<",
        "exited: true (exit status: 0); pid file removed: true; sockets removed: true",
    ] {
        assert!(
            report.contains(expected),
            "{expected:?} missing from:\n{report}"
        );
    }
}

/// A daemon out of descriptors cannot accept: it says so at most about ten times a second (not
/// on every turn of its loop, which would fill the disk), and serves again once descriptors
/// are free.
pub fn running_out_of_descriptors_is_logged_sparingly_and_survived(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    f.start_daemon_limited(Some(64), &[]);
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    let socket = f.sock_dir.join("alpha");
    // More connections than the daemon has descriptors for; those it cannot accept wait in the
    // listen backlog.
    let held: Vec<UnixStream> = (0..100)
        .map(|_| UnixStream::connect(&socket).expect("connect"))
        .collect();
    eventually("an accept failure in the log", || {
        f.lonc_log().contains("accept failed")
    });
    let started = Instant::now();
    let failures = |f: &Fixture| f.lonc_log().matches("accept failed").count();
    let before = failures(&f);
    // Time must pass to show a rate; the bound follows the time that did pass.
    std::thread::sleep(Duration::from_millis(500));
    let logged = failures(&f) - before;
    let allowed = started.elapsed().as_millis() as usize / 100 + 2;
    assert!(
        logged <= allowed,
        "{logged} accept failures logged in {:?}",
        started.elapsed()
    );
    drop(held);
    assert_eq!(f.ask("alpha", "echo:served again"), "served again");
}

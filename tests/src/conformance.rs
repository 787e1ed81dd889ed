//! The daemon conformance suite: scenarios run against a real `lonc` binary (either runtime),
//! with temporary directories, real UNIX sockets and simulated londs on loopback addresses.
//!
//! Each runtime instantiates the whole suite with [`conformance_suite!`](crate::conformance_suite)
//! and the path of its binary, so every scenario is written once and run against both.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lonc_client::{Client, ReplyError};
use lonc_edge::sim::{Faults, Sim, SimConfig, free_port};

mod metrics;
pub use metrics::metrics_are_printed_and_served_over_http;

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
            a_host_whose_address_changes_keeps_its_socket_and_clients,
            term_removes_the_socket_and_pid_files,
            a_second_daemon_on_one_configuration_refuses_and_touches_nothing,
            a_socket_another_daemon_answers_on_is_not_taken,
            logrotate_s_rename_then_hup_reopens_the_logs,
            systemd_hears_ready_reload_and_stop_through_the_unit_s_commands,
            a_flood_of_bad_hosts_tab_lines_costs_a_few_log_lines,
            hostile_clients_leave_the_daemon_serving_others,
            a_garbage_peer_costs_only_its_transaction,
            bytes_after_a_reply_cost_the_link_not_the_request_handed_to_it,
            a_client_may_send_several_requests_on_one_connection,
            a_missing_host_id_is_one_line_and_status_2,
            a_hosts_tab_with_no_remote_host_is_refused_at_start_and_on_hup,
            send_and_critical_from_the_command_line,
            a_slow_reading_client_gets_a_large_reply_whole,
            a_slow_reading_peer_gets_a_large_request_whole,
            a_stalled_peer_is_timed_out,
            term_lets_a_waiting_client_finish,
            usr2_toggles_debug_logging,
            daemonize_detaches_and_serves,
            the_demo_runs_and_exits_0,
            running_out_of_descriptors_is_logged_sparingly_and_survived,
            spooled_files_are_delivered_with_no_client_traffic,
            more_spooled_files_than_the_queue_holds_are_all_delivered_once,
            odd_entries_in_delayed_are_warned_about_once_and_wedge_nothing,
            a_lond_closing_every_link_costs_almost_no_request_and_none_twice,
            a_frozen_lond_answers_every_client_within_one_request_timeout,
            term_during_a_replay_leaves_no_request_executed_twice,
            a_delivered_file_is_kept_until_its_perm_log_record_is_written,
            the_process_title_shows_hosts_links_and_the_dead,
            check_reports_what_the_daemon_would_serve_and_every_problem,
            control_commands_show_and_steer_the_daemon,
            hostile_control_clients_cost_only_control_slots,
            metrics_are_printed_and_served_over_http,
            the_spool_is_listed_flushed_and_deleted_from_the_command_line,
        );
        /// Not a scenario: the simulated lond run as a child process of the suite's own
        /// executable (see `conformance::SimChild`); passes at once when not asked for.
        #[test]
        fn lond_sim_child() {
            $crate::conformance::lond_sim_child();
        }
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
#[track_caller]
pub fn eventually(what: &str, ready: impl FnMut() -> bool) {
    eventually_within(what, PATIENCE, ready);
}

/// Asks `ready` every few milliseconds until it holds; panics once `bound` has passed.
#[track_caller]
pub fn eventually_within(what: &str, bound: Duration, mut ready: impl FnMut() -> bool) {
    let end = Instant::now() + bound;
    while !ready() {
        assert!(
            Instant::now() < end,
            "timed out after {bound:?} waiting for {what}"
        );
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

    /// `<lonSockDir>/delayed`.
    pub fn delayed_dir(&self) -> PathBuf {
        self.sock_dir.join("delayed")
    }

    /// Spools `request` for `host` as lonnet does (written under a hidden name, then renamed)
    /// as `<time>.<count>.4242.<tag>.<host>`; returns that name.
    pub fn spool(&self, time: u64, tag: &str, host: &str, request: &str) -> String {
        let name = format!("{time}.1.4242.{tag}.{host}");
        let dir = self.delayed_dir();
        let hidden = dir.join(format!(".{name}.tmp"));
        std::fs::write(&hidden, format!("{request}\n")).expect("a spool file written");
        std::fs::rename(&hidden, dir.join(&name)).expect("a spool file renamed");
        name
    }

    /// True while an entry (of any kind) named `name` is in the delayed directory.
    pub fn spooled(&self, name: &str) -> bool {
        self.delayed_dir().join(name).symlink_metadata().is_ok()
    }

    /// How many entries the delayed directory holds.
    pub fn spool_left(&self) -> usize {
        std::fs::read_dir(self.delayed_dir())
            .map(|d| d.count())
            .unwrap_or(0)
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

/// A reload that gives a host a new address keeps its socket and its clients: a request in
/// flight is answered by the old lond, a client connected before the reload is served, and
/// later requests go to the new address (here the lond of beta, which answers `ping` with its
/// own id).
pub fn a_host_whose_address_changes_keeps_its_socket_and_clients(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim(
        "alpha",
        Faults {
            delay: Some(Duration::from_millis(500)),
            ..Faults::default()
        },
    );
    f.start_sim("beta", Faults::default());
    f.start_daemon(&[]);
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    let socket = f.sock_dir.join("alpha");
    let mut in_flight = UnixStream::connect(&socket).unwrap();
    in_flight.write_all(b"echo:in flight\n").unwrap();
    let mut idle = UnixStream::connect(&socket).unwrap();
    eventually("the request to reach alpha's lond", || {
        f.sim_requests("alpha")
            .iter()
            .any(|r| r == "P:echo:in flight")
    });
    let text = std::fs::read_to_string(&f.hosts_file).unwrap();
    std::fs::write(
        &f.hosts_file,
        text.replace("alpha.test:127.0.0.2", "alpha.test:127.0.0.3"),
    )
    .unwrap();
    f.signal(libc::SIGHUP);
    eventually("the move in the log", || {
        f.lonc_log().contains(&format!(
            "Host alpha moved from 127.0.0.2:{port} to 127.0.0.3:{port}: its links are replaced",
            port = f.port
        ))
    });
    assert_eq!(read_line(&mut in_flight, PATIENCE), b"in flight\n");
    idle.write_all(b"ping\n").unwrap();
    assert_eq!(read_line(&mut idle, PATIENCE), b"beta\n", "the new address");
    assert_eq!(f.ask("alpha", "ping"), "beta");
    assert!(!f.lonc_log().contains("Host alpha removed"));
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

/// A child process killed when dropped (a daemon a scenario starts besides the fixture's).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Killed {
    /// A daemon of `f`'s configuration (with `extra` flags) besides the fixture's, its standard
    /// error kept for [`Killed::stderr`].
    fn daemon<S: AsRef<std::ffi::OsStr>>(f: &Fixture, extra: &[S]) -> Killed {
        Killed(
            Command::new(&f.bin)
                .arg("--conf")
                .arg(&f.conf)
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("runs"),
        )
    }

    /// Everything it wrote to standard error (waits for the end of it: call once it exited or
    /// was killed).
    fn stderr(&mut self) -> String {
        let mut text = String::new();
        let mut pipe = self.0.stderr.take().expect("piped");
        pipe.read_to_string(&mut text).unwrap();
        text
    }

    /// Its exit status, waiting for it within [`PATIENCE`].
    fn exit_status(&mut self) -> ExitStatus {
        let mut status = None;
        eventually("the process to exit", || {
            status = self.0.try_wait().ok().flatten();
            status.is_some()
        });
        status.expect("exited")
    }
}

/// `lonc.pid` is locked for the daemon's life: a second daemon on the same configuration says
/// who runs, exits 1, and touches no socket, log or pid file; the first serves on.
pub fn a_second_daemon_on_one_configuration_refuses_and_touches_nothing(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&[]);
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    let pid_file = f.logs.join("lonc.pid");
    let log_len = || std::fs::metadata(f.logs.join("lonc.log")).unwrap().len();
    let before = (std::fs::read_to_string(&pid_file).unwrap(), log_len());
    let mut second = Killed::daemon::<&str>(&f, &[]);
    let status = second.exit_status();
    let stderr = second.stderr();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("another lonc (pid {}) is running", f.pid())),
        "{stderr}"
    );
    assert_eq!(
        (std::fs::read_to_string(&pid_file).unwrap(), log_len()),
        before
    );
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    // The first daemon's stop still cleans up: its sockets and its pid file go.
    f.signal(libc::SIGTERM);
    assert_eq!(f.wait_exit().code(), Some(0));
    assert!(!pid_file.exists());
    assert!(!f.sock_dir.join("alpha").exists());
}

/// A daemon of another configuration sharing the socket directory (or a loncnew not yet
/// stopped) does not take a socket a process answers on. With none of its sockets free it
/// exits 1, saying why on standard error and leaving the sockets alone; with some free it
/// serves those, and says which it could not take.
pub fn a_socket_another_daemon_answers_on_is_not_taken(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&[]);
    let other = |daemons: &str, extra: &[&std::ffi::OsStr]| {
        let mut flags: Vec<std::ffi::OsString> =
            vec!["--daemons-dir".into(), f.dir.path().join(daemons).into()];
        flags.extend(extra.iter().map(|e| e.to_os_string()));
        Killed::daemon(&f, &flags)
    };
    // Every socket taken: exit 1.
    let mut second = other("perl2", &[]);
    assert_eq!(second.exit_status().code(), Some(1));
    let stderr = second.stderr();
    for h in ["alpha", "beta", "gamma"] {
        let path = f.sock_dir.join(h);
        assert!(
            stderr.contains(&format!(
                "lonc: Cannot listen on {} for {h}: another process answers on it",
                path.display()
            )),
            "{stderr}"
        );
        assert!(accepting(&path), "{h}'s socket still the first daemon's");
    }
    let log2 = std::fs::read_to_string(f.dir.path().join("perl2/logs/lonc.log")).unwrap();
    assert!(log2.contains("CRITICAL: Cannot listen on any host's socket: nothing to serve"));
    assert!(!f.dir.path().join("perl2/logs/lonc.pid").exists());
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    // One socket free: served; the taken one said once on standard error.
    let hosts3 = f.dir.path().join("hosts3.tab");
    std::fs::write(
        &hosts3,
        "me:t:l:me:127.0.0.1\nalpha:t:a:a:127.0.0.2\ndelta:t:a:d:127.0.0.5\n",
    )
    .unwrap();
    let mut third = other("perl3", &["--hosts".as_ref(), hosts3.as_os_str()]);
    eventually("the third daemon to serve delta", || {
        accepting(&f.sock_dir.join("delta"))
    });
    assert!(third.0.try_wait().unwrap().is_none(), "it runs on");
    third.0.kill().unwrap();
    let stderr = third.stderr();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("Cannot listen on") && stderr.contains("for alpha"),
        "{stderr}"
    );
    assert_eq!(f.ask("alpha", "ping"), "alpha");
}

/// The repository's systemd unit works: its `ExecStart` flags with a `NOTIFY_SOCKET` of the
/// test's own give `READY=1` once the sockets listen, its `ExecReload` gives `RELOADING=1` then
/// `READY=1`, TERM gives `STOPPING=1`; with standard error the journal (`JOURNAL_STREAM`),
/// lines carry syslog priorities and no time.
pub fn systemd_hears_ready_reload_and_stop_through_the_unit_s_commands(bin: &Path) {
    use std::os::unix::fs::MetadataExt as _;
    let f = Fixture::new(bin);
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime-smol/dist/lonc.service"),
    )
    .unwrap();
    let setting = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} in the unit"))
            .to_owned()
    };
    assert_eq!(setting("Type="), "notify");
    let start = setting("ExecStart=");
    let flags: Vec<&str> = start.split_whitespace().skip(1).collect();
    let notify = UnixDatagram::bind(f.dir.path().join("notify")).unwrap();
    notify.set_read_timeout(Some(PATIENCE)).unwrap();
    // The summary alone (`STATUS=` when it changes, see the process title's scenario) may
    // come between the others, in an order that depends on the runtime: kept apart.
    let statuses = std::cell::RefCell::new(Vec::new());
    let next = || {
        loop {
            let mut buf = [0u8; 512];
            let n = notify.recv(&mut buf).expect("a message for systemd");
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            match message.strip_prefix("STATUS=") {
                Some(summary) if !summary.contains('\n') => {
                    statuses.borrow_mut().push(summary.to_owned());
                }
                _ => return message,
            }
        }
    };
    let journal = f.dir.path().join("journal");
    let stream = std::fs::File::create(&journal).unwrap();
    let meta = stream.metadata().unwrap();
    let mut daemon = Killed(
        Command::new(bin)
            .args(&flags)
            .arg("--conf")
            .arg(&f.conf)
            .env("NOTIFY_SOCKET", f.dir.path().join("notify"))
            .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stream)
            .spawn()
            .expect("runs"),
    );
    let pid = daemon.0.id();
    assert_eq!(
        next(),
        format!("READY=1\nSTATUS=3 hosts, 0 dead, 0 links\nMAINPID={pid}")
    );
    for h in ["alpha", "beta", "gamma"] {
        assert!(accepting(&f.sock_dir.join(h)), "{h} listens once ready");
    }
    let reload = setting("ExecReload=").replace("$MAINPID", &pid.to_string());
    assert!(
        Command::new("sh")
            .arg("-c")
            .arg(&reload)
            .status()
            .unwrap()
            .success()
    );
    assert!(next().starts_with("RELOADING=1\nMONOTONIC_USEC="));
    assert_eq!(next(), "READY=1\nSTATUS=3 hosts, 0 dead, 0 links");
    // SAFETY: kill(2) on the daemon this test started.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    assert_eq!(next(), "STOPPING=1\nSTATUS=Stopping");
    assert_eq!(daemon.exit_status().code(), Some(0));
    assert_eq!(statuses.borrow()[0], "3 hosts, 0 dead, 0 links");
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert!(
        lines.starts_with("<3>[Parent Server] [Starting hosts] CRITICAL: "),
        "{lines}"
    );
    assert!(lines.lines().all(|l| l.starts_with('<')), "{lines}");
    assert!(lines.contains("<3>[Parent Server] ["), "{lines}");
    assert!(f.lonc_log().contains("Master process exiting"));
}

/// The process title, as `ps` shows it: `lonc: <summary> <localtime>`, loncnew's form, with
/// the hosts served, the dead ones (named) and the links, following each change.
pub fn the_process_title_shows_hosts_links_and_the_dead(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&[
        "--retries",
        "1",
        "--probe-min",
        "3600",
        "--probe-max",
        "3600",
        "--connect-timeout",
        "30",
        "--step-timeout",
        "60",
    ]);
    let pid = f.pid();
    let title = || {
        let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).expect("the daemon's cmdline");
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    };
    // After the summary, loncnew's local time: `Tue Dec  1 05:24:37 2026`.
    let time_of = |t: &str, summary: &str| -> Option<String> {
        let time = t.strip_prefix(&format!("lonc: {summary} "))?;
        let shape = time.len() == 24
            && time.as_bytes()[13] == b':'
            && time.as_bytes()[16] == b':'
            && time[20..].bytes().all(|b| b.is_ascii_digit());
        shape.then(|| time.to_owned())
    };
    eventually("the title at start", || {
        time_of(&title(), "3 hosts, 0 dead, 0 links").is_some()
    });
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    eventually("the title to count the link", || {
        time_of(&title(), "3 hosts, 0 dead, 1 links").is_some()
    });
    f.assert_con_lost_at_once("gamma", "ping");
    eventually("the title to name the dead host", || {
        time_of(&title(), "3 hosts, 1 dead, 1 links - dead: gamma").is_some()
    });
    // `ps` shows it whole, not the command line it was started with.
    let ps = Command::new("ps")
        .args(["-o", "args=", "-p", &pid.to_string()])
        .output()
        .expect("ps runs");
    let shown = String::from_utf8_lossy(&ps.stdout);
    assert!(
        shown.starts_with("lonc: 3 hosts, 1 dead, 1 links - dead: gamma "),
        "{shown}"
    );
}

/// The repository's logrotate snippet works: once the logs are renamed and its `postrotate`
/// script has run, every later line and `S:` record goes to new files, none to the old ones.
pub fn logrotate_s_rename_then_hup_reopens_the_logs(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&["--delayed-scan", "0.2"]);
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    let snippet = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime-smol/dist/lonc.logrotate"),
    )
    .unwrap();
    let script = snippet
        .split_once("postrotate")
        .and_then(|(_, rest)| rest.split_once("endscript"))
        .expect("a postrotate script")
        .0
        .replace("/home/httpd/perl/logs", &f.logs.display().to_string());
    let (log, perm) = (f.logs.join("lonc.log"), f.logs.join("lonnet.perm.log"));
    let (old_log, old_perm) = (f.logs.join("lonc.log.1"), f.logs.join("lonnet.perm.log.1"));
    std::fs::rename(&log, &old_log).unwrap();
    std::fs::rename(&perm, &old_perm).unwrap();
    let status = Command::new("sh").arg("-c").arg(&script).status().unwrap();
    assert!(status.success(), "{script}");
    eventually("a new lonc.log", || log.exists());
    let old_len = |p: &Path| std::fs::metadata(p).unwrap().len();
    let (log_len, perm_len) = (old_len(&old_log), old_len(&old_perm));
    let name = "1700000000.1.4242.put.alpha";
    std::fs::write(f.sock_dir.join("delayed").join(name), "put:rotated:yes\n").unwrap();
    eventually("the delayed file to be delivered", || {
        !f.sock_dir.join("delayed").join(name).exists()
    });
    assert!(
        std::fs::read_to_string(&perm)
            .unwrap()
            .contains(":S:alpha:put:rotated:yes:")
    );
    assert!(f.lonc_log().contains("A delayed transaction was completed"));
    assert_eq!((old_len(&old_log), old_len(&old_perm)), (log_len, perm_len));
}

/// A `hosts.tab` of 100,000 bad lines and a 10 MB one: the daemon serves the good hosts, logs
/// the first few problems and a count, and quotes a few hundred bytes of the long line; the
/// same on a reload.
pub fn a_flood_of_bad_hosts_tab_lines_costs_a_few_log_lines(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.write_hosts(&["alpha", "beta", "gamma"]);
    let mut text = std::fs::read_to_string(&f.hosts_file).unwrap();
    text.push_str(&format!("long:d:r:n:{}\n", "9".repeat(10 << 20)));
    for i in 0..100_000 {
        text.push_str(&format!("bad line {i}\n"));
    }
    std::fs::write(&f.hosts_file, &text).unwrap();
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&[]);
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    let log = f.lonc_log();
    assert!(log.len() < 16 << 10, "lonc.log is {} bytes", log.len());
    assert!(log.contains("99981 more problem(s) from here on"), "{log}");
    assert!(log.contains("... (10485760 bytes)"), "{log}");
    f.signal(libc::SIGHUP);
    eventually("the reload's count of problems", || {
        f.lonc_log().matches("more problem(s) from here on").count() == 2
    });
    assert!(f.lonc_log().len() < 32 << 10);
    assert_eq!(f.ask("alpha", "ping"), "alpha");
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

/// A lond that sends a line nobody asked for right after a reply (one write, so one read here)
/// loses the link. The reply had already handed that link the request waiting behind it; that
/// request was never written, so it goes out on a new link and is answered, not `con_lost`.
pub fn bytes_after_a_reply_cost_the_link_not_the_request_handed_to_it(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim(
        "alpha",
        Faults {
            unasked: true,
            ..Faults::default()
        },
    );
    f.sim("alpha").hold_replies(true);
    f.start_daemon(&["--max-links", "1"]);
    let client = f.client();
    let first = std::thread::spawn(move || answer(&client, "alpha", b"echo:first"));
    eventually("the first request to reach the lond", || {
        f.sim("alpha").stats().requests.load(Ordering::Relaxed) == 1
    });
    let client = f.client();
    let second = std::thread::spawn(move || answer(&client, "alpha", b"echo:second"));
    eventually("the second request to wait for the one link", || {
        let out = lonc(&f, &["status", "--json"]);
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap_or_default();
        json["hosts"][0]["queue"]["requests"] == 1
    });
    f.sim("alpha").hold_replies(false);
    assert_eq!(first.join().expect("answered"), b"first");
    assert_eq!(second.join().expect("answered"), b"second");
    assert_eq!(f.sim_requests("alpha"), ["P:echo:first", "P:echo:second"]);
    let stats = f.sim("alpha").stats();
    assert_eq!(stats.connections.load(Ordering::Relaxed), 2);
    let log = f.lonc_log();
    assert!(
        log.contains("Idle connection to alpha closed: data from peer when no reply was due"),
        "{log}"
    );
    assert!(!log.contains("unknown link"), "{log}");
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

/// A `hosts.tab` that lists no usable remote host (empty, truncated, this server alone) is
/// refused alike at start (one line, status 2, no socket or pid file) and on HUP (the running
/// hosts kept).
pub fn a_hosts_tab_with_no_remote_host_is_refused_at_start_and_on_hup(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.write_hosts(&[]);
    let mut daemon = Killed::daemon::<&str>(&f, &[]);
    let status = daemon.exit_status();
    let stderr = daemon.stderr();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("has no usable remote host"), "{stderr}");
    assert!(!f.logs.join("lonc.pid").exists());
    let sockets = std::fs::read_dir(&f.sock_dir).unwrap().count();
    assert_eq!(sockets, 1, "only delayed/ in the socket directory");

    f.write_hosts(&["alpha", "beta", "gamma"]);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&[]);
    std::fs::write(&f.hosts_file, "").unwrap();
    f.signal(libc::SIGHUP);
    eventually("the reload to be refused", || {
        f.lonc_log()
            .contains("Reload refused: hosts.tab has no usable remote host")
    });
    assert_eq!(f.ask("alpha", "ping"), "alpha");
}

/// `lonc send` prints the daemon's answer; `con_lost` with nothing on standard error is the
/// daemon's own, and when the daemon does not answer at all, standard error says so.
pub fn send_and_critical_from_the_command_line(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&["--connect-timeout", "30"]);
    // Standard output, standard error and the exit status.
    let send_with = |config: &[&std::ffi::OsStr], args: &[&str]| {
        let out = Command::new(bin)
            .args(config)
            .arg("send")
            .args(args)
            .output()
            .expect("runs");
        (
            String::from_utf8_lossy(&out.stdout).trim_end().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code(),
        )
    };
    let send = |args: &[&str]| {
        let (stdout, stderr, code) = send_with(&["--conf".as_ref(), f.conf.as_os_str()], args);
        assert_eq!(stderr, "", "lonc send {args:?}");
        (stdout, code.expect("exits"))
    };
    assert_eq!(send(&["alpha", "ping"]), ("alpha".into(), 0));
    // Not in hosts.tab: lonnet's answer, and nothing spooled.
    assert_eq!(send(&["nowhere", "ping"]), ("no_such_host".into(), 6));
    assert_eq!(
        send(&["--critical", "nowhere", "put:g:B"]),
        ("no_such_host".into(), 6)
    );
    // The daemon's own con_lost: nothing on standard error.
    assert_eq!(
        send(&["--timeout", "3", "beta", "ping"]),
        ("con_lost".into(), 1)
    );
    assert_eq!(
        send(&["--critical", "beta", "put:g:B"]),
        ("con_delayed".into(), 4)
    );
    let spooled: Vec<String> = std::fs::read_dir(f.sock_dir.join("delayed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(spooled.len(), 1);
    assert!(spooled[0].ends_with(".putgB.beta"), "{spooled:?}");
    assert!(f.perm_log().contains(":D:beta:put:g:B:"));
    // No daemon behind the socket directory: con_lost as lonnet's, why on standard error, and
    // a status of its own.
    let empty = f.dir.path().join("no-daemon");
    std::fs::create_dir(&empty).unwrap();
    let no_daemon = [
        "--conf".as_ref(),
        f.conf.as_os_str(),
        "--sock-dir".as_ref(),
        empty.as_os_str(),
    ];
    let (stdout, stderr, code) = send_with(&no_daemon, &["alpha", "ping"]);
    assert_eq!((stdout.as_str(), code), ("con_lost", Some(3)));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("lonc send: no answer from the daemon: "),
        "{stderr}"
    );
    // Nowhere to spool (`delayed` is a file, which stops root too): con_failed.
    std::fs::write(empty.join("delayed"), "").unwrap();
    let (stdout, _, code) = send_with(&no_daemon, &["--critical", "alpha", "put:g:C"]);
    assert_eq!((stdout.as_str(), code), ("con_failed", Some(5)));
    // Misuse: one line on standard error, status 2, nothing on standard output.
    let (stdout, stderr, code) = send_with(&no_daemon, &["--timeout=-1", "alpha", "ping"]);
    assert_eq!((stdout.as_str(), code), ("", Some(2)));
    assert!(stderr.starts_with("lonc send: --timeout"), "{stderr}");
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
    // The whole request takes several steps: its deadline is not what is tested here.
    f.start_daemon(&[
        "--step-timeout",
        &step.as_secs().to_string(),
        "--request-timeout",
        "3600",
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

/// `--daemonize`: the launching process exits 0 only once the detached daemon is ready (pid
/// file written, sockets listening), and the daemon logs with its own pid. A detached start
/// that fails makes the launcher exit with the daemon's status and its reason on standard
/// error.
pub fn daemonize_detaches_and_serves(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    let launch = |extra: &[&str]| {
        Command::new(bin)
            .arg("--conf")
            .arg(&f.conf)
            .arg("--daemonize")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("runs")
    };
    let out = launch(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Ready when the launcher is gone: nothing to wait for.
    let pid_file = f.logs.join("lonc.pid");
    let pid: libc::pid_t = std::fs::read_to_string(&pid_file)
        .expect("the pid file, written before the launcher exits")
        .trim()
        .parse()
        .expect("a pid");
    let guard = Detached(pid);
    assert!(accepting(&f.sock_dir.join("alpha")));
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    let log = f.lonc_log();
    assert!(
        log.lines().all(|l| l.contains(&format!(" ({pid}) "))),
        "every line with the daemon's pid {pid}:\n{log}"
    );
    // A detached start with nothing to serve (every socket taken): the launcher fails with it.
    let daemons2 = f.dir.path().join("perl2");
    let out = launch(&["--daemons-dir", daemons2.to_str().expect("a UTF-8 path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another process answers on it"), "{stderr}");
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
        "delayed/ is empty again",
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

// ------------------------------------------- spooled requests, deadlines, closed links

/// How many times `line` is in `lines`.
fn times(lines: &[String], line: &str) -> usize {
    lines.iter().filter(|l| *l == line).count()
}

/// The requests of `lines` that are there more than once, with their counts.
fn repeated(lines: &[String]) -> Vec<(&str, usize)> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for l in lines {
        *counts.entry(l.as_str()).or_default() += 1;
    }
    let mut twice: Vec<(&str, usize)> = counts.into_iter().filter(|(_, n)| *n > 1).collect();
    twice.sort();
    twice
}

/// Spooled requests for a live peer go out on their own: those on disk at start-up, and one
/// spooled while the daemon runs, are delivered (executed once, recorded `S:`, deleted) within
/// a few `--delayed-scan` intervals, with no client sending anything.
pub fn spooled_files_are_delivered_with_no_client_traffic(bin: &Path) {
    let mut f = Fixture::new(bin);
    let scan = Duration::from_millis(500);
    let early: Vec<String> = (0..5)
        .map(|i| {
            f.spool(
                1_700_000_000 + i,
                "put",
                "alpha",
                &format!("put:early{i}:v"),
            )
        })
        .collect();
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&["--delayed-scan", "0.5"]);
    eventually_within("the files spooled before start-up", within(scan), || {
        early.iter().all(|n| !f.spooled(n))
    });
    let late = f.spool(1_700_000_100, "put", "alpha", "put:late:v");
    eventually_within("the file spooled while running", within(scan), || {
        !f.spooled(&late)
    });
    let requests = f.sim_requests("alpha");
    let perm = f.perm_log();
    let expected: Vec<String> = (0..5)
        .map(|i| format!("put:early{i}:v"))
        .chain(["put:late:v".to_owned()])
        .collect();
    for r in &expected {
        assert_eq!(times(&requests, &format!("P:{r}")), 1, "{r}: {requests:?}");
        assert_eq!(
            perm.matches(&format!(":S:alpha:{r}:")).count(),
            1,
            "{r}: {perm}"
        );
    }
    assert_eq!(requests.len(), expected.len(), "{requests:?}");
}

/// 1,300 files, far more than a host's queue holds (8), spooled for a live peer: every file is
/// delivered, each request executed exactly once, with no client traffic.
pub fn more_spooled_files_than_the_queue_holds_are_all_delivered_once(bin: &Path) {
    let mut f = Fixture::new(bin);
    const FILES: u64 = 1_300;
    for i in 0..FILES {
        f.spool(1_700_000_000 + i, "put", "alpha", &format!("put:k{i}:v{i}"));
    }
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&["--max-queue", "8", "--delayed-scan", "0.5"]);
    eventually("every spooled file to be delivered", || f.spool_left() == 0);
    let requests = f.sim_requests("alpha");
    assert_eq!(repeated(&requests), vec![], "requests executed twice");
    for i in 0..FILES {
        assert_eq!(times(&requests, &format!("P:put:k{i}:v{i}")), 1, "file {i}");
    }
    assert_eq!(requests.len() as u64, FILES);
}

/// The threads of process `pid` now.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A FIFO, a UNIX socket, a directory, a symbolic link (to a real file) and a file larger than
/// `--max-line`, all named like spool files for a live host, between real spool files: the
/// real files are delivered, each odd entry gets exactly one WARNING naming it however many
/// scans list it, stays where it is and is never sent; the replay goes on (later files are
/// delivered scan after scan) and no thread of the daemon stays behind.
pub fn odd_entries_in_delayed_are_warned_about_once_and_wedge_nothing(bin: &Path) {
    use std::os::unix::net::UnixListener;
    let mut f = Fixture::new(bin);
    let dir = f.delayed_dir();
    let scan = Duration::from_millis(500);
    let mut real = vec![f.spool(1_700_000_001, "put", "alpha", "put:real1:v")];
    let fifo = "1700000002.1.4242.fifo.alpha";
    let path = std::ffi::CString::new(dir.join(fifo).into_os_string().into_encoded_bytes())
        .expect("a path without NUL");
    // SAFETY: mkfifo(3) with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");
    let socket = "1700000003.1.4242.sock.alpha";
    let _listener = UnixListener::bind(dir.join(socket)).expect("a socket in delayed/");
    let directory = "1700000004.1.4242.dir.alpha";
    std::fs::create_dir(dir.join(directory)).unwrap();
    let link = "1700000005.1.4242.link.alpha";
    let target = f.dir.path().join("outside-the-spool");
    std::fs::write(&target, "put:via-link:v\n").unwrap();
    std::os::unix::fs::symlink(&target, dir.join(link)).unwrap();
    real.push(f.spool(1_700_000_006, "put", "alpha", "put:real2:v"));
    let big = "1700000007.1.4242.big.alpha";
    std::fs::write(dir.join(big), format!("put:big:{}\n", "x".repeat(2_000))).unwrap();
    real.push(f.spool(1_700_000_008, "put", "alpha", "put:real3:v"));
    let odd = [fifo, socket, directory, link, big];

    f.start_sim("alpha", Faults::default());
    f.start_daemon(&["--delayed-scan", "0.5", "--max-line", "1024"]);
    eventually("the real files to be delivered", || {
        real.iter().all(|n| !f.spooled(n))
    });
    // Three more scans at least: each of these files is spooled after the one before it was
    // delivered, so a scan after its writing delivers it.
    for round in 0..3 {
        let name = f.spool(
            1_700_000_100 + round,
            "put",
            "alpha",
            &format!("put:later{round}:v"),
        );
        eventually_within("a later spool file", within(scan), || !f.spooled(&name));
    }
    let log = f.lonc_log();
    for name in odd {
        assert!(f.spooled(name), "{name} stays in delayed/");
        let warnings = log
            .lines()
            .filter(|l| l.contains(" WARNING: ") && l.contains(name))
            .count();
        assert_eq!(warnings, 1, "WARNINGs naming {name}:\n{log}");
    }
    let mut requests = f.sim_requests("alpha");
    requests.sort();
    assert_eq!(
        requests,
        [
            "P:put:later0:v",
            "P:put:later1:v",
            "P:put:later2:v",
            "P:put:real1:v",
            "P:put:real2:v",
            "P:put:real3:v",
        ]
    );
    // Readers of the delayed directory are short-lived: none stays blocked on an odd entry.
    let pid = f.pid();
    eventually("the daemon's threads to be few", || threads(pid) <= 4);
}

/// A lond that closes every link after one reply, and 64 clients each sending 20 distinct
/// requests: fewer than 1 % are answered `con_lost`, and no request is executed twice.
pub fn a_lond_closing_every_link_costs_almost_no_request_and_none_twice(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim(
        "alpha",
        Faults {
            close_after: Some(1),
            ..Faults::default()
        },
    );
    f.start_daemon(&[]);
    const CLIENTS: usize = 64;
    const EACH: usize = 20;
    let client = f.client();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let client = client.clone();
            std::thread::spawn(move || {
                let mut lost = 0;
                for j in 0..EACH {
                    let text = format!("c{c}-{j}");
                    let reply = answer(&client, "alpha", format!("echo:{text}").as_bytes());
                    if reply == b"con_lost" {
                        lost += 1;
                    } else {
                        assert_eq!(String::from_utf8_lossy(&reply), text);
                    }
                }
                lost
            })
        })
        .collect();
    let lost: usize = threads
        .into_iter()
        .map(|t| t.join().expect("every client is answered"))
        .sum();
    let total = CLIENTS * EACH;
    assert!(lost * 100 < total, "{lost} of {total} answered con_lost");
    assert_eq!(
        repeated(&f.sim_requests("alpha")),
        vec![],
        "requests executed twice"
    );
}

/// The environment variable that makes [`lond_sim_child`] serve:
/// `<listen address> <host id> <client id> <request log>`.
const SIM_CHILD_VAR: &str = "LONC_CONFORMANCE_LOND_SIM";

/// A simulated lond in a process of its own (the suite's executable running only
/// [`lond_sim_child`]), so that it can really be frozen (SIGSTOP). Continued and killed when
/// dropped.
pub struct SimChild {
    child: Child,
}

impl SimChild {
    /// Starts `host`'s lond of `f` (logging its requests where [`Fixture::sim_requests`] reads
    /// them) and returns once it listens.
    pub fn start(f: &Fixture, host: &str) -> SimChild {
        use std::io::BufRead as _;
        let log = f.dir.path().join(format!("{host}.requests"));
        let spec = format!("{} {host} me {}", f.addr(host), log.display());
        let mut child = Command::new(std::env::current_exe().expect("the suite's executable"))
            .args([
                "lond_sim_child",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(SIM_CHILD_VAR, spec)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the lond child starts");
        let stdout = child.stdout.take().expect("its standard output");
        let guard = SimChild { child };
        // The line comes, or the child exits (end of stream), or PATIENCE passes.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let listening = std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .any(|l| l.contains("lond-sim listening on "));
            let _ = tx.send(listening);
        });
        assert_eq!(
            rx.recv_timeout(PATIENCE),
            Ok(true),
            "the lond child did not listen"
        );
        guard
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child, not yet waited for.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, signal);
        }
    }

    /// Freezes the lond: its sockets stay open and the kernel goes on accepting connections
    /// for it, but nothing reads or answers.
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }
}

impl Drop for SimChild {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of the `lond_sim_child` test: when [`SIM_CHILD_VAR`] is set, serves as that lond
/// until killed (saying `lond-sim listening on` on standard output once it listens, after
/// what the test harness writes on that line); otherwise
/// returns at once.
pub fn lond_sim_child() {
    let Ok(spec) = std::env::var(SIM_CHILD_VAR) else {
        return;
    };
    let parts: Vec<&str> = spec.splitn(4, ' ').collect();
    let [listen, host_id, client_id, log] = parts[..] else {
        panic!("{SIM_CHILD_VAR}={spec:?}: four fields wanted");
    };
    let sim = Sim::start(SimConfig {
        listen: listen.parse().expect("a socket address"),
        host_id: host_id.into(),
        client_id: client_id.into(),
        faults: Faults::default(),
        request_log: Some(PathBuf::from(log)),
    })
    .expect("the lond child listens");
    println!("lond-sim listening on {}", sim.addr());
    std::io::stdout().flush().expect("standard output");
    loop {
        std::thread::park();
    }
}

/// A frozen lond (SIGSTOP after its handshake), one link allowed, several clients arriving
/// over two seconds (one on the link, the others queued, then waiting for a handshake that
/// never ends): each is answered `con_lost` within the request timeout S of its arrival plus
/// slack, well before 2 S (one deadline, never two), and a WARNING says a request timed out.
pub fn a_frozen_lond_answers_every_client_within_one_request_timeout(bin: &Path) {
    let mut f = Fixture::new(bin);
    let lond = SimChild::start(&f, "alpha");
    let timeout = Duration::from_secs(4);
    let secs = timeout.as_secs().to_string();
    f.start_daemon(&[
        "--max-links",
        "1",
        "--step-timeout",
        &secs,
        "--request-timeout",
        &secs,
    ]);
    assert_eq!(f.ask("alpha", "ping"), "alpha", "the link is up");
    lond.freeze();
    let client = f.client();
    let mut waiting = Vec::new();
    for i in 0..8 {
        let client = client.clone();
        waiting.push(std::thread::spawn(move || {
            let start = Instant::now();
            let reply = answer(&client, "alpha", format!("echo:{i}").as_bytes());
            (reply, start.elapsed())
        }));
        // Arrivals spread over two seconds, not a wait for anything.
        std::thread::sleep(Duration::from_millis(250));
    }
    // The deadline is rounded up to the daemon's 1 s tick; half a timeout more is slack.
    let bound = timeout + timeout / 2;
    for (i, t) in waiting.into_iter().enumerate() {
        let (reply, took) = t.join().expect("every client is answered");
        assert_eq!(String::from_utf8_lossy(&reply), "con_lost", "client {i}");
        assert!(
            took <= bound,
            "client {i} answered after {took:?}: more than {bound:?} (the deadline is {timeout:?})"
        );
    }
    let log = f.lonc_log();
    assert!(
        log.lines()
            .any(|l| l.contains(" WARNING: ") && l.contains("not answered within 4 s")),
        "{log}"
    );
    drop(lond);
}

/// TERM while spooled requests are being replayed (each reply takes the lond 100 ms): the
/// daemon exits 0 with files left, a new daemon delivers them, and every request has been
/// executed exactly once in all.
pub fn term_during_a_replay_leaves_no_request_executed_twice(bin: &Path) {
    let mut f = Fixture::new(bin);
    const FILES: u64 = 60;
    for i in 0..FILES {
        f.spool(1_700_000_000 + i, "put", "alpha", &format!("put:t{i}:v"));
    }
    f.start_sim(
        "alpha",
        Faults {
            delay: Some(Duration::from_millis(100)),
            ..Faults::default()
        },
    );
    f.start_daemon(&["--max-links", "2", "--delayed-scan", "0.5"]);
    eventually("the replay to be under way", || {
        f.sim("alpha").stats().requests.load(Ordering::Relaxed) >= 5
    });
    f.signal(libc::SIGTERM);
    assert_eq!(f.wait_exit().code(), Some(0));
    assert!(f.spool_left() > 0, "the replay ended before TERM");
    f.start_daemon(&["--delayed-scan", "0.5"]);
    eventually("the rest to be delivered", || f.spool_left() == 0);
    let requests = f.sim_requests("alpha");
    assert_eq!(repeated(&requests), vec![], "requests executed twice");
    for i in 0..FILES {
        assert_eq!(times(&requests, &format!("P:put:t{i}:v")), 1, "file {i}");
    }
}

/// `lonnet.perm.log` cannot be written (a directory in its place, which stops root too) when
/// a spooled request is delivered: the file is kept, a line says so, and it is not sent again;
/// once the path can be written, the `S:` record is written and the file deleted, the request
/// still executed once.
pub fn a_delivered_file_is_kept_until_its_perm_log_record_is_written(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&["--delayed-scan", "0.5"]);
    let perm = f.logs.join("lonnet.perm.log");
    std::fs::remove_file(&perm).expect("the daemon created the permanent log");
    std::fs::create_dir(&perm).unwrap();
    let name = f.spool(1_700_000_000, "put", "alpha", "put:kept:v");
    let failures = |f: &Fixture| f.lonc_log().matches("Cannot write lonnet.perm.log").count();
    // Two failures: the delivery's, and the next scan's try to write the record.
    eventually("two failures to write the record", || failures(&f) >= 2);
    assert!(f.spooled(&name), "the delivered file is kept");
    assert_eq!(times(&f.sim_requests("alpha"), "P:put:kept:v"), 1);
    std::fs::remove_dir(&perm).unwrap();
    std::fs::write(&perm, "").unwrap();
    eventually("the record written and the file deleted", || {
        !f.spooled(&name)
    });
    assert_eq!(
        f.perm_log().matches(":S:alpha:put:kept:v:").count(),
        1,
        "{}",
        f.perm_log()
    );
    assert_eq!(times(&f.sim_requests("alpha"), "P:put:kept:v"), 1);
}

/// Every path under `root` with its kind, and for those not in `volatile` (files a running
/// daemon writes on its own) its length and modification time.
fn tree(root: &Path, volatile: &[&str]) -> Vec<String> {
    fn walk(dir: &Path, volatile: &[&str], out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("a directory") {
            let path = entry.expect("an entry").path();
            let m = path.symlink_metadata().expect("metadata");
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if volatile.contains(&name.as_ref()) {
                out.push(format!("{} {:?}", path.display(), m.file_type()));
            } else {
                out.push(format!(
                    "{} {:?} {} {:?}",
                    path.display(),
                    m.file_type(),
                    m.len(),
                    m.modified().ok()
                ));
            }
            if m.is_dir() {
                walk(&path, volatile, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, volatile, &mut out);
    out.sort();
    out
}

/// `lonc check` reads the configuration as the daemon would: a good one is OK (status 0, every
/// remote host listed with its address), a bad `hosts.tab` line is named (status 1), an empty
/// `hosts.tab` would not start (status 1). A running daemon is reported and left alone (its
/// lock, its pid file, its sockets), and check creates and changes no file.
pub fn check_reports_what_the_daemon_would_serve_and_every_problem(bin: &Path) {
    let mut f = Fixture::new(bin);
    let check = |f: &Fixture| {
        let out = Command::new(bin)
            .arg("--conf")
            .arg(&f.conf)
            .arg("check")
            .stdin(Stdio::null())
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), stdout)
    };
    let before = tree(f.dir.path(), &[]);
    let (code, out) = check(&f);
    assert_eq!(
        tree(f.dir.path(), &[]),
        before,
        "check created or changed a file"
    );
    assert_eq!(code, Some(0), "{out}");
    for (id, ip) in PEERS {
        let host = format!(
            "\n  {id:<5}  {}:{}  {id}.test\n",
            Ipv4Addr::from(ip),
            f.port
        );
        assert!(out.contains(&host), "{host:?} not in\n{out}");
    }
    assert!(out.contains("\ndaemon: not running\n"), "{out}");
    assert!(
        out.ends_with("\nlonc check: configuration OK, 3 remote hosts\n"),
        "{out}"
    );

    // A bad line, after the five of the fixture.
    let good = std::fs::read_to_string(&f.hosts_file).unwrap();
    assert_eq!(good.lines().count(), 5);
    std::fs::write(&f.hosts_file, format!("{good}delta:broken\n")).unwrap();
    let (code, out) = check(&f);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("\nproblem: hosts.tab line 6: expected 5 fields"),
        "{out}"
    );
    assert!(
        out.ends_with("\nlonc check: 1 problem; the daemon would start and serve 3 remote hosts\n"),
        "{out}"
    );

    // An empty table: the daemon would not start.
    std::fs::write(&f.hosts_file, "").unwrap();
    let (code, out) = check(&f);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "\nproblem: hosts table {} has no usable remote host",
            f.hosts_file.display()
        )),
        "{out}"
    );
    assert!(out.ends_with("; the daemon would not start\n"), "{out}");

    // A running daemon: reported, its files and sockets left alone.
    std::fs::write(&f.hosts_file, &good).unwrap();
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&[]);
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    let pid_file = f.logs.join("lonc.pid");
    let volatile = ["lonc.log", "alpha.requests"];
    let before = (
        tree(f.dir.path(), &volatile),
        std::fs::read_to_string(&pid_file).unwrap(),
    );
    let (code, out) = check(&f);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("\ndaemon: running (pid {}; ", f.pid())),
        "{out}"
    );
    assert_eq!(
        (
            tree(f.dir.path(), &volatile),
            std::fs::read_to_string(&pid_file).unwrap()
        ),
        before,
        "check created or changed a file"
    );
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    for h in ["beta", "gamma"] {
        assert!(accepting(&f.sock_dir.join(h)), "{h}'s socket still answers");
    }
    // Its lock was never taken from it: it still stops cleanly, removing its pid file.
    f.signal(libc::SIGTERM);
    assert_eq!(f.wait_exit().code(), Some(0));
    assert!(!pid_file.exists());
    // Stopped, its logs directory left: still nothing created (no pid file, no log).
    let before = tree(f.dir.path(), &[]);
    let (code, out) = check(&f);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("\ndaemon: not running\n"), "{out}");
    assert_eq!(
        tree(f.dir.path(), &[]),
        before,
        "check created or changed a file"
    );
}

/// Runs `lonc <args>` on the fixture's configuration.
fn lonc(f: &Fixture, args: &[&str]) -> std::process::Output {
    Command::new(&f.bin)
        .arg("--conf")
        .arg(&f.conf)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("lonc runs")
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `lonc status` (table, one host in full, JSON), `revive`, `debug` and `reload` through the
/// control socket, on the daemon's own counters; the socket is 0600 and removed at exit.
pub fn control_commands_show_and_steer_the_daemon(bin: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    let mut daemon = Killed::daemon(
        &f,
        &[
            "--retries",
            "1",
            "--probe-min",
            "3600",
            "--probe-max",
            "3600",
            "--connect-timeout",
            "30",
        ],
    );
    for h in ["alpha", "beta", "gamma"] {
        eventually("the sockets", || accepting(&f.sock_dir.join(h)));
    }
    let ctl = f.logs.join("lonc.ctl");
    eventually("the control socket", || accepting(&ctl));
    let mode = std::fs::metadata(&ctl).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    assert_eq!(f.ask("alpha", "echo:x"), "x");
    f.assert_con_lost_at_once("gamma", "ping");

    let out = lonc(&f, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let table = stdout(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with(&format!("lonc {}", env!("CARGO_PKG_VERSION")))
            && lines[0].contains(&format!(", pid {}, up ", daemon.0.id()))
            && lines[0].ends_with(", running"),
        "{table}"
    );
    assert_eq!(lines[1], "3 hosts, 1 dead, 1 links, 0 clients");
    assert!(lines[2].starts_with("HOST "), "{table}");
    let row = |id: &str| -> Vec<String> {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id} in {table}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    // HOST STATE LINKS QUEUE RT SPOOL REQUESTS LOST P50 P99
    assert_eq!(row("alpha")[1..8], ["ok", "0/1/0", "0", "1", "0", "2", "0"]);
    let gamma = row("gamma");
    assert_eq!(gamma[1], "dead"); // then how long, e.g. `0s`
    assert_eq!(gamma[gamma.len() - 4..], ["1", "1", "-", "-"]);
    assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");

    let out = lonc(&f, &["status", "gamma"]);
    let detail = stdout(&out);
    assert!(detail.contains("\ngamma: dead for "), "{detail}");
    assert!(
        detail.contains("con_lost by cause: connect_failed 1\n"),
        "{detail}"
    );
    assert!(!detail.contains("alpha"), "{detail}");

    let out = lonc(&f, &["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let alpha = &json["hosts"][0];
    assert_eq!(alpha["id"], "alpha");
    assert_eq!(alpha["requests"], 2);
    assert_eq!(alpha["replies"], 2);
    assert_eq!(alpha["links"]["idle"], 1);
    assert_eq!(alpha["latency"]["replies_last_minute"], 2);
    assert!(alpha["latency"]["max_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(json["hosts"][2]["con_lost"]["connect_failed"], 1);
    assert_eq!(json["daemon"]["dead"], 1);

    let out = lonc(&f, &["status", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "lonc: no such host: nosuch\n"
    );

    // Revive the dead host: its lond is up now.
    f.start_sim("gamma", Faults::default());
    let out = lonc(&f, &["revive", "gamma"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        stdout(&out),
        "gamma was dead: revived, and a link is opening to probe it\n"
    );
    assert_eq!(f.ask("gamma", "ping"), "gamma");

    let out = lonc(&f, &["debug", "on"]);
    assert_eq!(stdout(&out), "debug logging on (was off)\n");
    eventually("the debug line", || {
        f.lonc_log()
            .contains("Debug logging on (a control command)")
    });
    let out = lonc(&f, &["debug", "on"]);
    assert_eq!(stdout(&out), "debug logging on (was on)\n");

    f.write_hosts(&["alpha", "gamma"]);
    let out = lonc(&f, &["reload"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        stdout(&out),
        "reloaded: 2 hosts served; added: none; removed: beta; changed: none\n"
    );
    f.write_hosts(&[]);
    let out = lonc(&f, &["reload"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reload refused, keeping the 2 hosts"),
        "{out:?}"
    );

    // SAFETY: kill(2) on the daemon this test started.
    unsafe {
        libc::kill(daemon.0.id() as libc::pid_t, libc::SIGTERM);
    }
    assert_eq!(daemon.exit_status().code(), Some(0));
    assert!(!ctl.exists(), "the control socket is removed at exit");
    let out = lonc(&f, &["status"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}

/// Control clients that connect and say nothing, or send garbage, hold at most the control
/// socket's few slots until their timeout: requests are served all the while, and a slot
/// frees as soon as its client goes.
pub fn hostile_control_clients_cost_only_control_slots(bin: &Path) {
    let mut f = Fixture::new(bin);
    f.start_sim("alpha", Faults::default());
    f.start_daemon(&[]);
    let ctl = f.logs.join("lonc.ctl");
    eventually("the control socket", || accepting(&ctl));
    // A line over the limit is refused with a reason.
    let mut long = UnixStream::connect(&ctl).unwrap();
    let _ = long.write_all(&vec![b'x'; 10_000]);
    let mut answer = String::new();
    let _ = long.read_to_string(&mut answer);
    assert_eq!(answer, "error: the command is longer than 4096 bytes\n");
    let out = lonc(&f, &["status", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    // Eight silent clients fill the slots: a ninth is closed at once, requests still go.
    let silent: Vec<UnixStream> = (0..8).map(|_| UnixStream::connect(&ctl).unwrap()).collect();
    eventually("the ninth control client refused", || {
        let s = UnixStream::connect(&ctl).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        closed_unanswered(s, b"status\n")
    });
    assert_eq!(f.ask("alpha", "ping"), "alpha");
    drop(silent);
    eventually("the slots free again", || {
        lonc(&f, &["status"]).status.code() == Some(0)
    });
}

/// `lonc spool list` (the directory as the daemon reads it, an `encrypt:` request's arguments
/// hidden), `lonc spool delete` while the host's lond is down (the `R:` record naming who; the
/// file never delivered), hostile names refused with nothing outside touched, and `lonc spool
/// flush` delivering the rest once the lond is up.
pub fn the_spool_is_listed_flushed_and_deleted_from_the_command_line(bin: &Path) {
    let mut f = Fixture::new(bin);
    let a = f.spool(1_700_000_000, "putgradeA", "alpha", "put:grade:A");
    let b = f.spool(
        1_700_000_001,
        "encryptpasswd",
        "alpha",
        "encrypt:passwd:msu:jdoe:oldpw:newpw",
    );
    let c = f.spool(1_700_000_002, "putxy", "alpha", "put:x:y");
    let other = f.spool(1_700_000_003, "ping", "beta", "ping");
    // alpha's lond is down: the start-up scan's replay fails once, the files stay.
    f.start_daemon(&["--retries", "3", "--delayed-scan", "3600"]);
    let ctl = f.logs.join("lonc.ctl");
    eventually("the control socket", || accepting(&ctl));
    eventually("alpha's failed replay", || {
        f.lonc_log()
            .contains("Failed to make a connection with lond on alpha")
    });

    let out = lonc(&f, &["spool", "list"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let list = stdout(&out);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 6, "{list}");
    assert!(
        lines[0].starts_with("AGE ") && lines[0].ends_with(" REQUEST"),
        "{list}"
    );
    for (line, (name, host, request)) in lines[1..5].iter().zip([
        (&a, "alpha", "put:grade:A"),
        (&b, "alpha", "encrypt:passwd"),
        (&c, "alpha", "put:x:y"),
        (&other, "beta", "ping"),
    ]) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[1..], [host, name.as_str(), request], "{list}");
    }
    assert!(!list.contains("oldpw") && !list.contains("newpw"), "{list}");
    assert_eq!(lines[5], "4 delayed files for 2 hosts");
    let out = lonc(&f, &["spool", "list", "beta"]);
    assert_eq!(stdout(&out).lines().count(), 3, "{out:?}");

    // Delete one of alpha's while its lond is down.
    let out = lonc(&f, &["spool", "delete", &a]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out), format!("deleted {a} (alpha: put:grade:A)\n"));
    assert!(!f.spooled(&a));
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let perm = f.perm_log();
    let record = perm
        .lines()
        .find(|l| l.contains(":R:"))
        .unwrap_or_else(|| panic!("an R: record in {perm}"));
    let (_, rest) = record.split_once(":R:").unwrap();
    let fields: Vec<&str> = rest.splitn(4, ':').collect();
    assert_eq!(fields[..2], ["alpha", a.as_str()], "{record}");
    assert!(fields[2].ends_with(&format!("({uid})")), "{record}");
    assert!(fields[3].starts_with("put:grade:A:"), "{record}");
    assert!(
        f.lonc_log()
            .contains(&format!("Delayed file {a} (put:grade:A) deleted by "))
    );

    // Hostile names: refused, nothing outside the delayed directory touched.
    let victim = f.dir.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    std::fs::write(f.sock_dir.join("x"), "keep me too").unwrap();
    let out = lonc(
        &f,
        &[
            "spool",
            "delete",
            "../x",
            victim.to_str().unwrap(),
            "..",
            &b,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let said = stdout(&out);
    assert!(
        said.starts_with("not deleted ../x: not a file of the delayed directory"),
        "{said}"
    );
    assert!(
        said.contains(&format!("deleted {b} (alpha: encrypt:passwd)\n")),
        "{said}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "lonc: 3 of 4 files not deleted\n"
    );
    assert!(victim.exists() && f.sock_dir.join("x").exists());
    assert!(!f.perm_log().contains("oldpw"));
    let out = lonc(&f, &["spool", "delete", &format!("{c} {other}")]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a name with a space is misuse: {out:?}"
    );
    assert!(f.spooled(&c) && f.spooled(&other));

    // alpha's lond comes up: flush delivers the rest at once.
    f.start_sim("alpha", Faults::default());
    let out = lonc(&f, &["spool", "flush", "alpha"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout(&out).starts_with("alpha: "), "{out:?}");
    eventually("the rest delivered", || !f.spooled(&c));
    let requests = f.sim_requests("alpha");
    assert!(requests.iter().any(|r| r == "P:put:x:y"), "{requests:?}");
    assert!(
        !requests
            .iter()
            .any(|r| r.contains("put:grade:A") || r.contains("passwd")),
        "a deleted file was delivered: {requests:?}"
    );
    assert!(f.perm_log().contains(":S:alpha:put:x:y:"));
    assert!(f.spooled(&other), "beta's file stays");
    let out = lonc(&f, &["spool", "flush", "nosuch"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

/// Sends `request` and reads to the end: true if the daemon closed the connection with no
/// answer (an end of stream, or a reset: closed with the request unread). Set a read timeout on
/// `stream` first.
pub fn closed_unanswered(mut stream: impl Read + Write, request: &[u8]) -> bool {
    let _ = stream.write_all(request);
    let mut buf = Vec::new();
    match stream.read_to_end(&mut buf) {
        Ok(_) => buf.is_empty(),
        Err(e) => e.kind() == ErrorKind::ConnectionReset,
    }
}

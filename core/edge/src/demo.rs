//! `lonc demo`: a temporary LON-CAPA layout, simulated londs on loopback addresses, the real
//! daemon (this very binary, as a child process), and traffic through the real UNIX sockets.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lonc_client::Spool;
use lonc_client::{Client, critical};

use crate::cli::DemoArgs;
use crate::sim::{Faults, Sim, SimConfig, free_port};

const OWN: &str = "demo0";

/// Runs the demo and prints its report; returns the exit status.
pub fn run(args: &DemoArgs) -> i32 {
    match demo(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lonc demo: {e}");
            1
        }
    }
}

struct Layout {
    root: PathBuf,
    conf: PathBuf,
    sock_dir: PathBuf,
    perm_log: PathBuf,
    status_file: PathBuf,
    pid_file: PathBuf,
}

impl Layout {
    fn create(root: &Path, port: u16) -> std::io::Result<Layout> {
        let sock_dir = root.join("sockets");
        let daemons = root.join("perl");
        let docs = root.join("html");
        let tabs = root.join("lonTabs");
        for d in [
            &sock_dir,
            &sock_dir.join("delayed"),
            &daemons.join("logs"),
            &docs,
            &tabs,
        ] {
            std::fs::create_dir_all(d)?;
        }
        let conf = root.join("loncapa.conf");
        std::fs::write(
            &conf,
            format!(
                "# A LON-CAPA layout for lonc demo\n\
                 PerlSetVar lonHostID {OWN}\n\
                 PerlSetVar lonSockDir {}\n\
                 PerlSetVar lonDaemons {}\n\
                 PerlSetVar lonDocRoot {}\n\
                 PerlSetVar lonTabDir {}\n\
                 PerlSetVar londPort {port}\n",
                sock_dir.display(),
                daemons.display(),
                docs.display(),
                tabs.display()
            ),
        )?;
        std::fs::write(
            tabs.join("hosts.tab"),
            "demo0:demo:library:demo0.example:127.0.0.1\n\
             demo1:demo:library:demo1.example:127.0.0.2\n\
             demo2:demo:access:demo2.example:127.0.0.3\n\
             demo3:demo:access:demo3.example:127.0.0.4\n",
        )?;
        Ok(Layout {
            root: root.to_path_buf(),
            conf,
            perm_log: daemons.join("logs/lonnet.perm.log"),
            status_file: docs.join("lon-status/loncstatus.txt"),
            pid_file: daemons.join("logs/lonc.pid"),
            sock_dir,
        })
    }
}

fn sim(host: &str, ip: [u8; 4], port: u16) -> std::io::Result<Sim> {
    Sim::start(SimConfig {
        listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port),
        host_id: host.into(),
        client_id: OWN.into(),
        faults: Faults::default(),
        request_log: None,
    })
}

struct Daemon(Child);

impl Daemon {
    fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.0.id() as libc::pid_t, signal);
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `ready` every few milliseconds for at most `bound`.
fn wait_for(bound: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + bound;
    while Instant::now() < end {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    ready()
}

fn show(out: &mut String, what: &str, reply: &[u8]) {
    let _ = writeln!(out, "  {what:<44} -> {}", String::from_utf8_lossy(reply));
}

fn demo(args: &DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::Builder::new().prefix("lonc-demo-").tempdir()?;
    // demo1 to demo3: the simulated londs, and nothing listening for demo3.
    let port = free_port(&[[127, 0, 0, 2], [127, 0, 0, 3], [127, 0, 0, 4]].map(IpAddr::from))?;
    let layout = Layout::create(tmp.path(), port)?;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "lonc demo: a LON-CAPA layout in {}",
        layout.root.display()
    );
    let _ = writeln!(
        report,
        "  hosts.tab: demo0 (us), demo1 at 127.0.0.2 and demo2 at 127.0.0.3 (simulated londs, \
         port {port}),\n             demo3 at 127.0.0.4 (nobody listening)"
    );

    let demo1 = sim("demo1", [127, 0, 0, 2], port)?;
    let exe = std::env::current_exe()?;
    let child = Command::new(exe)
        .arg("--conf")
        .arg(&layout.conf)
        .args(["--probe-min", "60", "--shutdown-grace", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let daemon = Daemon(child);
    let sockets = ["demo1", "demo2", "demo3"].map(|h| layout.sock_dir.join(h));
    // A socket file exists from bind on, a moment before the daemon listens: ask by connecting.
    let listening = |s: &PathBuf| std::os::unix::net::UnixStream::connect(s).is_ok();
    if !wait_for(Duration::from_secs(10), || sockets.iter().all(listening)) {
        return Err("the daemon did not create its sockets".into());
    }
    let _ = writeln!(
        report,
        "\nThe daemon (pid {}) listens on {}/{{demo1,demo2,demo3}}; never on demo0.",
        daemon.0.id(),
        layout.sock_dir.display()
    );

    let client = Client::new(&layout.sock_dir).with_timeout(Duration::from_secs(10));
    let spool = Spool::new(layout.sock_dir.join("delayed"), &layout.perm_log);
    let ask = |host: &str, req: &str| client.reply(host, req.as_bytes()).unwrap_or_default();

    let _ = writeln!(report, "\n1. Plain and encrypted requests to demo1:");
    for req in [
        "ping",
        "echo:hello LON-CAPA",
        "put:course:physics101",
        "get:course",
    ] {
        show(&mut report, &format!("demo1 {req}"), &ask("demo1", req));
    }
    show(
        &mut report,
        "demo1 encrypt:echo:my password",
        &ask("demo1", "encrypt:echo:my password"),
    );
    let _ = writeln!(
        report,
        "  demo1's lond saw {} requests, {} of them encrypted (sent as enc:<len>:<hex>).",
        demo1
            .stats()
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        demo1
            .stats()
            .encrypted_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    );

    let _ = writeln!(report, "\n2. A critical request while demo2 is down:");
    let answer = critical(&client, &spool, "demo2", b"put:grade:A")?;
    show(&mut report, "critical demo2 put:grade:A", &answer);
    let spooled = std::fs::read_dir(layout.sock_dir.join("delayed"))?.count();
    let _ = writeln!(report, "  spooled files in delayed/: {spooled}");
    let demo2 = sim("demo2", [127, 0, 0, 3], port)?;
    let _ = writeln!(
        report,
        "  demo2's lond comes up; the next request opens a link and"
    );
    let _ = writeln!(report, "  the spooled request is replayed on it:");
    show(&mut report, "demo2 ping", &ask("demo2", "ping"));
    let delivered = wait_for(Duration::from_secs(5), || {
        std::fs::read_dir(layout.sock_dir.join("delayed")).is_ok_and(|d| d.count() == 0)
    });
    show(&mut report, "demo2 get:grade", &ask("demo2", "get:grade"));
    let _ = writeln!(
        report,
        "  delayed/ is {}; lonnet.perm.log:",
        if delivered {
            "empty again"
        } else {
            "NOT empty"
        }
    );
    for line in std::fs::read_to_string(&layout.perm_log)?.lines() {
        let _ = writeln!(report, "    {line}");
    }

    let _ = writeln!(
        report,
        "\n3. demo3 has no lond: each try uses one of 5 retries, then it is dead:"
    );
    for i in 1..=5 {
        show(
            &mut report,
            &format!("demo3 ping (try {i})"),
            &ask("demo3", "ping"),
        );
    }
    let start = Instant::now();
    let reply = ask("demo3", "ping");
    let took = start.elapsed();
    show(&mut report, "demo3 ping (dead host)", &reply);
    let _ = writeln!(
        report,
        "  answered in {} µs, without touching the network",
        took.as_micros()
    );

    let _ = writeln!(
        report,
        "\n4. SIGUSR1: the status file (and dead hosts get a fresh budget):"
    );
    daemon.signal(libc::SIGUSR1);
    if wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(&layout.status_file).is_ok_and(|s| s.lines().count() >= 5)
    }) {
        for line in std::fs::read_to_string(&layout.status_file)?.lines() {
            let short: Vec<&str> = line.splitn(4, '\t').take(3).collect();
            let _ = writeln!(report, "    {}", short.join("  "));
        }
    }

    let _ = writeln!(report, "\n5. SIGTERM: orderly shutdown.");
    daemon.signal(libc::SIGTERM);
    let mut daemon = daemon;
    let exited = wait_for(Duration::from_secs(10), || {
        daemon.0.try_wait().ok().flatten().is_some()
    });
    let status = daemon.0.try_wait().ok().flatten();
    let _ = writeln!(
        report,
        "  exited: {} ({}); pid file removed: {}; sockets removed: {}",
        exited,
        status.map_or("still running".to_owned(), |s| s.to_string()),
        !layout.pid_file.exists(),
        sockets.iter().all(|s| !s.exists())
    );
    drop(demo2);
    if args.keep {
        let kept = tmp.keep();
        let _ = writeln!(report, "\nThe layout is kept in {}.", kept.display());
    }
    print!("{report}");
    Ok(())
}

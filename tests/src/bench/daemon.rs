//! A daemon under test: a temporary LON-CAPA layout (loncapa.conf, hosts.tab, sockets, logs),
//! the daemon binary started on it, and its resident size read from `/proc`.

use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Our own host id in every layout.
pub const OWN_ID: &str = "me";

/// A temporary LON-CAPA layout whose hosts.tab lists `me` and the given hosts.
pub struct Layout {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub sock_dir: PathBuf,
    pub hosts: Vec<String>,
}

impl Layout {
    pub fn new(port: u16, hosts: &[(String, Ipv4Addr)]) -> io::Result<Layout> {
        let dir = tempfile::Builder::new().prefix("lonc-bench-").tempdir()?;
        let root = dir.path();
        let sock_dir = root.join("sockets");
        for d in ["sockets/delayed", "perl/logs", "html/lon-status", "lonTabs"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        let conf = root.join("loncapa.conf");
        std::fs::write(
            &conf,
            format!(
                "PerlSetVar lonHostID {OWN_ID}\nPerlSetVar lonSockDir {}\n\
                 PerlSetVar lonDaemons {}\nPerlSetVar lonDocRoot {}\n\
                 PerlSetVar lonTabDir {}\nPerlSetVar londPort {port}\n",
                sock_dir.display(),
                root.join("perl").display(),
                root.join("html").display(),
                root.join("lonTabs").display(),
            ),
        )?;
        let mut tab = format!("{OWN_ID}:bench:library:{OWN_ID}.bench:127.0.0.1\n");
        for (id, ip) in hosts {
            tab.push_str(&format!("{id}:bench:access:{id}.bench:{ip}\n"));
        }
        std::fs::write(root.join("lonTabs/hosts.tab"), tab)?;
        Ok(Layout {
            conf,
            sock_dir,
            hosts: hosts.iter().map(|(id, _)| id.clone()).collect(),
            dir,
        })
    }

    /// The UNIX socket of `host`.
    pub fn socket(&self, host: &str) -> PathBuf {
        self.sock_dir.join(host)
    }
}

/// A running daemon; terminated (SIGTERM, then SIGKILL) when dropped.
pub struct Daemon {
    child: Child,
    /// Reaped already ([`Daemon::stop`]): its pid may belong to another process now.
    reaped: bool,
    pub layout: Layout,
}

impl Daemon {
    /// Starts `bin` on `layout` with `extra` flags; returns once every host's socket exists.
    pub fn start(bin: &Path, layout: Layout, extra: &[String]) -> io::Result<Daemon> {
        Daemon::start_under(&[], bin, layout, extra, Duration::from_secs(30))
    }

    /// Starts `bin` on `layout` with `extra` flags as the last arguments of `wrapper` (a
    /// program and its first arguments, e.g. valgrind; none: `bin` itself); returns once every
    /// host's socket exists, or fails after `patience`.
    pub fn start_under(
        wrapper: &[String],
        bin: &Path,
        layout: Layout,
        extra: &[String],
        patience: Duration,
    ) -> io::Result<Daemon> {
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let child = command
            .arg("--conf")
            .arg(&layout.conf)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut d = Daemon {
            child,
            reaped: false,
            layout,
        };
        let end = Instant::now() + patience;
        loop {
            if d.layout.hosts.iter().all(|h| d.layout.socket(h).exists()) {
                return Ok(d);
            }
            if let Some(status) = d.child.try_wait()? {
                d.reaped = true;
                return Err(io::Error::other(format!(
                    "{} exited at start: {status}",
                    bin.display()
                )));
            }
            if Instant::now() > end {
                return Err(io::Error::other(format!(
                    "{}: sockets not there after {patience:?}",
                    bin.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Asks the daemon to stop (SIGTERM) and waits for its exit status, at most `patience`
    /// (then it is killed when dropped, and that is an error). Its layout stays until then.
    pub fn stop(&mut self, patience: Duration) -> io::Result<std::process::ExitStatus> {
        if self.reaped {
            return Err(io::Error::other("stopped already"));
        }
        // SAFETY: kill(2) on our own child, not reaped yet.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let end = Instant::now() + patience;
        while Instant::now() < end {
            if let Some(status) = self.child.try_wait()? {
                self.reaped = true;
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(io::Error::other(format!(
            "pid {} still running {patience:?} after SIGTERM",
            self.child.id()
        )))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> io::Result<u64> {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// Peak resident set size in KiB (`VmHWM`).
    pub fn hwm_kib(&self) -> io::Result<u64> {
        proc_status_kib(self.pid(), "VmHWM:")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `kB` field of `/proc/<pid>/status`.
pub fn proc_status_kib(pid: u32, field: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no {field} in /proc/{pid}/status")))
}

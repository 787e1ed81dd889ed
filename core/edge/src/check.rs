//! `lonc check`: the configuration read exactly as the daemon reads it at start, what the
//! daemon would serve, and every problem it would meet; `nginx -t` for lonc.
//!
//! The configuration files, the settings and `hosts.tab` are read by the daemon's own code
//! ([`ConfigArgs::read_vars`], [`Settings::resolve`], [`startup::read_hosts`],
//! [`startup::refuse_empty_table`]), and the hosts and warnings are those the core's
//! [`Daemon::new`] starts and logs. Then the places the daemon would fail on are looked at: the
//! log, socket, delayed and status directories and files, each host's socket path, and the pid
//! file's lock (whether a daemon already runs). Nothing is created, changed or locked, and no
//! lond is connected to.

use std::ffi::CString;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use lonc_core::conf::{Overrides, PerlVars, Settings, SettingsError, ValueSource};
use lonc_core::daemon::{Action, Daemon, DaemonConfig, HostSpec, PARENT_LOG_HOST};
use lonc_core::log::Severity;
use lonc_core::logfmt::message;
use lonc_core::quote::excerpt;

use crate::cli::{ConfigArgs, DEFAULT_CONF, RunArgs};
use crate::files;
use crate::pidfile::{self, Holder};
use crate::startup;

/// The exit statuses, for `--help` and the README.
pub const EXIT_STATUSES: &str = "\
Exit status:
  0  the daemon would start and serve every host; no problem found
  1  problems found (each on a line starting `problem:`), or the daemon would not start
  2  misuse: bad arguments, a configuration file or hosts.tab that cannot be read";

/// What a problem does to the daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// A file the daemon must read cannot be read: it would not start (exit status 2).
    Unreadable,
    /// The daemon would not start.
    Stops,
    /// The daemon would start, and warn about it or fail at it later.
    Degrades,
}

/// One problem, as one line of text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What it does to the daemon.
    pub effect: Effect,
    /// What is wrong (as the daemon would log or say it, where it would).
    pub text: String,
}

/// Whether a daemon runs on this configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Running {
    /// The pid file's lock is held; the pid it names, if written yet.
    Yes(Option<u32>),
    /// No daemon holds the lock; the pid a stale pid file names, if any.
    No(Option<u32>),
    /// It could not be found out, and why.
    Unknown(String),
}

/// What `lonc check` found.
#[derive(Clone, Debug)]
pub struct Report {
    /// The configuration files read, in order (none: flags only).
    pub conf_files: Vec<PathBuf>,
    /// The settings, if they could be resolved.
    pub settings: Option<Settings>,
    /// Whether the socket directory exists (`false`: the daemon would create it).
    pub sock_dir_exists: bool,
    /// Whether `<lonDaemons>/logs` exists (`false`: the daemon would create it).
    pub logs_dir_exists: bool,
    /// Whether the status file's directory exists (`false`: the daemon would create it).
    pub status_dir_exists: bool,
    /// The remote hosts the daemon would serve, in id order.
    pub hosts: Vec<HostSpec>,
    /// The entries waiting in the delayed directory, if it could be listed.
    pub delayed: Option<usize>,
    /// Whether a daemon runs on this configuration (`None`: not looked at, no settings).
    pub running: Option<Running>,
    /// Every problem, in the order the daemon would meet them.
    pub problems: Vec<Problem>,
}

impl Report {
    fn new(conf_files: Vec<PathBuf>) -> Report {
        Report {
            conf_files,
            settings: None,
            sock_dir_exists: true,
            logs_dir_exists: true,
            status_dir_exists: true,
            hosts: Vec::new(),
            delayed: None,
            running: None,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, effect: Effect, text: impl Into<String>) {
        self.problems.push(Problem {
            effect,
            text: text.into(),
        });
    }

    /// True when the daemon would start: no problem stops it.
    pub fn would_start(&self) -> bool {
        self.problems.iter().all(|p| p.effect == Effect::Degrades)
    }

    /// The exit status: 0 with no problem, 2 when a file the daemon must read cannot be read,
    /// 1 otherwise.
    pub fn status(&self) -> i32 {
        if self.problems.is_empty() {
            0
        } else if self.problems.iter().any(|p| p.effect == Effect::Unreadable) {
            2
        } else {
            1
        }
    }

    /// The report as printed: the configuration files and settings, whether a daemon runs, the
    /// hosts it would serve, one `problem:` line per problem, and a last line starting `lonc
    /// check:` with the verdict. Control characters from the files are escaped, and a
    /// `hosts.tab` value is quoted at most [`lonc_core::quote::MAX_EXCERPT`] bytes long.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut line = |text: String| {
            out.push_str(&printable(&text));
            out.push('\n');
        };
        line(match self.conf_files.as_slice() {
            [] => format!("configuration: none ({DEFAULT_CONF} does not exist; flags only)"),
            files => format!(
                "configuration: {}",
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
        if let Some(s) = &self.settings {
            let created = |exists: bool| {
                if exists {
                    ""
                } else {
                    " (missing; the daemon creates it)"
                }
            };
            let (sockets, logs, status) = (
                self.sock_dir_exists,
                self.logs_dir_exists,
                self.status_dir_exists,
            );
            line(format!("host id: {}", s.host_id));
            line(format!("hosts table: {}", s.hosts_file.display()));
            line(format!("lond port: {}", s.lond_port));
            line(format!(
                "sockets: {}{}",
                s.sock_dir.display(),
                created(sockets)
            ));
            line(format!(
                "delayed: {}{}",
                s.delayed_dir().display(),
                match self.delayed {
                    Some(1) => " (1 file waiting)".to_owned(),
                    Some(n) => format!(" ({n} files waiting)"),
                    None => String::new(),
                }
            ));
            let logs_dir = s.log_file().parent().map(Path::to_path_buf);
            line(format!(
                "logs: {}{}",
                logs_dir.unwrap_or_default().display(),
                created(logs)
            ));
            line(format!(
                "status file: {}{}",
                s.status_file().display(),
                if status {
                    ""
                } else {
                    " (directory missing; the daemon creates it)"
                }
            ));
        }
        if let Some(running) = &self.running {
            let pid_file = self
                .settings
                .as_ref()
                .map(|s| s.pid_file().display().to_string())
                .unwrap_or_default();
            line(match running {
                Running::Yes(Some(pid)) => {
                    format!("daemon: running (pid {pid}; {pid_file} is locked)")
                }
                Running::Yes(None) => format!("daemon: running ({pid_file} is locked)"),
                Running::No(None) => "daemon: not running".to_owned(),
                Running::No(Some(pid)) => {
                    format!("daemon: not running (a stale {pid_file} names pid {pid})")
                }
                Running::Unknown(why) => format!("daemon: unknown ({why})"),
            });
        }
        if self.settings.is_some() {
            line(format!("remote hosts: {}", self.hosts.len()));
        }
        let width = self
            .hosts
            .iter()
            .map(|h| h.id().len())
            .max()
            .unwrap_or(0)
            .min(16);
        let addr_width = self
            .hosts
            .iter()
            .map(|h| h.addr.to_string().len())
            .max()
            .unwrap_or(0);
        for h in &self.hosts {
            let addr = h.addr.to_string();
            line(format!(
                "  {:<width$}  {addr:<addr_width$}  {}",
                excerpt(h.id()),
                excerpt(&h.entry.name)
            ));
        }
        for p in &self.problems {
            line(format!("problem: {}", p.text));
        }
        let hosts = match self.hosts.len() {
            1 => "1 remote host".to_owned(),
            n => format!("{n} remote hosts"),
        };
        line(match self.problems.len() {
            0 => format!("lonc check: configuration OK, {hosts}"),
            n => {
                let problems = if n == 1 {
                    "1 problem".to_owned()
                } else {
                    format!("{n} problems")
                };
                if self.would_start() {
                    format!("lonc check: {problems}; the daemon would start and serve {hosts}")
                } else {
                    format!("lonc check: {problems}; the daemon would not start")
                }
            }
        });
        out
    }
}

/// `lonc check`: prints the [`Report`] of [`check`] on standard output and returns its exit
/// status ([`Report::status`]).
pub fn run(config: &ConfigArgs, run: &RunArgs) -> i32 {
    let report = check(config, run);
    // A reader that went away (`lonc check | head`) is no reason to panic.
    let _ = io::stdout().write_all(report.render().as_bytes());
    report.status()
}

/// Reads the configuration and `hosts.tab` as the daemon would at start and looks at what it
/// would fail on; creates, changes and locks nothing.
pub fn check(config: &ConfigArgs, run: &RunArgs) -> Report {
    let mut report = Report::new(config.conf_files());
    let (daemon_config, metrics_listen) = match run.node_config() {
        Ok(c) => (c.daemon, c.metrics_listen),
        Err(e) => {
            report.problem(Effect::Stops, e);
            (DaemonConfig::default(), None)
        }
    };
    let vars = match config.read_vars() {
        Ok((vars, warnings)) => {
            for w in warnings {
                report.problem(Effect::Degrades, w);
            }
            vars
        }
        Err(e) => {
            report.problem(Effect::Unreadable, e.0);
            return report;
        }
    };
    let settings = match resolve_all(&vars, &config.overrides()) {
        Ok(settings) => settings,
        Err(errors) => {
            for e in errors {
                report.problem(Effect::Stops, e.to_string());
            }
            return report;
        }
    };
    match startup::read_hosts(&settings) {
        Ok((entries, problems)) => {
            // The core's own start: the hosts it starts and the warnings it logs.
            let mut daemon = Daemon::new(daemon_config, settings.clone(), &entries, &problems);
            while let Some(action) = daemon.poll_action() {
                match action {
                    Action::StartHost(spec) => report.hosts.push(spec),
                    Action::Log(event) if event.severity() == Severity::Warning => {
                        report.problem(Effect::Degrades, message(&event, PARENT_LOG_HOST));
                    }
                    _ => {}
                }
            }
            if let Err(e) = startup::refuse_empty_table(&settings, &entries, &problems) {
                report.problem(Effect::Stops, e.0);
            }
        }
        Err(e) => report.problem(Effect::Unreadable, e.0),
    }
    look_around(&mut report, &settings, metrics_listen);
    report.settings = Some(settings);
    report
}

/// [`Settings::resolve`] until every setting is found: each error is noted and its setting
/// given a stand-in, so that all are reported at once (the daemon stops at the first).
fn resolve_all(vars: &PerlVars, overrides: &Overrides) -> Result<Settings, Vec<SettingsError>> {
    let (mut vars, mut overrides) = (vars.clone(), overrides.clone());
    let mut errors = Vec::new();
    // Each round fixes one of the six settings; the bound only guards against a loop.
    for _ in 0..8 {
        let e = match Settings::resolve(&vars, &overrides) {
            Ok(settings) if errors.is_empty() => return Ok(settings),
            Ok(_) => break,
            Err(e) => e,
        };
        match &e {
            SettingsError::Missing { var, .. } => vars.set(*var, "stand-in"),
            SettingsError::BadHostId { source, .. } => match source {
                ValueSource::Flag => overrides.host_id = Some("stand-in".into()),
                ValueSource::ConfFile => vars.set("lonHostID", "stand-in"),
            },
            SettingsError::BadPort { source, .. } => {
                if *source == ValueSource::Flag {
                    overrides.lond_port = None;
                }
                vars.set("londPort", "1");
            }
        }
        errors.push(e);
    }
    Err(errors)
}

/// Looks at what the daemon would fail on with `settings` (and `--metrics-listen`), and
/// whether one runs.
fn look_around(report: &mut Report, settings: &Settings, metrics_listen: Option<SocketAddr>) {
    use libc::{R_OK, W_OK, X_OK};
    let running = match pidfile::holder(&settings.pid_file()) {
        Ok(Holder::NoFile) => Running::No(None),
        Ok(Holder::Free(pid)) => Running::No(pid),
        Ok(Holder::Locked(pid)) => Running::Yes(pid),
        Err(e) => Running::Unknown(format!(
            "cannot tell whether {} is locked: {e}",
            settings.pid_file().display()
        )),
    };
    // Where the daemon starts: the logs, then the socket directory.
    let log_file = settings.log_file();
    let logs_dir = log_file.parent().unwrap_or(Path::new("."));
    match dir_ready(logs_dir, W_OK | X_OK) {
        Ok(exists) => report.logs_dir_exists = exists,
        Err(e) => report.problem(Effect::Stops, format!("logs directory {e}")),
    }
    // The logs are opened following links; the pid file is not (`O_NOFOLLOW`).
    for (file, mode, follow) in [
        (log_file.clone(), W_OK, true),
        (settings.perm_log_file(), W_OK, true),
        (settings.pid_file(), R_OK | W_OK, false),
    ] {
        if let Err(e) = file_ready(&file, mode, follow) {
            report.problem(Effect::Stops, e);
        }
    }
    match dir_ready(&settings.sock_dir, W_OK | X_OK) {
        Ok(exists) => report.sock_dir_exists = exists,
        Err(e) => report.problem(Effect::Stops, format!("socket directory {e}")),
    }
    // The daemon lists it, reads its files and deletes those delivered; a missing one is
    // empty.
    let delayed = settings.delayed_dir();
    let usable = match delayed.symlink_metadata() {
        Ok(_) => dir_ready(&delayed, R_OK | W_OK | X_OK),
        Err(_) => Ok(false),
    };
    match usable.and_then(|_| {
        files::scan_delayed(&delayed)
            .map_err(|e| format!("{}: cannot list it ({e})", delayed.display()))
    }) {
        Ok(names) => report.delayed = Some(names.len()),
        Err(e) => report.problem(Effect::Degrades, format!("delayed directory {e}")),
    }
    let status_file = settings.status_file();
    let status_dir = status_file.parent().unwrap_or(Path::new("."));
    match dir_ready(status_dir, W_OK | X_OK) {
        Ok(exists) => report.status_dir_exists = exists,
        Err(e) => report.problem(
            Effect::Degrades,
            format!("status directory {e}: SIGUSR1 could not write loncstatus.txt"),
        ),
    }
    // Each host's socket: a running daemon's own are left alone.
    let probe = matches!(running, Running::No(_));
    let mut unusable = 0;
    for spec in &report.hosts {
        if let Some(why) = socket_problem(&spec.socket_path, probe) {
            unusable += 1;
            report.problems.push(Problem {
                effect: Effect::Degrades,
                text: format!(
                    "socket {} for {}: {why}; the daemon would not serve it",
                    spec.socket_path.display(),
                    excerpt(spec.id())
                ),
            });
        }
    }
    if unusable > 0 && unusable == report.hosts.len() {
        report.problem(
            Effect::Stops,
            "no host's socket could be listened on: the daemon would exit",
        );
    }
    // The metrics' address: tried (and let go at once) unless a daemon runs, which may hold it.
    if let (Some(addr), true) = (metrics_listen, probe)
        && let Err(e) = std::net::TcpListener::bind(addr)
    {
        report.problem(
            Effect::Degrades,
            format!(
                "metrics address {addr}: cannot listen ({e}); the daemon would serve without \
                 GET /metrics"
            ),
        );
    }
    report.running = Some(running);
}

/// Why the daemon could not listen on a host's socket at `path`, if it could not: too long for
/// a UNIX socket address, a directory in the way, or (with `probe`) a process answering on it.
fn socket_problem(path: &Path, probe: bool) -> Option<String> {
    if socket2::SockAddr::unix(path).is_err() {
        return Some(format!(
            "{} bytes, too long for a UNIX socket address",
            path.as_os_str().len()
        ));
    }
    if path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
        return Some("a directory is in the way".into());
    }
    (probe && files::answers(path))
        .then(|| "another process answers on it (a loncnew not yet stopped?)".into())
}

/// Whether the daemon could use directory `dir` with access `mode`: `Ok(true)` if it exists
/// and allows it, `Ok(false)` if it is missing and could be created (its nearest existing
/// ancestor is a writable directory); otherwise the path and why not.
fn dir_ready(dir: &Path, mode: libc::c_int) -> Result<bool, String> {
    let show = dir.display();
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => access(dir, mode)
            .map(|()| true)
            .map_err(|e| format!("{show}: {e}")),
        Ok(_) => Err(format!("{show} is not a directory")),
        Err(e) if absent(&e) => {
            let mut up = dir.parent();
            while let Some(parent) = up {
                let parent = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                match std::fs::metadata(parent) {
                    Ok(m) if m.is_dir() => {
                        return access(parent, libc::W_OK | libc::X_OK)
                            .map(|()| false)
                            .map_err(|e| {
                                format!(
                                    "{show} does not exist and cannot be created in {}: {e}",
                                    parent.display()
                                )
                            });
                    }
                    Ok(_) => {
                        return Err(format!(
                            "{show} cannot be created: {} is not a directory",
                            parent.display()
                        ));
                    }
                    Err(e) if absent(&e) => up = parent.parent(),
                    Err(e) => return Err(format!("{show}: {e}")),
                }
            }
            Err(format!("{show} does not exist and cannot be created"))
        }
        Err(e) => Err(format!("{show}: {e}")),
    }
}

/// Whether the daemon could open the file at `path` with access `mode`: a missing file is
/// created in its directory (checked apart); an existing one must be a regular file that
/// allows it, reached through a symbolic link only if the daemon `follow`s one there.
fn file_ready(path: &Path, mode: libc::c_int, follow: bool) -> Result<(), String> {
    let show = path.display();
    let meta = if follow {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    };
    match meta {
        Ok(m) if m.is_file() => access(path, mode).map_err(|e| format!("{show}: {e}")),
        Ok(m) if m.file_type().is_symlink() => Err(format!(
            "{show} is a symbolic link, which the daemon does not follow"
        )),
        Ok(_) => Err(format!("{show} is not a regular file")),
        Err(e) if absent(&e) => Ok(()),
        Err(e) => Err(format!("{show}: {e}")),
    }
}

/// True for "no such file" and "a component is not a directory".
fn absent(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

/// `faccessat(2)` with the effective user (the one the daemon would run as, if `check` is run
/// as that user).
fn access(path: &Path, mode: libc::c_int) -> Result<(), String> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| "a path with a NUL byte".to_owned())?;
    // SAFETY: faccessat(2) with a NUL-terminated path; it only reads it.
    if unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), mode, libc::AT_EACCESS) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    let what = [
        (libc::R_OK, "read"),
        (libc::W_OK, "write"),
        (libc::X_OK, "search"),
    ]
    .iter()
    .filter(|(bit, _)| mode & bit != 0)
    .map(|(_, name)| *name)
    .collect::<Vec<_>>()
    .join(", ");
    // SAFETY: geteuid(2) cannot fail.
    let uid = unsafe { libc::geteuid() };
    Err(format!("uid {uid} cannot {what} it ({e})"))
}

/// `text` with each control character escaped (`\u{1b}`, `\n`): nothing from a file can move
/// the terminal's cursor or forge a line.
fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pidfile::{PidFile, PidLockError};
    use lonc_core::quote::MAX_LISTED_PROBLEMS;
    use std::fs;

    /// A LON-CAPA layout in a temporary directory: `loncapa.conf` naming `sockets/`, `perl/`
    /// (no `logs/` yet), `html/` and `lonTabs/hosts.tab` (this server and two peers).
    struct Layout {
        dir: tempfile::TempDir,
        config: ConfigArgs,
    }

    impl Layout {
        fn new() -> Layout {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path();
            fs::create_dir_all(root.join("sockets/delayed")).unwrap();
            fs::create_dir_all(root.join("lonTabs")).unwrap();
            let conf = root.join("loncapa.conf");
            fs::write(
                &conf,
                format!(
                    "PerlSetVar lonHostID me\nPerlSetVar lonSockDir {0}/sockets\n\
                     PerlSetVar lonDaemons {0}/perl\nPerlSetVar lonDocRoot {0}/html\n\
                     PerlSetVar lonTabDir {0}/lonTabs\n",
                    root.display()
                ),
            )
            .unwrap();
            let layout = Layout {
                config: ConfigArgs {
                    conf: vec![conf],
                    ..ConfigArgs::default()
                },
                dir,
            };
            layout.hosts(
                "me:t:library:me.t:127.0.0.1\nalpha:t:access:alpha.t:127.0.0.2\n\
                 beta:t:access:beta.t:127.0.0.3\n",
            );
            layout
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }

        fn hosts(&self, text: impl AsRef<[u8]>) {
            fs::write(self.path("lonTabs/hosts.tab"), text).unwrap();
        }

        fn check(&self) -> Report {
            check(&self.config, &RunArgs::default())
        }

        /// Every path under the layout with its kind, length and modification time.
        fn tree(&self) -> Vec<String> {
            fn walk(dir: &Path, out: &mut Vec<String>) {
                for entry in fs::read_dir(dir).unwrap() {
                    let path = entry.unwrap().path();
                    let m = path.symlink_metadata().unwrap();
                    out.push(format!(
                        "{} {:?} {} {:?}",
                        path.display(),
                        m.file_type(),
                        m.len(),
                        m.modified().unwrap()
                    ));
                    if m.is_dir() {
                        walk(&path, out);
                    }
                }
            }
            let mut out = Vec::new();
            walk(self.dir.path(), &mut out);
            out.sort();
            out
        }
    }

    fn texts(report: &Report) -> Vec<&str> {
        report.problems.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn a_good_configuration_is_ok_lists_every_remote_host_and_creates_nothing() {
        let l = Layout::new();
        let before = l.tree();
        let report = l.check();
        assert_eq!(l.tree(), before, "nothing created or changed");
        assert!(texts(&report).is_empty(), "{:?}", texts(&report));
        assert_eq!(report.status(), 0);
        let ids: Vec<&str> = report.hosts.iter().map(HostSpec::id).collect();
        assert_eq!(ids, ["alpha", "beta"]);
        assert_eq!(report.running, Some(Running::No(None)));
        assert_eq!(report.delayed, Some(0));
        assert!(report.sock_dir_exists);
        assert!(!report.logs_dir_exists && !report.status_dir_exists);
        let out = report.render();
        assert!(
            out.contains("\n  alpha  127.0.0.2:5663  alpha.t\n"),
            "{out}"
        );
        assert!(out.contains("\n  beta   127.0.0.3:5663  beta.t\n"), "{out}");
        assert!(out.contains("\nhost id: me\n"), "{out}");
        assert!(out.contains("\ndaemon: not running\n"), "{out}");
        assert!(
            out.ends_with("\nlonc check: configuration OK, 2 remote hosts\n"),
            "{out}"
        );
        assert!(!out.contains("problem:"), "{out}");
    }

    /// A bad line is named by its number, quoted briefly; the daemon would still start.
    #[test]
    fn a_bad_line_is_a_problem_named_by_its_line_and_quoted_briefly() {
        let l = Layout::new();
        let huge = "9".repeat(10 << 20);
        l.hosts(format!(
            "me:t:l:me:127.0.0.1\nalpha:t:a:{huge}:127.0.0.2\n\ngamma:t:a:g:{huge}x\n"
        ));
        let report = l.check();
        assert_eq!(report.status(), 1);
        assert!(report.would_start());
        assert_eq!(report.problems.len(), 1, "{:?}", texts(&report));
        assert!(report.problems[0].text.starts_with("hosts.tab line 4: \""));
        let out = report.render();
        assert!(out.len() < 2000, "a bounded quotation: {} bytes", out.len());
        assert!(out.contains("(10485761 bytes)"), "{out}");
        assert!(out.contains("  alpha  127.0.0.2:5663  99999"), "{out}");
        assert!(out.contains("9... (10485760 bytes)\n"), "{out}");
        assert!(
            out.ends_with(
                "\nlonc check: 1 problem; the daemon would start and serve 1 remote host\n"
            ),
            "{out}"
        );
    }

    /// Past the daemon's bound, the problems of a file are one line with their count.
    #[test]
    fn a_flood_of_bad_lines_is_listed_to_the_log_s_bound_then_counted() {
        let l = Layout::new();
        let mut text = String::from("alpha:t:a:a:127.0.0.2\n");
        for _ in 0..1000 {
            text.push_str("junk\n");
        }
        l.hosts(text);
        let report = l.check();
        let problems = texts(&report);
        // The listed ones, the count, and the warning that this server is not listed.
        assert_eq!(problems.len(), MAX_LISTED_PROBLEMS + 2, "{problems:?}");
        assert!(problems[MAX_LISTED_PROBLEMS].contains("980 more problem(s)"));
        assert!(problems[MAX_LISTED_PROBLEMS + 1].contains("me (lonHostID) is not in hosts.tab"));
    }

    #[test]
    fn a_table_with_no_remote_host_would_not_start() {
        for table in ["", "me:t:l:me:127.0.0.1\n", "# nothing\n"] {
            let l = Layout::new();
            l.hosts(table);
            let report = l.check();
            assert_eq!(report.status(), 1, "{table:?}");
            assert!(!report.would_start());
            assert!(
                texts(&report)
                    .iter()
                    .any(|p| p.contains("has no usable remote host")),
                "{:?}",
                texts(&report)
            );
            assert!(
                report.render().ends_with("; the daemon would not start\n"),
                "{}",
                report.render()
            );
        }
    }

    #[test]
    fn files_that_cannot_be_read_are_status_2() {
        let l = Layout::new();
        fs::remove_file(l.path("lonTabs/hosts.tab")).unwrap();
        let report = l.check();
        assert_eq!(report.status(), 2);
        assert!(texts(&report)[0].starts_with("cannot read hosts table "));
        // The rest is still looked at.
        assert_eq!(report.running, Some(Running::No(None)));
        let mut config = l.config.clone();
        config.conf.push(l.path("nope.conf"));
        let report = check(&config, &RunArgs::default());
        assert_eq!(report.status(), 2);
        assert!(texts(&report)[0].starts_with("cannot read configuration "));
    }

    /// The daemon names the first missing or bad setting; check names them all.
    #[test]
    fn every_bad_setting_is_named_at_once() {
        let l = Layout::new();
        fs::write(l.path("loncapa.conf"), "PerlSetVar londPort 99999\n").unwrap();
        let report = l.check();
        assert_eq!(report.status(), 1);
        let problems = texts(&report);
        for flag in [
            "--host-id",
            "--sock-dir",
            "--daemons-dir",
            "--doc-root",
            "--hosts",
            "londPort \"99999\"",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(flag)),
                "{flag}: {problems:?}"
            );
        }
        assert_eq!(problems.len(), 6, "{problems:?}");
        let mut config = l.config.clone();
        config.host_id = Some("a/b".into());
        config.lond_port = Some(0);
        config.sock_dir = Some("s".into());
        let report = check(&config, &RunArgs::default());
        let problems = texts(&report);
        assert!(
            problems.iter().any(|p| p.starts_with("--host-id \"a/b\"")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.starts_with("--lond-port 0")),
            "{problems:?}"
        );
        assert!(
            !problems.iter().any(|p| p.contains("lonSockDir")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_metrics_address_that_cannot_be_listened_on_is_a_problem() {
        let l = Layout::new();
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let run = RunArgs {
            metrics_listen: Some(addr),
            ..RunArgs::default()
        };
        let report = check(&l.config, &run);
        assert_eq!(report.status(), 1);
        assert!(report.would_start());
        let want = format!("metrics address {addr}: cannot listen (");
        assert!(
            texts(&report).iter().any(|t| t.starts_with(&want)),
            "{:?}",
            texts(&report)
        );
        drop(taken);
    }

    #[test]
    fn a_bad_daemon_flag_is_a_problem() {
        let l = Layout::new();
        let run = RunArgs {
            probe_max: f64::NAN,
            ..RunArgs::default()
        };
        let report = check(&l.config, &run);
        assert_eq!(report.status(), 1);
        assert!(!report.would_start());
        assert!(
            texts(&report)[0].contains("--probe-max"),
            "{:?}",
            texts(&report)
        );
    }

    /// What the daemon could not create or open is a problem; what it could is not.
    #[test]
    fn directories_and_files_the_daemon_could_not_use_are_problems() {
        let l = Layout::new();
        fs::write(l.path("file"), "").unwrap();
        let mut config = l.config.clone();
        config.sock_dir = Some(l.path("file/sockets"));
        config.doc_root = Some(l.path("file"));
        let report = check(&config, &RunArgs::default());
        let problems = texts(&report);
        let not_a_dir = format!(
            "cannot be created: {} is not a directory",
            l.path("file").display()
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("socket directory ") && p.ends_with(&not_a_dir)),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.starts_with("status directory ")),
            "{problems:?}"
        );
        assert!(!report.would_start());
        // The logs: a pid file that is a symbolic link, a lonc.log that is a directory.
        let l = Layout::new();
        fs::create_dir_all(l.path("perl/logs/lonc.log")).unwrap();
        std::os::unix::fs::symlink(l.path("elsewhere"), l.path("perl/logs/lonc.pid")).unwrap();
        fs::create_dir(l.path("sockets/delayed/x")).unwrap();
        let report = l.check();
        let problems = texts(&report);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].ends_with("lonc.log is not a regular file"),
            "{problems:?}"
        );
        assert!(
            problems[1].ends_with("lonc.pid is a symbolic link, which the daemon does not follow")
        );
        assert_eq!(report.delayed, Some(1));
        // A delayed directory that is not one.
        let l = Layout::new();
        fs::remove_dir(l.path("sockets/delayed")).unwrap();
        fs::write(l.path("sockets/delayed"), "").unwrap();
        let report = l.check();
        assert_eq!(
            texts(&report),
            [format!(
                "delayed directory {} is not a directory",
                l.path("sockets/delayed").display()
            )]
        );
        assert!(report.would_start());
    }

    #[test]
    fn a_socket_path_too_long_for_a_unix_socket_is_a_problem() {
        let l = Layout::new();
        let mut config = l.config.clone();
        config.sock_dir = Some(l.path(&"s".repeat(120)));
        let report = check(&config, &RunArgs::default());
        let problems = texts(&report);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].contains("for alpha: ")
                && problems[0].contains("too long for a UNIX socket address")
        );
        assert!(problems[2].starts_with("no host's socket could be listened on"));
        assert!(!report.would_start());
    }

    /// A socket another process answers on is a problem, unless the daemon of this very
    /// configuration runs: then it is its own. Looking takes and changes nothing.
    #[test]
    fn a_running_daemon_is_reported_and_left_alone() {
        let l = Layout::new();
        let listener = std::os::unix::net::UnixListener::bind(l.path("sockets/alpha")).unwrap();
        let report = l.check();
        assert_eq!(texts(&report).len(), 1, "{:?}", texts(&report));
        assert!(texts(&report)[0].contains("for alpha: another process answers on it"));
        assert!(report.would_start());
        listener.set_nonblocking(true).unwrap();
        listener
            .accept()
            .expect("the probe's connection, to be taken");
        // The lock of "our" daemon.
        let pid_path = l.path("perl/logs/lonc.pid");
        let pid_file = PidFile::lock(&pid_path).unwrap();
        pid_file.write_pid().unwrap();
        let before = l.tree();
        let report = l.check();
        assert_eq!(l.tree(), before);
        assert_eq!(report.status(), 0, "{:?}", texts(&report));
        let pid = std::process::id();
        assert_eq!(report.running, Some(Running::Yes(Some(pid))));
        assert!(report.render().contains(&format!(
            "\ndaemon: running (pid {pid}; {} is locked)\n",
            pid_path.display()
        )));
        assert!(
            matches!(PidFile::lock(&pid_path), Err(PidLockError::Running { .. })),
            "still locked"
        );
        // Nothing connected to the daemon's socket.
        let accepted = listener.accept();
        assert!(accepted.is_err(), "no connection: {accepted:?}");
        drop(pid_file);
        assert_eq!(l.check().running, Some(Running::No(Some(pid))));
    }

    #[test]
    fn control_characters_from_the_files_are_escaped() {
        let l = Layout::new();
        l.hosts("alpha:t:a:a\x1b[2J\r:127.0.0.2\nme:t:l:me:127.0.0.1\n");
        let out = l.check().render();
        assert!(
            out.contains("  alpha  127.0.0.2:5663  a\\u{1b}[2J\n"),
            "{out}"
        );
        assert!(!out.contains('\x1b'), "{out}");
    }
}

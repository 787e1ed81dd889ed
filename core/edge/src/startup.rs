//! What both daemons do the same way around their event loops: start-up (settings, hosts
//! table, logs, pid file, detaching), the reload on SIGHUP, and the node's actions that only
//! touch files and logs.

use std::time::{Duration, Instant};

use lonc_core::conf::Settings;
use lonc_core::control::Removal;
use lonc_core::daemon::HostSpec;
use lonc_core::hosts_tab::{HostEntry, LineProblem};
use lonc_core::log::Severity;
use lonc_core::logfmt::{HostStatus, status_file};
use lonc_core::node::{ClientId, Node, NodeConfig};

use crate::cli::{ConfigArgs, ConfigError, RunArgs};
use crate::files::{self, Logger};
use crate::notify::Notifier;
use crate::pidfile::{PidFile, PidLockError};
use crate::sys;
use crate::title::ProcessTitle;
use lonc_client::localtime::now_local;

/// How long a daemon that has decided to exit still lets answers reach their clients.
pub const FLUSH_BOUND: Duration = Duration::from_secs(1);

/// Runs a daemon: [`prepare`], then `event_loop` until it returns the exit status. A problem
/// before or while setting the loop up is one line on standard error and exit status 2.
pub fn run_daemon(
    config: &ConfigArgs,
    run: &RunArgs,
    event_loop: impl FnOnce(Startup) -> Result<i32, ConfigError>,
) -> i32 {
    let (startup, pid_file) = match prepare(config, run) {
        Ok(prepared) => prepared,
        Err(StartError::Running(e)) => {
            eprintln!("lonc: {e}");
            return 1;
        }
        Err(StartError::Config(e)) => {
            eprintln!("lonc: {e}");
            return 2;
        }
    };
    let code = event_loop(startup).unwrap_or_else(|e| {
        eprintln!("lonc: {e}");
        2
    });
    // The lock is held until here, after the pid file was removed.
    drop(pid_file);
    code
}

/// Why a daemon did not start.
#[derive(Debug)]
pub enum StartError {
    /// Another daemon runs on this configuration (exit status 1).
    Running(PidLockError),
    /// Anything else: one line, exit status 2.
    Config(ConfigError),
}

impl From<ConfigError> for StartError {
    fn from(e: ConfigError) -> Self {
        StartError::Config(e)
    }
}

/// Everything a runtime needs to start its loop.
pub struct Startup {
    /// The node, with its first actions (listen on every host's socket) waiting.
    pub node: Node,
    /// The open log files.
    pub logger: Logger,
    /// Who waits to hear that the daemon is ready (and later how it is).
    pub notifier: Notifier,
}

/// Reads the configuration and `hosts.tab`, locks the pid file (refusing to start if another
/// daemon holds it, before touching any other file), detaches if asked (so that the logs, the
/// pid file and the sockets are the detached process's), opens the logs, creates the socket
/// directory, writes the pid file and builds the node. Call before starting any thread. The pid
/// file's lock lasts as long as the [`PidFile`] returned.
pub fn prepare(config: &ConfigArgs, run: &RunArgs) -> Result<(Startup, PidFile), StartError> {
    let node_config = run.node_config().map_err(ConfigError)?;
    let (settings, warnings, (entries, problems)) = read_config(config)?;
    refuse_empty_table(&settings, &entries, &problems)?;
    let pid_file = PidFile::lock(&settings.pid_file()).map_err(|e| match e {
        PidLockError::Running { .. } => StartError::Running(e),
        PidLockError::Io { .. } => StartError::Config(ConfigError(e.to_string())),
    })?;
    let parent = if run.daemonize {
        Some(sys::daemonize().map_err(|e| ConfigError(format!("cannot daemonize: {e}")))?)
    } else {
        None
    };
    // SAFETY: no thread runs yet (this function's contract), the arguments were parsed and
    // nothing holds a pointer into the environment.
    let (title, title_error) = match unsafe { ProcessTitle::claim() } {
        Ok(title) => (Some(title), None),
        Err(e) => (None, Some(e)),
    };
    let notifier = Notifier::new(parent, run.daemonize && !run.log_stderr, title);
    let mut logger = Logger::open(&settings, run.log_stderr).map_err(|e| {
        ConfigError(format!(
            "cannot open the logs in {}: {e}",
            settings.daemons_dir.display()
        ))
    })?;
    std::fs::create_dir_all(&settings.sock_dir).map_err(|e| {
        ConfigError(format!(
            "cannot create the socket directory {}: {e}",
            settings.sock_dir.display()
        ))
    })?;
    pid_file.write_pid().map_err(|e| {
        ConfigError(format!(
            "cannot write the pid file {}: {e}",
            pid_file.path().display()
        ))
    })?;
    for w in warnings {
        logger.parent(Severity::Warning, w);
    }
    if let Some(e) = title_error {
        logger.parent(
            Severity::Warning,
            format!("Cannot set the process title: {e}"),
        );
    }
    let mut node = new_node(node_config, settings, &entries, &problems);
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let uid = unsafe { libc::geteuid() };
    node.set_identity(std::process::id(), crate::cli::VERSION, Some(uid));
    let startup = Startup {
        node,
        logger,
        notifier,
    };
    Ok((startup, pid_file))
}

fn new_node(
    config: NodeConfig,
    settings: Settings,
    entries: &[HostEntry],
    problems: &[LineProblem],
) -> Node {
    Node::new(
        config,
        settings,
        entries,
        problems,
        Instant::now(),
        fastrand::u64(..),
    )
}

/// A parsed `hosts.tab`: its good entries and its (bounded) line problems.
pub type HostsTable = (Vec<HostEntry>, Vec<LineProblem>);

/// The settings, their warnings and the parsed `hosts.tab`.
fn read_config(config: &ConfigArgs) -> Result<(Settings, Vec<String>, HostsTable), ConfigError> {
    let (settings, warnings) = config.settings()?;
    let hosts = read_hosts(&settings)?;
    Ok((settings, warnings, hosts))
}

/// Reads `settings.hosts_file` as the daemon does at start and on HUP
/// ([`files::load_hosts_settled`]); a file that cannot be read (or keeps changing) is one
/// line naming it. Shared with `lonc check`.
pub fn read_hosts(settings: &Settings) -> Result<HostsTable, ConfigError> {
    files::load_hosts_settled(&settings.hosts_file).map_err(|e| {
        ConfigError(format!(
            "cannot read hosts table {}: {e}",
            settings.hosts_file.display()
        ))
    })
}

/// The start-up refusal of a table with no usable remote host (empty, truncated, this server
/// alone): as a reload to such a table is refused, so is a start. The line names the file and
/// its first problem, if any. Shared with `lonc check`.
pub fn refuse_empty_table(
    settings: &Settings,
    entries: &[HostEntry],
    problems: &[LineProblem],
) -> Result<(), ConfigError> {
    if !lonc_core::daemon::host_table(settings, entries).is_empty() {
        return Ok(());
    }
    let first = problems
        .first()
        .map(|p| format!(" (first problem: {p})"))
        .unwrap_or_default();
    Err(ConfigError(format!(
        "hosts table {} has no usable remote host: nothing to serve{first}",
        settings.hosts_file.display(),
    )))
}

/// [`lonc_core::node::Output::WriteStatus`]: replaces `loncstatus.txt` with the status of `hosts` now, each with
/// its last `lonc.log` line; a failure is logged.
pub fn write_status(node: &Node, logger: &mut Logger, hosts: &[HostStatus]) {
    let (_, time) = now_local();
    let text = status_file(&time, std::process::id(), hosts, |host| {
        logger.last_line(host)
    });
    let path = node.settings().status_file();
    if let Err(e) = files::write_status(&path, &text) {
        logger.parent(
            Severity::Critical,
            format!("Cannot write {}: {e}", path.display()),
        );
    }
}

/// [`lonc_core::node::Output::Delivered`]: appends the `S:` record to `lonnet.perm.log`, then
/// deletes the delivered file. If the record cannot be written the file is kept and the node
/// told ([`Node::record_failed`]): it keeps the file out of replay and tries again at the next
/// scan. Every failure is logged.
pub fn delivered(node: &mut Node, logger: &mut Logger, name: String, record: String) {
    if let Err(e) = logger.perm(&record) {
        logger.parent(
            Severity::Critical,
            format!(
                "Cannot write lonnet.perm.log ({e}): keeping delivered delayed file {name} \
                 until its record is written"
            ),
        );
        node.record_failed(Instant::now(), name, record);
        return;
    }
    let path = node.settings().delayed_dir().join(&name);
    if let Err(e) = files::remove_file(&path) {
        logger.parent(
            Severity::Critical,
            format!("Cannot delete delivered delayed file {name}: {e}"),
        );
    }
}

/// The end of [`lonc_core::node::Output::RemoveDelayed`] (the files' work done by
/// [`files::remove_delayed`] off the loop): one `lonc.log` line per file deleted, or kept for
/// want of its record, then the node told ([`Node::delayed_removed`]).
pub fn removed(node: &mut Node, logger: &mut Logger, client: ClientId, removed: files::Removed) {
    for (name, outcome) in &removed.done {
        match outcome {
            Removal::Deleted { command } => logger.parent(
                Severity::Warning,
                format!(
                    "Delayed file {name} ({command}) deleted by {} (lonc spool delete)",
                    removed.who
                ),
            ),
            Removal::NotDeleted { command, why } => logger.parent(
                Severity::Critical,
                format!(
                    "Cannot delete delayed file {name} ({command}), recorded as deleted: {why}"
                ),
            ),
            Removal::Unrecorded { why } => logger.parent(
                Severity::Critical,
                format!("Cannot write lonnet.perm.log ({why}): delayed file {name} not deleted"),
            ),
            Removal::Missing => {}
        }
    }
    node.delayed_removed(Instant::now(), client, removed.done);
}

/// [`lonc_core::node::Output::ReloadConfig`]: tells systemd, reopens the logs
/// ([`Logger::reopen`]), re-reads the configuration and `hosts.tab` and hands them to the node ([`Node::reload`], or [`Node::reload_failed`] with the reason).
pub fn reload(node: &mut Node, logger: &mut Logger, notifier: &mut Notifier, config: &ConfigArgs) {
    notifier.reloading();
    logger.reopen();
    reload_config(node, logger, config);
    notifier.reloaded(&node.summary());
}

fn reload_config(node: &mut Node, logger: &mut Logger, config: &ConfigArgs) {
    let now = Instant::now();
    match read_config(config) {
        Ok((settings, warnings, (entries, problems))) => {
            for w in warnings {
                logger.parent(Severity::Warning, w);
            }
            node.reload(now, settings, &entries, &problems);
        }
        Err(e) => node.reload_failed(now, &e.0),
    }
}

/// [`lonc_core::node::Output::RemoveFiles`]: removes the files, ignoring those already gone; a failure is
/// logged.
pub fn remove_files(logger: &mut Logger, paths: &[std::path::PathBuf]) {
    for p in paths {
        if let Err(e) = files::remove_file(p) {
            logger.parent(
                Severity::Warning,
                format!("Cannot remove {}: {e}", p.display()),
            );
        }
    }
}

/// Binds the socket of a host the node listens for (non-blocking, replacing a stale file, with
/// `mode`). A failure is logged as CRITICAL (and said on standard error during start-up) and
/// gives `None`. The runtime reports the outcome with [`Node::listened`].
pub fn listen(
    spec: &HostSpec,
    mode: u32,
    logger: &mut Logger,
    notifier: &Notifier,
) -> Option<std::os::unix::net::UnixListener> {
    files::listen(&spec.socket_path, mode)
        .inspect_err(|e| {
            let line = format!(
                "Cannot listen on {} for {}: {e}",
                spec.socket_path.display(),
                spec.id()
            );
            notifier.startup_problem(&line);
            logger.parent(Severity::Critical, line);
        })
        .ok()
}

/// [`lonc_core::node::Output::ListenControl`]: the control socket, mode 0600. A failure is a
/// WARNING (the daemon serves without it) and, while starting, a line on standard error.
pub fn listen_control(
    path: &std::path::Path,
    logger: &mut Logger,
    notifier: &Notifier,
) -> Option<std::os::unix::net::UnixListener> {
    files::listen(path, 0o600)
        .inspect_err(|e| {
            let line = format!(
                "Cannot listen on the control socket {}: {e}; lonc status and the other \
                 control commands will not work",
                path.display()
            );
            notifier.startup_problem(&line);
            logger.parent(Severity::Warning, line);
        })
        .ok()
}

/// [`lonc_core::node::Output::ListenMetrics`]: a non-blocking TCP listener on `addr` for the
/// metrics' HTTP clients. A failure is a CRITICAL line (the daemon serves without it, and
/// Prometheus will say the target is down) and, while starting, a line on standard error.
pub fn listen_metrics(
    addr: std::net::SocketAddr,
    logger: &mut Logger,
    notifier: &Notifier,
) -> Option<std::net::TcpListener> {
    std::net::TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .inspect_err(|e| {
            let line = format!("Cannot listen on {addr} for the metrics: {e}");
            notifier.startup_problem(&line);
            logger.parent(Severity::Critical, line);
        })
        .ok()
}

/// [`lonc_core::node::Output::Ready`]: tells the detaching parent and systemd.
pub fn ready(node: &Node, notifier: &mut Notifier) {
    notifier.ready(&node.summary());
}

/// Removes the socket file of a host the node stopped listening for; a failure is logged.
pub fn unlisten(spec: &HostSpec, logger: &mut Logger) {
    if let Err(e) = files::remove_file(&spec.socket_path) {
        logger.parent(
            Severity::Warning,
            format!("Cannot remove {}: {e}", spec.socket_path.display()),
        );
    }
}

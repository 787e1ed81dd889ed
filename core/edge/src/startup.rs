//! What both daemons do the same way around their event loops: start-up (settings, hosts
//! table, logs, pid file, detaching), the reload on SIGHUP, and the node's actions that only
//! touch files and logs.

use std::time::{Duration, Instant};

use lonc_core::conf::Settings;
use lonc_core::daemon::HostSpec;
use lonc_core::hosts_tab::{HostEntry, LineProblem};
use lonc_core::log::Severity;
use lonc_core::logfmt::{HostStatus, status_file};
use lonc_core::node::{Node, NodeConfig};

use crate::cli::{ConfigArgs, ConfigError, RunArgs};
use crate::files::{self, Logger};
use crate::sys;
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
    match prepare(config, run).and_then(event_loop) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lonc: {e}");
            2
        }
    }
}

/// Everything a runtime needs to start its loop.
pub struct Startup {
    /// The node, with its first actions (listen on every host's socket) waiting.
    pub node: Node,
    /// The open log files.
    pub logger: Logger,
}

/// Reads the configuration and `hosts.tab`, opens the logs, creates the socket directory,
/// detaches if asked, writes the pid file and builds the node. Any problem is one line
/// (exit status 2). Call before starting any thread.
pub fn prepare(config: &ConfigArgs, run: &RunArgs) -> Result<Startup, ConfigError> {
    let node_config = run.node_config().map_err(ConfigError)?;
    let (settings, warnings, (entries, problems)) = read_config(config)?;
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
    if run.daemonize {
        sys::daemonize(run.log_stderr)
            .map_err(|e| ConfigError(format!("cannot daemonize: {e}")))?;
    }
    files::write_pid_file(&settings.pid_file()).map_err(|e| {
        ConfigError(format!(
            "cannot write the pid file {}: {e}",
            settings.pid_file().display()
        ))
    })?;
    for w in warnings {
        logger.parent(Severity::Warning, w);
    }
    let node = new_node(node_config, settings, &entries, &problems);
    Ok(Startup { node, logger })
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

type HostsTable = (Vec<HostEntry>, Vec<LineProblem>);

/// The settings, their warnings and the parsed `hosts.tab`.
fn read_config(config: &ConfigArgs) -> Result<(Settings, Vec<String>, HostsTable), ConfigError> {
    let (settings, warnings) = config.settings()?;
    let hosts = files::load_hosts(&settings.hosts_file).map_err(|e| {
        ConfigError(format!(
            "cannot read hosts table {}: {e}",
            settings.hosts_file.display()
        ))
    })?;
    Ok((settings, warnings, hosts))
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

/// [`lonc_core::node::Output::DeleteDelayed`]: deletes a delivered delayed file; a failure is logged.
pub fn delete_delayed(node: &Node, logger: &mut Logger, name: &str) {
    let path = node.settings().delayed_dir().join(name);
    if let Err(e) = files::remove_file(&path) {
        logger.parent(
            Severity::Critical,
            format!("Cannot delete delivered delayed file {name}: {e}"),
        );
    }
}

/// [`lonc_core::node::Output::ReloadConfig`]: re-reads the configuration and `hosts.tab` and hands them to the
/// node ([`Node::reload`], or [`Node::reload_failed`] with the reason).
pub fn reload(node: &mut Node, logger: &mut Logger, config: &ConfigArgs) {
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
/// `mode`); a failure is logged as CRITICAL and gives `None`.
pub fn listen(
    spec: &HostSpec,
    mode: u32,
    logger: &mut Logger,
) -> Option<std::os::unix::net::UnixListener> {
    files::listen(&spec.socket_path, mode)
        .inspect_err(|e| {
            logger.parent(
                Severity::Critical,
                format!(
                    "Cannot listen on {} for {}: {e}",
                    spec.socket_path.display(),
                    spec.id()
                ),
            )
        })
        .ok()
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

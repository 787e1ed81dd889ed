//! The decisions of the loncnew parent: the host table, what each signal means, the status
//! report, reloads and the orderly shutdown.
//!
//! [`Daemon`] owns no host scheduler, socket or file. It tells the runtime, through
//! [`Action`]s, which hosts to start and stop, when to write the status file, when to re-read
//! the configuration, when to stop accepting, when to force the remaining links closed, which
//! files to remove and when to exit. The runtime composes it with one host scheduler per
//! [`HostSpec`].
//!
//! # Signals
//!
//! | signal | meaning |
//! |---|---|
//! | `USR1` | write the status report ([`Action::WriteStatus`]) and reset every dead host ([`Action::ResetHosts`]) |
//! | `HUP` | re-read `loncapa.conf` and `hosts.tab` ([`Action::ReloadConfig`], then [`Daemon::reload`]); hosts whose address did not change keep their sockets and links |
//! | `TERM`, `INT` | orderly shutdown: stop accepting, let waiting clients be answered for at most [`DaemonConfig::shutdown_grace`], then close the rest (`con_lost`), remove the socket files and the pid file, exit 0. A second `TERM`/`INT` skips the rest of the grace period |
//! | `USR2` | toggle debug logging |
//!
//! Once the shutdown has begun, `USR1` and `HUP` are ignored.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::conf::Settings;
use crate::hosts_tab::{HostEntry, LineProblem};
use crate::log::{LogEvent, Trigger};
use crate::timer::{TimerKind, Timers};

/// The `[host]` field of the parent's log lines, as loncnew's parent wrote it.
pub const PARENT_LOG_HOST: &str = "Parent Server";

/// The first line the daemon logs, CRITICAL, exactly as loncnew did.
pub const STARTING_MESSAGE: &str = "--------------- Starting children ---------------";

/// The default bound on the orderly shutdown.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The signals the daemon gives a meaning to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    Hup,
    Int,
    Term,
    Usr1,
    Usr2,
}

impl Signal {
    /// The name without `SIG`: `HUP`, `INT`, `TERM`, `USR1`, `USR2`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Hup => "HUP",
            Signal::Int => "INT",
            Signal::Term => "TERM",
            Signal::Usr1 => "USR1",
            Signal::Usr2 => "USR2",
        }
    }

    /// Parses a signal name, with or without `SIG`, in any case (`hup`, `SIGTERM`).
    pub fn from_name(name: &str) -> Option<Signal> {
        let upper = name.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        [
            Signal::Hup,
            Signal::Int,
            Signal::Term,
            Signal::Usr1,
            Signal::Usr2,
        ]
        .into_iter()
        .find(|s| s.name() == bare)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIG{}", self.name())
    }
}

/// Tunables of the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonConfig {
    /// How long an orderly shutdown may wait for clients to be answered before the remaining
    /// links are closed (default 5 s).
    pub shutdown_grace: Duration,
    /// Debug logging at start (toggled by `USR2`).
    pub debug: bool,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            debug: false,
        }
    }
}

/// Everything the runtime needs to serve one remote host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSpec {
    /// The host's `hosts.tab` entry.
    pub entry: HostEntry,
    /// Where its lond listens: the entry's IP and `londPort`.
    pub addr: SocketAddr,
    /// The UNIX socket lonnet connects to: `<lonSockDir>/<id>`.
    pub socket_path: PathBuf,
}

impl HostSpec {
    /// The spec of `entry` under `settings`.
    pub fn new(entry: HostEntry, settings: &Settings) -> HostSpec {
        HostSpec {
            addr: SocketAddr::new(entry.ip, settings.lond_port),
            socket_path: settings.socket_path(&entry.id),
            entry,
        }
    }

    /// The host id.
    pub fn id(&self) -> &str {
        &self.entry.id
    }

    /// True when serving `other` instead of `self` needs new links or a new socket.
    fn needs_restart_for(&self, other: &HostSpec) -> bool {
        self.addr != other.addr || self.socket_path != other.socket_path
    }
}

/// The difference between two host tables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostDiff {
    /// New hosts, to start.
    pub added: Vec<HostSpec>,
    /// Hosts no longer in the table, to stop.
    pub removed: Vec<HostSpec>,
    /// Hosts whose address or socket changed: `(old, new)`. A new socket (a new
    /// `lonSockDir`) stops and starts the host again; a new address only replaces its links.
    pub changed: Vec<(HostSpec, HostSpec)>,
    /// Hosts kept as they are (their sockets stay open). Changes to the domain, role or name
    /// alone land here, with the new entry.
    pub unchanged: Vec<HostSpec>,
}

/// Compares two host tables, each in id order.
pub fn diff_hosts(old: &BTreeMap<String, HostSpec>, new: &BTreeMap<String, HostSpec>) -> HostDiff {
    let mut diff = HostDiff::default();
    for (id, old_spec) in old {
        match new.get(id) {
            None => diff.removed.push(old_spec.clone()),
            Some(new_spec) if old_spec.needs_restart_for(new_spec) => {
                diff.changed.push((old_spec.clone(), new_spec.clone()));
            }
            Some(new_spec) => diff.unchanged.push(new_spec.clone()),
        }
    }
    for (id, new_spec) in new {
        if !old.contains_key(id) {
            diff.added.push(new_spec.clone());
        }
    }
    diff
}

/// The table of remote hosts: every entry except our own id, keyed (and so ordered) by id.
pub fn host_table(settings: &Settings, entries: &[HostEntry]) -> BTreeMap<String, HostSpec> {
    entries
        .iter()
        .filter(|e| e.id != settings.host_id)
        .map(|e| (e.id.clone(), HostSpec::new(e.clone(), settings)))
        .collect()
}

/// What the runtime must do, drained with [`Daemon::poll_action`] in order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum Action {
    /// Write this line to `lonc.log` (host field [`PARENT_LOG_HOST`], status field the current
    /// [`Daemon::state`] as a status string). Debug events are only emitted while debug
    /// logging is on.
    Log(LogEvent),
    /// The parent's state text changed: the status string of its later log lines (and the
    /// process title) show it.
    SetState(String),
    /// Create the host's scheduler and listen on its UNIX socket (replacing a stale file).
    StartHost(HostSpec),
    /// Stop serving the host: stop listening, remove its socket file, close its links and
    /// answer its waiting clients `con_lost` (delayed files stay on disk).
    StopHost(HostSpec),
    /// The host's address changed, its socket did not: keep its socket, its clients and its
    /// queue; replace its links with links to the new address.
    MoveHost(HostSpec),
    /// Reset every host's retry budget, bringing dead hosts back (`USR1`).
    ResetHosts,
    /// Write `loncstatus.txt` ([`Settings::status_file`]) now, with every served host's status
    /// as it is at this moment.
    WriteStatus,
    /// Re-read the configuration files and `hosts.tab`, then call [`Daemon::reload`] or
    /// [`Daemon::reload_failed`].
    ReloadConfig,
    /// Orderly shutdown begins: stop accepting clients on every socket, let the hosts finish
    /// the requests they hold, and call [`Daemon::handle_shutdown_drained`] once every client
    /// has been answered.
    BeginShutdown,
    /// The grace period is over: close every remaining link and answer every waiting client
    /// `con_lost` (delayed files stay on disk).
    ForceClose,
    /// Remove these files (the host sockets and the pid file), ignoring files already gone.
    RemoveFiles(Vec<PathBuf>),
    /// Exit the process with this code. Nothing follows.
    Exit(i32),
}

/// The daemon's one timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// The orderly shutdown ends, answered or not.
    ShutdownGrace,
}

impl TimerKind for Timer {
    const ALL: &'static [Timer] = &[Timer::ShutdownGrace];
    fn slot(self) -> usize {
        0
    }
}

/// Where the daemon is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Serving hosts.
    Running,
    /// [`Action::ReloadConfig`] was emitted; waiting for [`Daemon::reload`] or
    /// [`Daemon::reload_failed`]. Hosts keep being served.
    Reloading,
    /// Orderly shutdown, until every client is answered or the grace period ends.
    ShuttingDown,
    /// [`Action::Exit`] was emitted; every further input is ignored.
    Exited,
}

/// The loncnew parent as a sans-IO state machine.
///
/// # Driving it
///
/// * By the crate's drive contract (see the crate root), with
///   [`poll_action`](Daemon::poll_action) as its output, drained after [`Daemon::new`] too.
/// * **Signals:** never call the daemon from an asynchronous signal handler. Let the handler
///   only record the signal (`signal-hook`'s iterator, `async-signal`'s stream or a self-pipe)
///   and call [`handle_signal`](Daemon::handle_signal) from the event loop. Signals of one kind
///   that arrive together may be merged by the OS; every meaning here tolerates that.
/// * `ReloadConfig` is answered with [`reload`](Daemon::reload) or
///   [`reload_failed`](Daemon::reload_failed) once the files are read.
#[derive(Debug)]
pub struct Daemon {
    config: DaemonConfig,
    settings: Settings,
    /// Fixed at start: the pid file the runtime wrote.
    pid_file: PathBuf,
    hosts: BTreeMap<String, HostSpec>,
    phase: Phase,
    debug: bool,
    state: String,
    timers: Timers<Timer, 1>,
    actions: VecDeque<Action>,
}

impl Daemon {
    /// Starts the daemon: logs the start banner and the `hosts.tab` problems, and emits one
    /// [`Action::StartHost`] per remote host (never for `settings.host_id`).
    pub fn new(
        config: DaemonConfig,
        settings: Settings,
        hosts: &[HostEntry],
        problems: &[LineProblem],
    ) -> Daemon {
        let debug = config.debug;
        let mut d = Daemon {
            pid_file: settings.pid_file(),
            config,
            settings,
            hosts: BTreeMap::new(),
            phase: Phase::Running,
            debug,
            state: String::new(),
            timers: Timers::new(),
            actions: VecDeque::new(),
        };
        d.set_state("Starting hosts".to_owned());
        d.log(LogEvent::Starting);
        d.log_problems(problems);
        let table = host_table(&d.settings, hosts);
        d.warn_if_self_missing(hosts);
        for spec in table.values() {
            d.log(LogEvent::StartingHost {
                id: spec.id().to_owned(),
                addr: spec.addr,
            });
            d.actions.push_back(Action::StartHost(spec.clone()));
        }
        d.hosts = table;
        d.log(LogEvent::Serving {
            hosts: d.hosts.len(),
            own_id: d.settings.host_id.clone(),
        });
        d.set_running_state();
        d
    }

    /// The next action to carry out, in order; `None` when there is nothing to do.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`handle_timeout`](Daemon::handle_timeout) must be called next: the shutdown
    /// deadline while shutting down, else `None`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Fires the timers that expired at `now`: ends the shutdown when its grace period is over
    /// ([`Action::ForceClose`], then the files and the exit).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Timer::ShutdownGrace) = self.timers.pop_expired(now) {
            self.log(LogEvent::ShutdownGraceOver {
                grace: self.config.shutdown_grace,
            });
            self.force_and_exit();
        }
    }

    /// A signal arrived (see the table in the module documentation).
    pub fn handle_signal(&mut self, now: Instant, signal: Signal) {
        self.handle(now, signal, Trigger::Signal(signal));
    }

    /// A control command that does what `signal` (HUP or USR2) does: the same, logged as the
    /// control command's.
    pub fn handle_command(&mut self, now: Instant, signal: Signal) {
        self.handle(now, signal, Trigger::Control);
    }

    fn handle(&mut self, now: Instant, signal: Signal, trigger: Trigger) {
        match (self.phase, signal) {
            (Phase::Exited, _) => {}
            (_, Signal::Usr2) => {
                self.debug = !self.debug;
                self.log(LogEvent::DebugLogging {
                    on: self.debug,
                    signal: trigger,
                });
            }
            (Phase::ShuttingDown, Signal::Term | Signal::Int) => {
                self.log(LogEvent::SignalDuringShutdown { signal });
                self.force_and_exit();
            }
            (Phase::ShuttingDown, Signal::Hup | Signal::Usr1) => {
                self.log(LogEvent::IgnoredWhileShuttingDown { signal });
            }
            (Phase::Running | Phase::Reloading, Signal::Term | Signal::Int) => {
                self.phase = Phase::ShuttingDown;
                self.timers
                    .set_after(Timer::ShutdownGrace, now, self.config.shutdown_grace);
                self.set_state("Shutting down".to_owned());
                self.log(LogEvent::ShuttingDown {
                    signal,
                    grace: self.config.shutdown_grace,
                });
                self.actions.push_back(Action::BeginShutdown);
            }
            (Phase::Running | Phase::Reloading, Signal::Usr1) => {
                self.log(LogEvent::StatusAndReset { signal });
                self.actions.push_back(Action::WriteStatus);
                self.actions.push_back(Action::ResetHosts);
            }
            (Phase::Reloading, Signal::Hup) => {
                self.log(LogEvent::IgnoredWhileReloading { signal: trigger });
            }
            (Phase::Running, Signal::Hup) => {
                self.phase = Phase::Reloading;
                self.log(LogEvent::Reloading { signal: trigger });
                self.actions.push_back(Action::ReloadConfig);
            }
        }
    }

    /// The runtime has answered every client and closed every link after
    /// [`Action::BeginShutdown`]: finish now instead of at the deadline. Ignored otherwise.
    pub fn handle_shutdown_drained(&mut self, _now: Instant) {
        if let Phase::ShuttingDown = self.phase {
            self.log(LogEvent::AllAnswered);
            self.finish();
        }
    }

    /// The configuration and `hosts.tab` were re-read (normally after
    /// [`Action::ReloadConfig`]; also accepted while running). Emits the host changes:
    /// `StopHost` for removed hosts, `MoveHost` for hosts whose address changed, `StopHost` +
    /// `StartHost` for hosts whose socket changed, `StartHost` for new ones; unchanged hosts
    /// are left alone.
    ///
    /// A table that would leave no remote host is refused (empty, a truncated or half-written
    /// `hosts.tab`, most likely): the current hosts stay and a CRITICAL line is logged. Ignored while shutting down. Returns the applied difference.
    pub fn reload(
        &mut self,
        _now: Instant,
        settings: Settings,
        hosts: &[HostEntry],
        problems: &[LineProblem],
    ) -> HostDiff {
        if !matches!(self.phase, Phase::Running | Phase::Reloading) {
            return HostDiff::default();
        }
        self.log_problems(problems);
        let table = host_table(&settings, hosts);
        if table.is_empty() {
            self.log(LogEvent::ReloadRefused {
                kept: self.hosts.len(),
            });
            self.phase = Phase::Running;
            self.set_running_state();
            return HostDiff::default();
        }
        let diff = diff_hosts(&self.hosts, &table);
        for spec in &diff.removed {
            self.log(LogEvent::HostRemoved {
                id: spec.id().to_owned(),
            });
            self.actions.push_back(Action::StopHost(spec.clone()));
        }
        for (old, new) in &diff.changed {
            let restart = old.socket_path != new.socket_path;
            self.log(LogEvent::HostMoved {
                id: new.id().to_owned(),
                from: old.addr,
                to: new.addr,
                restart,
            });
            if restart {
                self.actions.push_back(Action::StopHost(old.clone()));
                self.actions.push_back(Action::StartHost(new.clone()));
            } else {
                self.actions.push_back(Action::MoveHost(new.clone()));
            }
        }
        for spec in &diff.added {
            self.log(LogEvent::HostAdded {
                id: spec.id().to_owned(),
                addr: spec.addr,
            });
            self.actions.push_back(Action::StartHost(spec.clone()));
        }
        self.settings = settings;
        self.hosts = table;
        self.warn_if_self_missing(hosts);
        self.log(LogEvent::Reloaded {
            added: diff.added.len(),
            removed: diff.removed.len(),
            changed: diff.changed.len(),
            unchanged: diff.unchanged.len(),
        });
        self.phase = Phase::Running;
        self.set_running_state();
        diff
    }

    /// Re-reading the configuration failed (unreadable file, [`crate::conf::SettingsError`],
    /// ...): keep everything as it is and log why. Ignored while shutting down.
    pub fn reload_failed(&mut self, _now: Instant, reason: &str) {
        if !matches!(self.phase, Phase::Running | Phase::Reloading) {
            return;
        }
        self.log(LogEvent::ReloadFailed {
            reason: reason.to_owned(),
        });
        self.phase = Phase::Running;
        self.set_running_state();
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// True once the shutdown has begun (or is over).
    pub fn is_shutting_down(&self) -> bool {
        matches!(self.phase, Phase::ShuttingDown | Phase::Exited)
    }

    /// True once [`Action::Exit`] has been emitted.
    pub fn has_exited(&self) -> bool {
        self.phase == Phase::Exited
    }

    /// Whether debug logging is on.
    pub fn debug(&self) -> bool {
        self.debug
    }

    /// The parent's state text (for the process title and the status string).
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The settings in force (the latest reloaded ones).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The remote hosts being served, in id order.
    pub fn hosts(&self) -> impl Iterator<Item = &HostSpec> {
        self.hosts.values()
    }

    /// One served host.
    pub fn host(&self, id: &str) -> Option<&HostSpec> {
        self.hosts.get(id)
    }

    /// Queues a log line; debug lines only while debug logging is on.
    fn log(&mut self, event: LogEvent) {
        if self.debug || !event.is_debug() {
            self.actions.push_back(Action::Log(event));
        }
    }

    fn set_state(&mut self, state: String) {
        if self.state != state {
            self.state = state.clone();
            self.actions.push_back(Action::SetState(state));
        }
    }

    fn set_running_state(&mut self) {
        self.set_state(format!("Serving {} hosts", self.hosts.len()));
    }

    fn log_problems(&mut self, problems: &[LineProblem]) {
        for p in problems {
            self.log(LogEvent::HostsTabProblem(p.clone()));
        }
    }

    fn warn_if_self_missing(&mut self, hosts: &[HostEntry]) {
        if !hosts.iter().any(|e| e.id == self.settings.host_id) {
            self.log(LogEvent::SelfMissing {
                own_id: self.settings.host_id.clone(),
            });
        }
    }

    fn force_and_exit(&mut self) {
        self.actions.push_back(Action::ForceClose);
        self.finish();
    }

    /// Start-up failed in a way that leaves nothing to serve (no host's socket could be
    /// listened on): log why, remove the pid file and exit with `code` at once. The sockets
    /// are not the daemon's to remove.
    pub fn give_up(&mut self, code: i32) {
        if self.phase == Phase::Exited {
            return;
        }
        self.log(LogEvent::NoSocketListens);
        self.actions
            .push_back(Action::RemoveFiles(vec![self.pid_file.clone()]));
        self.log(LogEvent::Exiting);
        self.actions.push_back(Action::Exit(code));
        self.phase = Phase::Exited;
        self.timers.clear_all();
    }

    fn finish(&mut self) {
        let mut files: Vec<PathBuf> = self.hosts.values().map(|h| h.socket_path.clone()).collect();
        files.push(self.pid_file.clone());
        self.actions.push_back(Action::RemoveFiles(files));
        self.log(LogEvent::Exiting);
        self.actions.push_back(Action::Exit(0));
        self.phase = Phase::Exited;
        self.timers.clear_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Severity;
    use crate::logfmt::message;
    use proptest::prelude::*;

    fn settings(id: &str) -> Settings {
        Settings {
            host_id: id.into(),
            sock_dir: "/s".into(),
            daemons_dir: "/d".into(),
            doc_root: "/h".into(),
            hosts_file: "/t/hosts.tab".into(),
            lond_port: 5663,
        }
    }

    fn e(id: &str, ip: &str) -> HostEntry {
        HostEntry {
            id: id.into(),
            domain: "msu".into(),
            role: "library".into(),
            name: format!("{id}.msu.edu"),
            ip: ip.parse().unwrap(),
        }
    }

    fn drain(d: &mut Daemon) -> Vec<Action> {
        std::iter::from_fn(|| d.poll_action()).collect()
    }

    fn started(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::StartHost(s) => Some(s.id().to_owned()),
                _ => None,
            })
            .collect()
    }

    fn stopped(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::StopHost(s) => Some(s.id().to_owned()),
                _ => None,
            })
            .collect()
    }

    fn logs(actions: &[Action]) -> Vec<(Severity, String)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Log(ev) => Some((ev.severity(), message(ev, PARENT_LOG_HOST))),
                _ => None,
            })
            .collect()
    }

    /// The actions that are not log lines or state changes.
    fn effects(actions: &[Action]) -> Vec<Action> {
        actions
            .iter()
            .filter(|a| !matches!(a, Action::Log(_) | Action::SetState(_)))
            .cloned()
            .collect()
    }

    fn three_hosts() -> Vec<HostEntry> {
        vec![
            e("msul3", "10.0.0.3"),
            e("msul1", "10.0.0.1"),
            e("msul2", "10.0.0.2"),
        ]
    }

    /// A running daemon for msul1 serving msul2 and msul3, its start-up actions drained.
    fn running() -> Daemon {
        let mut d = Daemon::new(
            DaemonConfig::default(),
            settings("msul1"),
            &three_hosts(),
            &[],
        );
        drain(&mut d);
        d
    }

    #[test]
    fn start_logs_banner_and_starts_every_remote_host_but_ourselves() {
        let mut d = Daemon::new(
            DaemonConfig::default(),
            settings("msul1"),
            &three_hosts(),
            &[],
        );
        let actions = drain(&mut d);
        assert_eq!(actions[0], Action::SetState("Starting hosts".into()));
        assert_eq!(actions[1], Action::Log(LogEvent::Starting));
        assert_eq!(started(&actions), ["msul2", "msul3"]);
        let spec = d.host("msul3").unwrap();
        assert_eq!(spec.addr, "10.0.0.3:5663".parse().unwrap());
        assert_eq!(spec.socket_path, PathBuf::from("/s/msul3"));
        assert!(d.host("msul1").is_none());
        assert_eq!(
            d.hosts().map(HostSpec::id).collect::<Vec<_>>(),
            ["msul2", "msul3"]
        );
        assert_eq!(d.state(), "Serving 2 hosts");
        assert_eq!(d.phase(), Phase::Running);
        assert_eq!(d.poll_timeout(), None);
        assert!(!d.debug());
    }

    #[test]
    fn start_reports_hosts_tab_problems_and_missing_self() {
        let (entries, problems) = crate::hosts_tab::parse("msul2:d:r:n:10.0.0.2\nbad line\n");
        let mut d = Daemon::new(
            DaemonConfig::default(),
            settings("msul1"),
            &entries,
            &problems,
        );
        let logs = logs(&drain(&mut d));
        assert!(
            logs.contains(&(
                Severity::Warning,
                "hosts.tab line 2: expected 5 fields id:domain:role:name:ip, found 1; line ignored"
                    .into()
            ))
        );
        assert!(logs.contains(&(
            Severity::Warning,
            "This server's id msul1 (lonHostID) is not in hosts.tab".into()
        )));
    }

    #[test]
    fn usr1_collects_status_then_resets_dead_hosts() {
        let mut d = running();
        let t0 = Instant::now();
        d.handle_signal(t0, Signal::Usr1);
        let actions = drain(&mut d);
        assert_eq!(
            effects(&actions),
            vec![Action::WriteStatus, Action::ResetHosts]
        );
        assert_eq!(
            logs(&actions),
            vec![(
                Severity::Info,
                "Status report and reset of dead hosts on SIGUSR1".into()
            )]
        );
        assert_eq!(d.phase(), Phase::Running);
    }

    #[test]
    fn hup_asks_for_reload_once() {
        let mut d = running();
        let t0 = Instant::now();
        d.handle_signal(t0, Signal::Hup);
        let actions = drain(&mut d);
        assert_eq!(effects(&actions), vec![Action::ReloadConfig]);
        assert_eq!(d.phase(), Phase::Reloading);
        // A second HUP before the reload is done is merged with the first.
        d.handle_signal(t0, Signal::Hup);
        assert_eq!(effects(&drain(&mut d)), vec![]);
        // USR1 still works while reloading.
        d.handle_signal(t0, Signal::Usr1);
        assert_eq!(
            effects(&drain(&mut d)),
            vec![Action::WriteStatus, Action::ResetHosts]
        );
        d.reload(t0, settings("msul1"), &three_hosts(), &[]);
        drain(&mut d);
        assert_eq!(d.phase(), Phase::Running);
        d.handle_signal(t0, Signal::Hup);
        assert_eq!(effects(&drain(&mut d)), vec![Action::ReloadConfig]);
    }

    #[test]
    fn reload_diff_add_remove_change_unchanged() {
        let mut d = Daemon::new(
            DaemonConfig::default(),
            settings("msul1"),
            &[
                e("msul1", "10.0.0.1"),
                e("keep", "10.0.0.2"),
                e("gone", "10.0.0.3"),
                e("moved", "10.0.0.4"),
                e("renamed", "10.0.0.5"),
            ],
            &[],
        );
        drain(&mut d);
        let t0 = Instant::now();
        d.handle_signal(t0, Signal::Hup);
        drain(&mut d);
        let mut renamed = e("renamed", "10.0.0.5");
        renamed.name = "new-name.msu.edu".into();
        let new_hosts = [
            e("msul1", "10.0.0.1"),
            e("keep", "10.0.0.2"),
            e("moved", "10.0.0.44"),
            renamed.clone(),
            e("new", "10.0.0.6"),
        ];
        let diff = d.reload(t0, settings("msul1"), &new_hosts, &[]);
        let actions = drain(&mut d);
        let s = settings("msul1");
        assert_eq!(
            effects(&actions),
            vec![
                Action::StopHost(HostSpec::new(e("gone", "10.0.0.3"), &s)),
                Action::MoveHost(HostSpec::new(e("moved", "10.0.0.44"), &s)),
                Action::StartHost(HostSpec::new(e("new", "10.0.0.6"), &s)),
            ]
        );
        assert_eq!(
            diff.added.iter().map(HostSpec::id).collect::<Vec<_>>(),
            ["new"]
        );
        assert_eq!(
            diff.removed.iter().map(HostSpec::id).collect::<Vec<_>>(),
            ["gone"]
        );
        assert_eq!(diff.changed.len(), 1);
        assert_eq!(diff.changed[0].0.addr, "10.0.0.4:5663".parse().unwrap());
        assert_eq!(diff.changed[0].1.addr, "10.0.0.44:5663".parse().unwrap());
        assert_eq!(
            diff.unchanged.iter().map(HostSpec::id).collect::<Vec<_>>(),
            ["keep", "renamed"]
        );
        // The kept host carries its new entry.
        assert_eq!(d.host("renamed").unwrap().entry, renamed);
        assert!(logs(&actions).contains(&(
            Severity::Success,
            "Reloaded: 1 added, 1 removed, 1 changed, 2 unchanged".into()
        )));
        assert_eq!(
            d.hosts().map(HostSpec::id).collect::<Vec<_>>(),
            ["keep", "moved", "new", "renamed"]
        );
        assert_eq!(d.state(), "Serving 4 hosts");
    }

    #[test]
    fn reload_with_new_port_moves_every_host_and_a_new_socket_dir_restarts_them() {
        let mut d = running();
        let t0 = Instant::now();
        let mut s = settings("msul1");
        s.lond_port = 6000;
        let diff = d.reload(t0, s.clone(), &three_hosts(), &[]);
        assert_eq!(diff.changed.len(), 2);
        let actions = drain(&mut d);
        assert_eq!(stopped(&actions), Vec::<String>::new());
        let moved: Vec<SocketAddr> = actions
            .iter()
            .filter_map(|a| match a {
                Action::MoveHost(spec) => Some(spec.addr),
                _ => None,
            })
            .collect();
        assert_eq!(moved.len(), 2);
        assert!(moved.iter().all(|a| a.port() == 6000), "{moved:?}");
        assert_eq!(d.settings().lond_port, 6000);

        s.sock_dir = "/elsewhere".into();
        let diff = d.reload(t0, s, &three_hosts(), &[]);
        assert_eq!(diff.changed.len(), 2);
        let actions = drain(&mut d);
        assert_eq!(stopped(&actions), ["msul2", "msul3"]);
        assert_eq!(started(&actions), ["msul2", "msul3"]);
        assert_eq!(
            d.host("msul2").unwrap().socket_path,
            PathBuf::from("/elsewhere/msul2")
        );
    }

    #[test]
    fn own_id_is_never_a_host_even_when_it_changes_on_reload() {
        let mut d = running();
        let t0 = Instant::now();
        // We become msul2: msul2 stops being a remote host, msul1 becomes one.
        let diff = d.reload(t0, settings("msul2"), &three_hosts(), &[]);
        let actions = drain(&mut d);
        assert_eq!(stopped(&actions), ["msul2"]);
        assert_eq!(started(&actions), ["msul1"]);
        assert_eq!(diff.unchanged.len(), 1);
        assert!(d.host("msul2").is_none());
        assert!(d.hosts().all(|h| h.id() != "msul2"));
    }

    #[test]
    fn reload_failure_keeps_the_table() {
        let mut d = running();
        let t0 = Instant::now();
        d.handle_signal(t0, Signal::Hup);
        drain(&mut d);
        d.reload_failed(
            t0,
            "lonHostID is not set: give --host-id or a PerlSetVar lonHostID line",
        );
        let actions = drain(&mut d);
        assert_eq!(effects(&actions), vec![]);
        assert_eq!(
            logs(&actions),
            vec![(
                Severity::Critical,
                "Reload failed, keeping the current configuration: lonHostID is not set: give \
                 --host-id or a PerlSetVar lonHostID line"
                    .into()
            )]
        );
        assert_eq!(d.phase(), Phase::Running);
        assert_eq!(d.hosts().count(), 2);
    }

    #[test]
    fn reload_to_an_empty_table_is_refused() {
        let mut d = running();
        let t0 = Instant::now();
        let (entries, problems) = crate::hosts_tab::parse("garbage\n");
        let diff = d.reload(t0, settings("msul1"), &entries, &problems);
        assert_eq!(diff, HostDiff::default());
        let actions = drain(&mut d);
        assert_eq!(effects(&actions), vec![]);
        assert!(
            logs(&actions).contains(&(
                Severity::Critical,
                "Reload refused: hosts.tab has no usable remote host; keeping the 2 current hosts"
                    .into()
            ))
        );
        assert_eq!(d.hosts().count(), 2);
        // A table of this server alone serves nobody either.
        let me = [e("msul1", "10.0.0.1")];
        assert_eq!(
            d.reload(t0, settings("msul1"), &me, &[]),
            HostDiff::default()
        );
        assert_eq!(d.hosts().count(), 2);
    }

    #[test]
    fn diff_hosts_is_a_pure_comparison() {
        let s = settings("me");
        let old = host_table(&s, &[e("a", "10.0.0.1"), e("b", "10.0.0.2")]);
        let new = host_table(&s, &[e("b", "10.0.0.2"), e("c", "10.0.0.3")]);
        let diff = diff_hosts(&old, &new);
        assert_eq!(diff.added, vec![HostSpec::new(e("c", "10.0.0.3"), &s)]);
        assert_eq!(diff.removed, vec![HostSpec::new(e("a", "10.0.0.1"), &s)]);
        assert_eq!(diff.changed, vec![]);
        assert_eq!(diff.unchanged, vec![HostSpec::new(e("b", "10.0.0.2"), &s)]);
        assert_eq!(diff_hosts(&old, &old).unchanged.len(), 2);
        let table = host_table(&s, &[e("me", "10.0.0.9"), e("x", "10.0.0.1")]);
        assert_eq!(table.keys().collect::<Vec<_>>(), ["x"]);
    }

    fn socket_and_pid_files() -> Action {
        Action::RemoveFiles(vec![
            PathBuf::from("/s/msul2"),
            PathBuf::from("/s/msul3"),
            PathBuf::from("/d/logs/lonc.pid"),
        ])
    }

    #[test]
    fn term_shutdown_completes_early_when_work_is_done() {
        let mut d = running();
        let t0 = Instant::now();
        d.handle_signal(t0, Signal::Term);
        let actions = drain(&mut d);
        assert_eq!(effects(&actions), vec![Action::BeginShutdown]);
        assert_eq!(d.state(), "Shutting down");
        assert!(logs(&actions).contains(&(
            Severity::Critical,
            "Shutting down on SIGTERM: no new clients, answering waiting clients for at most 5 s"
                .into()
        )));
        assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(5)));
        assert!(d.is_shutting_down());
        // Nothing happens before the deadline.
        d.handle_timeout(t0 + Duration::from_secs(2));
        assert_eq!(drain(&mut d), vec![]);
        // The runtime reports every client answered.
        d.handle_shutdown_drained(t0 + Duration::from_secs(3));
        let actions = drain(&mut d);
        assert_eq!(
            effects(&actions),
            vec![socket_and_pid_files(), Action::Exit(0)]
        );
        assert!(logs(&actions).contains(&(Severity::Critical, "Master process exiting".into())));
        assert_eq!(actions.last(), Some(&Action::Exit(0)));
        assert!(d.has_exited());
        assert_eq!(d.poll_timeout(), None);
        // Everything after the exit is ignored.
        d.handle_timeout(t0 + Duration::from_secs(10));
        d.handle_signal(t0, Signal::Term);
        d.handle_signal(t0, Signal::Usr2);
        d.handle_shutdown_drained(t0);
        assert_eq!(
            d.reload(t0, settings("msul1"), &[], &[]),
            HostDiff::default()
        );
        d.reload_failed(t0, "x");
        assert_eq!(drain(&mut d), vec![]);
    }

    #[test]
    fn int_shutdown_ends_at_the_bound_when_work_remains() {
        let mut d = running();
        let t0 = Instant::now();
        d.handle_signal(t0, Signal::Int);
        let actions = drain(&mut d);
        assert_eq!(effects(&actions), vec![Action::BeginShutdown]);
        d.handle_timeout(t0 + Duration::from_millis(4999));
        assert_eq!(drain(&mut d), vec![]);
        d.handle_timeout(t0 + Duration::from_secs(5));
        let actions = drain(&mut d);
        assert_eq!(
            effects(&actions),
            vec![Action::ForceClose, socket_and_pid_files(), Action::Exit(0)]
        );
        assert!(
            logs(&actions).contains(&(
                Severity::Warning,
                "Shutdown grace of 5 s is over: closing the remaining links and answering waiting \
             clients con_lost"
                    .into()
            ))
        );
        assert!(d.has_exited());
    }

    #[test]
    fn shutdown_grace_is_configurable() {
        let config = DaemonConfig {
            shutdown_grace: Duration::from_secs(30),
            debug: false,
        };
        let mut d = Daemon::new(config, settings("msul1"), &three_hosts(), &[]);
        drain(&mut d);
        let t0 = Instant::now();
        d.handle_signal(t0, Signal::Term);
        drain(&mut d);
        assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(30)));
        d.handle_timeout(t0 + Duration::from_secs(29));
        assert!(!d.has_exited());
        d.handle_timeout(t0 + Duration::from_secs(31));
        assert!(d.has_exited());
    }

    #[test]
    fn second_term_during_shutdown_forces_exit_now() {
        let mut d = running();
        let t0 = Instant::now();
        d.handle_signal(t0, Signal::Term);
        drain(&mut d);
        d.handle_signal(t0 + Duration::from_secs(1), Signal::Int);
        let actions = drain(&mut d);
        assert_eq!(
            effects(&actions),
            vec![Action::ForceClose, socket_and_pid_files(), Action::Exit(0)]
        );
    }

    #[test]
    fn hup_and_usr1_are_ignored_during_shutdown_and_drained_outside_it() {
        let mut d = running();
        let t0 = Instant::now();
        // Drained before any shutdown: nothing.
        d.handle_shutdown_drained(t0);
        assert_eq!(drain(&mut d), vec![]);
        d.handle_signal(t0, Signal::Term);
        drain(&mut d);
        d.handle_signal(t0, Signal::Hup);
        d.handle_signal(t0, Signal::Usr1);
        assert_eq!(drain(&mut d), vec![]);
        // A reload in flight when the shutdown began is dropped.
        assert_eq!(
            d.reload(t0, settings("msul1"), &[e("z", "10.0.0.9")], &[]),
            HostDiff::default()
        );
        assert_eq!(drain(&mut d), vec![]);
        assert!(!d.has_exited());
    }

    #[test]
    fn term_during_reload_shuts_down() {
        let mut d = running();
        let t0 = Instant::now();
        d.handle_signal(t0, Signal::Hup);
        drain(&mut d);
        d.handle_signal(t0, Signal::Term);
        assert_eq!(effects(&drain(&mut d)), vec![Action::BeginShutdown]);
        assert!(matches!(d.phase(), Phase::ShuttingDown));
    }

    #[test]
    fn usr2_toggles_debug_logging() {
        let mut d = running();
        let t0 = Instant::now();
        d.handle_signal(t0, Signal::Usr2);
        let actions = drain(&mut d);
        assert_eq!(effects(&actions), vec![]);
        assert!(d.debug());
        assert_eq!(
            logs(&actions),
            vec![(Severity::Success, "Debug logging on (SIGUSR2)".into())]
        );
        assert!(d.debug());
        // Debug lines now appear: a merged HUP is reported.
        d.handle_signal(t0, Signal::Hup);
        d.handle_signal(t0, Signal::Hup);
        let actions = drain(&mut d);
        assert!(logs(&actions).contains(&(
            Severity::Debug,
            "SIGHUP ignored: a reload is already under way".into()
        )));
        d.handle_signal(t0, Signal::Usr2);
        let actions = drain(&mut d);
        assert_eq!(effects(&actions), vec![]);
        assert!(!d.debug());
        assert!(!d.debug());
        // And no longer.
        d.handle_signal(t0, Signal::Hup);
        assert_eq!(drain(&mut d), vec![]);
        // Debug can start on, and toggles during shutdown too.
        let config = DaemonConfig {
            debug: true,
            ..DaemonConfig::default()
        };
        let mut d = Daemon::new(config, settings("msul1"), &three_hosts(), &[]);
        let actions = drain(&mut d);
        assert!(
            logs(&actions)
                .iter()
                .any(|(s, m)| *s == Severity::Debug && m == "Starting host msul2 at 10.0.0.2:5663")
        );
        d.handle_signal(t0, Signal::Term);
        drain(&mut d);
        d.handle_signal(t0, Signal::Usr2);
        assert_eq!(effects(&drain(&mut d)), vec![]);
        assert!(!d.debug());
    }

    #[test]
    fn signal_names() {
        assert_eq!(Signal::from_name("HUP"), Some(Signal::Hup));
        assert_eq!(Signal::from_name("sigterm"), Some(Signal::Term));
        assert_eq!(Signal::from_name(" SIGUSR1 "), Some(Signal::Usr1));
        assert_eq!(Signal::from_name("usr2"), Some(Signal::Usr2));
        assert_eq!(Signal::from_name("INT"), Some(Signal::Int));
        assert_eq!(Signal::from_name("KILL"), None);
        assert_eq!(Signal::Usr1.to_string(), "SIGUSR1");
    }

    #[derive(Clone, Debug)]
    enum Input {
        Signal(Signal),
        Advance(u64),
        Timeout,
        Drained,
        Reload(Vec<(u8, u8)>),
        ReloadFailed,
    }

    fn input() -> impl Strategy<Value = Input> {
        prop_oneof![
            prop_oneof![
                Just(Signal::Hup),
                Just(Signal::Int),
                Just(Signal::Term),
                Just(Signal::Usr1),
                Just(Signal::Usr2),
            ]
            .prop_map(Input::Signal),
            (0u64..4000).prop_map(Input::Advance),
            Just(Input::Timeout),
            Just(Input::Drained),
            proptest::collection::vec((0u8..6, 0u8..3), 0..6).prop_map(Input::Reload),
            Just(Input::ReloadFailed),
        ]
    }

    proptest! {
        /// Any sequence of inputs: no panic, our own id never started, starts and stops
        /// balance per host, at most one exit and nothing after it, the pid file removed
        /// right before the exit, and a shutdown never outlives its bound.
        #[test]
        fn daemon_invariants(inputs in proptest::collection::vec(input(), 0..40)) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut d = Daemon::new(
                DaemonConfig::default(),
                settings("h0"),
                &[e("h0", "10.0.0.1"), e("h1", "10.0.0.2")],
                &[],
            );
            let mut running: BTreeMap<String, HostSpec> = BTreeMap::new();
            let mut exited = false;
            let mut deadline: Option<Instant> = None;
            let check = |d: &mut Daemon, running: &mut BTreeMap<String, HostSpec>,
                             exited: &mut bool| -> Result<(), TestCaseError> {
                let actions = drain(d);
                for (i, a) in actions.iter().enumerate() {
                    prop_assert!(!*exited, "action after exit: {a:?}");
                    match a {
                        Action::StartHost(s) => {
                            prop_assert_ne!(s.id(), d.settings().host_id.as_str());
                            prop_assert!(running.insert(s.id().to_owned(), s.clone()).is_none());
                        }
                        Action::StopHost(s) => {
                            let removed = running.remove(s.id());
                            prop_assert_eq!(removed.as_ref(), Some(s));
                        }
                        Action::MoveHost(s) => {
                            let old = running.insert(s.id().to_owned(), s.clone());
                            let old = old.expect("a running host moves");
                            prop_assert_eq!(&old.socket_path, &s.socket_path);
                            prop_assert_ne!(old.addr, s.addr);
                        }
                        Action::Exit(code) => {
                            prop_assert_eq!(*code, 0);
                            prop_assert!(i >= 1);
                            prop_assert!(actions[..i].iter().any(|a| matches!(
                                a,
                                Action::RemoveFiles(f) if f.last() == Some(&PathBuf::from("/d/logs/lonc.pid"))
                            )));
                            *exited = true;
                        }
                        _ => {}
                    }
                }
                if !*exited {
                    let served: Vec<&str> = d.hosts().map(HostSpec::id).collect();
                    let started: Vec<&str> = running.keys().map(String::as_str).collect();
                    prop_assert_eq!(served, started);
                }
                Ok(())
            };
            check(&mut d, &mut running, &mut exited)?;
            for input in inputs {
                match input {
                    Input::Signal(s) => d.handle_signal(now, s),
                    Input::Advance(ms) => now += Duration::from_millis(ms),
                    Input::Timeout => d.handle_timeout(now),
                    Input::Drained => d.handle_shutdown_drained(now),
                    Input::Reload(hosts) => {
                        let entries: Vec<HostEntry> = hosts
                            .iter()
                            .map(|&(id, ip)| e(&format!("h{id}"), &format!("10.0.1.{ip}")))
                            .collect();
                        // Later duplicates win, as hosts_tab::parse would give them.
                        let mut by_id: BTreeMap<String, HostEntry> = BTreeMap::new();
                        for en in entries {
                            by_id.insert(en.id.clone(), en);
                        }
                        let entries: Vec<HostEntry> = by_id.into_values().collect();
                        let _ = d.reload(now, settings("h0"), &entries, &[]);
                    }
                    Input::ReloadFailed => d.reload_failed(now, "bad"),
                }
                check(&mut d, &mut running, &mut exited)?;
                if d.phase() == Phase::ShuttingDown {
                    deadline = d.poll_timeout();
                }
                if let Some(dl) = deadline {
                    if now >= dl {
                        d.handle_timeout(now);
                        check(&mut d, &mut running, &mut exited)?;
                        prop_assert!(exited, "shutdown outlived its bound");
                    }
                }
            }
        }
    }
}

//! What the core wants logged, as typed events: what happened and its data. Nothing is
//! formatted until a line is written ([`crate::logfmt::message`] renders an event), and debug
//! events are dropped unrendered while debug logging is off.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use crate::daemon::Signal;

/// What asked for a change: a signal, or a command on the control socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Signal(Signal),
    Control,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::Signal(s) => write!(f, "{s}"),
            Trigger::Control => f.write_str("a control command"),
        }
    }
}
use crate::hosts_tab::LineProblem;
use crate::ids::ClientId;
use crate::link::LinkMisuse;
use crate::reason::CloseReason;
use crate::spool::SpoolNameError;

/// loncnew's severities, plus debug messages that only appear when debug logging is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    Critical,
    Success,
    Info,
    Warning,
    Debug,
}

/// One line the core wants in `lonc.log`. The driver adds time, pid, the host field (the
/// remote host's id, or `Parent Server`) and the state; [`crate::logfmt::message`] renders the
/// message, naming the host where the text does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogEvent {
    // ---- a remote host: its scheduler and links (a loncnew child)
    /// A link finished its handshake; it is the host's `count`-th ready link.
    LinkReady {
        count: usize,
    },
    /// A dead host's probe (or a reset) reached it again.
    HostReachable,
    /// Retries exhausted: the host is dead.
    HostMarkedDead,
    /// A link failed before it was ready; one retry used.
    ConnectFailed {
        reason: CloseReason,
        retries_left: u32,
    },
    /// A dead host's probe failed; the next comes within `next_within`.
    ProbeFailed {
        reason: CloseReason,
        next_within: Duration,
    },
    /// A dead host is probed.
    Probing,
    /// SIGUSR1 revived a dead host.
    HostReset,
    /// Shutdown or removal: every link closes.
    ClosingAll,
    /// A client sent `close_connection_exit`.
    CloseConnectionExit,
    /// An idle link closed.
    IdleLinkClosed {
        reason: CloseReason,
    },
    /// A link closed while carrying a transaction.
    LinkLost {
        reason: CloseReason,
    },
    /// A transaction could not be carried (its client is answered `con_lost`).
    FailingTransaction {
        request: Bytes,
    },
    /// The queue is full: a request is answered `con_lost`.
    QueueFull {
        requests: usize,
        bytes: usize,
        request: Bytes,
    },
    /// A delayed request was delivered (its `S:` record and deletion follow).
    DelayedCompleted,
    /// One idle link was pruned.
    IdleLinkPruned {
        left: usize,
    },
    /// A file in the delayed directory whose name does not parse.
    BadDelayedName {
        name: String,
        error: SpoolNameError,
    },
    /// A file in the delayed directory for a host that is not served (said once per file).
    DelayedForUnknownHost {
        name: String,
        owner: String,
    },
    /// A delayed file could not be read (not a regular file, unreadable, a first line over
    /// the limit); skipped while it stays (said once per file).
    DelayedUnreadable {
        name: String,
        why: String,
    },
    /// A request came back unread from a link that closed; it is sent again on another.
    RequestResent {
        reason: CloseReason,
    },
    /// A request was not answered within the request timeout: `con_lost`.
    RequestTimedOut {
        request: Bytes,
        after: Duration,
    },
    /// The ids and build key are shorter than the key (the newline rule matters).
    ShortSessionKey,
    /// A client sent a line longer than `max` bytes; it is answered `con_lost`.
    ClientLineTooLong {
        max: usize,
    },
    /// The runtime misdrove a link (reported more bytes written than handed out).
    LinkMisused {
        link: u32,
        error: LinkMisuse,
    },
    /// The scheduler started a transaction on a link the node does not have.
    StartOnUnknownLink {
        link: u32,
    },
    /// A link could not start the transaction the scheduler gave it.
    StartFailed {
        link: u32,
        error: LinkMisuse,
    },

    // ---- debug lines of a remote host
    /// A request to a dead or closed host is answered `con_lost` at once.
    HostUnavailable {
        request: Bytes,
    },
    /// A client hung up with requests queued or in flight.
    ClientHungUp {
        client: ClientId,
        dropped: usize,
        orphaned: usize,
    },
    /// An event about a link the scheduler no longer has.
    StaleReady {
        link: u32,
    },
    StaleReply {
        link: u32,
    },
    StaleClose {
        link: u32,
        reason: CloseReason,
    },
    /// The reply of a client that hung up.
    ReplyDiscarded,

    // ---- the parent (the daemon)
    /// The first line, as loncnew's.
    Starting,
    /// Debug: a host is started.
    StartingHost {
        id: String,
        addr: SocketAddr,
    },
    /// Start-up is done.
    Serving {
        hosts: usize,
        own_id: String,
    },
    /// A `hosts.tab` line was ignored.
    HostsTabProblem(LineProblem),
    /// Our own id is not in `hosts.tab`.
    SelfMissing {
        own_id: String,
    },
    /// The orderly shutdown ran out of time.
    ShutdownGraceOver {
        grace: Duration,
    },
    /// SIGUSR2 (or `lonc debug`) turned debug logging on or off.
    DebugLogging {
        on: bool,
        signal: Trigger,
    },
    /// A second TERM/INT: no more waiting.
    SignalDuringShutdown {
        signal: Signal,
    },
    /// Debug: HUP or USR1 while shutting down.
    IgnoredWhileShuttingDown {
        signal: Signal,
    },
    /// The orderly shutdown begins.
    ShuttingDown {
        signal: Signal,
        grace: Duration,
    },
    /// SIGUSR1: status file and reset.
    StatusAndReset {
        signal: Signal,
    },
    /// Debug: a HUP (or `lonc reload`) while a reload is under way.
    IgnoredWhileReloading {
        signal: Trigger,
    },
    /// SIGHUP (or `lonc reload`): the configuration is re-read.
    Reloading {
        signal: Trigger,
    },
    /// Every waiting client was answered during the shutdown.
    AllAnswered,
    /// A reload that would leave no host was refused.
    ReloadRefused {
        kept: usize,
    },
    HostRemoved {
        id: String,
    },
    HostMoved {
        id: String,
        from: SocketAddr,
        to: SocketAddr,
        /// The socket moved too (a new `lonSockDir`): the host is restarted, its waiting
        /// clients answered `con_lost`. Otherwise only its links are replaced.
        restart: bool,
    },
    HostAdded {
        id: String,
        addr: SocketAddr,
    },
    Reloaded {
        added: usize,
        removed: usize,
        changed: usize,
        unchanged: usize,
    },
    ReloadFailed {
        reason: String,
    },
    /// No host's socket could be listened on at start: nothing to serve.
    NoSocketListens,
    /// A control client of another user than the daemon's and root was closed.
    ControlRefused {
        uid: u32,
    },
    /// The last line.
    Exiting,
}

impl LogEvent {
    /// The severity loncnew would have logged it with.
    pub fn severity(&self) -> Severity {
        use LogEvent::*;
        match self {
            HostMarkedDead
            | ConnectFailed { .. }
            | CloseConnectionExit
            | LinkMisused { .. }
            | StartOnUnknownLink { .. }
            | StartFailed { .. }
            | Starting
            | ShuttingDown { .. }
            | Reloading { .. }
            | ReloadRefused { .. }
            | ReloadFailed { .. }
            | NoSocketListens
            | Exiting => Severity::Critical,
            LinkReady { .. }
            | HostReachable
            | DelayedCompleted
            | DebugLogging { .. }
            | Reloaded { .. } => Severity::Success,
            ProbeFailed { .. }
            | Probing
            | HostReset
            | ClosingAll
            | IdleLinkClosed { .. }
            | IdleLinkPruned { .. }
            | RequestResent { .. }
            | Serving { .. }
            | StatusAndReset { .. }
            | AllAnswered
            | HostRemoved { .. }
            | HostMoved { .. }
            | HostAdded { .. } => Severity::Info,
            LinkLost { .. }
            | FailingTransaction { .. }
            | QueueFull { .. }
            | BadDelayedName { .. }
            | DelayedForUnknownHost { .. }
            | DelayedUnreadable { .. }
            | ControlRefused { .. }
            | RequestTimedOut { .. }
            | ShortSessionKey
            | ClientLineTooLong { .. }
            | HostsTabProblem(_)
            | SelfMissing { .. }
            | ShutdownGraceOver { .. }
            | SignalDuringShutdown { .. } => Severity::Warning,
            HostUnavailable { .. }
            | ClientHungUp { .. }
            | StaleReady { .. }
            | StaleReply { .. }
            | StaleClose { .. }
            | ReplyDiscarded
            | StartingHost { .. }
            | IgnoredWhileShuttingDown { .. }
            | IgnoredWhileReloading { .. } => Severity::Debug,
        }
    }

    /// True for a line that only appears while debug logging is on.
    pub fn is_debug(&self) -> bool {
        self.severity() == Severity::Debug
    }
}

//! The daemon on one thread and a [`Poller`], with no async runtime.
//!
//! # Thread model
//!
//! * **The event loop** (the main thread) owns every socket (the host listeners, the clients,
//!   the lond links), all non-blocking and registered with one `polling::Poller`,
//!   level-triggered: readable while input is wanted, writable only while output is pending.
//!   A client is registered only once the loop has to wait for it: its request is read at
//!   accept, it is not watched while the request is out, and once its answer is written it is
//!   read again at the end of the loop's turn, when lonnet has most often closed (or sent its
//!   next line); only if that read finds nothing is it added to the poller.
//!   The interest is changed only when the source's state changes it, so a busy link or
//!   client costs no `epoll_ctl` per event; a source that wants nothing is left disarmed
//!   (oneshot, no interest), so a hang-up it cannot act on yet does not wake the loop
//!   repeatedly. `wait` is bounded by the core's next deadline. The loop feeds the core's
//!   [`Node`] and carries out its actions.
//! * **A signal thread** (signal-hook's iterator) forwards SIGHUP, SIGINT, SIGTERM, SIGUSR1
//!   and SIGUSR2 through a channel and wakes the poller.
//! * **The `blocking` crate's thread pool** lists and reads the delayed directory when the
//!   node asks, and hands the result back the same way. Log lines, the permanent log, the status
//!   file and deleting delivered files are small writes done on the loop.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use lonc_core::daemon::Signal;
use lonc_core::host::DelayedFile;
use lonc_core::ids::{ClientId, HostKey, IdMap, LinkId};
use lonc_core::log::Severity;
use lonc_core::node::{Node, Output};
use polling::{Event, Events, PollMode, Poller};

use lonc_edge::cli::{ConfigArgs, ConfigError, RunArgs};
use lonc_edge::files::{self, Logger};
use lonc_edge::notify::Notifier;
use lonc_edge::startup::{self, Startup};
use lonc_edge::sys::{self, ClientStream};

/// Most connections accepted per listener event, so one busy socket cannot starve the rest.
const ACCEPTS_PER_EVENT: usize = 64;

/// How long a listener rests after `accept` failed (out of descriptors, most likely) before it
/// is tried again: the failure is logged at most ten times a second, not on every turn of the
/// loop while the listener stays readable.
const ACCEPT_REST: Duration = Duration::from_millis(100);

/// Runs the daemon until an orderly shutdown; returns the exit status. Configuration problems
/// are one line on standard error and status 2; another daemon on the configuration, status 1.
pub fn run(config: &ConfigArgs, run: &RunArgs) -> i32 {
    startup::run_daemon(config, run, |startup| event_loop(startup, config, run))
}

fn event_loop(startup: Startup, config: &ConfigArgs, run: &RunArgs) -> Result<i32, ConfigError> {
    let Startup {
        node,
        logger,
        notifier,
    } = startup;
    let poller =
        Arc::new(Poller::new().map_err(|e| ConfigError(format!("cannot create a poller: {e}")))?);
    let (signal_tx, signals) = channel();
    spawn_signal_thread(poller.clone(), signal_tx)
        .map_err(|e| ConfigError(format!("cannot install signal handlers: {e}")))?;
    let (fs_tx, fs_done) = channel();
    let mut lp = Loop {
        poller,
        node,
        logger,
        notifier,
        config: config.clone(),
        socket_mode: run.socket_mode,
        max_line: run.max_line,
        sources: IdMap::default(),
        look: Vec::new(),
        ready: Vec::new(),
        resting: IdMap::default(),
        next_key: 0,
        listeners: IdMap::default(),
        links: IdMap::default(),
        clients: IdMap::default(),
        exit: None,
        signals,
        fs_tx,
        fs_done,
        buf: vec![0; 64 * 1024],
    };
    Ok(lp.run())
}

fn spawn_signal_thread(poller: Arc<Poller>, tx: Sender<Signal>) -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
    let mut signals =
        signal_hook::iterator::Signals::new([SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2])?;
    std::thread::Builder::new()
        .name("lonc signals".into())
        .spawn(move || {
            for raw in signals.forever() {
                let signal = match raw {
                    SIGHUP => Signal::Hup,
                    SIGINT => Signal::Int,
                    SIGTERM => Signal::Term,
                    SIGUSR1 => Signal::Usr1,
                    SIGUSR2 => Signal::Usr2,
                    _ => continue,
                };
                if tx.send(signal).is_err() {
                    return;
                }
                let _ = poller.notify();
            }
        })?;
    Ok(())
}

/// A delayed-directory listing done on a file-system thread.
enum Listing {
    /// The names in the delayed directory (empty when it cannot be read: then `problem`).
    Scan {
        names: Vec<String>,
        problem: Option<String>,
    },
    /// Files of a host read, and those that could not be.
    Read {
        host: HostKey,
        files: Vec<DelayedFile>,
        unreadable: Vec<(String, String)>,
    },
    /// `spool delete`'s files recorded and deleted (or not), for the control client.
    Removed {
        client: ClientId,
        removed: files::Removed,
    },
}

enum Source {
    /// A host's socket, or (`None`) the control socket.
    Listener(Option<HostKey>, UnixListener),
    /// The metrics' HTTP address (`--metrics-listen`).
    MetricsListener(TcpListener),
    Client(ClientSocket),
    Link(LinkSocket),
}

/// What a source is registered for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Interest {
    read: bool,
    write: bool,
}

impl Interest {
    const READ: Interest = Interest {
        read: true,
        write: false,
    };
    const WRITE: Interest = Interest {
        read: false,
        write: true,
    };
    const NONE: Interest = Interest {
        read: false,
        write: false,
    };

    /// How the poller is told: level-triggered while anything is wanted, disarmed otherwise.
    fn event(self, key: usize) -> (Event, PollMode) {
        if self.read || self.write {
            (Event::new(key, self.read, self.write), PollMode::Level)
        } else {
            (Event::none(key), PollMode::Oneshot)
        }
    }
}

/// A lonnet connection: the socket and the answer bytes it has not taken yet.
struct ClientSocket {
    id: ClientId,
    stream: ClientStream,
    out: BytesMut,
    /// The node closed the client: the socket closes once `out` is written.
    closing: bool,
    /// In the poller. A client is added only when the loop has to wait for it (see
    /// [`Loop::look_clients`]); most never are.
    watched: bool,
    /// In [`Loop::look`].
    looking: bool,
}

/// A lond link: the socket and the bytes it has not taken yet.
struct LinkSocket {
    link: LinkId,
    stream: TcpStream,
    connecting: bool,
    /// The peer's end of stream was read: not read again (it would stay readable), kept
    /// open for [`Output::ProbeReset`] until the node closes it.
    at_eof: bool,
    out: BytesMut,
}

struct Loop {
    poller: Arc<Poller>,
    node: Node,
    logger: Logger,
    notifier: Notifier,
    config: ConfigArgs,
    socket_mode: u32,
    max_line: usize,
    /// Every socket and the interest it is registered with (a client not yet in the poller:
    /// none).
    sources: IdMap<usize, (Source, Interest)>,
    /// Clients to read once this turn's events are handled, before they are watched: their
    /// answer was written, and lonnet most often closes (or sends its next line) at once.
    look: Vec<usize>,
    /// The keys and readiness of the last wait's events (kept to reuse its allocation).
    ready: Vec<(usize, bool, bool)>,
    /// Listeners left disarmed after a failed `accept`, and until when ([`ACCEPT_REST`]).
    resting: IdMap<usize, Instant>,
    next_key: usize,
    listeners: IdMap<HostKey, usize>,
    links: IdMap<LinkId, usize>,
    clients: IdMap<ClientId, usize>,
    exit: Option<i32>,
    signals: Receiver<Signal>,
    fs_tx: Sender<Listing>,
    fs_done: Receiver<Listing>,
    buf: Vec<u8>,
}

impl Loop {
    fn run(&mut self) -> i32 {
        let mut events = Events::new();
        loop {
            self.drain();
            if let Some(code) = self.exit {
                self.flush_clients();
                return code;
            }
            let rest_ends = self.resting.values().min().copied();
            let timeout = [self.node.poll_timeout(), rest_ends]
                .into_iter()
                .flatten()
                .min()
                .map(|t| t.saturating_duration_since(Instant::now()));
            // Clients left to look at: see what else is ready, without waiting.
            let timeout = if self.look.is_empty() {
                timeout
            } else {
                Some(Duration::ZERO)
            };
            events.clear();
            if let Err(e) = self.poller.wait(&mut events, timeout)
                && e.kind() != io::ErrorKind::Interrupted
            {
                self.logger
                    .parent(Severity::Critical, format!("poll failed: {e}"));
                std::thread::sleep(Duration::from_millis(10));
            }
            let mut ready = std::mem::take(&mut self.ready);
            ready.clear();
            ready.extend(events.iter().map(|e| (e.key, e.readable, e.writable)));
            for &(key, readable, writable) in &ready {
                self.dispatch(key, readable, writable);
                self.drain();
            }
            self.ready = ready;
            while let Ok(signal) = self.signals.try_recv() {
                self.node.handle_signal(Instant::now(), signal);
                self.drain();
            }
            while let Ok(listing) = self.fs_done.try_recv() {
                match listing {
                    Listing::Scan { names, problem } => {
                        if let Some(p) = problem {
                            self.logger.parent(Severity::Warning, p);
                        }
                        self.node.delayed_listed(Instant::now(), names);
                    }
                    Listing::Read {
                        host,
                        files,
                        unreadable,
                    } => self
                        .node
                        .delayed_read(Instant::now(), host, files, unreadable),
                    Listing::Removed { client, removed } => {
                        startup::removed(&mut self.node, &mut self.logger, client, removed)
                    }
                }
                self.drain();
            }
            let now = Instant::now();
            if self.node.poll_timeout().is_some_and(|t| t <= now) {
                self.node.handle_timeout(now);
            }
            if rest_ends.is_some_and(|t| t <= now) {
                let rested: Vec<usize> = self
                    .resting
                    .iter()
                    .filter(|(_, until)| **until <= now)
                    .map(|(key, _)| *key)
                    .collect();
                for key in rested {
                    self.resting.remove(&key);
                    self.rearm(key);
                }
            }
            self.look_clients();
        }
    }

    /// Carries out every output the node has, in order.
    fn drain(&mut self) {
        while let Some(output) = self.node.poll_output() {
            self.act(output);
        }
    }

    fn register(&mut self, source: Source, interest: Interest) -> Option<usize> {
        let key = self.next_key;
        self.next_key += 1;
        let fd = match &source {
            Source::Listener(_, l) => sys::raw_fd(l),
            Source::MetricsListener(l) => sys::raw_fd(l),
            Source::Client(c) => sys::raw_fd(&c.stream),
            Source::Link(l) => sys::raw_fd(&l.stream),
        };
        let (event, mode) = interest.event(key);
        // SAFETY: the descriptor belongs to `source`, which stays in `sources` until it is
        // deleted from the poller (`unregister`) and only then dropped.
        let added = unsafe { self.poller.add_with_mode(fd, event, mode) };
        match added {
            Ok(()) => {
                self.sources.insert(key, (source, interest));
                Some(key)
            }
            Err(e) => {
                self.logger
                    .parent(Severity::Critical, format!("cannot poll a socket: {e}"));
                None
            }
        }
    }

    fn unregister(&mut self, key: usize) -> Option<Source> {
        let (source, _) = self.sources.remove(&key)?;
        self.resting.remove(&key);
        let _ = match &source {
            Source::Listener(_, l) => self.poller.delete(l),
            Source::MetricsListener(l) => self.poller.delete(l),
            Source::Client(c) if c.watched => self.poller.delete(&c.stream),
            Source::Client(_) => Ok(()),
            Source::Link(l) => self.poller.delete(&l.stream),
        };
        Some(source)
    }

    /// Brings a source's registration in line with its state, if that changed it.
    fn rearm(&mut self, key: usize) {
        let Some((source, armed)) = self.sources.get_mut(&key) else {
            return;
        };
        let wanted = match source {
            Source::Listener(..) | Source::MetricsListener(_)
                if self.resting.contains_key(&key) =>
            {
                Interest::NONE
            }
            Source::Listener(..) | Source::MetricsListener(_) => Interest::READ,
            Source::Client(c) => Interest {
                read: !c.closing && self.node.client_wants_input(c.id),
                write: !c.out.is_empty(),
            },
            Source::Link(l) if l.connecting => Interest::WRITE,
            Source::Link(l) => Interest {
                read: !l.at_eof,
                write: !l.out.is_empty(),
            },
        };
        if let Source::Client(c) = source
            && !c.watched
        {
            // Not in the poller: added only for output the socket did not take, or to wait
            // for input once a look found none.
            if wanted.write {
                return self.watch(key);
            }
            if wanted.read && !c.looking && !self.node.client_waiting(c.id) {
                c.looking = true;
                self.look.push(key);
            }
            return;
        }
        if wanted == *armed {
            return;
        }
        *armed = wanted;
        let (event, mode) = wanted.event(key);
        let result = match source {
            Source::Listener(_, l) => self.poller.modify_with_mode(l, event, mode),
            Source::MetricsListener(l) => self.poller.modify_with_mode(l, event, mode),
            Source::Client(c) => self.poller.modify_with_mode(&c.stream, event, mode),
            Source::Link(l) => self.poller.modify_with_mode(&l.stream, event, mode),
        };
        if let Err(e) = result {
            self.logger
                .parent(Severity::Critical, format!("cannot re-arm a socket: {e}"));
        }
    }

    /// Adds a client to the poller, with the interest its state calls for.
    fn watch(&mut self, key: usize) {
        let Some((Source::Client(c), armed)) = self.sources.get_mut(&key) else {
            return;
        };
        if c.watched {
            return;
        }
        let wanted = Interest {
            read: !c.closing && self.node.client_wants_input(c.id),
            write: !c.out.is_empty(),
        };
        let (event, mode) = wanted.event(key);
        // SAFETY: the descriptor belongs to the client, which stays in `sources` until it is
        // deleted from the poller (`unregister`, as `watched` says) and only then dropped.
        let added = unsafe {
            self.poller
                .add_with_mode(sys::raw_fd(&c.stream), event, mode)
        };
        match added {
            Ok(()) => {
                c.watched = true;
                *armed = wanted;
            }
            Err(e) => {
                let id = c.id;
                self.logger
                    .parent(Severity::Critical, format!("cannot poll a socket: {e}"));
                self.node
                    .handle_client_error(Instant::now(), id, io::ErrorKind::Other);
            }
        }
    }

    /// Reads the clients in [`Loop::look`] that still want input and have no request out;
    /// those with nothing to read are added to the poller.
    fn look_clients(&mut self) {
        let keys = std::mem::take(&mut self.look);
        for &key in &keys {
            let Some((Source::Client(c), _)) = self.sources.get_mut(&key) else {
                continue;
            };
            c.looking = false;
            let id = c.id;
            if c.watched
                || c.closing
                || !self.node.client_wants_input(id)
                || self.node.client_waiting(id)
            {
                continue;
            }
            if self.read_client(key) {
                self.watch(key);
            }
            self.drain();
            self.settle_client(key);
        }
        // Reuse the allocation, unless new looks came meanwhile.
        if self.look.is_empty() {
            self.look = keys;
            self.look.clear();
        }
    }

    fn dispatch(&mut self, key: usize, readable: bool, writable: bool) {
        match self.sources.get(&key) {
            Some((Source::Listener(..), _)) => self.accept(key),
            Some((Source::MetricsListener(_), _)) => self.accept_metrics(key),
            Some((Source::Client(_), _)) => {
                if writable {
                    self.flush_client(key);
                }
                if readable {
                    self.read_client(key);
                }
                self.drain();
                self.settle_client(key);
            }
            Some((Source::Link(_), _)) => self.on_link(key, readable, writable),
            None => {}
        }
    }

    // ------------------------------------------------------------------ outputs

    fn act(&mut self, output: Output) {
        match output {
            Output::Listen { host, spec } => {
                let listener =
                    startup::listen(&spec, self.socket_mode, &mut self.logger, &self.notifier);
                let key = listener
                    .and_then(|l| self.register(Source::Listener(Some(host), l), Interest::READ));
                if let Some(k) = key {
                    self.listeners.insert(host, k);
                }
                self.node.listened(Instant::now(), host, key.is_some());
            }
            Output::ListenControl { path } => {
                let listener = startup::listen_control(&path, &mut self.logger, &self.notifier);
                let key =
                    listener.and_then(|l| self.register(Source::Listener(None, l), Interest::READ));
                self.node.control_listened(Instant::now(), key.is_some());
            }
            Output::ListenMetrics { addr } => {
                // Until the process exits, as the control socket.
                if let Some(l) = startup::listen_metrics(addr, &mut self.logger, &self.notifier) {
                    self.register(Source::MetricsListener(l), Interest::READ);
                }
            }
            Output::Ready => startup::ready(&self.node, &mut self.notifier),
            Output::Unlisten { host, spec } => {
                if let Some(k) = self.listeners.remove(&host) {
                    self.unregister(k);
                }
                startup::unlisten(&spec, &mut self.logger);
            }
            Output::StopAccepting => {
                self.notifier.stopping();
                let keys: Vec<usize> = self.listeners.drain().map(|(_, k)| k).collect();
                for k in keys {
                    self.unregister(k);
                }
            }
            Output::Connect { link, addr } => self.connect(link, addr),
            Output::ProbeReset { link } => {
                let error = match self.links.get(&link).and_then(|k| self.sources.get(k)) {
                    Some((Source::Link(l), _)) => l.stream.take_error().ok().flatten(),
                    _ => return,
                };
                let now = Instant::now();
                match error {
                    Some(e) => self.node.handle_read_error(now, link, e.kind()),
                    None => self.node.handle_link_eof(now, link),
                }
            }
            Output::Transmit {
                link,
                bytes,
                begins,
            } => {
                if let Some(&k) = self.links.get(&link) {
                    if let Some((Source::Link(l), _)) = self.sources.get_mut(&k) {
                        // A lond that closed the link while it was idle: tell the node rather
                        // than write a request it will never read.
                        if begins && l.out.is_empty() && !l.connecting {
                            match sys::peer_closed(&l.stream) {
                                Some(Ok(())) => {
                                    return self.node.handle_link_eof(Instant::now(), link);
                                }
                                Some(Err(e)) => {
                                    let kind = e.kind();
                                    return self.node.handle_read_error(Instant::now(), link, kind);
                                }
                                None => {}
                            }
                        }
                        l.out.extend_from_slice(&bytes);
                    }
                    self.flush_link(k);
                    self.rearm(k);
                }
            }
            Output::CloseLink { link, farewell } => {
                if let Some(k) = self.links.remove(&link)
                    && let Some(Source::Link(mut l)) = self.unregister(k)
                    && !l.connecting
                    && !farewell.is_empty()
                {
                    // Best effort, never waiting: the lond may already be gone.
                    let _ = l.stream.write(&farewell);
                }
            }
            Output::Answer { client, bytes } => {
                if let Some(&k) = self.clients.get(&client) {
                    if let Some((Source::Client(c), _)) = self.sources.get_mut(&k) {
                        c.out.extend_from_slice(&bytes);
                    }
                    self.flush_client(k);
                    self.settle_client(k);
                }
            }
            Output::CloseClient { client } => {
                if let Some(&k) = self.clients.get(&client) {
                    if let Some((Source::Client(c), _)) = self.sources.get_mut(&k) {
                        c.closing = true;
                    }
                    self.settle_client(k);
                }
            }
            Output::AbortClient { client } => {
                if let Some(&k) = self.clients.get(&client) {
                    if let Some((Source::Client(c), _)) = self.sources.get_mut(&k) {
                        c.out.clear();
                        c.closing = true;
                    }
                    self.settle_client(k);
                }
            }
            Output::ScanDelayed => {
                let dir = self.node.settings().delayed_dir();
                self.on_fs_thread(move || match files::scan_delayed(&dir) {
                    Ok(names) => Listing::Scan {
                        names,
                        problem: None,
                    },
                    Err(e) => Listing::Scan {
                        names: Vec::new(),
                        problem: Some(format!("cannot list {}: {e}", dir.display())),
                    },
                });
            }
            Output::ReadDelayed { host, names } => {
                let (dir, max_line) = (self.node.settings().delayed_dir(), self.max_line);
                self.on_fs_thread(move || {
                    let (files, unreadable) = files::read_delayed(&dir, &names, max_line);
                    Listing::Read {
                        host,
                        files,
                        unreadable,
                    }
                });
            }
            Output::Delivered { name, record } => {
                startup::delivered(&mut self.node, &mut self.logger, name, record)
            }
            Output::RemoveDelayed { client, names, uid } => {
                let (dir, max_line) = (self.node.settings().delayed_dir(), self.max_line);
                let perm = self.logger.perm_path();
                self.on_fs_thread(move || {
                    let removed =
                        files::remove_delayed(&dir, perm.as_deref(), &names, max_line, uid);
                    Listing::Removed { client, removed }
                });
            }
            Output::Log { host, state, event } => self.logger.log(&host, &state, &event),
            Output::WriteStatus(hosts) => {
                startup::write_status(&self.node, &mut self.logger, &hosts)
            }
            Output::ReloadConfig => startup::reload(
                &mut self.node,
                &mut self.logger,
                &mut self.notifier,
                &self.config,
            ),
            Output::RemoveFiles(paths) => startup::remove_files(&mut self.logger, &paths),
            Output::ShowStatus(summary) => self.notifier.status(&summary),
            Output::Exit(code) => self.exit = Some(code),
        }
    }

    /// Runs `work` (a scan or reads of the delayed directory) off the loop, on the `blocking`
    /// crate's thread pool, which hands its result back through `fs_done` and wakes the poller.
    /// The pool reuses its threads (a drain of 10,000 spooled files started a thread for each
    /// one before), and a file-system call that hangs holds one thread, not the loop or the
    /// other reads.
    fn on_fs_thread(&mut self, work: impl FnOnce() -> Listing + Send + 'static) {
        let (tx, poller) = (self.fs_tx.clone(), self.poller.clone());
        blocking::unblock(move || {
            let _ = tx.send(work());
            let _ = poller.notify();
        })
        .detach();
    }

    // ------------------------------------------------------------------ clients

    fn accept(&mut self, key: usize) {
        for _ in 0..ACCEPTS_PER_EVENT {
            let Some((Source::Listener(host, listener), _)) = self.sources.get(&key) else {
                return;
            };
            let host = *host;
            match sys::accept_nonblocking(listener) {
                Ok(stream) => {
                    let id = match host {
                        Some(host) => self.node.accept(Instant::now(), host),
                        None => {
                            let uid = sys::peer_uid(&stream);
                            self.node.accept_control_from(Instant::now(), uid)
                        }
                    };
                    let Some(id) = id else {
                        continue;
                    };
                    self.adopt_client(id, stream.into());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors, most likely: say so, and rest the listener rather
                    // than find it readable again at once.
                    self.logger
                        .parent(Severity::Warning, format!("accept failed: {e}"));
                    self.resting.insert(key, Instant::now() + ACCEPT_REST);
                    break;
                }
            }
        }
        self.rearm(key);
    }

    /// A connection the node accepted as `id` (lonnet's, the control socket's or a scraper's):
    /// read at once, polled only if nothing was there yet.
    fn adopt_client(&mut self, id: ClientId, stream: ClientStream) {
        let client = ClientSocket {
            id,
            stream,
            out: BytesMut::new(),
            closing: false,
            watched: false,
            looking: false,
        };
        let k = self.next_key;
        self.next_key += 1;
        self.sources
            .insert(k, (Source::Client(client), Interest::NONE));
        self.clients.insert(id, k);
        // A client writes its line as soon as it is connected: it is usually here already,
        // and the client is added to the poller only if it is not.
        if self.read_client(k) {
            self.watch(k);
        }
        self.drain();
        self.settle_client(k);
    }

    /// Accepts on the metrics' TCP address: each connection is a client, as in [`Loop::accept`].
    fn accept_metrics(&mut self, key: usize) {
        for _ in 0..ACCEPTS_PER_EVENT {
            let Some((Source::MetricsListener(listener), _)) = self.sources.get(&key) else {
                return;
            };
            match sys::accept_tcp_nonblocking(listener) {
                Ok(stream) => {
                    let Some(id) = self.node.accept_metrics(Instant::now()) else {
                        continue;
                    };
                    self.adopt_client(id, stream.into());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.logger
                        .parent(Severity::Warning, format!("accept failed: {e}"));
                    self.resting.insert(key, Instant::now() + ACCEPT_REST);
                    break;
                }
            }
        }
        self.rearm(key);
    }

    /// Reads once from the client into the node, if the node wants its input; true if there
    /// was nothing to read.
    fn read_client(&mut self, key: usize) -> bool {
        let Some((Source::Client(c), _)) = self.sources.get_mut(&key) else {
            return false;
        };
        let id = c.id;
        if c.closing || !self.node.client_wants_input(id) {
            return false;
        }
        let now = Instant::now();
        match c.stream.read(&mut self.buf) {
            Ok(0) => self.node.handle_client_eof(now, id),
            Ok(n) => self.node.handle_client_input(now, id, &self.buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => self.node.handle_client_error(now, id, e.kind()),
        }
        false
    }

    /// Writes the client's pending answers until its socket is full; a failure tells the node
    /// the client is gone and drops what was pending.
    fn flush_client(&mut self, key: usize) {
        let Some((Source::Client(c), _)) = self.sources.get_mut(&key) else {
            return;
        };
        while !c.out.is_empty() {
            match c.stream.write(&c.out) {
                Ok(n) => c.out.advance(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    c.out.clear();
                    c.closing = true;
                    let id = c.id;
                    self.node.handle_client_error(Instant::now(), id, e.kind());
                    break;
                }
            }
        }
    }

    /// After any change to a client: close it once the node is done with it and its answers
    /// are written; otherwise bring its registration in line.
    fn settle_client(&mut self, key: usize) {
        let Some((Source::Client(c), _)) = self.sources.get(&key) else {
            return;
        };
        if c.closing && c.out.is_empty() {
            let id = c.id;
            self.clients.remove(&id);
            self.unregister(key);
            self.node.client_closed(Instant::now(), id);
        } else {
            self.rearm(key);
        }
    }

    /// Writes what answers are still pending, for at most [`startup::FLUSH_BOUND`] in all.
    fn flush_clients(&mut self) {
        let end = Instant::now() + startup::FLUSH_BOUND;
        for (source, _) in self.sources.values_mut() {
            let Source::Client(c) = source else { continue };
            let left = end.saturating_duration_since(Instant::now());
            if c.out.is_empty() || left.is_zero() {
                continue;
            }
            if c.stream.set_nonblocking(false).is_ok()
                && c.stream.set_write_timeout(Some(left)).is_ok()
            {
                let _ = c.stream.write_all(&c.out);
            }
        }
    }

    // ------------------------------------------------------------------ links

    fn connect(&mut self, link: LinkId, addr: SocketAddr) {
        match sys::connect_nonblocking(addr) {
            Ok(stream) => {
                let l = LinkSocket {
                    link,
                    stream,
                    connecting: true,
                    at_eof: false,
                    out: BytesMut::new(),
                };
                if let Some(k) = self.register(Source::Link(l), Interest::WRITE) {
                    self.links.insert(link, k);
                } else {
                    self.node
                        .handle_connect_failed(Instant::now(), link, io::ErrorKind::Other);
                }
            }
            Err(e) => self
                .node
                .handle_connect_failed(Instant::now(), link, e.kind()),
        }
    }

    fn on_link(&mut self, key: usize, readable: bool, writable: bool) {
        let Some((Source::Link(l), _)) = self.sources.get_mut(&key) else {
            return;
        };
        let link = l.link;
        if l.connecting {
            if !writable && !readable {
                return self.rearm(key);
            }
            let outcome = match l.stream.take_error() {
                Ok(Some(e)) | Err(e) => Err(e),
                Ok(None) => l.stream.peer_addr().map(|_| ()),
            };
            match outcome {
                Ok(()) => {
                    l.connecting = false;
                    let _ = l.stream.set_nodelay(true);
                    sys::set_keepalive(&l.stream);
                    self.node.handle_connected(Instant::now(), link);
                }
                Err(e) => {
                    return self
                        .node
                        .handle_connect_failed(Instant::now(), link, e.kind());
                }
            }
            return self.rearm(key);
        }
        if writable {
            self.flush_link(key);
        }
        if readable {
            let Some((Source::Link(l), _)) = self.sources.get_mut(&key) else {
                return;
            };
            match l.stream.read(&mut self.buf) {
                // A reset that came after the end of stream says the lond never read what
                // was sent last: report it rather than the end.
                Ok(0) => {
                    l.at_eof = true;
                    match l.stream.take_error() {
                        Ok(Some(e)) => self.node.handle_read_error(Instant::now(), link, e.kind()),
                        _ => self.node.handle_link_eof(Instant::now(), link),
                    }
                }
                Ok(n) => self
                    .node
                    .handle_link_input(Instant::now(), link, &self.buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => self.node.handle_read_error(Instant::now(), link, e.kind()),
            }
        }
        self.rearm(key);
    }

    /// Writes what the link has pending until the socket is full, reporting each write.
    fn flush_link(&mut self, key: usize) {
        loop {
            // The node may close the link on any report: look it up each time.
            let Some((Source::Link(l), _)) = self.sources.get_mut(&key) else {
                return;
            };
            if l.connecting || l.out.is_empty() {
                return;
            }
            let link = l.link;
            match l.stream.write(&l.out) {
                Ok(0) => {
                    l.out.clear();
                    let kind = io::ErrorKind::WriteZero;
                    return self.node.handle_write_error(Instant::now(), link, kind);
                }
                Ok(n) => {
                    l.out.advance(n);
                    self.node.handle_written(Instant::now(), link, n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    l.out.clear();
                    return self.node.handle_write_error(Instant::now(), link, e.kind());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_that_wants_something_is_level_triggered_and_one_that_wants_nothing_is_disarmed() {
        let (event, mode) = Interest::READ.event(7);
        assert_eq!(
            (event.key, event.readable, event.writable),
            (7, true, false)
        );
        assert_eq!(mode, PollMode::Level);
        let both = Interest {
            read: true,
            write: true,
        };
        let (event, mode) = both.event(8);
        assert_eq!(
            (event.readable, event.writable, mode),
            (true, true, PollMode::Level)
        );
        // Level-triggered with no interest would still report a hang-up on every wait.
        let (event, mode) = Interest::NONE.event(9);
        assert_eq!(
            (event.readable, event.writable, mode),
            (false, false, PollMode::Oneshot)
        );
    }
}

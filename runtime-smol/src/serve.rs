//! The daemon on smol: one thread, one [`LocalExecutor`], tasks that only move bytes between
//! sockets and the core's [`Node`].
//!
//! Tasks: one accept loop per host socket, one task per client connection, one per lond link,
//! one for the node's timers and one for signals. Every task that feeds the node drains it
//! right away (`Rt::drain`), and the outputs are carried out there, in the task that drained:
//!
//! * Bytes for a link ([`Output::Transmit`]) and answers for a client ([`Output::Answer`]) are
//!   written at once, without waiting, to the socket kept in the link's `LinkSocket` or the
//!   client's `ClientSocket`. Only what a full socket does not take stays in the slot, and only
//!   then is the owning task kicked (a `Kick`: a flag and the task's waker in the slot) to wait
//!   for room and write the rest.
//! * So a link task spends its life waiting for its socket to be readable: a readiness wait is
//!   armed once per event (`Async::poll_readable`, polled together with the kick in one
//!   `poll_fn`), and a kick leaves it armed. Under load the next reply is most often in after
//!   one turn of the other ready tasks, so after a reply the task yields once and reads before
//!   it arms a wait (backing off while such reads find nothing). A link task is kicked when
//!   its output is pending or the node closes the link.
//! * A client task reads the request as soon as it starts, and does not watch the socket while
//!   the request is out: it waits for the kick its answer gives, then reads again at once, since
//!   lonnet most often has closed by then (or sent its next line). Only when that read finds
//!   nothing is the socket registered with the reactor and waited for. Most connections thus
//!   cost the reactor nothing, no registration and no wake-up. A client task is also kicked when
//!   its output is pending, the node stopped or resumed wanting its input, or the node closed
//!   it.

use std::cell::{Cell, OnceCell, RefCell};
use std::future::{Future, poll_fn};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use bytes::{Buf, Bytes, BytesMut};
use futures_lite::StreamExt;
use lonc_core::daemon::Signal;
use lonc_core::ids::{ClientId, HostKey, IdMap, LinkId};
use lonc_core::log::Severity;
use lonc_core::node::{Node, Output};
use smol::LocalExecutor;
use smol::channel::{Sender, bounded};

use lonc_edge::cli::{ConfigArgs, ConfigError, RunArgs};
use lonc_edge::files::{self, Logger};
use lonc_edge::notify::Notifier;
use lonc_edge::startup::{self, Startup};
use lonc_edge::sys::{self, ClientStream};

/// The size of the one read buffer every link and client task shares ([`Rt::read_with`]).
const READ_BUF: usize = 64 * 1024;

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
    let signals = async_signal::Signals::new([
        async_signal::Signal::Hup,
        async_signal::Signal::Int,
        async_signal::Signal::Term,
        async_signal::Signal::Usr1,
        async_signal::Signal::Usr2,
    ])
    .map_err(|e| ConfigError(format!("cannot install signal handlers: {e}")))?;

    let ex = Rc::new(LocalExecutor::new());
    let (exit_tx, exit_rx) = bounded(1);
    let rt = Rc::new(Rt {
        ex: ex.clone(),
        node: RefCell::new(node),
        logger: RefCell::new(logger),
        notifier: RefCell::new(notifier),
        config: config.clone(),
        socket_mode: run.socket_mode,
        max_line: run.max_line,
        listeners: RefCell::new(IdMap::default()),
        links: RefCell::new(IdMap::default()),
        clients: RefCell::new(IdMap::default()),
        timer_kick: Kick::default(),
        armed: Cell::new(None),
        exit: exit_tx,
        unanswered: Cell::new(0),
        read_buf: RefCell::new(vec![0u8; READ_BUF].into_boxed_slice()),
    });
    let main = async {
        ex.spawn(timers(rt.clone())).detach();
        ex.spawn(signal_loop(rt.clone(), signals)).detach();
        rt.drain();
        let code = exit_rx.recv().await.unwrap_or(1);
        // Give the answers already decided a bounded moment to reach their clients.
        let deadline = Instant::now() + startup::FLUSH_BOUND;
        while rt.unanswered.get() > 0 && Instant::now() < deadline {
            Timer::after(Duration::from_millis(5)).await;
        }
        code
    };
    // The executor's own `run` gives its runner a local queue and steals into it, for
    // executors run on several threads; on one thread that is pure overhead, and ticking the
    // executor instead saves ~350 instructions per request (callgrind, 64 clients). As `run`
    // does, the loop lets the reactor in every 200 tasks.
    let tasks = async {
        loop {
            for _ in 0..200 {
                ex.tick().await;
            }
            futures_lite::future::yield_now().await;
        }
    };
    let code = smol::block_on(futures_lite::future::or(main, tasks));
    Ok(code)
}

/// What every task shares. Single-threaded: `RefCell`s are never held across an `await`, and
/// `rt.node` is never borrowed across a call that may re-enter it (`drain`, `act`).
struct Rt {
    ex: Rc<LocalExecutor<'static>>,
    node: RefCell<Node>,
    logger: RefCell<Logger>,
    notifier: RefCell<Notifier>,
    config: ConfigArgs,
    socket_mode: u32,
    max_line: usize,
    listeners: RefCell<IdMap<HostKey, smol::Task<()>>>,
    links: RefCell<IdMap<LinkId, Rc<LinkSocket>>>,
    clients: RefCell<IdMap<ClientId, Rc<ClientSocket>>>,
    timer_kick: Kick,
    /// The deadline the timer task sleeps until.
    armed: Cell<Option<Instant>>,
    exit: Sender<i32>,
    /// Answers given but not yet written in full: those a client's socket did not take at
    /// once, until its task has flushed them or the client is gone. An answer written whole
    /// right away is never counted.
    unanswered: Cell<usize>,
    /// The one read buffer of every link and client task ([`Rt::read_with`]): the runtime is
    /// single-threaded and a task hands what it read on before it next awaits, so no socket
    /// needs a buffer of its own (one per link was most of an idle link's memory, and one in
    /// each client task's state was copied whenever a client task was spawned).
    read_buf: RefCell<Box<[u8]>>,
}

/// Wakes the one task that waits on it; what to do is in the slot the kick belongs to, so one
/// pending kick is as good as many. A kick with no task waiting is kept for its next wait.
#[derive(Default)]
struct Kick {
    pending: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Kick {
    fn kick(&self) {
        self.pending.set(true);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    fn is_pending(&self) -> bool {
        self.pending.get()
    }

    /// Kicks already seen to: the task is about to read the slot.
    fn clear(&self) {
        self.pending.set(false);
    }

    /// True (and cleared) if kicked; otherwise the task's waker is kept for the next kick.
    fn poll_kicked(&self, cx: &mut Context<'_>) -> bool {
        if self.pending.replace(false) {
            return true;
        }
        let waker = match self.waker.take() {
            Some(w) if w.will_wake(cx.waker()) => w,
            _ => cx.waker().clone(),
        };
        self.waker.set(Some(waker));
        false
    }

    /// Waits for a kick.
    async fn wait(&self) {
        poll_fn(|cx| {
            if self.poll_kicked(cx) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// What woke a task waiting for its socket and its kick.
enum Wake<T> {
    Kick,
    Ready(T),
}

/// Waits for `ready` (a readiness poll of the task's socket) or a kick, the kick first. A
/// readiness wait interrupted by a kick stays armed, with the same waker, for the next wait.
async fn ready_or_kick<T>(
    kick: &Kick,
    mut ready: impl FnMut(&mut Context<'_>) -> Poll<T>,
) -> Wake<T> {
    poll_fn(|cx| {
        if kick.poll_kicked(cx) {
            return Poll::Ready(Wake::Kick);
        }
        ready(cx).map(Wake::Ready)
    })
    .await
}

/// A link as its task and [`Rt::act`] share it.
struct LinkSocket {
    /// Wakes the link task: the node closed the link, or `out` holds bytes the socket did not
    /// take.
    kick: Kick,
    /// The node closed the link (or writing to it failed): the task writes `farewell`, best
    /// effort, and ends.
    closed: Cell<bool>,
    farewell: RefCell<Bytes>,
    /// The connected socket; `None` while connecting and once the task has ended.
    stream: RefCell<Option<Rc<Async<TcpStream>>>>,
    /// Bytes handed out by the node and not yet written. Not empty only while the socket is
    /// full (or still connecting): the task then waits for room and writes the rest.
    out: RefCell<BytesMut>,
}

/// A client connection as its task and [`Rt::act`] share it.
struct ClientSocket {
    /// The connection (non-blocking); reads and writes go straight to it.
    stream: Rc<ClientStream>,
    /// The same socket registered with the reactor, from the first time the task has to wait
    /// for it (see [`client_task`]: most clients never need it).
    watched: OnceCell<Async<Rc<ClientStream>>>,
    /// Answer bytes the socket did not take at once; the task writes them when there is room.
    out: RefCell<BytesMut>,
    /// Answers in `out`, counted in [`Rt::unanswered`].
    queued: Cell<usize>,
    /// The node closed the client: the task ends once `out` is written.
    closing: Cell<bool>,
    /// The task waits for a kick only (the node wanted no input, or the client has a request
    /// out): an answer must wake it.
    paused: Cell<bool>,
    /// Wakes the task when it must act (see `out`, `closing`, `paused`).
    kick: Kick,
}

impl Rt {
    /// Carries out every output the node has, in order; re-arms the timer task if the node's
    /// next deadline moved.
    fn drain(self: &Rc<Self>) {
        loop {
            let output = self.node.borrow_mut().poll_output();
            match output {
                Some(output) => self.act(output),
                None => break,
            }
        }
        // The timer task needs waking only when the node's next deadline comes sooner than the
        // one it sleeps until. Every step of every link moves its own deadline later, and a
        // timer re-armed for each of those cost the reactor a wake-up per request; a deadline
        // that moved later is found when the armed one fires, and the task re-arms then.
        let next = self.node.borrow().poll_timeout();
        if let Some(next) = next
            && self.armed.get().is_none_or(|armed| next < armed)
        {
            self.armed.set(Some(next));
            self.timer_kick.kick();
        }
    }

    fn log(&self, severity: Severity, message: String) {
        self.logger.borrow_mut().parent(severity, message);
    }

    /// Carries out one output. Called from `drain` only, with the node not borrowed; the
    /// outputs of the node calls made here are carried out by the same `drain`.
    fn act(self: &Rc<Self>, output: Output) {
        match output {
            Output::Listen { host, spec } => {
                let listener = startup::listen(
                    &spec,
                    self.socket_mode,
                    &mut self.logger.borrow_mut(),
                    &self.notifier.borrow(),
                );
                let listening = match listener.map(Async::new_nonblocking) {
                    Some(Ok(listener)) => {
                        let task = self.ex.spawn(accept_loop(
                            self.clone(),
                            listener,
                            sys::accept_nonblocking,
                            move |rt, _| rt.node.borrow_mut().accept(Instant::now(), host),
                        ));
                        self.listeners.borrow_mut().insert(host, task);
                        true
                    }
                    Some(Err(e)) => {
                        self.log(
                            Severity::Critical,
                            format!("Cannot poll the socket for {}: {e}", spec.id()),
                        );
                        false
                    }
                    None => false,
                };
                self.node
                    .borrow_mut()
                    .listened(Instant::now(), host, listening);
            }
            Output::ListenControl { path } => {
                let listener = startup::listen_control(
                    &path,
                    &mut self.logger.borrow_mut(),
                    &self.notifier.borrow(),
                );
                let listening = match listener.map(Async::new_nonblocking) {
                    Some(Ok(listener)) => {
                        // Until the process exits: the control socket answers while stopping.
                        self.ex
                            .spawn(accept_loop(
                                self.clone(),
                                listener,
                                sys::accept_nonblocking,
                                |rt, stream| {
                                    let uid = sys::peer_uid(stream);
                                    rt.node
                                        .borrow_mut()
                                        .accept_control_from(Instant::now(), uid)
                                },
                            ))
                            .detach();
                        true
                    }
                    Some(Err(e)) => {
                        self.log(
                            Severity::Warning,
                            format!("Cannot poll the control socket: {e}"),
                        );
                        false
                    }
                    None => false,
                };
                self.node
                    .borrow_mut()
                    .control_listened(Instant::now(), listening);
            }
            Output::ListenMetrics { addr } => {
                let listener = startup::listen_metrics(
                    addr,
                    &mut self.logger.borrow_mut(),
                    &self.notifier.borrow(),
                );
                match listener.map(Async::new_nonblocking) {
                    // Until the process exits, as the control socket.
                    Some(Ok(listener)) => self
                        .ex
                        .spawn(accept_loop(
                            self.clone(),
                            listener,
                            sys::accept_tcp_nonblocking,
                            |rt, _| rt.node.borrow_mut().accept_metrics(Instant::now()),
                        ))
                        .detach(),
                    Some(Err(e)) => self.log(
                        Severity::Critical,
                        format!("Cannot poll the metrics' address {addr}: {e}"),
                    ),
                    None => {}
                }
            }
            Output::Ready => startup::ready(&self.node.borrow(), &mut self.notifier.borrow_mut()),
            Output::Unlisten { host, spec } => {
                self.listeners.borrow_mut().remove(&host);
                startup::unlisten(&spec, &mut self.logger.borrow_mut());
            }
            Output::StopAccepting => {
                self.notifier.borrow_mut().stopping();
                self.listeners.borrow_mut().clear();
            }
            Output::Connect { link, addr } => {
                let slot = Rc::new(LinkSocket {
                    kick: Kick::default(),
                    closed: Cell::new(false),
                    farewell: RefCell::new(Bytes::new()),
                    stream: RefCell::new(None),
                    out: RefCell::new(BytesMut::new()),
                });
                self.links.borrow_mut().insert(link, slot.clone());
                self.ex
                    .spawn(link_task(self.clone(), link, addr, slot))
                    .detach();
            }
            Output::Transmit {
                link,
                bytes,
                begins,
            } => {
                let slot = self.links.borrow().get(&link).cloned();
                if let Some(slot) = slot {
                    self.transmit(link, &slot, bytes, begins);
                }
            }
            Output::ProbeReset { link } => {
                let stream = self
                    .links
                    .borrow()
                    .get(&link)
                    .and_then(|slot| slot.stream.borrow().clone());
                if let Some(stream) = stream {
                    let error = stream.get_ref().take_error().ok().flatten();
                    let mut node = self.node.borrow_mut();
                    match error {
                        Some(e) => node.handle_read_error(Instant::now(), link, e.kind()),
                        None => node.handle_link_eof(Instant::now(), link),
                    }
                }
            }
            Output::CloseLink { link, farewell } => {
                if let Some(slot) = self.links.borrow_mut().remove(&link) {
                    slot.closed.set(true);
                    *slot.farewell.borrow_mut() = farewell;
                    slot.kick.kick();
                }
            }
            Output::Answer { client, bytes } => {
                let slot = self.clients.borrow().get(&client).cloned();
                if let Some(slot) = slot {
                    self.answer(client, &slot, &bytes);
                }
            }
            Output::CloseClient { client } => {
                let slot = self.clients.borrow().get(&client).cloned();
                if let Some(slot) = slot {
                    slot.closing.set(true);
                    slot.kick.kick();
                }
            }
            Output::AbortClient { client } => {
                let slot = self.clients.borrow().get(&client).cloned();
                if let Some(slot) = slot {
                    // Its memory too: the task may be waiting for room to write it.
                    slot.out.take();
                    self.settle_answers(&slot);
                    slot.closing.set(true);
                    slot.kick.kick();
                }
            }
            Output::ScanDelayed => {
                let dir = self.node.borrow().settings().delayed_dir();
                let rt = self.clone();
                self.ex
                    .spawn(async move {
                        let listed = smol::unblock(move || {
                            files::scan_delayed(&dir)
                                .map_err(|e| format!("cannot list {}: {e}", dir.display()))
                        })
                        .await;
                        let names = listed.unwrap_or_else(|problem| {
                            rt.log(Severity::Warning, problem);
                            Vec::new()
                        });
                        rt.node.borrow_mut().delayed_listed(Instant::now(), names);
                        rt.drain();
                    })
                    .detach();
            }
            Output::ReadDelayed { host, names } => {
                let dir = self.node.borrow().settings().delayed_dir();
                let (rt, max_line) = (self.clone(), self.max_line);
                self.ex
                    .spawn(async move {
                        let (files, unreadable) =
                            smol::unblock(move || files::read_delayed(&dir, &names, max_line))
                                .await;
                        rt.node
                            .borrow_mut()
                            .delayed_read(Instant::now(), host, files, unreadable);
                        rt.drain();
                    })
                    .detach();
            }
            Output::Delivered { name, record } => startup::delivered(
                &mut self.node.borrow_mut(),
                &mut self.logger.borrow_mut(),
                name,
                record,
            ),
            Output::RemoveDelayed { client, names, uid } => {
                let dir = self.node.borrow().settings().delayed_dir();
                let perm = self.logger.borrow().perm_path();
                let (rt, max_line) = (self.clone(), self.max_line);
                self.ex
                    .spawn(async move {
                        let removed = smol::unblock(move || {
                            files::remove_delayed(&dir, perm.as_deref(), &names, max_line, uid)
                        })
                        .await;
                        startup::removed(
                            &mut rt.node.borrow_mut(),
                            &mut rt.logger.borrow_mut(),
                            client,
                            removed,
                        );
                        rt.drain();
                    })
                    .detach();
            }
            Output::Log { host, state, event } => {
                self.logger.borrow_mut().log(&host, &state, &event)
            }
            Output::WriteStatus(hosts) => {
                startup::write_status(&self.node.borrow(), &mut self.logger.borrow_mut(), &hosts)
            }
            Output::ReloadConfig => startup::reload(
                &mut self.node.borrow_mut(),
                &mut self.logger.borrow_mut(),
                &mut self.notifier.borrow_mut(),
                &self.config,
            ),
            Output::RemoveFiles(paths) => {
                startup::remove_files(&mut self.logger.borrow_mut(), &paths)
            }
            Output::ShowStatus(summary) => self.notifier.borrow_mut().status(&summary),
            Output::Exit(code) => {
                let _ = self.exit.try_send(code);
            }
        }
    }

    /// Writes the link's new bytes without waiting, reporting every write with
    /// [`Node::handle_written`]. What the socket does not take (or everything, while the link
    /// connects or output is already pending) stays in `slot.out` and the task writes it.
    /// With `begins`, a link the lond closed while it was idle is reported to the node instead
    /// of written to (the request then goes to another link).
    fn transmit(&self, link: LinkId, slot: &LinkSocket, bytes: Bytes, begins: bool) {
        if slot.closed.get() {
            return;
        }
        let stream = slot.stream.borrow().clone();
        let behind = !slot.out.borrow().is_empty();
        let (Some(stream), false) = (stream, behind) else {
            slot.out.borrow_mut().extend_from_slice(&bytes);
            slot.kick.kick();
            return;
        };
        if begins && let Some(closed) = sys::peer_closed(stream.get_ref()) {
            let now = Instant::now();
            let mut node = self.node.borrow_mut();
            return match closed {
                Ok(()) => node.handle_link_eof(now, link),
                Err(e) => node.handle_read_error(now, link, e.kind()),
            };
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            match io::Write::write(&mut stream.get_ref(), &rest) {
                // The lond is gone (the core counts a write of 0 bytes as a failure).
                Ok(0) => return self.link_write_failed(link, slot, io::ErrorKind::WriteZero),
                Ok(n) => {
                    rest.advance(n);
                    self.node
                        .borrow_mut()
                        .handle_written(Instant::now(), link, n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    slot.out.borrow_mut().extend_from_slice(&rest);
                    slot.kick.kick();
                    return;
                }
                Err(e) => return self.link_write_failed(link, slot, e.kind()),
            }
        }
    }

    /// Writes what `slot.out` holds, without waiting, reporting every write; true once it is
    /// all written.
    fn flush_link(&self, link: LinkId, slot: &LinkSocket, stream: &Async<TcpStream>) -> bool {
        loop {
            let written = {
                let mut out = slot.out.borrow_mut();
                if out.is_empty() {
                    return true;
                }
                let written = io::Write::write(&mut stream.get_ref(), &out);
                if let Ok(n) = written {
                    out.advance(n);
                }
                written
            };
            match written {
                Ok(0) => {
                    self.link_write_failed(link, slot, io::ErrorKind::WriteZero);
                    return true;
                }
                Ok(n) => self
                    .node
                    .borrow_mut()
                    .handle_written(Instant::now(), link, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) => {
                    self.link_write_failed(link, slot, e.kind());
                    return true;
                }
            }
        }
    }

    /// Writing to the link failed: drops its pending output, closes the slot (its task ends)
    /// and tells the node.
    fn link_write_failed(&self, link: LinkId, slot: &LinkSocket, kind: io::ErrorKind) {
        slot.out.borrow_mut().clear();
        slot.closed.set(true);
        slot.kick.kick();
        self.node
            .borrow_mut()
            .handle_write_error(Instant::now(), link, kind);
    }

    /// Writes an answer to the client at once, as far as its socket takes it. The rest stays
    /// in the slot, counted in `unanswered`, and the task is kicked to write it; the task is
    /// kicked too if it was paused (the node may want its input again) or the write failed.
    fn answer(&self, client: ClientId, slot: &ClientSocket, bytes: &[u8]) {
        let written = {
            let mut out = slot.out.borrow_mut();
            // Output still pending keeps its place in front: the task writes both.
            if out.is_empty() {
                let mut rest = bytes;
                let written = write_now(&slot.stream, &mut rest);
                out.extend_from_slice(rest);
                written
            } else {
                out.extend_from_slice(bytes);
                Ok(false)
            }
        };
        match written {
            Ok(true) => {
                if slot.paused.get() {
                    slot.kick.kick();
                }
            }
            Ok(false) => {
                slot.queued.set(slot.queued.get() + 1);
                self.unanswered.set(self.unanswered.get() + 1);
                slot.kick.kick();
            }
            Err(e) => {
                slot.out.borrow_mut().clear();
                slot.closing.set(true);
                slot.kick.kick();
                self.node
                    .borrow_mut()
                    .handle_client_error(Instant::now(), client, e.kind());
            }
        }
    }

    /// The client's queued answers are written or will never be: no longer waited for.
    fn settle_answers(&self, slot: &ClientSocket) {
        let queued = slot.queued.replace(0);
        self.unanswered
            .set(self.unanswered.get().saturating_sub(queued));
    }

    /// Reads once from `stream` into the shared read buffer, without waiting, and hands the
    /// bytes to `take` before anything else runs: `Some(n)` bytes came (0: EOF), `None` the
    /// socket had nothing (or the read was interrupted).
    fn read_now<T>(&self, mut stream: &T, take: impl FnOnce(&[u8])) -> Option<io::Result<usize>>
    where
        for<'a> &'a T: io::Read,
    {
        let mut buf = self.read_buf.borrow_mut();
        match io::Read::read(&mut stream, &mut buf[..]) {
            Ok(n) => {
                take(&buf[..n]);
                Some(Ok(n))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                None
            }
            Err(e) => Some(Err(e)),
        }
    }
}

impl ClientSocket {
    /// The socket registered with the reactor, registering it the first time.
    fn watched(&self) -> io::Result<&Async<Rc<ClientStream>>> {
        if let Some(watched) = self.watched.get() {
            return Ok(watched);
        }
        let watched = Async::new_nonblocking(self.stream.clone())?;
        Ok(self.watched.get_or_init(|| watched))
    }

    /// Writes what `out` holds, waiting for room whenever the socket is full. Called by the
    /// task after a write found the socket full, so it waits for room before writing. A kick
    /// that finds `out` emptied ([`Output::AbortClient`]) ends the wait.
    async fn flush(&self) -> io::Result<()> {
        loop {
            let watched = self.watched()?;
            match ready_or_kick(&self.kick, |cx| watched.poll_writable(cx)).await {
                Wake::Kick if self.out.borrow().is_empty() => return Ok(()),
                Wake::Kick => continue,
                Wake::Ready(ready) => ready?,
            }
            let mut out = self.out.borrow_mut();
            let mut rest: &[u8] = &out;
            let done = write_now(&self.stream, &mut rest)?;
            let n = out.len() - rest.len();
            out.advance(n);
            if done {
                return Ok(());
            }
        }
    }
}

/// Writes `rest` to `stream` without waiting, advancing it past what was written: true once all
/// of it is written, false when the socket is full.
fn write_now(mut stream: &ClientStream, rest: &mut &[u8]) -> io::Result<bool> {
    while !rest.is_empty() {
        match io::Write::write(&mut stream, rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *rest = &rest[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Hands the node its timeouts: sleeps until the armed deadline, woken early only when the
/// node's next deadline comes sooner (see [`Rt::drain`]).
async fn timers(rt: Rc<Rt>) {
    loop {
        rt.timer_kick.clear();
        let deadline = rt.node.borrow().poll_timeout();
        rt.armed.set(deadline);
        match deadline {
            Some(t) => {
                let mut timer = pin!(Timer::at(t));
                let woke = ready_or_kick(&rt.timer_kick, |cx| timer.as_mut().poll(cx)).await;
                if let Wake::Kick = woke {
                    continue;
                }
            }
            None => {
                rt.timer_kick.wait().await;
                continue;
            }
        }
        // The deadline slept for has passed; the node's own may have moved later meanwhile, in
        // which case handling the timeout does nothing and the loop sleeps again.
        rt.node.borrow_mut().handle_timeout(Instant::now());
        rt.drain();
    }
}

async fn signal_loop(rt: Rc<Rt>, mut signals: async_signal::Signals) {
    while let Some(signal) = signals.next().await {
        let signal = match signal {
            Ok(async_signal::Signal::Hup) => Signal::Hup,
            Ok(async_signal::Signal::Int) => Signal::Int,
            Ok(async_signal::Signal::Term) => Signal::Term,
            Ok(async_signal::Signal::Usr1) => Signal::Usr1,
            Ok(async_signal::Signal::Usr2) => Signal::Usr2,
            _ => continue,
        };
        rt.node.borrow_mut().handle_signal(Instant::now(), signal);
        rt.drain();
    }
}

/// Accepts on `listener` until the task is dropped: `accept` takes one connection, `admit`
/// asks the node for its client id (none: it is closed at once), and a client task serves it.
async fn accept_loop<L, S: Into<ClientStream>>(
    rt: Rc<Rt>,
    listener: Async<L>,
    accept: fn(&L) -> io::Result<S>,
    admit: impl Fn(&Rt, &S) -> Option<ClientId>,
) {
    loop {
        match listener.read_with(accept).await {
            Ok(stream) => {
                if let Some(id) = admit(&rt, &stream) {
                    rt.ex
                        .spawn(client_task(rt.clone(), id, stream.into()))
                        .detach();
                }
            }
            Err(e) => {
                // Out of descriptors, most likely: say so and breathe instead of spinning.
                rt.log(Severity::Warning, format!("accept failed: {e}"));
                Timer::after(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One lonnet connection: bytes in to the node, the node's answers out (written by
/// [`Rt::act`], see [`ClientSocket`]), until the node closes it and its answers are written.
async fn client_task(rt: Rc<Rt>, id: ClientId, stream: ClientStream) {
    let slot = Rc::new(ClientSocket {
        stream: Rc::new(stream),
        watched: OnceCell::new(),
        out: RefCell::new(BytesMut::new()),
        queued: Cell::new(0),
        closing: Cell::new(false),
        paused: Cell::new(false),
        kick: Kick::default(),
    });
    rt.clients.borrow_mut().insert(id, slot.clone());
    let input = |bytes: &[u8]| {
        if !bytes.is_empty() {
            rt.node
                .borrow_mut()
                .handle_client_input(Instant::now(), id, bytes);
        }
    };
    // The first request is usually there as soon as the connection is accepted: read it before
    // waiting. Later lines (or EOF) are not.
    let mut read = rt.read_now(&*slot.stream, input);
    // After a wait on the kick alone, look at the socket before waiting for it.
    let mut look = false;
    loop {
        match read.take() {
            None => {}
            Some(Ok(0)) => rt.node.borrow_mut().handle_client_eof(Instant::now(), id),
            Some(Ok(_)) => {}
            Some(Err(e)) => rt
                .node
                .borrow_mut()
                .handle_client_error(Instant::now(), id, e.kind()),
        }
        rt.drain();
        // Kicks already seen to: what to do is in the slot.
        slot.kick.clear();
        let pending = !slot.out.borrow().is_empty();
        if pending {
            let flushed = slot.flush().await;
            rt.settle_answers(&slot);
            if let Err(e) = flushed {
                slot.out.borrow_mut().clear();
                if !slot.closing.get() {
                    rt.node
                        .borrow_mut()
                        .handle_client_error(Instant::now(), id, e.kind());
                    rt.drain();
                }
                break;
            }
            continue;
        }
        if slot.closing.get() {
            break;
        }
        let (wants, waiting) = {
            let node = rt.node.borrow();
            (node.client_wants_input(id), node.client_waiting(id))
        };
        if !wants || waiting {
            // Nothing is to be read now, or the client waits for an answer, which (or a close)
            // kicks the task: the socket is not watched meanwhile. lonnet sends nothing more
            // before it has its answer, and then most often closes at once.
            slot.paused.set(true);
            slot.kick.wait().await;
            slot.paused.set(false);
            look = true;
            continue;
        }
        if std::mem::take(&mut look) {
            read = rt.read_now(&*slot.stream, input);
            if read.is_some() {
                continue;
            }
        }
        // Wait for the client's next bytes (or EOF), or a kick.
        let watched = match slot.watched() {
            Ok(watched) => watched,
            Err(e) => {
                read = Some(Err(e));
                continue;
            }
        };
        read = match ready_or_kick(&slot.kick, |cx| watched.poll_readable(cx)).await {
            Wake::Kick => None,
            Wake::Ready(Ok(())) => rt.read_now(&*slot.stream, input),
            Wake::Ready(Err(e)) => Some(Err(e)),
        };
    }
    // An answer given from here on is not written, nor waited for.
    rt.clients.borrow_mut().remove(&id);
    rt.settle_answers(&slot);
    rt.node.borrow_mut().client_closed(Instant::now(), id);
}

/// One TCP link to a lond: connect, then move bytes both ways until the node closes it.
///
/// Once connected the socket is in the slot and [`Rt::act`] writes the node's bytes to it
/// directly ([`Rt::transmit`]); the task reads, and is kicked only to write what a full
/// socket did not take or to close.
async fn link_task(rt: Rc<Rt>, link: LinkId, addr: SocketAddr, slot: Rc<LinkSocket>) {
    // The node's connect timeout ends in a CloseLink, which kicks this task.
    let connected = {
        let mut connect = pin!(Async::<TcpStream>::connect(addr));
        loop {
            match ready_or_kick(&slot.kick, |cx| connect.as_mut().poll(cx)).await {
                Wake::Kick if slot.closed.get() => return,
                Wake::Kick => {}
                Wake::Ready(connected) => break connected,
            }
        }
    };
    let stream = match connected {
        Err(e) => {
            rt.node
                .borrow_mut()
                .handle_connect_failed(Instant::now(), link, e.kind());
            rt.drain();
            return;
        }
        Ok(stream) => Rc::new(stream),
    };
    let _ = stream.get_ref().set_nodelay(true);
    sys::set_keepalive(stream.get_ref());
    *slot.stream.borrow_mut() = Some(stream.clone());
    rt.node.borrow_mut().handle_connected(Instant::now(), link);
    // The handshake's first line goes out from here, through `Rt::act`.
    rt.drain();
    // Look for the next reply before waiting for it; looks missed in a row, and replies to
    // go without looking.
    let mut look = false;
    let (mut missed, mut skip) = (0u32, 0u32);
    loop {
        // Kicks already seen to: what to do is in the slot.
        slot.kick.clear();
        if slot.closed.get() {
            let farewell = slot.farewell.take();
            if !farewell.is_empty() {
                // Best effort, never waiting: the lond may already be gone.
                let _ = io::Write::write(&mut stream.get_ref(), &farewell);
            }
            break;
        }
        let pending = !slot.out.borrow().is_empty();
        if pending {
            // The socket was full: wait for room, then write the rest and whatever the node
            // has added meanwhile. A kick (a close) interrupts the wait.
            match ready_or_kick(&slot.kick, |cx| stream.poll_writable(cx)).await {
                Wake::Kick => continue,
                Wake::Ready(Ok(())) => {
                    rt.flush_link(link, &slot, &stream);
                }
                Wake::Ready(Err(e)) => rt.link_write_failed(link, &slot, e.kind()),
            }
            rt.drain();
            continue;
        }
        // A link reads only when a line is due (a reply, a handshake step) or to notice the
        // peer hanging up: wait for readiness, then read into the shared buffer and hand the
        // bytes to the node without awaiting in between.
        let input = |bytes: &[u8]| {
            if !bytes.is_empty() {
                rt.node
                    .borrow_mut()
                    .handle_link_input(Instant::now(), link, bytes);
            }
        };
        // After a reply, under load, the next one is most often in by the time the other ready
        // tasks have run: yield once and look before arming a readiness wait (an epoll_ctl and
        // a wake-up). Looks that find nothing back off (1, 3, 7, ... 63 replies without one),
        // so that a sparse load, where the lond cannot have answered yet, pays little for them.
        let mut read = None;
        if std::mem::take(&mut look) {
            if skip > 0 {
                skip -= 1;
            } else {
                futures_lite::future::yield_now().await;
                if slot.kick.is_pending() {
                    continue;
                }
                read = rt.read_now(stream.get_ref(), input);
                missed = if read.is_some() { 0 } else { missed + 1 };
                skip = (1 << missed.min(6)) - 1;
            }
        }
        if read.is_none() {
            read = match ready_or_kick(&slot.kick, |cx| stream.poll_readable(cx)).await {
                Wake::Kick => continue,
                Wake::Ready(Ok(())) => rt.read_now(stream.get_ref(), input),
                Wake::Ready(Err(e)) => Some(Err(e)),
            };
        }
        match read {
            None => {}
            Some(Ok(0)) => {
                // A reset that came after the end of stream says the lond never read what was
                // sent last: report it rather than the end.
                match stream.get_ref().take_error() {
                    Ok(Some(e)) => {
                        rt.node
                            .borrow_mut()
                            .handle_read_error(Instant::now(), link, e.kind());
                    }
                    _ => rt.node.borrow_mut().handle_link_eof(Instant::now(), link),
                }
                rt.drain();
                // The node may keep the link open a moment to probe it for a reset
                // (`Output::ProbeReset`, answered in `act` from the socket kept in the slot):
                // read no more (the end stays readable), wait for the close.
                while !slot.closed.get() {
                    let _ = ready_or_kick(&slot.kick, |_| Poll::<()>::Pending).await;
                }
                break;
            }
            Some(Ok(_)) => {
                rt.drain();
                look = true;
            }
            Some(Err(e)) => {
                rt.node
                    .borrow_mut()
                    .handle_read_error(Instant::now(), link, e.kind());
                rt.drain();
                break;
            }
        }
    }
    // Nothing writes to the socket any more; it closes as this task ends.
    slot.stream.take();
}

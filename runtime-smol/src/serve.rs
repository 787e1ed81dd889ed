//! The daemon on smol: one thread, one [`LocalExecutor`], tasks that only move bytes between
//! sockets and the core's [`Node`].
//!
//! Tasks: one accept loop per host socket, one task per client connection, one per lond link,
//! one for the node's timers and one for signals. Every task that feeds the node drains it
//! right away (`Rt::drain`), which routes the node's actions to the other tasks through
//! small channels.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt, StreamExt};
use lonc_core::daemon::Signal;
use lonc_core::framing::LineFramer;
use lonc_core::ids::{ClientId, LinkId};
use lonc_core::log::Severity;
use lonc_core::node::{HostKey, Node, NodeAction};
use smol::LocalExecutor;
use smol::channel::{Receiver, Sender, bounded};

use lonc_blocking::cli::{ConfigArgs, ConfigError, RunArgs};
use lonc_blocking::files::{self, Logger};
use lonc_blocking::startup::{self, Startup};
use lonc_blocking::sys;

/// The size of the link tasks' shared read buffer.
const LINK_READ_BUF: usize = 64 * 1024;

/// Runs the daemon until an orderly shutdown; returns the exit status. Configuration problems
/// are one line on standard error and status 2.
pub fn run(config: &ConfigArgs, run: &RunArgs) -> i32 {
    startup::run_daemon(config, run, |startup| event_loop(startup, config, run))
}

fn event_loop(startup: Startup, config: &ConfigArgs, run: &RunArgs) -> Result<i32, ConfigError> {
    let Startup { node, logger } = startup;
    let signals = async_signal::Signals::new([
        async_signal::Signal::Hup,
        async_signal::Signal::Int,
        async_signal::Signal::Term,
        async_signal::Signal::Usr1,
        async_signal::Signal::Usr2,
    ])
    .map_err(|e| ConfigError(format!("cannot install signal handlers: {e}")))?;

    let ex = Rc::new(LocalExecutor::new());
    let (kick_tx, kick_rx) = bounded(1);
    let (exit_tx, exit_rx) = bounded(1);
    let rt = Rc::new(Rt {
        ex: ex.clone(),
        node: RefCell::new(node),
        logger: RefCell::new(logger),
        config: config.clone(),
        socket_mode: run.socket_mode,
        max_line: run.max_line,
        listeners: RefCell::new(HashMap::new()),
        links: RefCell::new(HashMap::new()),
        clients: RefCell::new(HashMap::new()),
        next_client: Cell::new(0),
        timer_kick: kick_tx,
        armed: Cell::new(None),
        exit: exit_tx,
        unanswered: Cell::new(0),
        link_buf: RefCell::new(vec![0u8; LINK_READ_BUF].into_boxed_slice()),
    });
    let code = smol::block_on(ex.run(async {
        ex.spawn(timers(rt.clone(), kick_rx)).detach();
        ex.spawn(signal_loop(rt.clone(), signals)).detach();
        rt.drain();
        let code = exit_rx.recv().await.unwrap_or(1);
        // Give the answers already decided a bounded moment to reach their clients.
        let deadline = Instant::now() + startup::FLUSH_BOUND;
        while rt.unanswered.get() > 0 && Instant::now() < deadline {
            Timer::after(Duration::from_millis(5)).await;
        }
        code
    }));
    Ok(code)
}

/// What every task shares. Single-threaded: `RefCell`s are never held across an `await`.
struct Rt {
    ex: Rc<LocalExecutor<'static>>,
    node: RefCell<Node>,
    logger: RefCell<Logger>,
    config: ConfigArgs,
    socket_mode: u32,
    max_line: usize,
    listeners: RefCell<HashMap<HostKey, smol::Task<()>>>,
    links: RefCell<HashMap<(HostKey, LinkId), Rc<LinkSlot>>>,
    clients: RefCell<HashMap<ClientId, Sender<Bytes>>>,
    next_client: Cell<u64>,
    timer_kick: Sender<()>,
    /// The deadline the timer task sleeps until.
    armed: Cell<Option<Instant>>,
    exit: Sender<i32>,
    /// Answers handed to client tasks and not yet written.
    unanswered: Cell<usize>,
    /// The one read buffer of every link task: the runtime is single-threaded and a link hands
    /// what it read to the node before it next awaits, so no link needs a buffer of its own
    /// (a 16 KiB buffer per link was most of an idle link's memory).
    link_buf: RefCell<Box<[u8]>>,
}

/// A link task's mailbox: kicked when the node has bytes for it or closes it.
struct LinkSlot {
    kick: Sender<()>,
    closed: Cell<bool>,
    farewell: RefCell<Bytes>,
}

impl Rt {
    /// Carries out every action the node has, in order; re-arms the timer task if the node's
    /// next deadline moved.
    fn drain(self: &Rc<Self>) {
        loop {
            let action = self.node.borrow_mut().poll_action();
            match action {
                Some(action) => self.act(action),
                None => break,
            }
        }
        let next = self.node.borrow().poll_timeout();
        if next != self.armed.get() {
            self.armed.set(next);
            let _ = self.timer_kick.try_send(());
        }
    }

    fn log(&self, severity: Severity, message: String) {
        self.logger.borrow_mut().parent(severity, message);
    }

    fn act(self: &Rc<Self>, action: NodeAction) {
        let action = startup::file_action(
            &mut self.node.borrow_mut(),
            &mut self.logger.borrow_mut(),
            &self.config,
            action,
        );
        let Some(action) = action else {
            return;
        };
        match action {
            NodeAction::Listen { key, spec } => match self.listen(&spec.socket_path) {
                Ok(listener) => {
                    let task = self.ex.spawn(accept_loop(self.clone(), key, listener));
                    self.listeners.borrow_mut().insert(key, task);
                }
                Err(e) => self.log(
                    Severity::Critical,
                    format!(
                        "Cannot listen on {} for {}: {e}",
                        spec.socket_path.display(),
                        spec.id()
                    ),
                ),
            },
            NodeAction::Unlisten { key, spec } => {
                self.listeners.borrow_mut().remove(&key);
                if let Err(e) = files::remove_file(&spec.socket_path) {
                    self.log(
                        Severity::Warning,
                        format!("Cannot remove {}: {e}", spec.socket_path.display()),
                    );
                }
            }
            NodeAction::StopAccepting => self.listeners.borrow_mut().clear(),
            NodeAction::Connect { key, link, addr } => {
                let (kick, inbox) = bounded(1);
                let slot = Rc::new(LinkSlot {
                    kick,
                    closed: Cell::new(false),
                    farewell: RefCell::new(Bytes::new()),
                });
                self.links.borrow_mut().insert((key, link), slot.clone());
                self.ex
                    .spawn(link_task(self.clone(), key, link, addr, slot, inbox))
                    .detach();
            }
            NodeAction::Send { key, link } => {
                if let Some(slot) = self.links.borrow().get(&(key, link)) {
                    let _ = slot.kick.try_send(());
                }
            }
            NodeAction::Disconnect {
                key,
                link,
                farewell,
            } => {
                if let Some(slot) = self.links.borrow_mut().remove(&(key, link)) {
                    slot.closed.set(true);
                    *slot.farewell.borrow_mut() = farewell;
                    let _ = slot.kick.try_send(());
                }
            }
            NodeAction::Answer { client, line } => {
                if let Some(tx) = self.clients.borrow().get(&client)
                    && tx.try_send(line).is_ok()
                {
                    self.unanswered.set(self.unanswered.get() + 1);
                }
            }
            NodeAction::ListDelayed { key, host_id } => {
                let dir = self.node.borrow().settings().delayed_dir();
                let rt = self.clone();
                let max_line = self.max_line;
                self.ex
                    .spawn(async move {
                        let (found, problems) =
                            smol::unblock(move || files::list_delayed(&dir, &host_id, max_line))
                                .await;
                        for p in problems {
                            rt.log(Severity::Warning, p);
                        }
                        rt.node
                            .borrow_mut()
                            .offer_delayed(Instant::now(), key, found);
                        rt.drain();
                    })
                    .detach();
            }
            NodeAction::Exit(code) => {
                let _ = self.exit.try_send(code);
            }
            // Handled by startup::file_action.
            _ => {}
        }
    }

    /// Binds a host's socket, replacing a stale file, with the configured mode.
    fn listen(&self, path: &Path) -> io::Result<Async<UnixListener>> {
        files::remove_file(path)?;
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(self.socket_mode))?;
        Async::new(listener)
    }
}

async fn timers(rt: Rc<Rt>, kick: Receiver<()>) {
    loop {
        let deadline = rt.node.borrow().poll_timeout();
        rt.armed.set(deadline);
        match deadline {
            Some(t) => {
                let fired = async {
                    Timer::at(t).await;
                    true
                };
                let kicked = async {
                    let _ = kick.recv().await;
                    false
                };
                if !fired.or(kicked).await {
                    continue;
                }
            }
            None => {
                if kick.recv().await.is_err() {
                    return;
                }
                continue;
            }
        }
        let now = Instant::now();
        if deadline.is_some_and(|t| t <= now) {
            rt.node.borrow_mut().handle_timeout(now);
            rt.drain();
        }
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

/// `accept4` with the new socket already non-blocking: saves the `ioctl` that
/// `Async::new` would spend on every connection.
fn accept_nonblocking(listener: &UnixListener) -> io::Result<UnixStream> {
    // SAFETY: accept4(2) on a listening socket we own; null address pointers are allowed.
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: accept4 returned a new descriptor that nothing else owns.
    Ok(unsafe { UnixStream::from_raw_fd(fd) })
}

/// Reads once the socket is readable: where a read would most likely find nothing yet (a
/// reply just asked for, an answer just written), waiting for readiness first saves the failed
/// `read` a speculative attempt costs.
async fn read_when_ready<T>(stream: &Async<T>, buf: &mut [u8]) -> io::Result<usize>
where
    for<'a> &'a T: io::Read,
{
    loop {
        stream.readable().await?;
        match io::Read::read(&mut stream.get_ref(), buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            r => return r,
        }
    }
}

async fn accept_loop(rt: Rc<Rt>, key: HostKey, listener: Async<UnixListener>) {
    loop {
        let accepted = listener
            .read_with(accept_nonblocking)
            .await
            .and_then(Async::new_nonblocking);
        match accepted {
            Ok(stream) => {
                let id = ClientId(rt.next_client.get());
                rt.next_client.set(id.0 + 1);
                rt.ex
                    .spawn(client_task(rt.clone(), key, id, stream))
                    .detach();
            }
            Err(e) => {
                // Out of descriptors, most likely: say so and breathe instead of spinning.
                rt.log(Severity::Warning, format!("accept failed: {e}"));
                Timer::after(Duration::from_millis(100)).await;
            }
        }
    }
}

enum ClientEvent {
    Answer(Bytes),
    Read(io::Result<usize>),
}

/// One lonnet connection: a line in, the node's answer out, as often as the client likes.
async fn client_task(rt: Rc<Rt>, key: HostKey, id: ClientId, mut stream: Async<UnixStream>) {
    let (tx, answers) = bounded(1);
    rt.clients.borrow_mut().insert(id, tx);
    let mut framer = LineFramer::new(rt.max_line);
    let mut buf = [0u8; 4096];
    let mut out = BytesMut::new();
    // The first request is usually there as soon as the connection is accepted; after an
    // answer, the next line (or EOF) is not.
    let mut answered = false;
    'serve: loop {
        let request = loop {
            if let Some(line) = framer.next_line() {
                break line;
            }
            let read = if answered {
                read_when_ready(&stream, &mut buf).await
            } else {
                stream.read(&mut buf).await
            };
            match read {
                Ok(0) | Err(_) => break 'serve,
                Ok(n) => {
                    if framer.push(&buf[..n]).is_err() {
                        rt.log(
                            Severity::Warning,
                            format!(
                                "A client sent a line longer than {} bytes: answered con_lost",
                                rt.max_line
                            ),
                        );
                        let _ = stream.write_all(b"con_lost\n").await;
                        break 'serve;
                    }
                }
            }
        };
        rt.node
            .borrow_mut()
            .submit(Instant::now(), key, id, request);
        rt.drain();
        // Wait for the answer, noticing a client that hangs up meanwhile.
        let answer = loop {
            let answer = async {
                answers
                    .recv()
                    .await
                    .map_or(ClientEvent::Read(Ok(0)), ClientEvent::Answer)
            };
            // Pipelined requests wait in the framer, bounded: beyond one line's worth the
            // client is not read until it has its answer.
            let may_read = framer.buffered() <= rt.max_line;
            let read = async {
                if may_read {
                    ClientEvent::Read(read_when_ready(&stream, &mut buf).await)
                } else {
                    futures_lite::future::pending().await
                }
            };
            match answer.or(read).await {
                ClientEvent::Answer(line) => break line,
                ClientEvent::Read(Ok(n)) if n > 0 && framer.push(&buf[..n]).is_ok() => {}
                ClientEvent::Read(_) => {
                    rt.node.borrow_mut().client_gone(Instant::now(), key, id);
                    rt.drain();
                    break 'serve;
                }
            }
        };
        out.clear();
        out.reserve(answer.len() + 1);
        out.put_slice(&answer);
        out.put_u8(b'\n');
        let written = stream.write_all(&out).await;
        answered = true;
        rt.unanswered.set(rt.unanswered.get().saturating_sub(1));
        if written.is_err() {
            break;
        }
    }
    rt.clients.borrow_mut().remove(&id);
    // An answer that arrived after the client left is no longer waited for.
    while answers.try_recv().is_ok() {
        rt.unanswered.set(rt.unanswered.get().saturating_sub(1));
    }
}

enum LinkWake {
    Read(io::Result<usize>),
    Kick,
}

/// One TCP link to a lond: connect, then move bytes both ways until the node closes it.
async fn link_task(
    rt: Rc<Rt>,
    key: HostKey,
    link: LinkId,
    addr: SocketAddr,
    slot: Rc<LinkSlot>,
    inbox: Receiver<()>,
) {
    // The node's connect timeout ends in a Disconnect, which kicks this task.
    let connect = async { Some(Async::<TcpStream>::connect(addr).await) };
    let cancelled = async {
        while !slot.closed.get() {
            if inbox.recv().await.is_err() {
                break;
            }
        }
        None
    };
    let mut stream = match connect.or(cancelled).await {
        None => return,
        Some(Err(e)) => {
            rt.node
                .borrow_mut()
                .handle_connect_failed(Instant::now(), key, link, e.kind());
            rt.drain();
            return;
        }
        Some(Ok(stream)) => stream,
    };
    let _ = stream.get_ref().set_nodelay(true);
    sys::set_keepalive(stream.get_ref());
    rt.node
        .borrow_mut()
        .handle_connected(Instant::now(), key, link);
    rt.drain();
    let mut out = BytesMut::new();
    loop {
        if slot.closed.get() {
            let farewell = slot.farewell.take();
            if !farewell.is_empty() {
                // Best effort, never waiting: the lond may already be gone.
                let _ = io::Write::write(&mut stream.get_ref(), &farewell);
            }
            return;
        }
        rt.node.borrow_mut().poll_transmit(key, link, &mut out);
        if !out.is_empty() {
            match stream.write(&out).await {
                Ok(n) => {
                    out.advance(n);
                    rt.node
                        .borrow_mut()
                        .handle_written(Instant::now(), key, link, n);
                }
                Err(e) => {
                    rt.node
                        .borrow_mut()
                        .handle_write_error(Instant::now(), key, link, e.kind());
                    rt.drain();
                    return;
                }
            }
            rt.drain();
            continue;
        }
        // A link reads only when a line is due (a reply, a handshake step) or to notice the
        // peer hanging up: wait for readiness, then read into the shared buffer and hand the
        // bytes to the node without awaiting in between.
        let read = async {
            LinkWake::Read(loop {
                if let Err(e) = stream.readable().await {
                    break Err(e);
                }
                let mut buf = rt.link_buf.borrow_mut();
                match io::Read::read(&mut stream.get_ref(), &mut buf[..]) {
                    Ok(n) => {
                        if n > 0 {
                            rt.node
                                .borrow_mut()
                                .handle_input(Instant::now(), key, link, &buf[..n]);
                        }
                        break Ok(n);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) => {}
                    Err(e) => break Err(e),
                }
            })
        };
        let kicked = async {
            let _ = inbox.recv().await;
            LinkWake::Kick
        };
        match read.or(kicked).await {
            LinkWake::Kick => {}
            LinkWake::Read(Ok(0)) => {
                rt.node.borrow_mut().handle_eof(Instant::now(), key, link);
                rt.drain();
                return;
            }
            LinkWake::Read(Ok(_)) => rt.drain(),
            LinkWake::Read(Err(e)) => {
                rt.node
                    .borrow_mut()
                    .handle_read_error(Instant::now(), key, link, e.kind());
                rt.drain();
                return;
            }
        }
    }
}

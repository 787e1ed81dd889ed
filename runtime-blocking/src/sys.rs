//! The system calls std does not offer: a UNIX-socket connect bounded by a timeout, a send
//! that cannot raise `SIGPIPE`, TCP keep-alive, a non-blocking TCP connect, and detaching from
//! the terminal.

use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd as _;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Connects to the UNIX stream socket at `path`, waiting at most `timeout` when the listener's
/// backlog is full (a daemon that no longer accepts).
///
/// On Linux a blocking `connect` on an `AF_UNIX` stream socket waits for room in the
/// listener's backlog for at most the socket's send timeout (`SO_SNDTIMEO`), so the socket is
/// created by hand, given the timeout, then connected. The stream keeps `timeout` as its write
/// timeout. A timeout is reported as `WouldBlock` or `TimedOut`.
#[cfg(target_os = "linux")]
pub(crate) fn connect(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;

    let bytes = path.as_os_str().as_bytes();
    // SAFETY: `sockaddr_un` is plain old data; all-zero is a valid (empty) address.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    // The path must fit with its terminating NUL, and must not contain one.
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket path too long for a UNIX socket address or contains NUL",
        ));
    }
    for (dst, &src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;

    // SAFETY: plain system call with constant arguments.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let stream = UnixStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    stream.set_write_timeout(Some(timeout))?;
    // SAFETY: `addr` is a valid `sockaddr_un` whose first `len` bytes hold the family and the
    // NUL-terminated path; the descriptor is open for the whole call.
    let rc = unsafe {
        libc::connect(
            stream.as_raw_fd(),
            (&raw const addr).cast::<libc::sockaddr>(),
            len as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(stream)
    } else {
        // EINTR included: the caller treats every failure as a lost connection, as lonnet
        // does, rather than retrying a connect whose state is unspecified.
        Err(io::Error::last_os_error())
    }
}

/// Connects to the UNIX stream socket at `path` (no bound on a full backlog on this system).
#[cfg(not(target_os = "linux"))]
pub(crate) fn connect(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    let stream = UnixStream::connect(path)?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(stream)
}

/// Writes some of `buf`, like `Write::write`, without raising `SIGPIPE` if the peer is gone
/// (a library must not depend on its host process ignoring that signal).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn send(stream: &UnixStream, buf: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes during the call; the descriptor is
    // owned by `stream`, which outlives the call.
    let n = unsafe {
        libc::send(
            stream.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Writes some of `buf`, like `Write::write`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn send(stream: &UnixStream, buf: &[u8]) -> io::Result<usize> {
    use std::io::Write;
    (&*stream).write(buf)
}

/// Turns on SO_KEEPALIVE, as LondConnection did; a failure only loses the keep-alive.
pub fn set_keepalive(stream: &TcpStream) {
    let on: libc::c_int = 1;
    // SAFETY: the descriptor is open for the duration of the call (borrowed from `stream`),
    // and the option value is a c_int whose size is passed alongside its address.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Detaches as loncnew did: fork (the parent exits 0), start a new session, and point
/// standard input and output (and standard error unless `keep_stderr`) at /dev/null. Must be
/// called before any thread is started.
pub fn daemonize(keep_stderr: bool) -> io::Result<()> {
    // SAFETY: called while the process has a single thread, so the child is a faithful copy;
    // the parent only calls `_exit`.
    match unsafe { libc::fork() } {
        -1 => return Err(io::Error::last_os_error()),
        0 => {}
        _ => unsafe { libc::_exit(0) },
    }
    // SAFETY: plain system calls on our own process and descriptors.
    unsafe {
        if libc::setsid() == -1 {
            return Err(io::Error::last_os_error());
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            if !keep_stderr {
                libc::dup2(null, 2);
            }
            if null > 2 {
                libc::close(null);
            }
        }
    }
    Ok(())
}

/// Accepts one connection with the new socket already non-blocking and close-on-exec
/// (`accept4`): saves the `ioctl` a separate `set_nonblocking` costs on every connection.
pub fn accept_nonblocking(listener: &std::os::unix::net::UnixListener) -> io::Result<UnixStream> {
    use std::os::fd::FromRawFd as _;
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

/// The raw descriptor of a socket, for registering it with a poller.
pub fn raw_fd(socket: &impl std::os::fd::AsRawFd) -> std::os::fd::RawFd {
    socket.as_raw_fd()
}

/// Starts a non-blocking TCP connect to `addr`; the stream becomes writable when the connect
/// has completed or failed (then `take_error` says which).
pub fn connect_nonblocking(addr: std::net::SocketAddr) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM.cloexec(), None)?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(socket.into())
}

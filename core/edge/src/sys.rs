//! The system calls std does not offer the daemon: TCP keep-alive, a non-blocking TCP connect,
//! `accept4`, and detaching from the terminal.

use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd as _;
use std::os::unix::net::UnixStream;

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

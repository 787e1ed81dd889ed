//! The system calls std does not offer the daemon: TCP keep-alive, a non-blocking TCP connect,
//! `accept4`, and detaching from the terminal.

use std::fs::File;
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

/// Detaches: fork, and in the child start a new session and point standard input and output
/// at /dev/null. Standard error stays until the daemon is ready ([`stderr_to_null`]), so that
/// start-up problems reach the terminal. The parent waits: it exits 0 once the child writes
/// to the pipe returned here ([`crate::notify::Notifier::ready`]), or with the child's exit
/// status if the child ends first. Must be called before any thread is started.
pub fn daemonize() -> io::Result<File> {
    use std::os::fd::FromRawFd as _;
    let mut fds = [0; 2];
    // SAFETY: pipe2(2) into an array of two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let [read_end, write_end] = fds;
    // SAFETY: called while the process has a single thread, so the child is a faithful copy;
    // the parent only makes system calls and `_exit`s.
    match unsafe { libc::fork() } {
        -1 => return Err(io::Error::last_os_error()),
        0 => {}
        child => unsafe {
            libc::close(write_end);
            libc::_exit(wait_for_ready(read_end, child))
        },
    }
    // SAFETY: plain system calls on our own process and descriptors; `write_end` is ours.
    unsafe {
        libc::close(read_end);
        if libc::setsid() == -1 {
            return Err(io::Error::last_os_error());
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            if null > 2 {
                libc::close(null);
            }
        }
        Ok(File::from_raw_fd(write_end))
    }
}

/// The detaching parent: 0 once the child said it is ready, else the child's exit status.
fn wait_for_ready(read_end: libc::c_int, child: libc::pid_t) -> libc::c_int {
    let mut byte = 0u8;
    loop {
        // SAFETY: read(2) of one byte into our own buffer.
        let n = unsafe { libc::read(read_end, (&raw mut byte).cast(), 1) };
        if n == 1 {
            return 0;
        }
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        break;
    }
    let mut status = 0;
    // SAFETY: waitpid(2) on our own child.
    while unsafe { libc::waitpid(child, &mut status, 0) } < 0 {
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return 1;
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        1
    }
}

/// Points standard error at /dev/null (a detached daemon, once it is ready).
pub fn stderr_to_null() {
    // SAFETY: plain system calls on our own descriptors.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, 2);
            libc::close(null);
        }
    }
}

/// `CLOCK_MONOTONIC` in microseconds, as systemd's `MONOTONIC_USEC=` wants it.
pub fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) into our own struct.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000
        + u64::try_from(ts.tv_nsec).unwrap_or(0) / 1000
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

/// A client connection the daemon reads and answers: lonnet's or the control socket's (UNIX),
/// or a metrics client's (TCP, `--metrics-listen`). Reads and writes go to the socket as they
/// are; both runtimes keep one per client.
#[derive(Debug)]
pub enum ClientStream {
    /// A host's socket or the control socket.
    Unix(UnixStream),
    /// The metrics' HTTP address.
    Tcp(TcpStream),
}

impl ClientStream {
    /// [`UnixStream::set_nonblocking`] / [`TcpStream::set_nonblocking`].
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            ClientStream::Unix(s) => s.set_nonblocking(on),
            ClientStream::Tcp(s) => s.set_nonblocking(on),
        }
    }

    /// [`UnixStream::set_write_timeout`] / [`TcpStream::set_write_timeout`].
    pub fn set_write_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        match self {
            ClientStream::Unix(s) => s.set_write_timeout(timeout),
            ClientStream::Tcp(s) => s.set_write_timeout(timeout),
        }
    }
}

impl From<UnixStream> for ClientStream {
    fn from(s: UnixStream) -> Self {
        ClientStream::Unix(s)
    }
}

impl From<TcpStream> for ClientStream {
    fn from(s: TcpStream) -> Self {
        ClientStream::Tcp(s)
    }
}

impl io::Read for &ClientStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ClientStream::Unix(s) => (&*s).read(buf),
            ClientStream::Tcp(s) => (&*s).read(buf),
        }
    }
}

impl io::Write for &ClientStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ClientStream::Unix(s) => (&*s).write(buf),
            ClientStream::Tcp(s) => (&*s).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Read for ClientStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl io::Write for ClientStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::os::fd::AsFd for ClientStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            ClientStream::Unix(s) => s.as_fd(),
            ClientStream::Tcp(s) => s.as_fd(),
        }
    }
}

impl std::os::fd::AsRawFd for ClientStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            ClientStream::Unix(s) => s.as_raw_fd(),
            ClientStream::Tcp(s) => s.as_raw_fd(),
        }
    }
}

/// Accepts one TCP connection (a metrics client), non-blocking.
pub fn accept_tcp_nonblocking(listener: &std::net::TcpListener) -> io::Result<TcpStream> {
    let (stream, _) = listener.accept()?;
    stream.set_nonblocking(true)?;
    Ok(stream)
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

/// What waits unread on a connected TCP socket, learned without reading it
/// (`recv(MSG_PEEK | MSG_DONTWAIT)`): `None` while the peer has sent nothing or sent data,
/// `Some(Ok(()))` once its end of stream waits, `Some(Err(_))` once a reset (or another error)
/// waits. A runtime asks before the first byte of a request goes to a link that was idle.
pub fn peer_closed(stream: &TcpStream) -> Option<io::Result<()>> {
    let mut byte = 0u8;
    // SAFETY: recv(2) into one byte we own, on a descriptor `stream` keeps open for the call.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            (&raw mut byte).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        0 => Some(Ok(())),
        n if n > 0 => None,
        _ => {
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => None,
                _ => Some(Err(e)),
            }
        }
    }
}

/// The user id of the process at the other end of a UNIX socket (`SO_PEERCRED`), as the
/// kernel recorded it at `connect`; `None` if the kernel does not say.
pub fn peer_uid(stream: &UnixStream) -> Option<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the descriptor is open for the call (borrowed from `stream`); `cred` is a ucred
    // whose size is passed alongside its address, and the kernel writes at most that.
    let r = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    (r == 0 && len as usize == std::mem::size_of::<libc::ucred>()).then_some(cred.uid)
}

/// The name of user `uid` (`getpwuid_r`), if it has one. May read `/etc/passwd` or ask NSS:
/// call it off the event loop.
pub fn user_name(uid: u32) -> Option<String> {
    let mut pwd = std::mem::MaybeUninit::<libc::passwd>::uninit();
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is to memory we own of the size passed; on success `result` points
    // at `pwd`, whose strings point into `buf`, both alive while they are read below.
    let r = unsafe {
        libc::getpwuid_r(
            uid,
            pwd.as_mut_ptr(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if r != 0 || result.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded and filled `pwd`; `pw_name` is a NUL-terminated string in
    // `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr((*result).pw_name) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::net::TcpListener;

    #[test]
    fn peer_closed_tells_a_live_peer_from_an_end_of_stream_and_a_reset() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut theirs, _) = listener.accept().unwrap();
        assert!(peer_closed(&ours).is_none(), "nothing sent");
        // On loopback, what the peer sends is on our socket when its call returns.
        theirs.write_all(b"x").unwrap();
        assert!(peer_closed(&ours).is_none(), "data waits: not closed");
        drop(theirs);
        assert!(
            peer_closed(&ours).is_none(),
            "data still before the end of stream"
        );
        let mut byte = [0u8; 1];
        std::io::Read::read_exact(&mut &ours, &mut byte).unwrap();
        assert!(matches!(peer_closed(&ours), Some(Ok(()))));

        let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (theirs, _) = listener.accept().unwrap();
        // A close with unread data answers with a reset.
        (&ours).write_all(b"unread").unwrap();
        drop(theirs);
        let got = peer_closed(&ours);
        assert!(
            matches!(&got, Some(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset),
            "{got:?}"
        );
    }

    #[test]
    fn the_peer_of_a_unix_socket_is_this_process_s_user() {
        let (a, _b) = UnixStream::pair().unwrap();
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        assert_eq!(peer_uid(&a), Some(uid));
        if uid == 0 {
            assert_eq!(user_name(0).as_deref(), Some("root"));
        }
    }
}

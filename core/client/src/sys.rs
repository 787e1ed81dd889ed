//! The system calls std does not offer a client: a UNIX-socket connect bounded by a timeout,
//! and a send that cannot raise `SIGPIPE`.

use std::io;
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

//! The few system calls std does not wrap: TCP keep-alive and detaching from the terminal.

use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

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

//! Telling whoever waits for the daemon how it is: the parent that detached it (`--daemonize`),
//! standard error while start-up lasts, systemd (`NOTIFY_SOCKET`, the `sd_notify(3)`
//! protocol: `READY=1`, `RELOADING=1`, `STOPPING=1`, `STATUS=`) and `ps` (the process title).

use std::fs::File;
use std::io::{self, Write as _};
use std::os::unix::net::{SocketAddr, UnixDatagram};

use lonc_client::localtime::now_local;
use lonc_core::logfmt::process_title;

use crate::title::ProcessTitle;

/// The daemon's readiness and state, told to its parent, standard error, systemd and `ps`.
#[derive(Debug, Default)]
pub struct Notifier {
    /// The write end of the detaching parent's pipe, until ready.
    parent: Option<File>,
    /// Point standard error at /dev/null once ready (detached, without `--log-stderr`).
    silence_stderr: bool,
    systemd: Option<(UnixDatagram, SocketAddr)>,
    title: Option<ProcessTitle>,
    ready: bool,
}

impl Notifier {
    /// `parent`: the pipe of a parent waiting for [`Notifier::ready`] (see
    /// [`crate::sys::daemonize`]); `silence_stderr`: whether standard error goes to /dev/null
    /// once ready. systemd is told if `NOTIFY_SOCKET` names a socket (a path, or `@name` in the
    /// abstract namespace); a socket that cannot be reached is one line on standard error.
    /// `title`: where [`Notifier::status`] shows the summary to `ps`, if anywhere.
    pub fn new(
        parent: Option<File>,
        silence_stderr: bool,
        title: Option<ProcessTitle>,
    ) -> Notifier {
        let systemd = std::env::var_os("NOTIFY_SOCKET").and_then(|name| {
            let socket = systemd_socket(&name)
                .inspect_err(|e| {
                    eprintln!(
                        "lonc: cannot use NOTIFY_SOCKET {}: {e}",
                        name.to_string_lossy()
                    )
                })
                .ok()?;
            Some(socket)
        });
        Notifier {
            parent,
            silence_stderr,
            systemd,
            title,
            ready: false,
        }
    }

    /// A problem met while starting: to standard error until ready (the log has it too).
    pub fn startup_problem(&self, line: &str) {
        if !self.ready {
            eprintln!("lonc: {line}");
        }
    }

    /// Start-up is over and the daemon serves: `READY=1` with `status`; the detaching parent
    /// exits 0; standard error goes quiet if detached.
    pub fn ready(&mut self, status: &str) {
        self.ready = true;
        self.tell(&format!(
            "READY=1\nSTATUS={status}\nMAINPID={}",
            std::process::id()
        ));
        if let Some(mut pipe) = self.parent.take() {
            let _ = pipe.write_all(b"R");
        }
        if self.silence_stderr {
            crate::sys::stderr_to_null();
        }
    }

    /// A reload begins (HUP).
    pub fn reloading(&mut self) {
        let now = crate::sys::monotonic_usec();
        self.tell(&format!(
            "RELOADING=1\nMONOTONIC_USEC={now}\nSTATUS=Reloading"
        ));
    }

    /// A reload is over, applied or refused.
    pub fn reloaded(&mut self, status: &str) {
        self.tell(&format!("READY=1\nSTATUS={status}"));
    }

    /// The daemon's summary changed ([`lonc_core::node::Output::ShowStatus`]): the process
    /// title becomes `lonc: <summary> <localtime>` (loncnew's), systemd hears `STATUS=<summary>`.
    pub fn status(&mut self, summary: &str) {
        if let Some(title) = &mut self.title {
            let (_, time) = now_local();
            title.set(&process_title(summary, &time));
        }
        self.tell(&format!("STATUS={summary}"));
    }

    /// The orderly shutdown begins (TERM, INT).
    pub fn stopping(&mut self) {
        self.tell("STOPPING=1\nSTATUS=Stopping");
    }

    fn tell(&mut self, message: &str) {
        if let Some((socket, addr)) = &self.systemd {
            // One datagram; a full or gone socket costs nothing but the message.
            let _ = socket.send_to_addr(message.as_bytes(), addr);
        }
    }
}

fn systemd_socket(name: &std::ffi::OsStr) -> io::Result<(UnixDatagram, SocketAddr)> {
    use std::os::linux::net::SocketAddrExt as _;
    use std::os::unix::ffi::OsStrExt as _;
    let bytes = name.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name)?,
        None if bytes.starts_with(b"/") => SocketAddr::from_pathname(name)?,
        None => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "neither an absolute path nor @name",
            ));
        }
    };
    let socket = UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    Ok((socket, addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages systemd gets, in order, on a socket of the test's own.
    #[test]
    fn systemd_hears_ready_reloading_and_stopping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let mut n = Notifier {
            systemd: Some(systemd_socket(path.as_os_str()).unwrap()),
            ..Notifier::default()
        };
        n.ready("3 hosts, 0 dead, 0 links");
        n.reloading();
        n.reloaded("2 hosts, 0 dead, 0 links");
        n.status("2 hosts, 1 dead, 0 links - dead: msul3");
        n.stopping();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        listener.set_nonblocking(true).unwrap();
        while let Ok(n) = listener.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(
            got[0],
            format!(
                "READY=1\nSTATUS=3 hosts, 0 dead, 0 links\nMAINPID={}",
                std::process::id()
            )
        );
        assert!(
            got[1].starts_with("RELOADING=1\nMONOTONIC_USEC="),
            "{got:?}"
        );
        assert_eq!(got[2], "READY=1\nSTATUS=2 hosts, 0 dead, 0 links");
        assert_eq!(got[3], "STATUS=2 hosts, 1 dead, 0 links - dead: msul3");
        assert_eq!(got[4], "STOPPING=1\nSTATUS=Stopping");
    }

    #[test]
    fn a_relative_notify_socket_is_an_error() {
        assert!(systemd_socket("run/notify".as_ref()).is_err());
        assert!(systemd_socket("@lonc-test".as_ref()).is_ok());
    }
}

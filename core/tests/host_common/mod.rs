//! Helpers shared by the host scheduler tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lonc_core::host::{DelayedFile, Host, HostAction, HostConfig};
use lonc_core::ids::{ClientId, HostKey, LinkId};
use lonc_core::link::{Link, LinkConfig, LinkEvent};
use lonc_core::log::{LogEvent, Severity};
use lonc_core::logfmt::message;
use lonc_core::reason::CloseReason;

pub const HOST: &str = "msul1";

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

pub fn c(n: u64) -> ClientId {
    ClientId(n)
}

pub fn host(config: HostConfig, t0: Instant) -> Host {
    Host::new(HostKey(0), HOST, config, t0, 7)
}

/// Everything the host wants done, in order.
pub fn drain(h: &mut Host) -> Vec<HostAction> {
    std::iter::from_fn(|| h.poll_action()).collect()
}

pub fn opens(a: &[HostAction]) -> Vec<LinkId> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::OpenLink(l) => Some(*l),
            _ => None,
        })
        .collect()
}

pub fn closes(a: &[HostAction]) -> Vec<LinkId> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::CloseLink(l) => Some(*l),
            _ => None,
        })
        .collect()
}

pub fn starts(a: &[HostAction]) -> Vec<(LinkId, String)> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::Start { link, request } => {
                Some((*link, String::from_utf8_lossy(request).into_owned()))
            }
            _ => None,
        })
        .collect()
}

pub fn answers(a: &[HostAction]) -> Vec<(u64, String)> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::Answer { client, line } => {
                Some((client.0, String::from_utf8_lossy(line).into_owned()))
            }
            _ => None,
        })
        .collect()
}

pub fn logs(a: &[HostAction], sev: Severity) -> Vec<String> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::Log(e) if e.severity() == sev => Some(message(e, HOST)),
            _ => None,
        })
        .collect()
}

pub fn all_logs(a: &[HostAction]) -> Vec<String> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::Log(e) => Some(message(e, HOST)),
            HostAction::Delivered { record, .. } => Some(record.clone()),
            _ => None,
        })
        .collect()
}

/// The log events of the actions.
pub fn events(a: &[HostAction]) -> Vec<LogEvent> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::Log(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// The delivered files (to be recorded, then deleted): their names, in order.
pub fn deleted(a: &[HostAction]) -> Vec<String> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::Delivered { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// The `S:` records of the delivered files, in order.
pub fn perm(a: &[HostAction]) -> Vec<String> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::Delivered { record, .. } => Some(record.clone()),
            _ => None,
        })
        .collect()
}

/// How many times the host asks for a scan of the delayed directory.
pub fn scans(a: &[HostAction]) -> usize {
    a.iter()
        .filter(|x| matches!(x, HostAction::ScanDelayed))
        .count()
}

/// The names the host asks to read, one batch per `ReadDelayed`.
pub fn reads(a: &[HostAction]) -> Vec<Vec<String>> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::ReadDelayed(names) => Some(names.clone()),
            _ => None,
        })
        .collect()
}

/// The requests started on links, without the links.
pub fn started(a: &[HostAction]) -> Vec<String> {
    starts(a).into_iter().map(|(_, r)| r).collect()
}

/// True if the actions touch the network (open a link or start a transaction).
pub fn touches_network(a: &[HostAction]) -> bool {
    a.iter()
        .any(|x| matches!(x, HostAction::OpenLink(_) | HostAction::Start { .. }))
}

pub fn file(name: &str, request: &str) -> DelayedFile {
    DelayedFile {
        name: name.to_owned(),
        request: b(request),
    }
}

/// Submit one request on a fresh host and bring its first link up; returns the link.
pub fn one_ready_link(h: &mut Host, now: Instant) -> LinkId {
    h.submit(now, c(999), b("ping"));
    let a = drain(h);
    let link = opens(&a)[0];
    h.handle_link_ready(now, link);
    let _ = drain(h);
    h.handle_reply(now, link, b("pong"));
    let a = drain(h);
    assert_eq!(answers(&a), [(999, "pong".to_string())]);
    link
}

/// The delayed directory as the driver sees it: each name holds a request line, or cannot be
/// read (with why). It plays the driver's side of a scan and of `ReadDelayed`.
#[derive(Clone, Debug, Default)]
pub struct Spool {
    pub files: BTreeMap<String, Result<String, String>>,
}

impl Spool {
    /// A directory holding these `(name, request)` files.
    pub fn with(files: &[(&str, &str)]) -> Spool {
        let mut s = Spool::default();
        for (name, request) in files {
            s.put(name, request);
        }
        s
    }

    pub fn put(&mut self, name: &str, request: &str) {
        self.files.insert(name.to_owned(), Ok(request.to_owned()));
    }

    /// A file that cannot be read (a directory, a FIFO, no permission, a line too long).
    pub fn put_unreadable(&mut self, name: &str, why: &str) {
        self.files.insert(name.to_owned(), Err(why.to_owned()));
    }

    pub fn remove(&mut self, name: &str) {
        self.files.remove(name);
    }

    pub fn contains(&self, name: &str) -> bool {
        self.files.contains_key(name)
    }

    /// Every name in the directory, as a scan lists them.
    pub fn names(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    /// The driver's answer to one `ReadDelayed`: the files read, and the ones that could not be.
    pub fn answer(&self, names: &[String]) -> (Vec<DelayedFile>, Vec<(String, String)>) {
        let mut files = Vec::new();
        let mut unreadable = Vec::new();
        for name in names {
            match self.files.get(name) {
                Some(Ok(request)) => files.push(file(name, request)),
                Some(Err(why)) => unreadable.push((name.clone(), why.clone())),
                None => unreadable.push((name.clone(), "No such file or directory".into())),
            }
        }
        (files, unreadable)
    }

    /// Answers one batch of names, drains the host and carries out what touches the directory;
    /// nothing more is read.
    pub fn read_once(&mut self, h: &mut Host, now: Instant, names: &[String]) -> Vec<HostAction> {
        let (files, unreadable) = self.answer(names);
        h.delayed_read(now, files, unreadable);
        let a = drain(h);
        self.carry_out(&a);
        a
    }

    /// Carries out what touches the directory: a delivered file is deleted.
    pub fn carry_out(&mut self, a: &[HostAction]) {
        for name in deleted(a) {
            self.files.remove(&name);
        }
    }

    /// Answers every `ReadDelayed` in `a`, and those its answers lead to, until the host asks
    /// for nothing more; returns `a` followed by everything that came of it. A host that keeps
    /// asking to read fails the test.
    pub fn serve(&mut self, h: &mut Host, now: Instant, a: Vec<HostAction>) -> Vec<HostAction> {
        self.carry_out(&a);
        let mut pending = reads(&a);
        pending.reverse();
        let mut all = a;
        for _ in 0..100 {
            let Some(names) = pending.pop() else {
                return all;
            };
            let more = self.read_once(h, now, &names);
            let mut next = reads(&more);
            next.reverse();
            next.extend(pending);
            pending = next;
            all.extend(more);
        }
        panic!("the host keeps asking to read delayed files: {all:?}");
    }

    /// A scan: the host is told the directory's names, and every read it asks for is served.
    pub fn scan(&mut self, h: &mut Host, now: Instant) -> Vec<HostAction> {
        h.spool_listed(now, self.names());
        let a = drain(h);
        self.serve(h, now, a)
    }

    /// Runs `f` on the host, then drains it and serves every read it asks for.
    pub fn after(
        &mut self,
        h: &mut Host,
        now: Instant,
        f: impl FnOnce(&mut Host),
    ) -> Vec<HostAction> {
        f(h);
        let a = drain(h);
        self.serve(h, now, a)
    }
}

/// How a link ends in [`link_closes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The peer closed the connection (end of stream).
    Eof,
    /// The peer's kernel reset the connection (a read fails with `ConnectionReset`).
    Reset,
    /// An end of stream, then, when the link probes for it, the reset that followed it (the
    /// socket's pending error is `EPIPE` once the peer's FIN came first).
    EofThenReset,
}

/// What a real [`Link`] reports when it closes during a transaction: the request `ping` was
/// started on a ready link, `written` of its bytes (at most 5) were reported written, `reply`
/// bytes of the reply came, then the connection ended so. Returns the reason and `unread`.
pub fn link_closes(written: usize, reply: &[u8], end: End) -> (CloseReason, bool) {
    const BUILD_KEY: &[u8] = b"777A0E0000000DBDBCACC712\n";
    let now = Instant::now();
    let mut link: Link = Link::new(now, LinkConfig::default(), "msul1", "msul2");
    let send = |link: &mut Link| {
        let mut out = BytesMut::new();
        let n = link.poll_transmit(&mut out);
        link.handle_written(now, n).unwrap();
    };
    link.handle_connected(now);
    send(&mut link);
    link.handle_input(now, b"42421050000000\n");
    send(&mut link);
    link.handle_input(now, b"ok\n");
    send(&mut link);
    link.handle_input(now, BUILD_KEY);
    assert_eq!(link.poll_event(), Some(LinkEvent::Ready));
    link.start(now, b"ping").unwrap();
    let mut out = BytesMut::new();
    link.poll_transmit(&mut out);
    link.handle_written(now, written).unwrap();
    link.handle_input(now, reply);
    match end {
        End::Eof | End::EofThenReset => link.handle_eof(now),
        End::Reset => link.handle_read_error(now, std::io::ErrorKind::ConnectionReset),
    }
    let mut probed = false;
    loop {
        match link.poll_event() {
            Some(LinkEvent::Closed { reason, unread, .. }) => return (reason, unread),
            Some(LinkEvent::ProbeReset) => {
                let at = link.poll_timeout().unwrap_or(now);
                match end {
                    End::EofThenReset => link.handle_read_error(at, std::io::ErrorKind::BrokenPipe),
                    _ => link.handle_eof(at),
                }
            }
            Some(_) => {}
            // The link waits before it probes for a reset: let its time come, once.
            None if !probed => {
                probed = true;
                let t = link.poll_timeout().expect("the link waits for its probe");
                assert_eq!(t, now + lonc_core::link::RESET_WAIT, "the probe's wait");
                link.handle_timeout(t);
            }
            None => panic!("the link did not close"),
        }
    }
}

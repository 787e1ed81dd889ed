//! The daemon's files: `lonc.log`, `lonnet.perm.log`, the pid file, the status file, the
//! delayed directory and `hosts.tab`. Small synchronous helpers; a failure to write a log is
//! reported once on standard error and never stops the daemon.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use lonc_client::localtime::now_local;
use lonc_core::conf::Settings;
use lonc_core::control::Removal;
use lonc_core::daemon::PARENT_LOG_HOST;
use lonc_core::host::DelayedFile;
use lonc_core::hosts_tab::{self, HostEntry, LineProblem};
use lonc_core::log::{LogEvent, Severity};
use lonc_core::logfmt::{journal_line, log_line, message, perm_log_line, status_string};
use lonc_core::{quote, request, spool};

/// Writes `lonc.log` and `lonnet.perm.log` in loncnew's formats and remembers each host's last
/// log line for the status report.
pub struct Logger {
    pid: u32,
    /// `lonc.log`'s path, for [`Logger::reopen`] (none for a logger without files).
    log_path: Option<PathBuf>,
    log: Option<File>,
    /// `lonnet.perm.log`, opened for each record (as loncnew's `logperm` did): a record is
    /// written to the file the path names when it is written, so one that cannot be written
    /// is seen to fail (and the delivered file is kept) instead of going to a file that was
    /// replaced or removed since start-up.
    perm: Option<PathBuf>,
    stderr: bool,
    /// Standard error is the journal (`JOURNAL_STREAM` names it): lines carry a syslog
    /// priority and no time of their own.
    journal: bool,
    last: HashMap<String, String>,
    complained: bool,
}

impl Logger {
    /// Opens (appending, creating) the log files of `settings`, creating `<lonDaemons>/logs`.
    pub fn open(settings: &Settings, stderr: bool) -> io::Result<Logger> {
        if let Some(dir) = settings.log_file().parent() {
            fs::create_dir_all(dir)?;
        }
        let (log, perm) = (settings.log_file(), settings.perm_log_file());
        // Created and checked now, so that a path that cannot be written stops start-up.
        append(&perm)?;
        Ok(Logger {
            pid: std::process::id(),
            log: Some(append(&log)?),
            log_path: Some(log),
            perm: Some(perm),
            stderr,
            journal: stderr && stderr_is_the_journal(),
            last: HashMap::new(),
            complained: false,
        })
    }

    /// A logger that writes nothing to disk (standard error only, if asked).
    pub fn stderr_only(stderr: bool) -> Logger {
        Logger {
            pid: std::process::id(),
            log_path: None,
            log: None,
            perm: None,
            stderr,
            journal: stderr && stderr_is_the_journal(),
            last: HashMap::new(),
            complained: false,
        }
    }

    /// Opens `lonc.log` again by name, creating it if it was moved away (logrotate's default:
    /// rename, then HUP); `lonnet.perm.log` is opened for each record anyway. A log that
    /// cannot be opened keeps its old descriptor, and a CRITICAL line says so.
    pub fn reopen(&mut self) {
        let Some(log) = self.log_path.clone() else {
            return;
        };
        match append(&log) {
            Ok(f) => {
                self.log = Some(f);
                self.complained = false;
            }
            Err(e) => self.parent(
                Severity::Critical,
                format!(
                    "Cannot reopen {}: {e}; still writing to the old file",
                    log.display()
                ),
            ),
        }
    }

    /// One `lonc.log` line of the core's, for `host` in the state `state`.
    pub fn log(&mut self, host: &str, state: &str, event: &LogEvent) {
        self.write_line(host, state, event.severity(), &message(event, host));
    }

    /// A line of the daemon's own (`Parent Server`), about what it met outside the core.
    pub fn parent(&mut self, severity: Severity, message: impl Into<String>) {
        self.write_line(PARENT_LOG_HOST, "lonc", severity, &message.into());
    }

    fn write_line(&mut self, host: &str, state: &str, severity: Severity, message: &str) {
        let (_, time) = now_local();
        let status = status_string(&time, state);
        let line = log_line(&time, self.pid, host, &status, severity, message);
        if let Some(f) = &mut self.log
            && let Err(e) = f.write_all(line.as_bytes())
        {
            Self::complain(&mut self.complained, "lonc.log", &e);
        }
        if self.journal {
            eprint!("{}", journal_line(host, state, severity, message));
        } else if self.stderr {
            eprint!("{line}");
        }
        self.last.insert(host.to_owned(), line);
    }

    /// One `lonnet.perm.log` record.
    /// An error if the record could not be written (a logger without files writes nothing
    /// and succeeds).
    pub fn perm(&mut self, record: &str) -> io::Result<()> {
        append_perm(self.perm.as_deref(), record)
    }

    /// Where `lonnet.perm.log` records go (`None`: a logger without files).
    pub fn perm_path(&self) -> Option<PathBuf> {
        self.perm.clone()
    }

    /// The last line logged for `host` (empty if none).
    pub fn last_line(&self, host: &str) -> String {
        self.last.get(host).cloned().unwrap_or_default()
    }

    fn complain(complained: &mut bool, what: &str, e: &io::Error) {
        if !*complained {
            *complained = true;
            eprintln!("lonc: cannot write {what}: {e} (further failures are not reported)");
        }
    }
}

/// True when standard error is the systemd journal: `JOURNAL_STREAM` (`<device>:<inode>`, set
/// by systemd) names the file standard error is.
fn stderr_is_the_journal() -> bool {
    use std::os::fd::AsFd as _;
    use std::os::unix::fs::MetadataExt as _;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let Ok(stderr) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = File::from(stderr).metadata() else {
        return false;
    };
    dev.parse() == Ok(meta.dev()) && ino.parse() == Ok(meta.ino())
}

/// Appends one record to the `lonnet.perm.log` at `path` (nothing for `None`), opened for
/// this record, in one `write`.
pub fn append_perm(path: Option<&Path>, record: &str) -> io::Result<()> {
    let (unix, time) = now_local();
    let line = perm_log_line(i64::try_from(unix).unwrap_or(i64::MAX), record, &time);
    match path {
        Some(path) => append(path)?.write_all(line.as_bytes()),
        None => Ok(()),
    }
}

/// [`lonc_core::node::Output::RemoveDelayed`], off the event loop: for each file `names` of
/// the delayed directory `dir` (names the node checked: delayed-request names, never paths),
/// its first line read as the replay reads it, its `R:` record
/// ([`lonc_core::spool::removal_record`]) appended to `perm`, then the file deleted. A file
/// that is not there writes nothing; a record that cannot be written keeps the file.
pub fn remove_delayed(
    dir: &Path,
    perm: Option<&Path>,
    names: &[String],
    max_line: usize,
    uid: Option<u32>,
) -> Removed {
    let user = uid.and_then(crate::sys::user_name);
    let who = spool::who(uid, user.as_deref());
    let mut done = Vec::new();
    for name in names {
        // Checked by the node already; checked again before anything is joined to `dir`.
        let Ok(parsed) = spool::removable(name) else {
            done.push((name.clone(), Removal::Missing));
            continue;
        };
        let path = dir.join(name);
        let request = match first_line(&path, max_line) {
            Ok(line) => Some(line),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                done.push((name.clone(), Removal::Missing));
                continue;
            }
            // Not a regular file, unreadable, too long: deleted all the same, shown as `?`.
            Err(_) => None,
        };
        let command = request.as_deref().map_or_else(
            || "?".to_owned(),
            |r| quote::excerpt(&request::perm_loggable(r)),
        );
        let record = spool::removal_record(&parsed, &who, request.as_deref());
        if let Err(e) = append_perm(perm, &record) {
            let why = e.to_string();
            done.push((name.clone(), Removal::Unrecorded { why }));
            continue;
        }
        let outcome = match fs::remove_file(&path) {
            Ok(()) => Removal::Deleted { command },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Removal::Deleted { command },
            Err(e) => Removal::NotDeleted {
                command,
                why: e.to_string(),
            },
        };
        done.push((name.clone(), outcome));
    }
    Removed { who, done }
}

/// What [`remove_delayed`] did: who asked (as the records name them), and each file's fate.
#[derive(Debug)]
pub struct Removed {
    /// `<user>(<uid>)`, as in the records ([`spool::who`]).
    pub who: String,
    /// Each file handed over, and what became of it.
    pub done: Vec<(String, Removal)>,
}

/// Opens `path` to append to, creating it.
fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Replaces the status file with `text`, creating its directory. A reader (loncron, the status
/// page) sees the old file or the new one, never half of one.
pub fn write_status(path: &Path, text: &str) -> io::Result<()> {
    replace_whole(path, text.as_bytes())
}

/// Writes `bytes` under a temporary name beside `path`, then renames it over `path`: the file
/// is replaced, never rewritten in place.
fn replace_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

/// Reads and parses `hosts.tab`.
pub fn load_hosts(path: &Path) -> io::Result<(Vec<HostEntry>, Vec<LineProblem>)> {
    let bytes = fs::read(path)?;
    Ok(hosts_tab::parse(&String::from_utf8_lossy(&bytes)))
}

/// How long apart two reads of `hosts.tab` must agree, and how many reads the daemon makes
/// before it gives up on a file that keeps changing.
pub const SETTLE_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);
/// See [`SETTLE_PAUSE`].
pub const SETTLE_READS: usize = 20;

/// Reads and parses `hosts.tab` as the daemon uses it: read again [`SETTLE_PAUSE`] later until
/// two reads agree (the same file, size, modification time and bytes), so that a file being
/// rewritten in place while a HUP reads it is taken whole, not half; a file that is still
/// changing after [`SETTLE_READS`] reads is an error (and the running hosts are kept).
pub fn load_hosts_settled(path: &Path) -> io::Result<(Vec<HostEntry>, Vec<LineProblem>)> {
    let (_, bytes) = settled(|| read_with_identity(path), SETTLE_PAUSE, SETTLE_READS)?;
    Ok(hosts_tab::parse(&String::from_utf8_lossy(&bytes)))
}

/// Calls `read` until two calls `pause` apart agree, at most `reads` times.
fn settled<T: PartialEq>(
    mut read: impl FnMut() -> io::Result<T>,
    pause: std::time::Duration,
    reads: usize,
) -> io::Result<T> {
    let mut last = read()?;
    for _ in 1..reads {
        std::thread::sleep(pause);
        let next = read()?;
        if next == last {
            return Ok(next);
        }
        last = next;
    }
    Err(io::Error::other(format!(
        "it kept changing while being read ({reads} reads {} ms apart); write it under \
         another name and rename it into place",
        pause.as_millis()
    )))
}

/// The file's identity and version (device, inode, size, modification time in ns) and bytes.
type Versioned = ((u64, u64, u64, i64, i64), Vec<u8>);

fn read_with_identity(path: &Path) -> io::Result<Versioned> {
    use std::os::unix::fs::MetadataExt as _;
    let mut file = File::open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let m = file.metadata()?;
    Ok((
        (m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()),
        bytes,
    ))
}

/// The names in the delayed directory `dir`, nothing read but the directory itself; a missing
/// directory is empty, one that cannot be read an error.
pub fn scan_delayed(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect())
}

/// The first line of each of the files `names` in `dir`, and those that could not be read with
/// why. A file is opened without blocking and without following a symbolic link, and read only
/// if the open descriptor is a regular file (`fstat`) of at most `max_line` bytes and a LF: a
/// FIFO, a socket, a directory, a device or a link never wedges the reader, and a file too big
/// for a request line is never read whole.
pub fn read_delayed(
    dir: &Path,
    names: &[String],
    max_line: usize,
) -> (Vec<DelayedFile>, Vec<(String, String)>) {
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    for name in names {
        match first_line(&dir.join(name), max_line) {
            Ok(line) => files.push(DelayedFile {
                name: name.clone(),
                request: line,
            }),
            Err(e) => unreadable.push((name.clone(), e.to_string())),
        }
    }
    (files, unreadable)
}

/// The first line of the delayed file at `path` as the replay reads it (see [`read_delayed`]).
pub fn first_line(path: &Path, max_line: usize) -> io::Result<Bytes> {
    use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::other("a symbolic link, not a regular file"),
            _ => e,
        })?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "a device"
        };
        return Err(io::Error::other(format!("{what}, not a regular file")));
    }
    let limit = max_line as u64 + 1;
    if meta.len() > limit {
        return Err(io::Error::other(format!(
            "{} bytes, more than a request line of at most {max_line} bytes",
            meta.len()
        )));
    }
    let mut buf = Vec::new();
    file.take(limit).read_to_end(&mut buf)?;
    match memchr_lf(&buf) {
        Some(i) => buf.truncate(i),
        None if buf.len() > max_line => {
            return Err(io::Error::other(format!(
                "first line longer than {max_line} bytes"
            )));
        }
        None => {}
    }
    Ok(Bytes::from(buf))
}

fn memchr_lf(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&c| c == b'\n')
}

/// Removes a file, ignoring one already gone.
pub fn remove_file(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Binds a host's UNIX socket at `path`, replacing a stale file, with permissions `mode`; the
/// listener is non-blocking. A socket some process still answers on (another lonc, a loncnew
/// not yet stopped) is not replaced: `AddrInUse`.
pub fn listen(path: &Path, mode: u32) -> io::Result<std::os::unix::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt as _;
    if answers(path) {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "another process answers on it",
        ));
    }
    remove_file(path)?;
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// True if a process listens on the UNIX socket at `path`: a non-blocking connect is accepted
/// or waits in its backlog. A missing file, a stale socket (refused) or anything else is not.
pub(crate) fn answers(path: &Path) -> bool {
    use socket2::{Domain, SockAddr, Socket, Type};
    let Ok(addr) = SockAddr::unix(path) else {
        return false;
    };
    let Ok(socket) = Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None) else {
        return false;
    };
    if socket.set_nonblocking(true).is_err() {
        return false;
    }
    match socket.connect(&addr) {
        Ok(()) => true,
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that opened the old status file keeps reading the old one: the file is
    /// replaced, not truncated and rewritten under it.
    #[test]
    fn the_status_file_is_replaced_not_rewritten_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lon-status").join("loncstatus.txt");
        write_status(&path, "old\n").unwrap();
        let reader = dir.path().join("reader");
        fs::hard_link(&path, &reader).unwrap();
        write_status(&path, "new\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(fs::read_to_string(&reader).unwrap(), "old\n");
        assert!(!dir.path().join("lon-status/loncstatus.txt.tmp").exists());
    }

    #[test]
    fn only_regular_files_of_at_most_a_line_are_read_and_nothing_blocks() {
        use std::os::unix::net::UnixListener;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("100.1.9.put.msul1"), "put:a:1\nignored\n").unwrap();
        fs::write(d.join("101.1.9.put.msul1"), "put:b:2").unwrap();
        fs::write(d.join("104.1.9.put.msul1"), vec![b'x'; 100]).unwrap();
        fs::write(d.join("106.1.9.put.msul1"), vec![b'y'; 30]).unwrap();
        fs::create_dir(d.join("105.1.9.put.msul1")).unwrap();
        // A FIFO with no writer: a blocking open would wait forever.
        let fifo = std::ffi::CString::new(d.join("107.1.9.fifo.msul1").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) with a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let _socket = UnixListener::bind(d.join("108.1.9.sock.msul1")).unwrap();
        std::os::unix::fs::symlink(d.join("101.1.9.put.msul1"), d.join("109.1.9.link.msul1"))
            .unwrap();
        let mut names = scan_delayed(d).unwrap();
        names.sort();
        assert_eq!(names.len(), 8);
        let (files, unreadable) = read_delayed(d, &names, 50);
        let got: Vec<(&str, &[u8])> = files
            .iter()
            .map(|f| (f.name.as_str(), f.request.as_ref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("100.1.9.put.msul1", &b"put:a:1"[..]),
                ("101.1.9.put.msul1", &b"put:b:2"[..]),
                ("106.1.9.put.msul1", &[b'y'; 30][..]),
            ]
        );
        let why = |name: &str| {
            unreadable
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, w)| w.clone())
                .unwrap_or_else(|| panic!("{name} not reported: {unreadable:?}"))
        };
        assert_eq!(unreadable.len(), 5, "{unreadable:?}");
        assert!(why("104.1.9.put.msul1").contains("more than a request line"));
        assert!(why("105.1.9.put.msul1").contains("a directory"));
        assert!(why("107.1.9.fifo.msul1").contains("a FIFO"));
        assert!(!why("108.1.9.sock.msul1").is_empty());
        assert!(why("109.1.9.link.msul1").contains("symbolic link"));
    }

    /// A file that keeps changing is refused; one that stops changing is taken as it ends.
    #[test]
    fn hosts_tab_is_read_until_two_reads_agree() {
        let zero = std::time::Duration::ZERO;
        let mut n = 0;
        let e = settled(
            || {
                n += 1;
                Ok(n)
            },
            zero,
            SETTLE_READS,
        )
        .unwrap_err();
        assert!(e.to_string().contains("kept changing"), "{e}");
        assert_eq!(n, SETTLE_READS);
        let mut versions = [1, 2, 3, 3, 9].into_iter();
        let read = || Ok(versions.next().unwrap_or(0));
        assert_eq!(settled(read, zero, SETTLE_READS).unwrap(), 3);
        assert_eq!(versions.next(), Some(9), "no read after two agreed");
        // And a real file, left alone: its entries at once.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts.tab");
        fs::write(&path, "a:d:r:n:10.0.0.1\nb:d:r:n:10.0.0.2\n").unwrap();
        let (entries, problems) = load_hosts_settled(&path).unwrap();
        assert_eq!((entries.len(), problems.len()), (2, 0));
    }

    /// A stale socket file is replaced; one a process answers on is left alone.
    #[test]
    fn a_socket_someone_answers_on_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("msul1");
        drop(listen(&path, 0o660).unwrap()); // closed: the file stays, stale
        assert!(path.exists());
        let ours = listen(&path, 0o660).unwrap();
        let e = listen(&path, 0o660).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        // Still ours: a client reaches it.
        let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        ours.accept().unwrap();
    }

    /// A log that cannot be reopened keeps being written to its old file, which says why.
    #[test]
    fn a_log_that_cannot_be_reopened_keeps_its_old_file() {
        use lonc_core::conf::{Overrides, PerlVars};
        let dir = tempfile::tempdir().unwrap();
        let mut vars = PerlVars::new();
        for (var, value) in [
            ("lonHostID", "me"),
            ("lonSockDir", "s"),
            ("lonDocRoot", "h"),
        ] {
            vars.merge_text(&format!("PerlSetVar {var} {value}\n"));
        }
        vars.merge_text(&format!("PerlSetVar lonDaemons {}\n", dir.path().display()));
        vars.merge_text("PerlSetVar lonTabDir t\n");
        let settings = Settings::resolve(&vars, &Overrides::default()).unwrap();
        let mut logger = Logger::open(&settings, false).unwrap();
        let (log, moved) = (settings.log_file(), dir.path().join("lonc.log.1"));
        fs::rename(&log, &moved).unwrap();
        fs::create_dir(&log).unwrap(); // cannot be opened as a file, by root either
        logger.reopen();
        logger.parent(Severity::Info, "after");
        let old = fs::read_to_string(&moved).unwrap();
        assert!(old.contains("CRITICAL: Cannot reopen "), "{old}");
        assert!(old.contains("still writing to the old file"), "{old}");
        assert!(old.contains("INFO: after"), "{old}");
        // The permanent log was reopened: a record goes to a new file.
        fs::rename(settings.perm_log_file(), dir.path().join("perm.1")).unwrap();
        logger.reopen();
        logger.perm("S:x:y").unwrap();
        assert!(
            fs::read_to_string(settings.perm_log_file())
                .unwrap()
                .contains(":S:x:y:")
        );
    }

    #[test]
    fn a_missing_delayed_directory_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(scan_delayed(&dir.path().join("nope")).unwrap().is_empty());
    }

    #[test]
    fn a_removal_records_then_deletes_and_never_reaches_outside() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("delayed");
        fs::create_dir(&dir).unwrap();
        let perm = root.path().join("lonnet.perm.log");
        let target = root.path().join("target");
        fs::write(&target, "keep\n").unwrap();
        fs::write(dir.join("1.0.1.put.h"), "put:a:b\n").unwrap();
        fs::write(dir.join("2.0.1.enc.h"), "encrypt:passwd:d:u:old:new\n").unwrap();
        std::os::unix::fs::symlink(&target, dir.join("3.0.1.link.h")).unwrap();
        let names: Vec<String> = [
            "1.0.1.put.h",
            "2.0.1.enc.h",
            "3.0.1.link.h",
            "4.0.1.gone.h",
            "../target",
        ]
        .map(String::from)
        .to_vec();
        let r = remove_delayed(&dir, Some(&perm), &names, 100, None);
        assert_eq!(r.who, "?");
        let deleted = |c: &str| Removal::Deleted { command: c.into() };
        assert_eq!(
            r.done,
            [
                ("1.0.1.put.h".into(), deleted("put:a:b")),
                ("2.0.1.enc.h".into(), deleted("encrypt:passwd")),
                ("3.0.1.link.h".into(), deleted("?")),
                ("4.0.1.gone.h".into(), Removal::Missing),
                ("../target".into(), Removal::Missing),
            ]
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        assert_eq!(
            fs::read_to_string(&target).unwrap(),
            "keep\n",
            "a link's target is kept"
        );
        let log = fs::read_to_string(&perm).unwrap();
        let records: Vec<&str> = log
            .lines()
            .map(|l| l.split_once(':').unwrap().1.rsplitn(4, ':').nth(3).unwrap())
            .collect();
        assert_eq!(
            records,
            [
                "R:h:1.0.1.put.h:?:put:a:b",
                "R:h:2.0.1.enc.h:?:encrypt:passwd",
                "R:h:3.0.1.link.h:?:?"
            ]
        );
        // A record that cannot be written keeps the file.
        fs::write(dir.join("5.0.1.put.h"), "put:c\n").unwrap();
        let r = remove_delayed(
            &dir,
            Some(&root.path().join("no/such/dir/perm")),
            &["5.0.1.put.h".into()],
            100,
            Some(0),
        );
        assert!(matches!(r.done[0].1, Removal::Unrecorded { .. }), "{r:?}");
        assert!(dir.join("5.0.1.put.h").exists());
    }
}

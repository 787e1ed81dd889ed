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
use lonc_core::daemon::PARENT_LOG_HOST;
use lonc_core::host::DelayedFile;
use lonc_core::hosts_tab::{self, HostEntry, LineProblem};
use lonc_core::log::{LogEvent, Severity};
use lonc_core::logfmt::{log_line, message, perm_log_line, status_string};

/// Writes `lonc.log` and `lonnet.perm.log` in loncnew's formats and remembers each host's last
/// log line for the status report.
pub struct Logger {
    pid: u32,
    log: Option<File>,
    /// `lonnet.perm.log`, opened for each record (as loncnew's `logperm` did): a record is
    /// written to the file the path names when it is written, so one that cannot be written
    /// is seen to fail (and the delivered file is kept) instead of going to a file that was
    /// replaced or removed since start-up.
    perm: Option<PathBuf>,
    stderr: bool,
    last: HashMap<String, String>,
    complained: bool,
}

impl Logger {
    /// Opens (appending, creating) the log files of `settings`, creating `<lonDaemons>/logs`.
    pub fn open(settings: &Settings, stderr: bool) -> io::Result<Logger> {
        if let Some(dir) = settings.log_file().parent() {
            fs::create_dir_all(dir)?;
        }
        let append = |p: &Path| OpenOptions::new().create(true).append(true).open(p);
        let perm = settings.perm_log_file();
        // Created and checked now, so that a path that cannot be written stops start-up.
        append(&perm)?;
        Ok(Logger {
            pid: std::process::id(),
            log: Some(append(&settings.log_file())?),
            perm: Some(perm),
            stderr,
            last: HashMap::new(),
            complained: false,
        })
    }

    /// A logger that writes nothing to disk (standard error only, if asked).
    pub fn stderr_only(stderr: bool) -> Logger {
        Logger {
            pid: std::process::id(),
            log: None,
            perm: None,
            stderr,
            last: HashMap::new(),
            complained: false,
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
        if self.stderr {
            eprint!("{line}");
        }
        self.last.insert(host.to_owned(), line);
    }

    /// One `lonnet.perm.log` record.
    /// An error if the record could not be written (a logger without files writes nothing
    /// and succeeds).
    pub fn perm(&mut self, record: &str) -> io::Result<()> {
        let (unix, time) = now_local();
        let line = perm_log_line(i64::try_from(unix).unwrap_or(i64::MAX), record, &time);
        match &self.perm {
            Some(path) => OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?
                .write_all(line.as_bytes()),
            None => Ok(()),
        }
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

/// Writes `<pid>\n` to the pid file, creating its directory. The file appears whole (written
/// under a temporary name, then renamed), so a reader such as loncron never sees it empty.
pub fn write_pid_file(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    fs::write(&tmp, format!("{}\n", std::process::id()))?;
    fs::rename(&tmp, path)
}

/// Replaces the status file with `text`, creating its directory.
pub fn write_status(path: &Path, text: &str) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, text)
}

/// Reads and parses `hosts.tab`.
pub fn load_hosts(path: &Path) -> io::Result<(Vec<HostEntry>, Vec<LineProblem>)> {
    let bytes = fs::read(path)?;
    Ok(hosts_tab::parse(&String::from_utf8_lossy(&bytes)))
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

fn first_line(path: &Path, max_line: usize) -> io::Result<Bytes> {
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
/// listener is non-blocking.
pub fn listen(path: &Path, mode: u32) -> io::Result<std::os::unix::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt as _;
    remove_file(path)?;
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_pid_file_holds_our_pid_and_no_temporary_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("logs/lonc.pid");
        write_pid_file(&pid_file).unwrap();
        assert_eq!(
            fs::read_to_string(&pid_file).unwrap(),
            format!("{}\n", std::process::id())
        );
        assert_eq!(fs::read_dir(dir.path().join("logs")).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_delayed_directory_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(scan_delayed(&dir.path().join("nope")).unwrap().is_empty());
    }
}

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
    perm: Option<File>,
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
        let append = |p: PathBuf| OpenOptions::new().create(true).append(true).open(p);
        Ok(Logger {
            pid: std::process::id(),
            log: Some(append(settings.log_file())?),
            perm: Some(append(settings.perm_log_file())?),
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
    pub fn perm(&mut self, record: &str) {
        let (unix, time) = now_local();
        let line = perm_log_line(i64::try_from(unix).unwrap_or(i64::MAX), record, &time);
        if let Some(f) = &mut self.perm
            && let Err(e) = f.write_all(line.as_bytes())
        {
            Self::complain(&mut self.complained, "lonnet.perm.log", &e);
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

/// The delayed files of `host_id` in `dir`: every file whose name ends in `.<host_id>`, with
/// its first line (at most `max_line` bytes). Files that cannot be read, or whose first line is
/// too long, are left alone and reported as problems.
pub fn list_delayed(dir: &Path, host_id: &str, max_line: usize) -> (Vec<DelayedFile>, Vec<String>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return (files, problems),
        Err(e) => {
            problems.push(format!("cannot list {}: {e}", dir.display()));
            return (files, problems);
        }
    };
    let suffix = format!(".{host_id}");
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !name.ends_with(&suffix) || name.starts_with('.') {
            continue;
        }
        match first_line(&entry.path(), max_line) {
            Ok(line) => files.push(DelayedFile {
                name,
                request: line,
            }),
            Err(e) => problems.push(format!("delayed file {name} left alone: {e}")),
        }
    }
    (files, problems)
}

fn first_line(path: &Path, max_line: usize) -> io::Result<Bytes> {
    let file = File::open(path)?;
    let mut buf = Vec::new();
    file.take(max_line as u64 + 1).read_to_end(&mut buf)?;
    match memchr_lf(&buf) {
        Some(i) => buf.truncate(i),
        None if buf.len() > max_line => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("first line longer than {max_line} bytes"),
            ));
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
    fn delayed_files_of_one_host_with_their_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("100.1.9.put.msul1"), "put:a:1\nignored\n").unwrap();
        fs::write(d.join("101.1.9.put.msul1"), "put:b:2").unwrap();
        fs::write(d.join("102.1.9.put.msul3"), "other host\n").unwrap();
        fs::write(d.join(".103.1.9.put.msul1.tmp"), "temporary\n").unwrap();
        fs::write(d.join("104.1.9.put.msul1"), vec![b'x'; 100]).unwrap();
        fs::create_dir(d.join("105.1.9.put.msul1")).unwrap();
        let (mut files, problems) = list_delayed(d, "msul1", 50);
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let got: Vec<(&str, &[u8])> = files
            .iter()
            .map(|f| (f.name.as_str(), f.request.as_ref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("100.1.9.put.msul1", &b"put:a:1"[..]),
                ("101.1.9.put.msul1", &b"put:b:2"[..])
            ]
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("104.1.9.put.msul1")));
        assert!(problems.iter().any(|p| p.contains("105.1.9.put.msul1")));
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
        let (files, problems) = list_delayed(&dir.path().join("nope"), "h", 10);
        assert!(files.is_empty() && problems.is_empty());
    }
}

//! `lonc.pid`, locked for the daemon's life: one daemon per configuration.
//!
//! The lock is `flock(2)` on the open pid file, held until the process exits (also across
//! `--daemonize`'s fork: the child shares the open file and its lock). A second daemon on the
//! same `lonDaemons` finds it locked and refuses to start, touching nothing else. The file is
//! rewritten in place, never renamed over: a new file would carry no lock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _};
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::{FileExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// The locked pid file; the lock goes with the process (or with this value, if dropped first).
#[derive(Debug)]
pub struct PidFile {
    file: File,
    path: PathBuf,
}

/// Why the pid file could not be locked.
#[derive(Debug)]
pub enum PidLockError {
    /// Another process holds the lock: a daemon runs on this configuration. Its pid, if the file
    /// says it.
    Running {
        /// The pid file.
        path: PathBuf,
        /// The pid it holds.
        pid: Option<u32>,
    },
    /// The file could not be created, opened or locked.
    Io {
        /// The pid file.
        path: PathBuf,
        /// The failure.
        error: io::Error,
    },
}

impl std::fmt::Display for PidLockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PidLockError::Running {
                path,
                pid: Some(pid),
            } => write!(
                f,
                "another lonc (pid {pid}) is running on this configuration: {} is locked",
                path.display()
            ),
            PidLockError::Running { path, pid: None } => write!(
                f,
                "another lonc is running on this configuration: {} is locked",
                path.display()
            ),
            PidLockError::Io { path, error } => {
                write!(f, "cannot lock the pid file {}: {error}", path.display())
            }
        }
    }
}

impl PidFile {
    /// Creates (if needed, with its directory) and locks the pid file at `path`, without
    /// waiting. Writes nothing: see [`PidFile::write_pid`].
    pub fn lock(path: &Path) -> Result<PidFile, PidLockError> {
        let io = |error| PidLockError::Io {
            path: path.to_path_buf(),
            error,
        };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io)?;
        }
        // A daemon that is exiting removes its pid file while it holds the lock: the file this
        // one locked may be gone from the directory by then. Lock again on the new file.
        for _ in 0..10 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(path)
                .map_err(io)?;
            // SAFETY: flock(2) on a descriptor `file` owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::WouldBlock {
                    return Err(io(error));
                }
                let mut text = String::new();
                let _ = (&mut file).take(32).read_to_string(&mut text);
                return Err(PidLockError::Running {
                    path: path.to_path_buf(),
                    pid: text.trim().parse().ok(),
                });
            }
            let same = match (file.metadata(), fs::symlink_metadata(path)) {
                (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
                _ => false,
            };
            if same {
                return Ok(PidFile {
                    file,
                    path: path.to_path_buf(),
                });
            }
        }
        Err(io(io::Error::other(
            "it keeps being replaced while being locked",
        )))
    }

    /// Writes `<pid>\n` with this process's pid, in place (a reader sees the old pid or the
    /// new one, never an empty file). Call after detaching.
    pub fn write_pid(&self) -> io::Result<()> {
        let text = format!("{}\n", std::process::id());
        self.file.write_all_at(text.as_bytes(), 0)?;
        self.file.set_len(text.len() as u64)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Who holds a pid file's lock, as seen by [`holder`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// No pid file: no daemon runs on this configuration.
    NoFile,
    /// A pid file nobody locks (left by a daemon that was killed): no daemon runs. The pid it
    /// names, if any.
    Free(Option<u32>),
    /// A daemon holds the lock; the pid it wrote, if any yet.
    Locked(Option<u32>),
}

/// Whether a process holds the lock of the pid file at `path`, found without taking the lock,
/// even for a moment, and without creating or changing any file: a daemon starting meanwhile
/// is never refused because of the question. Linux lists every `flock(2)` lock by device and
/// inode in `/proc/locks`; a lock on the pid file's inode, on its device (or, where the file
/// system reports devices differently to `stat`, as overlayfs may, with the pid the file names
/// alive), is held. An error if the file exists but cannot be examined or `/proc/locks` cannot
/// be read.
pub fn holder(path: &Path) -> io::Result<Holder> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Holder::NoFile),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    let mut text = String::new();
    let _ = (&file).take(32).read_to_string(&mut text);
    let pid: Option<u32> = text.trim().parse().ok();
    let locks = fs::read_to_string("/proc/locks")?;
    let (dev, ino) = (meta.dev(), meta.ino());
    let held = flock_holders(&locks).any(|(major, minor, inode)| {
        inode == ino && ((major, minor) == dev_numbers(dev) || pid.is_some_and(process_exists))
    });
    Ok(if held {
        Holder::Locked(pid)
    } else {
        Holder::Free(pid)
    })
}

/// The device (major, minor) and inode of each granted `flock(2)` lock in the text of
/// `/proc/locks` (`1: FLOCK  ADVISORY  WRITE 42 fe:00:123 0 EOF`; a waiter's line, with `->`,
/// is not a lock held). Lines it cannot read are skipped.
fn flock_holders(text: &str) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
    text.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&"FLOCK") {
            return None;
        }
        let mut id = fields.get(5)?.split(':');
        let major = u64::from_str_radix(id.next()?, 16).ok()?;
        let minor = u64::from_str_radix(id.next()?, 16).ok()?;
        let inode = id.next()?.parse().ok()?;
        Some((major, minor, inode))
    })
}

/// The major and minor numbers of a `st_dev`, as glibc's `major(3)` and `minor(3)`.
fn dev_numbers(dev: u64) -> (u64, u64) {
    let major = ((dev & 0x0000_0000_000f_ff00) >> 8) | ((dev & 0xffff_f000_0000_0000) >> 32);
    let minor = (dev & 0x0000_0000_0000_00ff) | ((dev & 0x0000_0fff_fff0_0000) >> 12);
    (major, minor)
}

/// True if a process `pid` exists (signal 0: nothing is sent).
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    (unsafe { libc::kill(pid, 0) } == 0)
        || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A held lock is seen, with the pid written, and seeing it neither takes it nor changes
    /// the file; once released, the file is seen free.
    #[test]
    fn the_holder_is_seen_without_taking_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lonc.pid");
        assert_eq!(holder(&path).unwrap(), Holder::NoFile);
        assert!(!path.exists(), "looking created nothing");
        let first = PidFile::lock(&path).unwrap();
        assert_eq!(holder(&path).unwrap(), Holder::Locked(None));
        first.write_pid().unwrap();
        let pid = std::process::id();
        assert_eq!(holder(&path).unwrap(), Holder::Locked(Some(pid)));
        assert!(matches!(
            PidFile::lock(&path),
            Err(PidLockError::Running { .. })
        ));
        assert_eq!(fs::read_to_string(&path).unwrap(), format!("{pid}\n"));
        drop(first);
        assert_eq!(holder(&path).unwrap(), Holder::Free(Some(pid)));
        // Free indeed: it can be locked (and the look left no lock of its own behind).
        let again = PidFile::lock(&path).unwrap();
        drop(again);
    }

    #[test]
    fn proc_locks_lines_are_read_and_waiters_skipped() {
        let text = "1: FLOCK  ADVISORY  WRITE 10523 fe:00:10010998 0 EOF\n\
                    1: -> FLOCK  ADVISORY  WRITE 10524 fe:00:10010998 0 EOF\n\
                    2: POSIX  ADVISORY  WRITE 77 08:01:55 0 EOF\n\
                    3: OFDLCK ADVISORY  READ  -1 00:05:9 0 EOF\n\
                    garbage\n\
                    4: FLOCK  ADVISORY  WRITE 9 103:1a:42 0 EOF\n";
        let got: Vec<_> = flock_holders(text).collect();
        assert_eq!(got, vec![(0xfe, 0, 10010998), (0x103, 0x1a, 42)]);
        assert_eq!(dev_numbers(0xfe00), (0xfe, 0));
        assert_eq!(dev_numbers((0x103 << 8) | 0x1a), (0x103, 0x1a));
        // makedev(0x12345, 0x6789a), as glibc encodes it.
        let dev = (0x345 << 8) | (0x12000 << 32) | 0x9a | (0x67800 << 12);
        assert_eq!(dev_numbers(dev), (0x12345, 0x6789a));
    }

    #[test]
    fn a_second_lock_is_refused_with_the_running_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs").join("lonc.pid");
        let first = PidFile::lock(&path).unwrap();
        first.write_pid().unwrap();
        let pid = std::process::id();
        assert_eq!(fs::read_to_string(&path).unwrap(), format!("{pid}\n"));
        match PidFile::lock(&path) {
            Err(e @ PidLockError::Running { pid: Some(p), .. }) if p == pid => {
                assert!(e.to_string().contains(&format!("pid {pid}")), "{e}");
            }
            other => panic!("{other:?}"),
        }
        drop(first);
        PidFile::lock(&path).unwrap();
    }

    /// A longer pid left by an earlier daemon is overwritten whole, not merged with.
    #[test]
    fn a_stale_longer_pid_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lonc.pid");
        fs::write(&path, "123456789012345\n").unwrap();
        PidFile::lock(&path).unwrap().write_pid().unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
    }

    /// The lock is on the file the path names: one removed meanwhile does not count.
    #[test]
    fn a_lock_on_a_removed_file_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lonc.pid");
        let old = PidFile::lock(&path).unwrap();
        fs::remove_file(&path).unwrap();
        let new = PidFile::lock(&path).unwrap();
        assert_ne!(
            old.file.metadata().unwrap().ino(),
            new.file.metadata().unwrap().ino()
        );
    }
}

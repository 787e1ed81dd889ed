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

#[cfg(test)]
mod tests {
    use super::*;

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

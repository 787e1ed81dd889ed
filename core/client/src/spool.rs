//! lonnet's delayed-request spool, the writing side (protocol.md 2.4 step 3-4, 5.6).
//!
//! A request that could not be delivered is written to
//! `<lonSockDir>/delayed/<time>.<count>.<pid>.<middlename>.<host>` (the name of
//! [`DelayedName::for_request`]); the daemon replays it when it next connects to the host.
//!
//! Differences from lonnet, all in the direction of not losing or duplicating a request:
//!
//! * the file is written under a temporary name (`.<final name>.tmp`, which
//!   [`DelayedName::parse`] rejects, so the daemon's replay never sees a half-written file),
//!   fsync-ed, renamed to its final name, and the directory is fsync-ed;
//! * it is then read back and compared byte for byte with `<request>\n` (lonnet slept 2 s
//!   before reading back and compared the chomped first line);
//! * if anything fails, what was written is removed again (best effort), so `con_failed` means
//!   "will not be replayed" and the caller may safely try again;
//! * the file is created with mode 0600: an `encrypt:` request holds a password in clear.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use lonc_core::conf::Settings;
use lonc_core::logfmt::{LocalTime, perm_log_line};
use lonc_core::request::perm_loggable;
use lonc_core::spool::DelayedName;

use crate::client::{ClientError, Critical, check_request};
use crate::localtime::now_local;

/// lonnet's `$dumpcount`: one counter per process, shared by every [`Spool`] of the process, so
/// that `<time>.<count>.<pid>` is unique for the process even when two threads or two `Spool`
/// values spool in the same second.
static DUMP_COUNT: AtomicU64 = AtomicU64::new(0);

/// Permanent-log record codes (protocol 6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PermCode {
    /// `D:` a request was spooled and verified.
    Delayed,
    /// `F:` a request could not be spooled.
    Failed,
}

impl PermCode {
    fn letter(self) -> char {
        match self {
            PermCode::Delayed => 'D',
            PermCode::Failed => 'F',
        }
    }
}

/// Where and as whom lonnet's `critical` spools: the delayed directory, the permanent log and
/// the pid that goes into file names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spool {
    delayed_dir: PathBuf,
    perm_log: PathBuf,
    pid: u32,
}

impl Spool {
    /// A spool writing files to `delayed_dir` (normally `<lonSockDir>/delayed`) and records to
    /// `perm_log` (normally `<lonDaemons>/logs/lonnet.perm.log`), with this process's pid.
    pub fn new(delayed_dir: impl Into<PathBuf>, perm_log: impl Into<PathBuf>) -> Spool {
        Spool {
            delayed_dir: delayed_dir.into(),
            perm_log: perm_log.into(),
            pid: std::process::id(),
        }
    }

    /// The configured `delayed_dir()` and `perm_log_file()`.
    pub fn from_settings(settings: &Settings) -> Spool {
        Spool::new(settings.delayed_dir(), settings.perm_log_file())
    }

    /// The delayed directory.
    pub fn delayed_dir(&self) -> &Path {
        &self.delayed_dir
    }

    /// The permanent log.
    pub fn perm_log(&self) -> &Path {
        &self.perm_log
    }

    /// The pid written into file names.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Spools `request` for `host` and records it: the file as in [`Spool::write`]; then
    /// `D:<host>:<request>` in the permanent log ([`Critical::Delayed`]) or, if spooling
    /// failed, `F:<host>:<request>` ([`Critical::Failed`]).
    ///
    /// A failure to append to the permanent log does not change the outcome; it is reported in
    /// the returned value.
    pub fn delay(&self, host: &str, request: &[u8]) -> Result<Critical, ClientError> {
        check_request(host, request)?;
        let (now, local) = now_local();
        Ok(match self.write_at(now, host, request) {
            Ok(file) => Critical::Delayed {
                file,
                perm_log: self
                    .append_perm_log(PermCode::Delayed, host, request, now, &local)
                    .err(),
            },
            Err(error) => Critical::Failed {
                error,
                perm_log: self
                    .append_perm_log(PermCode::Failed, host, request, now, &local)
                    .err(),
            },
        })
    }

    /// Writes `<request>\n` durably to a new delayed file for `host` and verifies it; returns
    /// its path. Creates the delayed directory (mode 0755) if it is missing. On error nothing is
    /// left behind (best effort). Writes nothing to the permanent log.
    pub fn write(&self, host: &str, request: &[u8]) -> io::Result<PathBuf> {
        check_request(host, request).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.write_at(now_local().0, host, request)
    }

    fn write_at(&self, now: u64, host: &str, request: &[u8]) -> io::Result<PathBuf> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&self.delayed_dir)?;
        let count = DUMP_COUNT.fetch_add(1, Ordering::Relaxed);
        let name = DelayedName::for_request(now, count, u64::from(self.pid), request, host);
        let name = name.to_string();
        let tmp = self.delayed_dir.join(temp_name(&name));
        let file = self.delayed_dir.join(&name);

        let mut content = Vec::with_capacity(request.len() + 1);
        content.extend_from_slice(request);
        content.push(b'\n');

        let mut renamed = false;
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&content)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &file)?;
            renamed = true;
            sync_dir(&self.delayed_dir)?;
            // lonnet's check: the file must read back as the request.
            if fs::read(&file)? != content {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "delayed file does not read back as written",
                ));
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(file),
            Err(e) => {
                // Never leave a file the daemon might replay after telling the caller
                // `con_failed`, nor a stray temporary file.
                let _ = fs::remove_file(if renamed { &file } else { &tmp });
                let _ = sync_dir(&self.delayed_dir);
                Err(e)
            }
        }
    }

    /// Appends `<code>:<host>:<request>` to the permanent log (created if missing, never
    /// truncated), in `lonnet.perm.log`'s format `<unix time>:<message>:<localtime>`.
    ///
    /// lonnet writes the whole command in `D:`/`F:` records (protocol 2.4); here the request
    /// goes through [`perm_loggable`], which keeps every other request whole but reduces an
    /// `encrypt:` request to `encrypt:<cmd>`, so that no password reaches the permanent log
    /// (the spool file itself holds the full request: it is replayed).
    pub fn append_perm_log(
        &self,
        code: PermCode,
        host: &str,
        request: &[u8],
        unix_time: u64,
        local: &LocalTime,
    ) -> io::Result<()> {
        let message = format!("{}:{host}:{}", code.letter(), perm_loggable(request));
        let line = perm_log_line(
            i64::try_from(unix_time).unwrap_or(i64::MAX),
            &message,
            local,
        );
        // One write of the whole line on an O_APPEND file: records of concurrent writers do
        // not interleave.
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.perm_log)?
            .write_all(line.as_bytes())
    }
}

/// The temporary name of a delayed file while it is written: hidden, and not a delayed-file
/// name (its first part is empty), so the daemon's replay skips it.
fn temp_name(final_name: &str) -> String {
    format!(".{final_name}.tmp")
}

/// fsync a directory, so that a rename in it survives a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_never_replayed() {
        for name in [
            "1060000000.0.77.putmsujdoeenv.msul1",
            "1.2.3..a.b",
            "1.2.3.x.tmp",
        ] {
            assert!(DelayedName::parse(name).is_ok());
            assert!(DelayedName::parse(&temp_name(name)).is_err(), "{name}");
        }
    }
}

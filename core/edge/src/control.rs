//! The client side of the control socket: `lonc status`, `lonc revive`, `lonc reload`,
//! `lonc debug`. One command line to the daemon's `lonc.ctl`, its answer printed.

use std::io::{self, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::cli::ConfigArgs;

/// The exit statuses of the control commands, for `--help` and the README.
pub const EXIT_STATUSES: &str = "\
Exit status:
  0  done (the answer printed)
  1  the daemon refused (the reason on standard error)
  2  misuse: bad arguments, configuration unreadable
  3  no answer from the daemon (not running, no control socket, timed out)";

/// How long the daemon may take to answer (a reload reads files).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// How a control command ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The answer, without its final `ok` line.
    Done(String),
    /// The daemon's `error:` line, without the prefix.
    Refused(String),
    /// Lines saying what was done (`spool delete`: file by file), then the daemon's `error:`
    /// line (some of it was not done), without the prefix.
    Partly {
        /// What was done, line by line.
        done: String,
        /// The `error:` line's reason.
        why: String,
    },
}

/// Sends `line` to the control socket at `path` and reads the answer.
pub fn ask(path: &Path, line: &str, timeout: Duration) -> io::Result<Outcome> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(format!("{line}\n").as_bytes())?;
    // Reads to the end: the daemon closes once it has answered.
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let body = answer.strip_suffix('\n').unwrap_or(&answer);
    let (before, last) = match body.rsplit_once('\n') {
        Some((before, last)) => (format!("{before}\n"), last),
        None => (String::new(), body),
    };
    if last == "ok" {
        Ok(Outcome::Done(before))
    } else if let Some(why) = last.strip_prefix("error: ") {
        if before.is_empty() {
            Ok(Outcome::Refused(why.to_owned()))
        } else {
            Ok(Outcome::Partly {
                done: before,
                why: why.to_owned(),
            })
        }
    } else {
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the answer ended before its last line",
        ))
    }
}

/// Runs a control command: prints the answer and returns the exit status.
pub fn run(config: &ConfigArgs, line: &str) -> i32 {
    let path = match config.control_socket() {
        Ok(path) => path,
        Err(e) => {
            eprintln!("lonc: {e}");
            return 2;
        }
    };
    match ask(&path, line, ANSWER_TIMEOUT) {
        Ok(Outcome::Done(text)) => {
            // A reader that went away (`lonc status | head`) is no reason to panic.
            let _ = io::stdout().write_all(text.as_bytes());
            0
        }
        Ok(Outcome::Refused(why)) => {
            eprintln!("lonc: {why}");
            1
        }
        Ok(Outcome::Partly { done, why }) => {
            let _ = io::stdout().write_all(done.as_bytes());
            eprintln!("lonc: {why}");
            1
        }
        Err(e) => {
            eprintln!(
                "lonc: no answer from the daemon on {}: {e} (is it running?)",
                path.display()
            );
            3
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead as _;
    use std::os::unix::net::UnixListener;

    /// A control socket that reads one line and answers `answer`.
    fn answering(answer: &'static str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lonc.ctl");
        let listener = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut line = String::new();
            io::BufReader::new(&stream).read_line(&mut line).unwrap();
            assert_eq!(line, "status --json\n");
            (&stream).write_all(answer.as_bytes()).unwrap();
        });
        (dir, path)
    }

    #[test]
    fn the_last_line_says_how_it_ended() {
        let (_d, path) = answering("{\"a\":1}\nok\n");
        assert_eq!(
            ask(&path, "status --json", ANSWER_TIMEOUT).unwrap(),
            Outcome::Done("{\"a\":1}\n".into())
        );
        let (_d, path) = answering("error: no such host: x\n");
        assert_eq!(
            ask(&path, "status --json", ANSWER_TIMEOUT).unwrap(),
            Outcome::Refused("no such host: x".into())
        );
        let (_d, path) = answering("half an answ");
        assert!(ask(&path, "status --json", ANSWER_TIMEOUT).is_err());
        let (_d, path) =
            answering("deleted a\nnot deleted b: why\nerror: 1 of 2 files not deleted\n");
        assert_eq!(
            ask(&path, "status --json", ANSWER_TIMEOUT).unwrap(),
            Outcome::Partly {
                done: "deleted a\nnot deleted b: why\n".into(),
                why: "1 of 2 files not deleted".into()
            }
        );
        let (_d, path) = answering("ok\n");
        assert_eq!(
            ask(&path, "status --json", ANSWER_TIMEOUT).unwrap(),
            Outcome::Done(String::new())
        );
    }

    #[test]
    fn no_daemon_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ask(&dir.path().join("lonc.ctl"), "status", ANSWER_TIMEOUT).is_err());
    }
}

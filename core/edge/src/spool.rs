//! `lonc spool list`: the delayed directory read as the daemon reads it, with no daemon
//! needed; and the check of `lonc spool delete`'s names before they go to the daemon (which
//! checks them again, and does the deleting: see `lonc_core::node`).

use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use lonc_core::control::span;
use lonc_core::spool::DelayedName;
use lonc_core::{quote, request};

use crate::cli::{ConfigArgs, RunArgs, SpoolCommand};
use crate::files;

/// The exit statuses of `lonc spool list`.
pub const LIST_EXIT_STATUSES: &str = "\
Exit status:
  0  listed (maybe no file)
  2  misuse: bad arguments, configuration or delayed directory unreadable";

/// The exit statuses of `lonc spool delete`.
pub const DELETE_EXIT_STATUSES: &str = "\
Exit status:
  0  every file deleted (each one said)
  1  some file not deleted (each one said, with why); the others were
  2  misuse: bad arguments, a name with spaces or control characters, configuration
     unreadable; nothing sent
  3  no answer from the daemon (not running, no control socket, timed out): nothing deleted";

/// The longest request shown in the list, in bytes; longer ones are cut with `...`.
pub const MAX_SHOWN: usize = 72;

/// One delayed file.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its name in the delayed directory.
    pub name: String,
    /// Its parsed name (host, time).
    pub parsed: DelayedName,
    /// Its request in permanent-log form (an `encrypt:` one as `encrypt:<cmd>`), cut at
    /// [`MAX_SHOWN`] bytes; or why its first line could not be read.
    pub request: Result<String, String>,
}

/// The delayed directory as `lonc spool list` shows it.
#[derive(Debug, Default)]
pub struct Listing {
    /// Delayed files (of the host asked for, if any), in replay order.
    pub entries: Vec<Entry>,
    /// Other names, not counting hidden ones (lonnet's temporary files): not delayed-request
    /// names, which the daemon leaves alone (and warns about in `lonc.log`).
    pub others: usize,
}

/// Reads the delayed directory `dir` as the daemon does: names that parse as delayed-request
/// names (of `host`, if given), each file's first line read only from a regular file, never
/// through a symbolic link, at most `max_line` bytes ([`files::first_line`]). A missing
/// directory is empty.
pub fn read_listing(dir: &Path, host: Option<&str>, max_line: usize) -> io::Result<Listing> {
    let mut listing = Listing::default();
    for name in files::scan_delayed(dir)? {
        if name.starts_with('.') {
            continue;
        }
        let Ok(parsed) = DelayedName::parse(&name) else {
            listing.others += 1;
            continue;
        };
        if host.is_some_and(|h| h != parsed.host) {
            continue;
        }
        let request = files::first_line(&dir.join(&name), max_line)
            .map(|line| clip(&request::perm_loggable(&line), MAX_SHOWN))
            .map_err(|e| quote::excerpt(&e.to_string()));
        listing.entries.push(Entry {
            name,
            parsed,
            request,
        });
    }
    listing
        .entries
        .sort_by(|a, b| a.parsed.cmp(&b.parsed).then_with(|| a.name.cmp(&b.name)));
    Ok(listing)
}

/// `text` (ASCII: a permanent-log form) cut to `max` bytes, `...` marking the cut.
fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    format!("{}...", &text[..max.saturating_sub(3)])
}

/// The list: one line per file (age at `now`, Unix seconds; host; file; request), then the
/// count.
pub fn render(listing: &Listing, now: u64) -> String {
    let hosts: std::collections::BTreeSet<&str> = listing
        .entries
        .iter()
        .map(|e| e.parsed.host.as_str())
        .collect();
    let host_w = hosts.iter().map(|h| h.len()).max().unwrap_or(0).max(4);
    let file_w = listing
        .entries
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = String::new();
    if !listing.entries.is_empty() {
        out.push_str(&format!(
            "{:<7} {:<host_w$} {:<file_w$} REQUEST\n",
            "AGE", "HOST", "FILE"
        ));
    }
    for e in &listing.entries {
        let request = match &e.request {
            Ok(r) => r.clone(),
            Err(why) => format!("(unreadable: {why})"),
        };
        out.push_str(&format!(
            "{:<7} {:<host_w$} {:<file_w$} {request}\n",
            span(now.saturating_sub(e.parsed.time)),
            e.parsed.host,
            e.name,
        ));
    }
    let n = listing.entries.len();
    match n {
        0 => out.push_str("no delayed file\n"),
        _ => out.push_str(&format!(
            "{n} delayed {} for {} {}\n",
            plural(n, "file"),
            hosts.len(),
            plural(hosts.len(), "host")
        )),
    }
    if listing.others > 0 {
        out.push_str(&format!(
            "{} other {} in the directory: not delayed requests, left alone (lonc.log names them)\n",
            listing.others,
            plural(listing.others, "name")
        ));
    }
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

/// `lonc spool list [HOST]`: prints the list; the exit status.
pub fn list(config: &ConfigArgs, run: &RunArgs, host: Option<&str>) -> i32 {
    let dir = match config.sock_dir() {
        Ok(dir) => dir.join("delayed"),
        Err(e) => {
            eprintln!("lonc: {e}");
            return 2;
        }
    };
    match read_listing(&dir, host, run.max_line) {
        Ok(listing) => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            // A reader that went away (`lonc spool list | head`) is no reason to panic.
            let _ = io::Write::write_all(&mut io::stdout(), render(&listing, now).as_bytes());
            0
        }
        Err(e) => {
            eprintln!("lonc: cannot list {}: {e}", dir.display());
            2
        }
    }
}

/// `lonc spool …`: the exit status. `list` reads the directory here; `flush` and `delete` are
/// control commands ([`crate::control::run`]).
pub fn run(config: &ConfigArgs, run: &RunArgs, command: &SpoolCommand) -> i32 {
    match command {
        SpoolCommand::List { host } => list(config, run, host.as_deref()),
        SpoolCommand::Delete { files } => {
            if let Some(problem) = unsendable(files) {
                eprintln!("lonc: {problem}");
                return 2;
            }
            crate::control::run(config, &format!("spool delete {}", files.join(" ")))
        }
        SpoolCommand::Flush { host } => crate::control::run(
            config,
            &match host {
                Some(host) => format!("spool flush {host}"),
                None => "spool flush".into(),
            },
        ),
    }
}

/// A name `lonc spool delete` cannot send on the control socket's one line (empty, with a
/// space or a control character): the misuse line. Every other name goes to the daemon, which
/// refuses what is not a file of the delayed directory.
pub fn unsendable(files: &[String]) -> Option<String> {
    files
        .iter()
        .find(|f| f.is_empty() || f.chars().any(|c| c.is_whitespace() || c.is_control()))
        .map(|f| format!("{:?} cannot be a delayed file's name", quote::excerpt(f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_in_replay_order_hides_encrypt_arguments_and_reads_no_special_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("1000.0.1.put.msul1"), "put:msu:jdoe:x=1\n").unwrap();
        std::fs::write(
            d.join("900.0.1.encryptpasswd.msul3"),
            "encrypt:passwd:msu:jd:old:new\n",
        )
        .unwrap();
        std::fs::write(d.join("999.0.2.long.msul1"), "x".repeat(200)).unwrap();
        std::fs::write(d.join("junk"), "x").unwrap();
        std::fs::write(d.join(".1.0.1.p.msul1.tmp"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("998.0.1.link.msul1")).unwrap();
        let fifo = d.join("997.0.1.fifo.msul1");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);

        let listing = read_listing(d, None, 100).unwrap();
        let names: Vec<&str> = listing.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "900.0.1.encryptpasswd.msul3",
                "997.0.1.fifo.msul1",
                "998.0.1.link.msul1",
                "999.0.2.long.msul1",
                "1000.0.1.put.msul1"
            ]
        );
        assert_eq!(listing.others, 1);
        assert_eq!(listing.entries[0].request, Ok("encrypt:passwd".into()));
        assert!(
            listing.entries[1]
                .request
                .as_ref()
                .unwrap_err()
                .contains("FIFO")
        );
        assert!(
            listing.entries[2]
                .request
                .as_ref()
                .unwrap_err()
                .contains("symbolic link")
        );
        assert!(
            listing.entries[3]
                .request
                .as_ref()
                .unwrap_err()
                .contains("more than")
        );
        let text = render(&listing, 1065);
        assert!(!text.contains("old") && !text.contains("new"), "{text}");
        assert!(
            text.contains("\n1m05s   msul1 1000.0.1.put.msul1"),
            "{text}"
        );
        assert!(text.ends_with(
            "5 delayed files for 2 hosts\n1 other name in the directory: not delayed requests, \
             left alone (lonc.log names them)\n"
        ));
        let one = read_listing(d, Some("msul3"), 100).unwrap();
        assert_eq!(one.entries.len(), 1);
        assert_eq!(
            render(&read_listing(&d.join("missing"), None, 100).unwrap(), 0),
            "no delayed file\n"
        );
    }

    #[test]
    fn names_with_spaces_or_control_characters_are_not_sent() {
        assert!(unsendable(&["1.2.3.p.h".into(), "../x".into()]).is_none());
        assert!(unsendable(&["1.2.3.p.h x".into()]).is_some());
        assert!(unsendable(&["a\nspool delete b".into()]).is_some());
        assert!(unsendable(&[String::new()]).is_some());
    }
}

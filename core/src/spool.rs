//! Names of delayed-request files (protocol 2.4 and 5.6).
//!
//! lonnet's `critical` spools a request it could not deliver to
//! `<lonSockDir>/delayed/<time>.<count>.<pid>.<middlename>.<host id>`, one request line per file.
//! lonc replays those files when its first link to the host becomes ready. This module parses
//! and formats the names; reading, deleting and fsync-ing the files is the driver's business.
//!
//! Order: files are replayed in the order of [`DelayedName`]'s `Ord`, that is by the *numeric*
//! time, then count, then pid (then the whole name), never by string sort, which breaks as soon
//! as timestamps change width.

use std::cmp::Ordering;
use std::fmt;

/// How many bytes of the command lonnet keeps in the middle of a file name.
pub const MIDDLE_LEN: usize = 16;

/// A parsed delayed-file name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DelayedName {
    /// Unix time at which lonnet spooled the request.
    pub time: u64,
    /// lonnet's per-process dump counter.
    pub count: u64,
    /// pid of the Apache child that spooled it.
    pub pid: u64,
    /// The command prefix: word characters only, at most [`MIDDLE_LEN`] of them, maybe empty.
    pub middle: String,
    /// The LON-CAPA id of the target host (the rest of the name, dots included).
    pub host: String,
}

/// Why a file name is not a delayed-request name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpoolNameError {
    /// Fewer than five `.`-separated parts.
    MissingPart,
    /// The time, count or pid is not a plain decimal number that fits in 64 bits.
    BadNumber,
    /// The command part has a non-word character or is longer than [`MIDDLE_LEN`].
    BadMiddle,
    /// The host part is empty or has a character no host id has (`/`, NUL, control bytes).
    BadHost,
}

impl fmt::Display for SpoolNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpoolNameError::MissingPart => "not of the form <time>.<count>.<pid>.<cmd>.<host>",
            SpoolNameError::BadNumber => "time, count or pid is not a decimal number",
            SpoolNameError::BadMiddle => "command part is not made of word characters",
            SpoolNameError::BadHost => "host part is empty or malformed",
        })
    }
}

impl std::error::Error for SpoolNameError {}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn number(s: &str) -> Result<u64, SpoolNameError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SpoolNameError::BadNumber);
    }
    s.parse().map_err(|_| SpoolNameError::BadNumber)
}

/// lonnet's middle name: the first [`MIDDLE_LEN`] bytes of the command, **then** every non-word
/// character removed (lonnet does `substr($cmd,0,16)` first and `s/\W//g` second, so the result
/// may be shorter than 16 characters; protocol 2.4).
pub fn middle_name(command: &[u8]) -> String {
    command[..command.len().min(MIDDLE_LEN)]
        .iter()
        .copied()
        .filter(|&b| is_word(b))
        .map(char::from)
        .collect()
}

impl DelayedName {
    /// Parse a file name (not a path).
    pub fn parse(name: &str) -> Result<DelayedName, SpoolNameError> {
        let mut parts = name.splitn(5, '.');
        let mut next = || parts.next().ok_or(SpoolNameError::MissingPart);
        let (time, count, pid, middle, host) = (next()?, next()?, next()?, next()?, next()?);
        let (time, count, pid) = (number(time)?, number(count)?, number(pid)?);
        if middle.len() > MIDDLE_LEN || !middle.bytes().all(is_word) {
            return Err(SpoolNameError::BadMiddle);
        }
        if host.is_empty() || host.bytes().any(|b| b == b'/' || b < 0x20 || b == 0x7f) {
            return Err(SpoolNameError::BadHost);
        }
        Ok(DelayedName {
            time,
            count,
            pid,
            middle: middle.to_owned(),
            host: host.to_owned(),
        })
    }

    /// The name lonnet's `critical` gives to the spool file of `command` for `host`.
    pub fn for_request(time: u64, count: u64, pid: u64, command: &[u8], host: &str) -> Self {
        DelayedName {
            time,
            count,
            pid,
            middle: middle_name(command),
            host: host.to_owned(),
        }
    }

    /// The sort key of replay order: numeric time, count, pid.
    fn key(&self) -> (u64, u64, u64) {
        (self.time, self.count, self.pid)
    }
}

impl fmt::Display for DelayedName {
    /// `<time>.<count>.<pid>.<middle>.<host>`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}.{}.{}",
            self.time, self.count, self.pid, self.middle, self.host
        )
    }
}

impl PartialOrd for DelayedName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DelayedName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key()
            .cmp(&other.key())
            .then_with(|| self.middle.cmp(&other.middle))
            .then_with(|| self.host.cmp(&other.host))
    }
}

/// The record letter of a delayed file deleted by an administrator (`lonc spool delete`) in
/// `lonnet.perm.log`: `R` for Removed. loncron counts `D`, `S` and `F` records by their letter
/// and skips any other, so an `R` line changes none of its counts (protocol 6.1).
pub const REMOVED_RECORD: char = 'R';

/// Checks a name given to `lonc spool delete`: it must be the name of one file *in* the
/// delayed directory, that is a delayed-request name ([`DelayedName::parse`]) and nothing else
/// (no `/`, not `.` or `..`, not hidden: lonnet's temporary files start with `.`). Only such a
/// name is ever joined to the directory, so nothing outside it can be named.
pub fn removable(name: &str) -> Result<DelayedName, String> {
    if name.contains('/') || name.starts_with('.') {
        return Err("not a file of the delayed directory (a path, or a hidden file)".into());
    }
    DelayedName::parse(name).map_err(|e| format!("not a delayed-request name ({e})"))
}

/// Who deleted a file, for the `R:` record: `<user>(<uid>)`, `?(<uid>)` when the user has no
/// name, `?` when the control socket could not tell (no peer credentials).
pub fn who(uid: Option<u32>, user: Option<&str>) -> String {
    match (uid, user) {
        (Some(uid), Some(user)) => format!("{}({uid})", printable_word(user)),
        (Some(uid), None) => format!("?({uid})"),
        (None, _) => "?".into(),
    }
}

/// A user name as the record shows it: printable ASCII without `:` (a `:` would move the
/// record's fields), anything else as `?`.
fn printable_word(text: &str) -> String {
    text.bytes()
        .take(64)
        .map(|b| {
            if (0x21..0x7f).contains(&b) && b != b':' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

/// The `lonnet.perm.log` record of a delayed file deleted by `lonc spool delete`:
/// `R:<host>:<file>:<who>:<request>`. The first fields never contain a `:` (a host id, a
/// delayed-file name, [`who`]); the request comes last, in its permanent-log form
/// ([`crate::request::perm_loggable`]: an `encrypt:` request as `encrypt:<cmd>` only), so that
/// `split(/:/, $line, 6)` takes the record apart. `request` is `None` for a file whose first
/// line could not be read; it is then shown as `?`.
pub fn removal_record(name: &DelayedName, who: &str, request: Option<&[u8]>) -> String {
    let request = request.map_or_else(|| "?".to_owned(), crate::request::perm_loggable);
    format!("{REMOVED_RECORD}:{}:{name}:{who}:{request}", name.host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_lonnet_name() {
        let n = DelayedName::parse("1060000000.3.4242.putmsujdoe.msul1").unwrap();
        assert_eq!(
            n,
            DelayedName {
                time: 1060000000,
                count: 3,
                pid: 4242,
                middle: "putmsujdoe".into(),
                host: "msul1".into()
            }
        );
        assert_eq!(n.to_string(), "1060000000.3.4242.putmsujdoe.msul1");
    }

    #[test]
    fn host_may_contain_dots_and_middle_may_be_empty() {
        let n = DelayedName::parse("1.2.3..a.b").unwrap();
        assert_eq!(n.middle, "");
        assert_eq!(n.host, "a.b");
    }

    #[test]
    fn rejects_bad_names() {
        use SpoolNameError::*;
        for (name, err) in [
            ("", MissingPart),
            ("1.2.3.cmd", MissingPart),
            ("x.2.3.cmd.h", BadNumber),
            ("+1.2.3.cmd.h", BadNumber),
            ("1.2.99999999999999999999.cmd.h", BadNumber),
            ("1.2.3.c-d.h", BadMiddle),
            ("1.2.3.abcdefghijklmnopq.h", BadMiddle),
            ("1.2.3.cmd.", BadHost),
            ("1.2.3.cmd.a/b", BadHost),
            (".tmp.1.2.3", BadNumber),
        ] {
            assert_eq!(DelayedName::parse(name), Err(err), "{name}");
        }
    }

    #[test]
    fn limits_of_the_middle_and_host_parts() {
        // A middle of exactly MIDDLE_LEN word characters is lonnet's longest.
        let n = DelayedName::parse("1.2.3.abcdefghijklmnop.h").unwrap();
        assert_eq!(n.middle.len(), MIDDLE_LEN);
        // Every control byte is refused in the host part, DEL included; a space is not one.
        for bad in ["1.2.3.cmd.a\x01b", "1.2.3.cmd.a\x1fb", "1.2.3.cmd.a\x7fb"] {
            assert_eq!(
                DelayedName::parse(bad),
                Err(SpoolNameError::BadHost),
                "{bad:?}"
            );
        }
        assert_eq!(DelayedName::parse("1.2.3.cmd.a b").unwrap().host, "a b");
    }

    #[test]
    fn errors_read_as_in_lonc_log() {
        // The text ends the WARNING `Ignoring delayed file "<name>": <error>`.
        use SpoolNameError::*;
        for (error, text) in [
            (
                MissingPart,
                "not of the form <time>.<count>.<pid>.<cmd>.<host>",
            ),
            (BadNumber, "time, count or pid is not a decimal number"),
            (BadMiddle, "command part is not made of word characters"),
            (BadHost, "host part is empty or malformed"),
        ] {
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn middle_name_truncates_then_strips() {
        // 16 bytes first: "put:msu:jdoe:env" then the colons go: 13 characters remain.
        assert_eq!(middle_name(b"put:msu:jdoe:environment"), "putmsujdoeenv");
        assert_eq!(middle_name(b"ping"), "ping");
        assert_eq!(middle_name(b"::::::::::::::::abc"), "");
        let n = DelayedName::for_request(1060000000, 0, 77, b"put:msu:jdoe:environment", "msul1");
        assert_eq!(n.to_string(), "1060000000.0.77.putmsujdoeenv.msul1");
        assert_eq!(DelayedName::parse(&n.to_string()).unwrap(), n);
    }

    #[test]
    fn orders_numerically_not_by_string() {
        let mut names: Vec<DelayedName> = [
            "999999999.0.1.a.h",
            "1000000000.10.1.a.h",
            "1000000000.9.1.a.h",
            "1000000000.9.0.a.h",
        ]
        .iter()
        .map(|n| DelayedName::parse(n).unwrap())
        .collect();
        names.sort();
        let sorted: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            sorted,
            [
                "999999999.0.1.a.h",
                "1000000000.9.0.a.h",
                "1000000000.9.1.a.h",
                "1000000000.10.1.a.h"
            ]
        );
    }
    #[test]
    fn only_delayed_file_names_are_removable() {
        assert!(removable("1060000000.3.4242.putmsujdoe.msul1").is_ok());
        for bad in [
            "../x",
            "/etc/passwd",
            "..",
            ".",
            "",
            "x",
            ".1.2.3.p.h.tmp",
            "1.2.3.p.h/../../etc/passwd",
            "delayed/1.2.3.p.h",
            "1.2.3.p-q.h",
        ] {
            assert!(removable(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_removal_record_names_host_file_who_and_the_loggable_request() {
        let n = DelayedName::parse("1060000000.3.4242.putmsujdoe.msul1").unwrap();
        assert_eq!(
            removal_record(&n, &who(Some(0), Some("root")), Some(b"put:msu:jdoe:x=1")),
            "R:msul1:1060000000.3.4242.putmsujdoe.msul1:root(0):put:msu:jdoe:x=1"
        );
        let secret = removal_record(
            &n,
            &who(Some(33), None),
            Some(b"encrypt:passwd:msu:jd:old:new"),
        );
        assert_eq!(
            secret,
            "R:msul1:1060000000.3.4242.putmsujdoe.msul1:?(33):encrypt:passwd"
        );
        assert_eq!(
            removal_record(&n, &who(None, Some("x")), None),
            "R:msul1:1060000000.3.4242.putmsujdoe.msul1:?:?"
        );
        assert_eq!(who(Some(5), Some("a:b c\n")), "a?b?c?(5)");
    }
}

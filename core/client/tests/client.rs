//! The blocking client against tiny in-test UNIX-socket servers, and `critical`'s spooling.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lonc_client::{
    CON_DELAYED, CON_FAILED, CON_LOST, Client, ClientError, Critical, ReplyError, Spool, critical,
    critical_detailed,
};
use lonc_core::spool::DelayedName;
use tempfile::TempDir;

const HOST: &str = "msul1";

/// A socket directory with a socket for `HOST` whose server accepts one connection, reads one
/// request line and hands the stream to `then`. Joining the handle gives the request line
/// (with its LF).
fn serve_once(dir: &Path, then: impl FnOnce(UnixStream) + Send + 'static) -> JoinHandle<Vec<u8>> {
    let listener = UnixListener::bind(dir.join(HOST)).unwrap();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).unwrap();
        then(reader.into_inner());
        line
    })
}

/// A server answering `answer` verbatim (the LF included by the caller, or not).
fn answering(dir: &Path, answer: &'static [u8]) -> JoinHandle<Vec<u8>> {
    serve_once(dir, move |mut s| {
        // The client may already be gone (over-long reply); that is its business.
        let _ = s.write_all(answer);
    })
}

fn client(dir: &Path) -> Client {
    Client::new(dir).with_timeout(Duration::from_secs(5))
}

struct Dirs {
    _tmp: TempDir,
    sock: PathBuf,
    delayed: PathBuf,
    perm_log: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = TempDir::new().unwrap();
    let sock = tmp.path().join("sockets");
    let logs = tmp.path().join("logs");
    fs::create_dir(&sock).unwrap();
    fs::create_dir(&logs).unwrap();
    Dirs {
        delayed: sock.join("delayed"),
        perm_log: logs.join("lonnet.perm.log"),
        sock,
        _tmp: tmp,
    }
}

impl Dirs {
    fn spool(&self) -> Spool {
        Spool::new(&self.delayed, &self.perm_log)
    }

    /// Every file name in the delayed directory, sorted (none if it does not exist).
    fn delayed_names(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.delayed) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn perm_log_lines(&self) -> Vec<String> {
        match fs::read_to_string(&self.perm_log) {
            Ok(text) => text.split_inclusive('\n').map(str::to_owned).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Checks that `line` is a perm-log record written just now for `message`:
/// `<unix time>:<message>:<Www Mmm dd hh:mm:ss yyyy>\n` (Perl's `scalar localtime`). The names
/// and widths are checked against literal lists, and the local time must be the unix time seen
/// from some zone (a whole number of quarter hours from UTC, at most 14 h away), by arithmetic
/// done here: nothing of the code under test computes the expectation.
fn assert_perm_record(line: &str, message: &str) {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let digits = |s: &str| -> i64 {
        assert!(
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()),
            "{s:?} is not a number in {line:?}"
        );
        s.parse().unwrap()
    };
    let (unix, rest) = line.split_once(':').unwrap();
    let unix = digits(unix);
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    assert!(
        (now - 60..=now).contains(&unix),
        "{line:?} not written just now ({now})"
    );
    let local = rest
        .strip_prefix(message)
        .and_then(|r| r.strip_prefix(':'))
        .and_then(|r| r.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{line:?} is not <time>:{message}:<localtime>\\n"));
    assert!(local.is_ascii() && local.len() == 24, "{local:?}");
    let separators: String = [3, 7, 10, 13, 16, 19]
        .iter()
        .map(|&i| char::from(local.as_bytes()[i]))
        .collect();
    assert_eq!(separators, "   :: ", "{local:?}");
    let weekday = DAYS.iter().position(|d| *d == &local[0..3]);
    let month = MONTHS.iter().position(|m| *m == &local[4..7]);
    let (Some(weekday), Some(month)) = (weekday, month) else {
        panic!("{local:?}: no weekday or month name");
    };
    let day = digits(local[8..10].strip_prefix(' ').unwrap_or(&local[8..10]));
    assert_eq!(
        format!("{day:>2}"),
        &local[8..10],
        "day padded with a space"
    );
    let (hour, minute, second) = (
        digits(&local[11..13]),
        digits(&local[14..16]),
        digits(&local[17..19]),
    );
    let year = digits(&local[20..24]);
    assert!(
        (1..=31).contains(&day) && hour < 24 && minute < 60 && second < 61,
        "{local:?}: a field out of range"
    );
    // Days since 1970-01-01 of the civil date (H. Hinnant's days_from_civil).
    let month = i64::try_from(month).unwrap() + 1;
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    // 1970-01-01 was a Thursday.
    assert_eq!(
        DAYS[usize::try_from((days + 4).rem_euclid(7)).unwrap()],
        DAYS[weekday],
        "{local:?}: wrong weekday"
    );
    let offset = days * 86_400 + hour * 3600 + minute * 60 + second - unix;
    assert!(
        offset % 900 == 0 && offset.abs() <= 14 * 3600,
        "{local:?} is not {unix} in any time zone"
    );
}

#[test]
fn reply_round_trip() {
    let d = dirs();
    let server = answering(&d.sock, b"ok\n");
    let reply = client(&d.sock).reply(HOST, b"put:msu:jdoe:x=1").unwrap();
    assert_eq!(reply, b"ok");
    assert_eq!(server.join().unwrap(), b"put:msu:jdoe:x=1\n");
}

#[test]
fn reply_bytes_pass_through_and_an_empty_line_is_an_empty_reply() {
    let d = dirs();
    let server = answering(&d.sock, b"a\r\xff:b\nignored after the line\n");
    assert_eq!(client(&d.sock).reply(HOST, b"x").unwrap(), b"a\r\xff:b");
    server.join().unwrap();

    let d = dirs();
    let server = answering(&d.sock, b"\n");
    assert_eq!(client(&d.sock).reply(HOST, b"").unwrap(), b"");
    assert_eq!(server.join().unwrap(), b"\n");
}

#[test]
fn missing_socket_is_con_lost() {
    let d = dirs();
    assert_eq!(client(&d.sock).reply(HOST, b"ping").unwrap(), CON_LOST);
    match client(&d.sock).try_reply(HOST, b"ping") {
        Err(ReplyError::ConLost(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
        other => panic!("{other:?}"),
    }
}

#[test]
fn socket_without_listener_is_con_lost() {
    let d = dirs();
    drop(UnixListener::bind(d.sock.join(HOST)).unwrap());
    assert_eq!(client(&d.sock).reply(HOST, b"ping").unwrap(), CON_LOST);
}

#[test]
fn server_closing_without_answer_is_con_lost() {
    let d = dirs();
    let server = serve_once(&d.sock, drop);
    assert_eq!(client(&d.sock).reply(HOST, b"ping").unwrap(), CON_LOST);
    assert_eq!(server.join().unwrap(), b"ping\n");
}

#[test]
fn reply_cut_before_its_line_feed_is_con_lost() {
    let d = dirs();
    let server = answering(&d.sock, b"pon");
    assert_eq!(client(&d.sock).reply(HOST, b"ping").unwrap(), CON_LOST);
    server.join().unwrap();
}

#[test]
fn server_never_answering_is_con_lost_after_the_timeout() {
    let d = dirs();
    let (release, wait) = mpsc::channel::<()>();
    let server = serve_once(&d.sock, move |s| {
        // Hold the connection open, silent, until the test is done.
        let _ = wait.recv();
        drop(s);
    });
    let start = Instant::now();
    let reply = Client::new(&d.sock)
        .with_timeout(Duration::from_millis(200))
        .reply(HOST, b"ping")
        .unwrap();
    assert_eq!(reply, CON_LOST);
    // Bounded by the configured timeout, not lonnet's default 10 s.
    assert!(start.elapsed() < Duration::from_secs(10));
    drop(release);
    server.join().unwrap();
}

/// A daemon that no longer accepts: its backlog fills and `connect` itself would block.
#[cfg(target_os = "linux")]
#[test]
fn connect_to_a_full_backlog_is_con_lost_after_the_timeout() {
    use std::os::fd::AsRawFd;
    let d = dirs();
    let listener = UnixListener::bind(d.sock.join(HOST)).unwrap();
    // SAFETY: re-listening on a listening socket only changes its backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let client = Client::new(&d.sock).with_timeout(Duration::from_millis(200));
    let start = Instant::now();
    // The first connection fills the queue (and times out waiting for a reply); later ones
    // cannot even connect: without the send timeout set before `connect`, they would block
    // forever.
    for _ in 0..3 {
        assert_eq!(client.reply(HOST, b"ping").unwrap(), CON_LOST);
    }
    assert!(start.elapsed() < Duration::from_secs(10));
    drop(listener);
}

#[test]
fn over_long_reply_is_con_lost() {
    let d = dirs();
    let long = vec![b'x'; 4096];
    let server = serve_once(&d.sock, move |mut s| {
        let _ = s.write_all(&long);
        let _ = s.write_all(b"\n");
    });
    let client = client(&d.sock).with_max_reply(1024);
    match client.try_reply(HOST, b"ping") {
        Err(ReplyError::ConLost(e)) => assert_eq!(e.kind(), std::io::ErrorKind::InvalidData),
        other => panic!("{other:?}"),
    }
    server.join().unwrap();

    // Exactly the maximum is fine.
    let d = dirs();
    let exact = vec![b'y'; 1024];
    let sent = exact.clone();
    let server = serve_once(&d.sock, move |mut s| {
        s.write_all(&sent).unwrap();
        s.write_all(b"\n").unwrap();
    });
    let reply = Client::new(&d.sock)
        .with_max_reply(1024)
        .reply(HOST, b"ping")
        .unwrap();
    assert_eq!(reply, exact);
    server.join().unwrap();
}

#[test]
fn request_with_line_feed_is_rejected() {
    let d = dirs();
    // A listener that would take the request: nothing must reach it.
    let _listener = UnixListener::bind(d.sock.join(HOST)).unwrap();
    assert_eq!(
        client(&d.sock).reply(HOST, b"put:a\nput:b"),
        Err(ClientError::RequestHasLineFeed)
    );
    assert_eq!(
        critical(&client(&d.sock), &d.spool(), HOST, b"x\n"),
        Err(ClientError::RequestHasLineFeed)
    );
    assert!(d.delayed_names().is_empty());
}

#[test]
fn unsafe_host_is_rejected() {
    let d = dirs();
    for host in [
        "", ".", "..", "../msul1", "a/b", "ms ul1", "msul1\n", "a\0b",
    ] {
        assert_eq!(
            client(&d.sock).reply(host, b"ping"),
            Err(ClientError::UnsafeHost(host.to_owned())),
            "{host:?}"
        );
        assert!(critical(&client(&d.sock), &d.spool(), host, b"ping").is_err());
    }
    assert!(d.delayed_names().is_empty());
    assert!(d.perm_log_lines().is_empty());
}

#[test]
fn critical_with_a_live_server_returns_the_reply_and_spools_nothing() {
    let d = dirs();
    let server = answering(&d.sock, b"ok\n");
    let reply = critical(&client(&d.sock), &d.spool(), HOST, b"put:msu:jdoe:x=1").unwrap();
    assert_eq!(reply, b"ok");
    assert_eq!(server.join().unwrap(), b"put:msu:jdoe:x=1\n");
    assert!(d.delayed_names().is_empty());
    assert!(d.perm_log_lines().is_empty());
}

#[test]
fn critical_without_server_spools_one_verified_file_and_logs_d() {
    let d = dirs();
    let request = b"put:msu:jdoe:environment&x=1";
    let reply = critical(&client(&d.sock), &d.spool(), HOST, request).unwrap();
    assert_eq!(reply, CON_DELAYED);

    let names = d.delayed_names();
    assert_eq!(names.len(), 1, "{names:?}");
    let name = DelayedName::parse(&names[0]).unwrap();
    assert_eq!(name.host, HOST);
    assert_eq!(name.pid, u64::from(std::process::id()));
    assert_eq!(name.middle, "putmsujdoeenv");
    assert_eq!(
        fs::read(d.delayed.join(&names[0])).unwrap(),
        b"put:msu:jdoe:environment&x=1\n"
    );

    let lines = d.perm_log_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_perm_record(&lines[0], "D:msul1:put:msu:jdoe:environment&x=1");
}

#[test]
fn critical_after_the_daemon_answered_con_lost_spools_too() {
    let d = dirs();
    let server = answering(&d.sock, b"con_lost\n");
    let outcome = critical_detailed(&client(&d.sock), &d.spool(), HOST, b"ping").unwrap();
    let Critical::Delayed { file, perm_log } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(perm_log.is_none());
    assert_eq!(fs::read(file).unwrap(), b"ping\n");
    server.join().unwrap();
}

#[test]
fn two_critical_calls_get_distinct_counts() {
    let d = dirs();
    let (client, spool) = (client(&d.sock), d.spool());
    assert_eq!(
        critical(&client, &spool, HOST, b"ping").unwrap(),
        CON_DELAYED
    );
    assert_eq!(
        critical(&client, &spool, HOST, b"ping").unwrap(),
        CON_DELAYED
    );
    let names: Vec<DelayedName> = d
        .delayed_names()
        .iter()
        .map(|n| DelayedName::parse(n).unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert_ne!(names[0].count, names[1].count);
    assert_eq!(d.perm_log_lines().len(), 2);
}

#[test]
fn encrypted_request_is_spooled_whole_but_logged_without_arguments() {
    let d = dirs();
    let request = b"encrypt:passwd:msu:jdoe:oldsecret:newsecret";
    let reply = critical(&client(&d.sock), &d.spool(), HOST, request).unwrap();
    assert_eq!(reply, CON_DELAYED);
    let names = d.delayed_names();
    assert_eq!(names.len(), 1);
    let file = d.delayed.join(&names[0]);
    assert_eq!(
        fs::read(&file).unwrap(),
        b"encrypt:passwd:msu:jdoe:oldsecret:newsecret\n"
    );
    // It holds a password: readable by the daemon's user only.
    assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o077, 0);

    let log = fs::read_to_string(&d.perm_log).unwrap();
    assert!(!log.contains("secret") && !log.contains("jdoe"), "{log}");
    assert_perm_record(&log, "D:msul1:encrypt:passwd");
}

#[test]
fn no_temporary_file_is_left_behind() {
    let d = dirs();
    for request in [&b"ping"[..], b"put:a:b", b""] {
        assert_eq!(
            critical(&client(&d.sock), &d.spool(), HOST, request).unwrap(),
            CON_DELAYED
        );
    }
    let names = d.delayed_names();
    assert_eq!(names.len(), 3);
    for name in &names {
        assert!(!name.starts_with('.') && !name.ends_with(".tmp"), "{name}");
        DelayedName::parse(name).unwrap();
    }
}

/// Drops, for the calling thread only, the capabilities that let root ignore file modes
/// (`CAP_DAC_OVERRIDE`, `CAP_DAC_READ_SEARCH`, `CAP_FOWNER`) from its effective set. Linux
/// keeps capabilities per thread, so other threads keep theirs; a user without them keeps
/// none.
#[cfg(target_os = "linux")]
fn drop_file_capabilities_of_this_thread() {
    /// `struct __user_cap_header_struct`.
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    /// `struct __user_cap_data_struct`; version 3 takes two (capabilities 0-31 and 32-63).
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    const CAP_DAC_OVERRIDE: u32 = 1;
    const CAP_DAC_READ_SEARCH: u32 = 2;
    const CAP_FOWNER: u32 = 3;
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0, // the calling thread
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget reads `header` and writes two `Data` into `data`, both live and laid out
    // as the kernel's version-3 structures for the duration of the call.
    let got = unsafe { libc::syscall(libc::SYS_capget, &raw mut header, data.as_mut_ptr()) };
    assert_eq!(got, 0, "capget: {}", std::io::Error::last_os_error());
    data[0].effective &= !(1 << CAP_DAC_OVERRIDE | 1 << CAP_DAC_READ_SEARCH | 1 << CAP_FOWNER);
    // SAFETY: capset reads `header` and two `Data` from `data`, as above. Lowering the
    // effective set is always allowed and affects the calling thread only.
    let set = unsafe { libc::syscall(libc::SYS_capset, &raw mut header, data.as_ptr()) };
    assert_eq!(set, 0, "capset: {}", std::io::Error::last_os_error());
}

/// A read-only delayed directory: `F:` and `con_failed`. Runs on a thread of its own without
/// the capabilities that would let root write there anyway.
#[cfg(target_os = "linux")]
#[test]
fn unwritable_delayed_dir_is_con_failed_with_an_f_record() {
    let d = dirs();
    fs::create_dir(&d.delayed).unwrap();
    fs::set_permissions(&d.delayed, fs::Permissions::from_mode(0o555)).unwrap();
    let (first, second) = thread::scope(|s| {
        s.spawn(|| {
            drop_file_capabilities_of_this_thread();
            let first = critical_detailed(&client(&d.sock), &d.spool(), HOST, b"put:msu:x");
            let second = critical(&client(&d.sock), &d.spool(), HOST, b"put:msu:x");
            (first.unwrap(), second.unwrap())
        })
        .join()
        .unwrap()
    });
    let Critical::Failed { error, perm_log } = first else {
        panic!("{first:?}");
    };
    assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(perm_log.is_none());
    assert_eq!(second, CON_FAILED);
    assert!(d.delayed_names().is_empty());
    let lines = d.perm_log_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for line in &lines {
        assert_perm_record(line, "F:msul1:put:msu:x");
    }
}

#[test]
fn missing_perm_log_directory_does_not_undo_the_spool() {
    let d = dirs();
    let spool = Spool::new(
        &d.delayed,
        d.perm_log.with_file_name("no-such-dir/perm.log"),
    );
    let outcome = critical_detailed(&client(&d.sock), &spool, HOST, b"ping").unwrap();
    let Critical::Delayed { file, perm_log } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(perm_log.is_some());
    assert_eq!(fs::read(file).unwrap(), b"ping\n");
}

#[test]
fn delayed_dir_that_cannot_be_created_is_con_failed_with_an_f_record() {
    // Fails for root too, unlike a read-only directory.
    let d = dirs();
    fs::write(&d.delayed, b"not a directory").unwrap();
    let reply = critical(&client(&d.sock), &d.spool(), HOST, b"put:msu:x").unwrap();
    assert_eq!(reply, CON_FAILED);
    let lines = d.perm_log_lines();
    assert_eq!(lines.len(), 1);
    assert_perm_record(&lines[0], "F:msul1:put:msu:x");
    assert_eq!(fs::read(&d.delayed).unwrap(), b"not a directory");
}

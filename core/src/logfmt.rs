//! Byte-exact text of the files and titles loncnew wrote: `lonc.log`, `lonnet.perm.log`,
//! `loncstatus.txt` and the process title.
//!
//! Everything here is pure: the runtime reads the clock and the local time zone and passes a
//! [`LocalTime`]; these functions only format. Formats (protocol.md 6, seed README):
//!
//! | what | text |
//! |---|---|
//! | `scalar localtime` | `Wed Jun  8 19:31:02 2005` |
//! | status string | `<localtime>: <state>` |
//! | process title | `lonc: <state> <localtime>` |
//! | lonc.log line | `<localtime> (<pid>) [<host>] [<status>] <SEVERITY>: <msg>\n` |
//! | unclassified log line | `<localtime> (<pid>) [<host>] [<status>]  <msg> \n` |
//! | permanent log line | `<unix time>:<message>:<localtime>\n` |
//! | status file header | `LONC status <localtime> - parent <pid> \n\n` |
//! | status file host line | `<pid>\t<host>\t<status>\t<last log line>\n` |

use std::fmt;

use crate::log::{LogEvent, Severity};
use crate::request::loggable;

const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A broken-down local time, filled by the runtime (for example from `localtime_r`).
///
/// Out-of-range fields never panic: an unknown month or weekday prints as `???`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalTime {
    /// Full year, e.g. 2005.
    pub year: i32,
    /// 1 = January ... 12 = December.
    pub month: u8,
    /// Day of the month, 1-31.
    pub day: u8,
    /// 0-23.
    pub hour: u8,
    /// 0-59.
    pub minute: u8,
    /// 0-60 (a leap second is possible).
    pub second: u8,
    /// 0 = Sunday ... 6 = Saturday.
    pub weekday: u8,
}

impl LocalTime {
    /// The broken-down time of `unix_secs` seconds since the epoch, shifted by
    /// `utc_offset_secs` (east of UTC positive). With an offset of 0 this is UTC.
    ///
    /// Pure arithmetic (proleptic Gregorian calendar); the runtime still has to find the
    /// offset of its time zone. A year beyond `i32` is clamped to `i32::MIN` or `i32::MAX`.
    pub fn from_unix(unix_secs: i64, utc_offset_secs: i32) -> LocalTime {
        let t = unix_secs.saturating_add(i64::from(utc_offset_secs));
        let days = t.div_euclid(86_400);
        let secs = t.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        // 1970-01-01 was a Thursday (4).
        let weekday = (days + 4).rem_euclid(7) as u8;
        LocalTime {
            year: i32::try_from(year).unwrap_or(if year < 0 { i32::MIN } else { i32::MAX }),
            month,
            day,
            hour: (secs / 3600) as u8,
            minute: (secs / 60 % 60) as u8,
            second: (secs % 60) as u8,
            weekday,
        }
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month 1-12, day 1-31).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Perl's `scalar localtime`: `Wed Jun  8 19:31:02 2005` (day space-padded to width 2,
/// hours, minutes and seconds zero-padded).
impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wday = DAY_NAMES.get(usize::from(self.weekday)).unwrap_or(&"???");
        let month = usize::from(self.month)
            .checked_sub(1)
            .and_then(|m| MONTH_NAMES.get(m))
            .unwrap_or(&"???");
        write!(
            f,
            "{wday} {month} {:>2} {:02}:{:02}:{:02} {}",
            self.day, self.hour, self.minute, self.second, self.year
        )
    }
}

/// Perl's `scalar localtime` as a `String` (same as `to_string()`).
pub fn perl_localtime(t: &LocalTime) -> String {
    t.to_string()
}

/// The text before the message for each severity, as in loncnew's `%LogFormats`.
///
/// Debug messages are written as INFO with a `-Debug- ` marker in front of the message.
pub fn severity_prefix(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "CRITICAL: ",
        Severity::Success => "SUCCESS: ",
        Severity::Info => "INFO: ",
        Severity::Warning => "WARNING: ",
        Severity::Debug => "INFO: -Debug- ",
    }
}

/// A log line for journald (standard error under systemd): `<priority>[<host>] [<state>]
/// SEVERITY: message\n`, the syslog priority first (CRITICAL 3, WARNING 4, SUCCESS 5, INFO 6,
/// debug 7) and no time or pid, which the journal records itself.
pub fn journal_line(host: &str, state: &str, severity: Severity, message: &str) -> String {
    let priority = match severity {
        Severity::Critical => 3,
        Severity::Warning => 4,
        Severity::Success => 5,
        Severity::Info => 6,
        Severity::Debug => 7,
    };
    format!(
        "<{priority}>[{host}] [{state}] {}{message}\n",
        severity_prefix(severity)
    )
}

/// The part of a `lonc.log` line that identifies the writer:
/// `<localtime> (<pid>) [<host>] [<status>] `.
fn log_prefix(out: &mut String, time: &LocalTime, pid: u32, host: &str, status: &str) {
    use fmt::Write;
    // Writing into a String cannot fail.
    let _ = write!(out, "{time} ({pid}) [{host}] [{status}] ");
}

/// One `lonc.log` line, with its trailing `\n`:
/// `<localtime> (<pid>) [<host>] [<status>] <SEVERITY>: <msg>\n`.
///
/// `host` is the remote host a child serves (the parent used `Parent Server`), `status` the
/// current status string (see [`status_string`]). The message is written verbatim; it should
/// not contain a line feed.
pub fn log_line(
    time: &LocalTime,
    pid: u32,
    host: &str,
    status: &str,
    severity: Severity,
    message: &str,
) -> String {
    let mut out = String::with_capacity(64 + host.len() + status.len() + message.len());
    log_prefix(&mut out, time, pid, host, status);
    out.push_str(severity_prefix(severity));
    out.push_str(message);
    out.push('\n');
    out
}

/// [`log_line`] for a [`LogEvent`] of `host` (the host field: a remote host's id, or
/// `Parent Server`).
pub fn log_event_line(
    time: &LocalTime,
    pid: u32,
    host: &str,
    status: &str,
    event: &LogEvent,
) -> String {
    log_line(
        time,
        pid,
        host,
        status,
        event.severity(),
        &message(event, host),
    )
}

/// The text of a `lonc.log` message; `host` is the host field of its line, which messages of a
/// remote host name. loncnew's own texts are kept where it had them.
pub fn message(event: &LogEvent, host: &str) -> String {
    use LogEvent::*;
    match event {
        LinkReady { count } => format!("Connection {count} to {host} now ready for action"),
        HostReachable => format!("Host {host} is reachable again"),
        HostMarkedDead => format!("Host marked DEAD: {host}"),
        ConnectFailed {
            reason,
            retries_left,
        } => format!(
            "Failed to make a connection with lond on {host} ({reason}); {retries_left} retries \
             left"
        ),
        ProbeFailed {
            reason,
            next_within,
        } => format!(
            "Probe of dead host {host} failed ({reason}); next probe within {} s",
            next_within.as_secs_f64().ceil()
        ),
        Probing => format!("Probing dead host {host}"),
        HostReset => format!("Host {host} reset: retrying connections"),
        ClosingAll => format!("Closing all connections to {host}"),
        CloseConnectionExit => format!(
            "Request Close Connection: closing every connection to {host} and failing waiting \
             requests"
        ),
        IdleLinkClosed { reason } => format!("Idle connection to {host} closed: {reason}"),
        LinkLost { reason } => format!("Connection to {host} lost: {reason}"),
        FailingTransaction { request } => {
            format!("Failing transaction {}", loggable(request))
        }
        QueueFull {
            requests,
            bytes,
            request,
        } => format!(
            "Queue for {host} full ({requests} requests, {bytes} bytes): failing transaction {}",
            loggable(request)
        ),
        DelayedCompleted => "A delayed transaction was completed".to_owned(),
        IdleLinkPruned { left } => format!("Closing an idle connection to {host}: {left} left"),
        BadDelayedName { name, error } => format!("Ignoring delayed file {name:?}: {error}"),
        DelayedForUnknownHost { name, owner } => {
            format!("Ignoring delayed file {name:?}: it is for {owner:?}, a host not served")
        }
        DelayedUnreadable { name, why } => {
            format!("Skipping delayed file {name:?}: {why}; it stays in the directory")
        }
        RequestResent { reason } => format!(
            "Connection to {host} closed before the request was read ({reason}): sending it \
             again on another connection"
        ),
        RequestTimedOut { request, after } => format!(
            "Request {} to {host} not answered within {} s: answered con_lost",
            loggable(request),
            after.as_secs_f64()
        ),
        ShortSessionKey => "Host ids and build key are shorter than the 32 key characters; the \
                            session key assumes the build key's newline is stripped"
            .to_owned(),
        ClientLineTooLong { max } => {
            format!("A client sent a line longer than {max} bytes: answered con_lost")
        }
        LinkMisused { link, error } => format!("Link {link}: {error}"),
        StartOnUnknownLink { link } => {
            format!("Scheduler started a transaction on unknown link {link}")
        }
        StartFailed { link, error } => {
            format!("Link {link} could not start a transaction: {error}")
        }
        HostUnavailable { request } => format!(
            "Host not available, answering con_lost to {}",
            loggable(request)
        ),
        ClientHungUp {
            client,
            dropped,
            orphaned,
        } => format!(
            "Client {} hung up: {dropped} queued request(s) dropped, {orphaned} in flight",
            client.0
        ),
        StaleReady { link } => format!("Ignoring stale ready event for link {link}"),
        StaleReply { link } => format!("Ignoring stale reply on link {link}"),
        StaleClose { link, reason } => format!("Ignoring close of unknown link {link} ({reason})"),
        ReplyDiscarded => "Discarding the reply for a client that hung up".to_owned(),
        Starting => crate::daemon::STARTING_MESSAGE.to_owned(),
        StartingHost { id, addr } => format!("Starting host {id} at {addr}"),
        Serving { hosts, own_id } => format!("Serving {hosts} remote hosts as {own_id}"),
        HostsTabProblem(problem) => problem.to_string(),
        SelfMissing { own_id } => {
            format!("This server's id {own_id} (lonHostID) is not in hosts.tab")
        }
        ShutdownGraceOver { grace } => format!(
            "Shutdown grace of {} s is over: closing the remaining links and answering waiting \
             clients con_lost",
            grace.as_secs_f64()
        ),
        DebugLogging { on, signal } => format!(
            "Debug logging {} ({signal})",
            if *on { "on" } else { "off" }
        ),
        SignalDuringShutdown { signal } => {
            format!("{signal} during shutdown: not waiting any longer")
        }
        IgnoredWhileShuttingDown { signal } => format!("{signal} ignored: shutting down"),
        ShuttingDown { signal, grace } => format!(
            "Shutting down on {signal}: no new clients, answering waiting clients for at most {} s",
            grace.as_secs_f64()
        ),
        StatusAndReset { signal } => {
            format!("Status report and reset of dead hosts on {signal}")
        }
        IgnoredWhileReloading { signal } => {
            format!("{signal} ignored: a reload is already under way")
        }
        Reloading { signal } => format!("Reloading the configuration and hosts.tab on {signal}"),
        AllAnswered => "Every waiting client was answered".to_owned(),
        ReloadRefused { kept } => format!(
            "Reload refused: hosts.tab has no usable remote host; keeping the {kept} current hosts"
        ),
        HostRemoved { id } => format!("Host {id} removed"),
        HostMoved {
            id,
            from,
            to,
            restart: true,
        } => format!("Host {id} moved from {from} to {to}: restarting it"),
        HostMoved {
            id,
            from,
            to,
            restart: false,
        } => {
            format!("Host {id} moved from {from} to {to}: its links are replaced, its clients wait")
        }
        HostAdded { id, addr } => format!("Host {id} added at {addr}"),
        Reloaded {
            added,
            removed,
            changed,
            unchanged,
        } => format!(
            "Reloaded: {added} added, {removed} removed, {changed} changed, {unchanged} unchanged"
        ),
        ReloadFailed { reason } => {
            format!("Reload failed, keeping the current configuration: {reason}")
        }
        NoSocketListens => "Cannot listen on any host's socket: nothing to serve".to_owned(),
        ControlRefused { uid } => format!(
            "Control connection from uid {uid} refused: only the daemon's user and root may use it"
        ),
        Exiting => "Master process exiting".to_owned(),
    }
}

/// loncnew's `DEFAULT` format for a severity it did not know (` %s `, the message between two
/// spaces): `<localtime> (<pid>) [<host>] [<status>]  <msg> \n`.
pub fn log_line_unclassified(
    time: &LocalTime,
    pid: u32,
    host: &str,
    status: &str,
    message: &str,
) -> String {
    let mut out = String::with_capacity(64 + host.len() + status.len() + message.len());
    log_prefix(&mut out, time, pid, host, status);
    out.push(' ');
    out.push_str(message);
    out.push_str(" \n");
    out
}

/// Perl's `chomp`: remove one trailing `\n` if present.
fn chomp(s: &str) -> &str {
    s.strip_suffix('\n').unwrap_or(s)
}

/// One `lonnet.perm.log` line: `<unix time>:<message>:<localtime>\n`, the message chomped
/// first (one trailing `\n` removed).
pub fn perm_log_line(unix_time: i64, message: &str, time: &LocalTime) -> String {
    format!("{unix_time}:{}:{time}\n", chomp(message))
}

/// loncnew's status string: `<localtime>: <state>`. It appears between the brackets of every
/// log line and in the status file.
pub fn status_string(time: &LocalTime, state: &str) -> String {
    format!("{time}: {state}")
}

/// The process title: `lonc: <state> <localtime>`.
pub fn process_title(state: &str, time: &LocalTime) -> String {
    format!("lonc: {state} {time}")
}

/// The first two lines of `loncstatus.txt`: `LONC status <localtime> - parent <pid> \n\n` (the
/// space before the newline is in loncnew 1.19's print statement, kept byte for byte).
pub fn status_header(time: &LocalTime, parent_pid: u32) -> String {
    format!("LONC status {time} - parent {parent_pid} \n\n")
}

/// One host's line of `loncstatus.txt`: `<pid>\t<host>\t<status>\t<last log line>\n`.
/// The last log line is given as logged; its trailing `\n` (if any) is dropped.
pub fn status_host_line(pid: u32, host: &str, status: &str, last_log_line: &str) -> String {
    format!("{pid}\t{host}\t{status}\t{}\n", chomp(last_log_line))
}

/// One served host as `loncstatus.txt` lists it: its id and its state (what its status string
/// shows after the time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostStatus {
    /// The host id.
    pub host: String,
    /// The host's state, e.g. `msul3 Connection count: 1 Retries remaining: 5`.
    pub state: String,
}

/// The whole `loncstatus.txt` as loncnew wrote it on SIGUSR1: the header, then one line per
/// host in the order given, each served by the process `pid` (lonc serves every host itself),
/// with its status string at `time` and its last `lonc.log` line (`last_line`).
pub fn status_file(
    time: &LocalTime,
    pid: u32,
    hosts: &[HostStatus],
    last_line: impl Fn(&str) -> String,
) -> String {
    let mut text = status_header(time, pid);
    for h in hosts {
        text.push_str(&status_host_line(
            pid,
            &h.host,
            &status_string(time, &h.state),
            &last_line(&h.host),
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_lines_carry_the_syslog_priority_and_no_time() {
        assert_eq!(
            journal_line("Parent Server", "Starting hosts", Severity::Critical, "go"),
            "<3>[Parent Server] [Starting hosts] CRITICAL: go\n"
        );
        assert!(journal_line("h", "s", Severity::Warning, "m").starts_with("<4>[h] [s] WARNING: "));
        assert!(journal_line("h", "s", Severity::Success, "m").starts_with("<5>"));
        assert!(journal_line("h", "s", Severity::Info, "m").starts_with("<6>[h] [s] INFO: m"));
        assert!(
            journal_line("h", "s", Severity::Debug, "m").starts_with("<7>[h] [s] INFO: -Debug- m")
        );
    }

    /// Wed Jun  8 19:31:02 2005, the time of the examples in protocol.md 6.3.
    fn t0() -> LocalTime {
        LocalTime {
            year: 2005,
            month: 6,
            day: 8,
            hour: 19,
            minute: 31,
            second: 2,
            weekday: 3,
        }
    }

    #[test]
    fn localtime_matches_perl_scalar_localtime() {
        assert_eq!(perl_localtime(&t0()), "Wed Jun  8 19:31:02 2005");
        let t = LocalTime {
            year: 2024,
            month: 12,
            day: 31,
            hour: 0,
            minute: 0,
            second: 9,
            weekday: 2,
        };
        assert_eq!(t.to_string(), "Tue Dec 31 00:00:09 2024");
        let t = LocalTime {
            year: 1999,
            month: 1,
            day: 1,
            hour: 7,
            minute: 5,
            second: 0,
            weekday: 5,
        };
        assert_eq!(t.to_string(), "Fri Jan  1 07:05:00 1999");
    }

    #[test]
    fn localtime_out_of_range_does_not_panic() {
        let t = LocalTime {
            year: 2005,
            month: 0,
            day: 99,
            hour: 25,
            minute: 61,
            second: 61,
            weekday: 7,
        };
        assert_eq!(t.to_string(), "??? ??? 99 25:61:61 2005");
        let t = LocalTime { month: 13, ..t0() };
        assert_eq!(t.to_string(), "Wed ???  8 19:31:02 2005");
    }

    #[test]
    fn from_unix_matches_known_dates() {
        // Values checked with Python's time.asctime(time.gmtime(t)).
        assert_eq!(LocalTime::from_unix(1_118_259_062, 0), t0());
        let cases = [
            (0_i64, "Thu Jan  1 00:00:00 1970"),
            (-1, "Wed Dec 31 23:59:59 1969"),
            (951_782_400, "Tue Feb 29 00:00:00 2000"),
            (4_107_542_400, "Mon Mar  1 00:00:00 2100"),
            (1_709_210_096, "Thu Feb 29 12:34:56 2024"),
        ];
        for (t, text) in cases {
            assert_eq!(LocalTime::from_unix(t, 0).to_string(), text, "t = {t}");
        }
        // A two-hour offset east of UTC.
        assert_eq!(
            LocalTime::from_unix(1_118_259_062 - 7200, 7200).to_string(),
            "Wed Jun  8 19:31:02 2005"
        );
        // Extremes do not panic; their years are clamped.
        let _ = LocalTime::from_unix(i64::MAX, i32::MAX).to_string();
        let _ = LocalTime::from_unix(i64::MIN, i32::MIN).to_string();
        assert_eq!(LocalTime::from_unix(i64::MAX, 0).year, i32::MAX);
        assert_eq!(LocalTime::from_unix(i64::MIN, 0).year, i32::MIN);
    }

    #[test]
    fn log_lines_per_severity() {
        let t = t0();
        let status = "Wed Jun  8 19:31:02 2005: Connected to msul3";
        let cases = [
            (Severity::Critical, "CRITICAL: Host makred DEAD msul3"),
            (Severity::Success, "SUCCESS: Host makred DEAD msul3"),
            (Severity::Info, "INFO: Host makred DEAD msul3"),
            (Severity::Warning, "WARNING: Host makred DEAD msul3"),
            (Severity::Debug, "INFO: -Debug- Host makred DEAD msul3"),
        ];
        for (sev, tail) in cases {
            assert_eq!(
                log_line(&t, 4242, "msul3", status, sev, "Host makred DEAD msul3"),
                format!(
                    "Wed Jun  8 19:31:02 2005 (4242) [msul3] \
                     [Wed Jun  8 19:31:02 2005: Connected to msul3] {tail}\n"
                )
            );
        }
    }

    #[test]
    fn log_event_line_is_log_line() {
        let ev = LogEvent::FailingTransaction {
            request: bytes::Bytes::from_static(b"get:put:secret"),
        };
        assert_eq!(
            log_event_line(&t0(), 1, "msul3", "", &ev),
            "Wed Jun  8 19:31:02 2005 (1) [msul3] [] WARNING: Failing transaction get:put\n"
        );
        let ev = LogEvent::HostMarkedDead;
        assert_eq!(
            log_event_line(&t0(), 1, "msul3", "s", &ev),
            "Wed Jun  8 19:31:02 2005 (1) [msul3] [s] CRITICAL: Host marked DEAD: msul3\n"
        );
    }

    #[test]
    fn unclassified_log_line_has_message_between_spaces() {
        assert_eq!(
            log_line_unclassified(&t0(), 7, "h", "s", "Created connection 1"),
            "Wed Jun  8 19:31:02 2005 (7) [h] [s]  Created connection 1 \n"
        );
    }

    #[test]
    fn perm_log_line_chomps_message_once() {
        assert_eq!(
            perm_log_line(1_118_259_062, "S:msul1:put:foo\n", &t0()),
            "1118259062:S:msul1:put:foo:Wed Jun  8 19:31:02 2005\n"
        );
        assert_eq!(
            perm_log_line(5, "D:msul3:cmd", &t0()),
            "5:D:msul3:cmd:Wed Jun  8 19:31:02 2005\n"
        );
        // chomp removes exactly one newline.
        assert_eq!(
            perm_log_line(5, "x\n\n", &t0()),
            "5:x\n:Wed Jun  8 19:31:02 2005\n"
        );
    }

    #[test]
    fn status_string_and_title() {
        assert_eq!(
            status_string(&t0(), "Connected to msul3"),
            "Wed Jun  8 19:31:02 2005: Connected to msul3"
        );
        assert_eq!(
            process_title("Connected to msul3", &t0()),
            "lonc: Connected to msul3 Wed Jun  8 19:31:02 2005"
        );
        assert_eq!(
            process_title("gerdl1 >>> DEAD !!!! <<<", &t0()),
            "lonc: gerdl1 >>> DEAD !!!! <<< Wed Jun  8 19:31:02 2005"
        );
    }

    #[test]
    fn status_file_header_and_host_line() {
        assert_eq!(
            status_header(&t0(), 1234),
            "LONC status Wed Jun  8 19:31:02 2005 - parent 1234 \n\n"
        );
        let last = "Wed Jun  8 19:31:02 2005 (99) [msul3] [s] INFO: hello\n";
        assert_eq!(
            status_host_line(99, "msul3", "s", last),
            "99\tmsul3\ts\tWed Jun  8 19:31:02 2005 (99) [msul3] [s] INFO: hello\n"
        );
        assert_eq!(status_host_line(1, "a", "b", ""), "1\ta\tb\t\n");
    }

    #[test]
    fn the_status_file_is_byte_exact() {
        let hosts = [
            HostStatus {
                host: "msul2".into(),
                state: "msul2 >>> DEAD !!!! <<<".into(),
            },
            HostStatus {
                host: "msul3".into(),
                state: "msul3 Connection count: 1 Retries remaining: 5".into(),
            },
        ];
        let last = |h: &str| match h {
            "msul3" => "Wed Jun  8 19:31:02 2005 (42) [msul3] [x] INFO: hi\n".to_owned(),
            _ => String::new(),
        };
        assert_eq!(
            status_file(&t0(), 42, &hosts, last),
            "LONC status Wed Jun  8 19:31:02 2005 - parent 42 \n\n\
             42\tmsul2\tWed Jun  8 19:31:02 2005: msul2 >>> DEAD !!!! <<<\t\n\
             42\tmsul3\tWed Jun  8 19:31:02 2005: msul3 Connection count: 1 Retries remaining: 5\t\
             Wed Jun  8 19:31:02 2005 (42) [msul3] [x] INFO: hi\n"
        );
        assert_eq!(
            status_file(&t0(), 7, &[], |_| unreachable!()),
            "LONC status Wed Jun  8 19:31:02 2005 - parent 7 \n\n"
        );
    }
}

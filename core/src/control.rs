//! The control socket's language: one command line in, an answer out (text, or JSON for
//! `status --json`), then the connection closes. `lonc status`, `lonc revive`, `lonc reload`,
//! `lonc debug`, `lonc metrics`, `lonc spool flush` and `lonc spool delete` are its clients.
//!
//! Every answer ends with a line of its own: `ok` after a command that did what it said, or
//! `error: <why>` (then nothing else came, except after `spool delete`, whose lines say what
//! became of each file); a JSON answer is one line, then `ok`.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::stats::{HostStats, LatencySummary, LostCause};

/// The longest command line taken; a longer one is an error.
pub const MAX_COMMAND: usize = 4096;
/// Control connections open at once; more are refused (closed at once).
pub const MAX_CONTROL_CLIENTS: usize = 8;
/// How long a control client has to send its command.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A command read from the control socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// The daemon and its hosts (all, or those named): a table, or JSON.
    Status { hosts: Vec<String>, json: bool },
    /// What USR1 does for one host: a fresh retry budget, a dead host revived and probed.
    Revive(String),
    /// What HUP does: re-read the configuration and `hosts.tab`.
    Reload,
    /// Debug logging on or off.
    Debug(bool),
    /// The metrics in Prometheus' text format ([`crate::metrics::render`]).
    Metrics,
    /// `spool flush [HOST]`: scan the delayed directory now (retrying files that could not be
    /// read) and say what waits, for every host or the one named.
    SpoolFlush(Option<String>),
    /// `spool delete FILE…`: delete these delayed files, each with an `R:` record in
    /// `lonnet.perm.log`, unless one is being delivered.
    SpoolDelete(Vec<String>),
}

/// What became of one file of `spool delete`, as the runtime reports it
/// ([`crate::node::Node::delayed_removed`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    /// Its `R:` record was written and the file deleted; `command` is its request as the
    /// record shows it.
    Deleted { command: String },
    /// Its record was written but the file could not be deleted (it is not replayed while it
    /// stays).
    NotDeleted { command: String, why: String },
    /// No such file: nothing was written.
    Missing,
    /// The record could not be written: the file is kept, and replayed as before.
    Unrecorded { why: String },
}

/// A command line that is not a command: the error line's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadCommand(pub String);

impl Command {
    /// Parses one command line (without its LF; a CR before it is ignored). Words are
    /// separated by spaces.
    pub fn parse(line: &[u8]) -> Result<Command, BadCommand> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Ok(text) = std::str::from_utf8(line) else {
            return Err(BadCommand("the command is not UTF-8".into()));
        };
        let words: Vec<&str> = text.split_whitespace().collect();
        let bad = |why: &str| Err(BadCommand(why.to_owned()));
        match words.as_slice() {
            ["status", rest @ ..] => {
                let json = rest.contains(&"--json");
                let hosts: Vec<String> = rest
                    .iter()
                    .filter(|w| **w != "--json")
                    .map(|w| (*w).to_owned())
                    .collect();
                if let Some(flag) = hosts.iter().find(|h| h.starts_with('-')) {
                    return Err(BadCommand(format!("status: unknown option {flag}")));
                }
                Ok(Command::Status { hosts, json })
            }
            ["revive", host] => Ok(Command::Revive((*host).to_owned())),
            ["revive", ..] => bad("usage: revive HOST"),
            ["reload"] => Ok(Command::Reload),
            ["debug", "on"] => Ok(Command::Debug(true)),
            ["debug", "off"] => Ok(Command::Debug(false)),
            ["debug", ..] => bad("usage: debug on|off"),
            ["metrics"] => Ok(Command::Metrics),
            ["metrics", ..] => bad("usage: metrics"),
            ["spool", "flush"] => Ok(Command::SpoolFlush(None)),
            ["spool", "flush", host] => Ok(Command::SpoolFlush(Some((*host).to_owned()))),
            ["spool", "delete", files @ ..] if !files.is_empty() => Ok(Command::SpoolDelete(
                files.iter().map(|f| (*f).to_owned()).collect(),
            )),
            ["spool", "list", ..] => {
                bad("spool list reads the delayed directory itself: run `lonc spool list`")
            }
            ["spool", ..] => bad("usage: spool flush [HOST] | spool delete FILE..."),
            [] => bad("empty command"),
            [other, ..] => Err(BadCommand(format!(
                "unknown command {:?} (status, revive, reload, debug, metrics, spool)",
                crate::quote::excerpt(other)
            ))),
        }
    }
}

/// The daemon as `lonc status` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusReport {
    pub daemon: DaemonReport,
    /// The hosts asked about (all by default), in id order.
    pub hosts: Vec<HostReport>,
}

/// The daemon line of `lonc status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DaemonReport {
    pub version: String,
    pub pid: u32,
    pub uptime_seconds: u64,
    /// `running`, `reloading` or `stopping`.
    pub phase: &'static str,
    pub hosts: usize,
    pub dead: usize,
    pub links: usize,
    /// lonnet clients connected (control clients not counted).
    pub clients: usize,
    pub debug: bool,
}

/// One host in `lonc status`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HostReport {
    pub id: String,
    /// `ok`, `dead` or `stopped` (shut down).
    pub state: &'static str,
    /// How long it has been dead, while dead.
    pub dead_for_seconds: Option<u64>,
    /// When the next probe of a dead host goes out, from now.
    pub next_probe_seconds: Option<f64>,
    pub links: LinkCounts,
    pub queue: QueueReport,
    pub retries_left: u32,
    /// Its files in the delayed directory not delivered yet (as of the last scan).
    pub spooled: usize,
    pub requests: u64,
    pub replies: u64,
    /// `con_lost` answers by cause.
    pub con_lost: ConLostReport,
    pub con_lost_total: u64,
    pub replayed: u64,
    pub latency: LatencyReport,
}

/// Links by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LinkCounts {
    pub handshaking: usize,
    pub idle: usize,
    pub busy: usize,
}

/// Requests waiting for a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueReport {
    pub requests: usize,
    pub bytes: usize,
}

/// Reply latencies of the last minute, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencyReport {
    pub replies_last_minute: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl From<LatencySummary> for LatencyReport {
    fn from(s: LatencySummary) -> Self {
        // Whole microseconds: `1.172`, not `1.1720000000000002`.
        let ms = |d: Duration| d.as_micros() as f64 / 1000.0;
        LatencyReport {
            replies_last_minute: s.count,
            p50_ms: ms(s.p50),
            p99_ms: ms(s.p99),
            max_ms: ms(s.max),
        }
    }
}

/// `con_lost` answers by cause ([`LostCause`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConLostReport {
    pub dead: u64,
    pub connect_failed: u64,
    pub link_lost: u64,
    pub timeout: u64,
    pub queue_full: u64,
    pub shutdown: u64,
    pub close_connection_exit: u64,
    pub too_long: u64,
}

impl ConLostReport {
    /// The counts of `stats`.
    pub fn of(stats: &HostStats) -> ConLostReport {
        let n = |c| stats.lost(c);
        ConLostReport {
            dead: n(LostCause::Dead),
            connect_failed: n(LostCause::ConnectFailed),
            link_lost: n(LostCause::LinkLost),
            timeout: n(LostCause::Timeout),
            queue_full: n(LostCause::QueueFull),
            shutdown: n(LostCause::Shutdown),
            close_connection_exit: n(LostCause::CloseConnectionExit),
            too_long: n(LostCause::TooLong),
        }
    }

    /// `(cause name, count)` in [`LostCause::ALL`] order.
    pub fn pairs(&self) -> [(&'static str, u64); 8] {
        [
            ("dead", self.dead),
            ("connect_failed", self.connect_failed),
            ("link_lost", self.link_lost),
            ("timeout", self.timeout),
            ("queue_full", self.queue_full),
            ("shutdown", self.shutdown),
            ("close_connection_exit", self.close_connection_exit),
            ("too_long", self.too_long),
        ]
    }
}

/// `12.3ms`, `1.25s`, `-` for nothing.
fn millis(ms: f64, any: bool) -> String {
    if !any {
        "-".into()
    } else if ms < 10.0 {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.2}s", ms / 1000.0)
    }
}

/// `45s`, `12m`, `3h05m`, `2d04h`.
pub fn span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..86400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86400, secs % 86400 / 3600),
    }
}

impl StatusReport {
    /// The table `lonc status` prints (80 columns), or, for hosts named, every field of each.
    pub fn to_text(&self, detailed: bool) -> String {
        let d = &self.daemon;
        let mut out = format!(
            "lonc {}, pid {}, up {}, {}\n{} hosts, {} dead, {} links, {} clients{}\n",
            d.version,
            d.pid,
            span(d.uptime_seconds),
            d.phase,
            d.hosts,
            d.dead,
            d.links,
            d.clients,
            if d.debug { ", debug on" } else { "" }
        );
        if detailed {
            for h in &self.hosts {
                out.push('\n');
                out.push_str(&h.to_text());
            }
            return out;
        }
        // 80 columns: 12 + 10 + 9 + 10 + 4 + 6 + 9 + 6 + 7 + 7 = 80.
        let _ = writeln!(
            out,
            "{:<11} {:<9} {:>8} {:>9} {:>3} {:>5} {:>8} {:>5} {:>6} {:>6}",
            "HOST", "STATE", "LINKS", "QUEUE", "RT", "SPOOL", "REQUESTS", "LOST", "P50", "P99"
        );
        for h in &self.hosts {
            let state = match h.dead_for_seconds {
                Some(s) => format!("dead {}", span(s)),
                None => h.state.to_owned(),
            };
            let links = format!("{}/{}/{}", h.links.handshaking, h.links.idle, h.links.busy);
            let any = h.latency.replies_last_minute > 0;
            let _ = writeln!(
                out,
                "{:<11} {:<9} {:>8} {:>9} {:>3} {:>5} {:>8} {:>5} {:>6} {:>6}",
                clip(&h.id, 11),
                clip(&state, 9),
                links,
                h.queue.requests,
                h.retries_left,
                h.spooled,
                h.requests,
                h.con_lost_total,
                millis(h.latency.p50_ms, any),
                millis(h.latency.p99_ms, any),
            );
        }
        out.push_str(
            "LINKS handshaking/idle/busy; RT retries left; P50/P99 over the last minute\n",
        );
        out
    }

    /// One line of JSON (the schema in the README).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl HostReport {
    fn to_text(&self) -> String {
        let mut out = format!("{}: {}", self.id, self.state);
        if let Some(s) = self.dead_for_seconds {
            let _ = write!(out, " for {}", span(s));
        }
        if let Some(s) = self.next_probe_seconds {
            let _ = write!(out, ", next probe in {s:.1}s");
        }
        out.push('\n');
        let any = self.latency.replies_last_minute > 0;
        let _ = writeln!(
            out,
            "  links: {} handshaking, {} idle, {} busy; retries left: {}",
            self.links.handshaking, self.links.idle, self.links.busy, self.retries_left
        );
        let _ = writeln!(
            out,
            "  queue: {} requests, {} bytes; spooled files waiting: {}",
            self.queue.requests, self.queue.bytes, self.spooled
        );
        let _ = writeln!(
            out,
            "  requests: {}, replies: {}, replayed: {}, con_lost: {}",
            self.requests, self.replies, self.replayed, self.con_lost_total
        );
        let causes: Vec<String> = self
            .con_lost
            .pairs()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        if !causes.is_empty() {
            let _ = writeln!(out, "  con_lost by cause: {}", causes.join(", "));
        }
        let _ = writeln!(
            out,
            "  latency, last minute: {} replies, p50 {}, p99 {}, max {}",
            self.latency.replies_last_minute,
            millis(self.latency.p50_ms, any),
            millis(self.latency.p99_ms, any),
            millis(self.latency.max_ms, any)
        );
        out
    }
}

/// `text` cut to `width` characters, the last replaced by `~` when cut.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(width - 1).collect();
    s.push('~');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_bad_ones_say_why() {
        assert_eq!(
            Command::parse(b"status"),
            Ok(Command::Status {
                hosts: vec![],
                json: false
            })
        );
        assert_eq!(
            Command::parse(b"status msul1 --json msul3\r"),
            Ok(Command::Status {
                hosts: vec!["msul1".into(), "msul3".into()],
                json: true
            })
        );
        assert_eq!(
            Command::parse(b"revive msul1"),
            Ok(Command::Revive("msul1".into()))
        );
        assert_eq!(Command::parse(b"reload"), Ok(Command::Reload));
        assert_eq!(Command::parse(b"debug on"), Ok(Command::Debug(true)));
        assert_eq!(Command::parse(b"debug off"), Ok(Command::Debug(false)));
        assert_eq!(Command::parse(b"metrics"), Ok(Command::Metrics));
        let err = |line: &[u8]| Command::parse(line).unwrap_err().0;
        assert_eq!(err(b"revive"), "usage: revive HOST");
        assert_eq!(err(b"revive a b"), "usage: revive HOST");
        assert_eq!(err(b"debug maybe"), "usage: debug on|off");
        assert_eq!(err(b"metrics now"), "usage: metrics");
        assert_eq!(err(b""), "empty command");
        assert_eq!(err(b"status --yaml"), "status: unknown option --yaml");
        assert_eq!(err(b"\xff"), "the command is not UTF-8");
        assert!(err(b"shutdown now").starts_with("unknown command \"shutdown\""));
    }

    #[test]
    fn spool_commands_parse() {
        assert_eq!(
            Command::parse(b"spool flush"),
            Ok(Command::SpoolFlush(None))
        );
        assert_eq!(
            Command::parse(b"spool flush msul1"),
            Ok(Command::SpoolFlush(Some("msul1".into())))
        );
        assert_eq!(
            Command::parse(b"spool delete 1.2.3.p.h ../x"),
            Ok(Command::SpoolDelete(vec![
                "1.2.3.p.h".into(),
                "../x".into()
            ]))
        );
        let err = |line: &[u8]| Command::parse(line).unwrap_err().0;
        assert_eq!(
            err(b"spool delete"),
            "usage: spool flush [HOST] | spool delete FILE..."
        );
        assert_eq!(
            err(b"spool flush a b"),
            "usage: spool flush [HOST] | spool delete FILE..."
        );
        assert!(err(b"spool list").starts_with("spool list reads"));
    }

    fn report() -> StatusReport {
        StatusReport {
            daemon: DaemonReport {
                version: "0.1.0".into(),
                pid: 3780,
                uptime_seconds: 93_784,
                phase: "running",
                hosts: 2,
                dead: 1,
                links: 3,
                clients: 4,
                debug: false,
            },
            hosts: vec![
                HostReport {
                    id: "msul1".into(),
                    state: "ok",
                    dead_for_seconds: None,
                    next_probe_seconds: None,
                    links: LinkCounts {
                        handshaking: 1,
                        idle: 1,
                        busy: 1,
                    },
                    queue: QueueReport {
                        requests: 2,
                        bytes: 40,
                    },
                    retries_left: 5,
                    spooled: 0,
                    requests: 1234,
                    replies: 1230,
                    con_lost: ConLostReport {
                        timeout: 4,
                        ..ConLostReport::default()
                    },
                    con_lost_total: 4,
                    replayed: 3,
                    latency: LatencyReport {
                        replies_last_minute: 60,
                        p50_ms: 2.5,
                        p99_ms: 120.0,
                        max_ms: 1500.0,
                    },
                },
                HostReport {
                    id: "a-very-long-host-id".into(),
                    state: "dead",
                    dead_for_seconds: Some(312),
                    next_probe_seconds: Some(4.0),
                    links: LinkCounts::default(),
                    queue: QueueReport::default(),
                    retries_left: 0,
                    spooled: 7,
                    requests: 9,
                    replies: 0,
                    con_lost: ConLostReport {
                        dead: 9,
                        ..ConLostReport::default()
                    },
                    con_lost_total: 9,
                    replayed: 0,
                    latency: LatencyReport::default(),
                },
            ],
        }
    }

    #[test]
    fn the_table_fits_80_columns() {
        let text = report().to_text(false);
        assert_eq!(
            text,
            "lonc 0.1.0, pid 3780, up 1d02h, running\n\
             2 hosts, 1 dead, 3 links, 4 clients\n\
             HOST        STATE        LINKS     QUEUE  RT SPOOL REQUESTS  LOST    P50    P99\n\
             msul1       ok           1/1/1         2   5     0     1234     4  2.5ms  120ms\n\
             a-very-lon~ dead 5m1~    0/0/0         0   0     7        9     9      -      -\n\
             LINKS handshaking/idle/busy; RT retries left; P50/P99 over the last minute\n"
        );
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line:?}");
        }
    }

    #[test]
    fn the_detail_lists_every_field() {
        let text = report().to_text(true);
        assert!(text.contains(
            "\nmsul1: ok\n  links: 1 handshaking, 1 idle, 1 busy; retries left: 5\n  queue: 2 \
             requests, 40 bytes; spooled files waiting: 0\n  requests: 1234, replies: 1230, \
             replayed: 3, con_lost: 4\n  con_lost by cause: timeout 4\n  latency, last minute: \
             60 replies, p50 2.5ms, p99 120ms, max 1.50s\n"
        ));
        assert!(text.contains("a-very-long-host-id: dead for 5m12s, next probe in 4.0s\n"));
    }

    #[test]
    fn spans_and_latencies_change_unit_at_their_bounds() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(59), "59s");
        assert_eq!(span(60), "1m00s");
        assert_eq!(span(3599), "59m59s");
        assert_eq!(span(3600), "1h00m");
        assert_eq!(span(11_100), "3h05m");
        assert_eq!(span(86_399), "23h59m");
        assert_eq!(span(86_400), "1d00h");
        // Tenths below 10 ms, whole milliseconds from 10 ms, seconds from 1 s.
        assert_eq!(millis(9.94, true), "9.9ms");
        assert_eq!(millis(10.0, true), "10ms");
        assert_eq!(millis(999.0, true), "999ms");
        assert_eq!(millis(1000.0, true), "1.00s");
        assert_eq!(millis(0.0, false), "-");
    }

    #[test]
    fn a_host_with_no_reply_in_the_last_minute_shows_no_latency() {
        let text = report().to_text(true);
        assert!(
            text.contains(
                "\na-very-long-host-id: dead for 5m12s, next probe in 4.0s\n  links: 0 \
                 handshaking, 0 idle, 0 busy; retries left: 0\n  queue: 0 requests, 0 bytes; \
                 spooled files waiting: 7\n  requests: 9, replies: 0, replayed: 0, con_lost: 9\n  \
                 con_lost by cause: dead 9\n  latency, last minute: 0 replies, p50 -, p99 -, max \
                 -\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn latencies_are_whole_microseconds_in_milliseconds() {
        let r = LatencyReport::from(LatencySummary {
            count: 3,
            p50: Duration::from_micros(112),
            p99: Duration::from_micros(1172),
            max: Duration::from_nanos(1_172_999),
        });
        assert_eq!((r.p50_ms, r.p99_ms, r.max_ms), (0.112, 1.172, 1.172));
        assert_eq!(r.replies_last_minute, 3);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"p99_ms\":1.172,"), "{json}");
    }

    #[test]
    fn the_json_is_one_line_of_the_documented_schema() {
        let json = report().to_json();
        assert!(!json.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["daemon"]["pid"], 3780);
        assert_eq!(v["daemon"]["phase"], "running");
        assert_eq!(v["hosts"][0]["id"], "msul1");
        assert_eq!(v["hosts"][0]["links"]["busy"], 1);
        assert_eq!(v["hosts"][0]["queue"]["bytes"], 40);
        assert_eq!(v["hosts"][0]["con_lost"]["timeout"], 4);
        assert_eq!(v["hosts"][0]["con_lost"]["dead"], 0);
        assert_eq!(v["hosts"][0]["latency"]["p99_ms"], 120.0);
        assert_eq!(v["hosts"][1]["dead_for_seconds"], 312);
        assert_eq!(v["hosts"][0]["dead_for_seconds"], serde_json::Value::Null);
    }
}

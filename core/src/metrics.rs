//! Metrics in Prometheus' text format (version 0.0.4), and the small HTTP exchange that serves
//! them: `lonc metrics` prints [`render`]'s text (the control command `metrics`), and with
//! `--metrics-listen ADDR` the daemon answers `GET /metrics` on that TCP address
//! ([`Node::accept_metrics`](crate::node::Node::accept_metrics)).
//!
//! Every family has its `# HELP` and `# TYPE` lines; counters end in `_total`; the reply
//! latency is a histogram (cumulative `_bucket{le=..}` lines up to `+Inf`, `_sum` in seconds,
//! `_count`); per-host series are labelled `host="<id>"`, escaped as the format says. A host's
//! counters start at zero when it starts being served (a host removed by a reload and added
//! again starts over, which Prometheus reads as a counter reset).
//!
//! The HTTP side reads one request, parsed with `httparse`, and answers it with
//! `Connection: close`: `200` for `GET` (or `HEAD`) `/metrics`, `404` for another path, `405`
//! for another method, `400` for anything that is not HTTP, `431` for a request over
//! [`MAX_REQUEST`] bytes or [`MAX_HEADERS`] headers, `408` for one not complete within
//! [`SCRAPE_TIMEOUT`].

use std::fmt::Write as _;
use std::time::Duration;

use crate::control::{DaemonReport, HostReport};
use crate::stats::{Histogram, LATENCY_BOUNDS};

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The most bytes of one HTTP request read; a longer one is answered `431`.
pub const MAX_REQUEST: usize = 8192;
/// The most header lines of one HTTP request; more is answered `431`.
pub const MAX_HEADERS: usize = 32;
/// HTTP connections open at once; more are refused (closed at once).
pub const MAX_SCRAPERS: usize = 4;
/// How long an HTTP client has to send its request, and then to read the answer before its
/// connection is dropped.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// One host's metrics: its report (as `lonc status` has it) and its latency histogram since
/// it started being served.
#[derive(Clone, Debug, PartialEq)]
pub struct HostMetrics {
    pub report: HostReport,
    pub latency: Histogram,
}

/// `text` escaped as a label value: backslash, double quote and line feed.
fn label_value(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The `# HELP` and `# TYPE` lines of a family (help text escaped: backslash, line feed).
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One sample per host: `name{host="<id>"<extra>} value`.
fn per_host(
    out: &mut String,
    hosts: &[HostMetrics],
    name: &str,
    kind: &str,
    help: &str,
    value: impl Fn(&HostReport) -> u64,
) {
    header(out, name, kind, help);
    for h in hosts {
        sample_start(out, name, &h.report.id);
        let _ = writeln!(out, "}} {}", value(&h.report));
    }
}

/// `name{host="<id>"` (the caller closes the braces).
fn sample_start(out: &mut String, name: &str, host: &str) {
    out.push_str(name);
    out.push_str("{host=\"");
    label_value(out, host);
    out.push('"');
}

/// The exposition of the daemon and its hosts, in Prometheus' text format 0.0.4.
pub fn render(daemon: &DaemonReport, hosts: &[HostMetrics]) -> String {
    // About 2 KiB per host with its histogram.
    let mut out = String::with_capacity(2048 + hosts.len() * 2400);
    header(
        &mut out,
        "lonc_build_info",
        "gauge",
        "Always 1; the version of the running daemon.",
    );
    out.push_str("lonc_build_info{version=\"");
    label_value(&mut out, &daemon.version);
    out.push_str("\"} 1\n");
    let gauges = [
        (
            "lonc_uptime_seconds",
            "Seconds since the daemon started.",
            daemon.uptime_seconds,
        ),
        ("lonc_hosts", "Remote hosts served.", daemon.hosts as u64),
        (
            "lonc_clients",
            "lonnet client connections open.",
            daemon.clients as u64,
        ),
    ];
    for (name, help, value) in gauges {
        header(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
    per_host(
        &mut out,
        hosts,
        "lonc_requests_total",
        "counter",
        "Requests lonnet clients sent for the host.",
        |r| r.requests,
    );
    per_host(
        &mut out,
        hosts,
        "lonc_replies_total",
        "counter",
        "Requests answered with the host's reply.",
        |r| r.replies,
    );
    let name = "lonc_con_lost_total";
    header(
        &mut out,
        name,
        "counter",
        "Requests answered con_lost, by cause.",
    );
    for h in hosts {
        for (cause, n) in h.report.con_lost.pairs() {
            sample_start(&mut out, name, &h.report.id);
            let _ = writeln!(out, ",cause=\"{cause}\"}} {n}");
        }
    }
    per_host(
        &mut out,
        hosts,
        "lonc_replayed_total",
        "counter",
        "Delayed (spooled) requests delivered to the host.",
        |r| r.replayed,
    );
    let name = "lonc_reply_latency_seconds";
    header(
        &mut out,
        name,
        "histogram",
        "Seconds from a request's arrival to its reply, since the host started being served.",
    );
    let bucket = format!("{name}_bucket");
    for h in hosts {
        let mut seen = 0u64;
        for (i, n) in h.latency.buckets.iter().enumerate() {
            seen += n;
            sample_start(&mut out, &bucket, &h.report.id);
            match LATENCY_BOUNDS.get(i) {
                Some(le) => {
                    let _ = writeln!(out, ",le=\"{le}\"}} {seen}");
                }
                None => {
                    let _ = writeln!(out, ",le=\"+Inf\"}} {seen}");
                }
            }
        }
        sample_start(&mut out, &format!("{name}_sum"), &h.report.id);
        let secs = h.latency.sum_micros as f64 / 1e6;
        let _ = writeln!(out, "}} {secs}");
        sample_start(&mut out, &format!("{name}_count"), &h.report.id);
        let _ = writeln!(out, "}} {}", h.latency.count);
    }
    let name = "lonc_links";
    header(
        &mut out,
        name,
        "gauge",
        "Links to the host's lond, by state (handshaking, idle, busy).",
    );
    for h in hosts {
        let l = h.report.links;
        for (state, n) in [
            ("handshaking", l.handshaking),
            ("idle", l.idle),
            ("busy", l.busy),
        ] {
            sample_start(&mut out, name, &h.report.id);
            let _ = writeln!(out, ",state=\"{state}\"}} {n}");
        }
    }
    per_host(
        &mut out,
        hosts,
        "lonc_queue_requests",
        "gauge",
        "Requests waiting for a link.",
        |r| r.queue.requests as u64,
    );
    per_host(
        &mut out,
        hosts,
        "lonc_queue_bytes",
        "gauge",
        "Bytes of the requests waiting for a link.",
        |r| r.queue.bytes as u64,
    );
    per_host(
        &mut out,
        hosts,
        "lonc_host_dead",
        "gauge",
        "1 while the host is dead (its retries exhausted), else 0.",
        |r| u64::from(r.state == "dead"),
    );
    per_host(
        &mut out,
        hosts,
        "lonc_retries_left",
        "gauge",
        "Failed connection attempts left before the host is marked dead.",
        |r| u64::from(r.retries_left),
    );
    per_host(
        &mut out,
        hosts,
        "lonc_spooled_files",
        "gauge",
        "The host's delayed files waiting for delivery (as of the last scan).",
        |r| r.spooled as u64,
    );
    out
}

/// What an HTTP request asks for, once it is complete (or cannot be).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /metrics` (`head`: `HEAD /metrics`, the headers alone).
    Metrics { head: bool },
    /// Another path: `404`.
    NotFound,
    /// Another method: `405`.
    MethodNotAllowed,
    /// Not an HTTP request: `400`.
    BadRequest,
    /// Longer than [`MAX_REQUEST`] or with more than [`MAX_HEADERS`] headers: `431`.
    TooLarge,
    /// Not complete within [`SCRAPE_TIMEOUT`]: `408`.
    Timeout,
}

/// Where the request in `buf` (its first bytes, at most [`MAX_REQUEST`]) goes; `None` while it
/// is incomplete and may still complete.
pub fn route(buf: &[u8]) -> Option<Route> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Partial) if buf.len() >= MAX_REQUEST => Some(Route::TooLarge),
        Ok(httparse::Status::Partial) => None,
        Err(httparse::Error::TooManyHeaders) => Some(Route::TooLarge),
        Err(_) => Some(Route::BadRequest),
        Ok(httparse::Status::Complete(_)) => {
            let head = match request.method {
                Some("GET") => false,
                Some("HEAD") => true,
                _ => return Some(Route::MethodNotAllowed),
            };
            let path = request.path.unwrap_or_default();
            let path = path.split_once('?').map_or(path, |(p, _)| p);
            Some(if path == "/metrics" {
                Route::Metrics { head }
            } else {
                Route::NotFound
            })
        }
    }
}

/// The whole HTTP answer for `route`, with the exposition `body` (rendered only for
/// [`Route::Metrics`]).
pub fn response(route: Route, body: impl FnOnce() -> String) -> Vec<u8> {
    let (status, extra, text) = match route {
        Route::Metrics { head } => {
            let body = body();
            let mut answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            if !head {
                answer.extend_from_slice(body.as_bytes());
            }
            return answer;
        }
        Route::NotFound => (
            "404 Not Found",
            "",
            "not found: the metrics are at /metrics\n",
        ),
        Route::MethodNotAllowed => (
            "405 Method Not Allowed",
            "Allow: GET, HEAD\r\n",
            "method not allowed: GET /metrics\n",
        ),
        Route::BadRequest => ("400 Bad Request", "", "bad request: not HTTP\n"),
        Route::TooLarge => (
            "431 Request Header Fields Too Large",
            "",
            "request too large\n",
        ),
        Route::Timeout => ("408 Request Timeout", "", "no request in time\n"),
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         {extra}Connection: close\r\n\r\n{text}",
        text.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{ConLostReport, LatencyReport, LinkCounts, QueueReport};
    use openmetrics_parser::{PrometheusType, PrometheusValue, prometheus::parse_prometheus};

    fn daemon() -> DaemonReport {
        DaemonReport {
            version: "0.1.0 (abc1234)".into(),
            pid: 3780,
            uptime_seconds: 93,
            phase: "running",
            hosts: 2,
            dead: 1,
            links: 3,
            clients: 4,
            debug: false,
        }
    }

    fn host(id: &str) -> HostReport {
        HostReport {
            id: id.into(),
            state: "ok",
            dead_for_seconds: None,
            next_probe_seconds: None,
            links: LinkCounts {
                handshaking: 1,
                idle: 2,
                busy: 0,
            },
            queue: QueueReport {
                requests: 3,
                bytes: 40,
            },
            retries_left: 5,
            spooled: 7,
            requests: 12,
            replies: 9,
            con_lost: ConLostReport {
                timeout: 2,
                dead: 1,
                ..ConLostReport::default()
            },
            con_lost_total: 3,
            replayed: 4,
            latency: LatencyReport::default(),
        }
    }

    fn hosts() -> Vec<HostMetrics> {
        let mut latency = Histogram::default();
        latency.buckets[0] = 2; // <= 1 ms
        latency.buckets[3] = 5; // <= 10 ms
        latency.buckets[LATENCY_BOUNDS.len()] = 1; // > 30 s
        latency.count = 8;
        latency.sum_micros = 31_020_500;
        let mut dead = host("a \"quoted\\\" id\nwith a line feed");
        dead.state = "dead";
        vec![
            HostMetrics {
                report: host("msul1"),
                latency,
            },
            HostMetrics {
                report: dead,
                latency: Histogram::default(),
            },
        ]
    }

    #[test]
    fn the_exposition_parses_and_says_what_each_host_did() {
        let text = render(&daemon(), &hosts());
        let parsed = parse_prometheus(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let f = &parsed.families;
        let kind = |name: &str| f[name].family_type.clone();
        assert_eq!(kind("lonc_requests_total"), PrometheusType::Counter);
        assert_eq!(kind("lonc_con_lost_total"), PrometheusType::Counter);
        assert_eq!(
            kind("lonc_reply_latency_seconds"),
            PrometheusType::Histogram
        );
        assert_eq!(kind("lonc_links"), PrometheusType::Gauge);
        for (name, family) in f {
            assert!(!family.help.is_empty(), "{name} has no HELP");
            if family.family_type == PrometheusType::Counter {
                assert!(name.ends_with("_total"), "{name}");
            }
        }
        // The sample of `name` whose labels are `labels` (name, value), and no others.
        let sample = |name: &str, labels: &[(&str, &str)]| {
            f[name]
                .iter_samples()
                .find(|s| {
                    let set = s.get_labelset().expect("a label set");
                    set.iter().count() == labels.len()
                        && labels
                            .iter()
                            .all(|(k, v)| set.get_label_value(k) == Some(*v))
                })
                .unwrap_or_else(|| panic!("{name}{labels:?} in\n{text}"))
        };
        let value = |name: &str, labels: &[&str]| -> f64 {
            let names: &[&str] = match name {
                "lonc_con_lost_total" => &["host", "cause"],
                "lonc_links" => &["host", "state"],
                "lonc_build_info" => &["version"],
                _ if labels.is_empty() => &[],
                _ => &["host"],
            };
            let pairs: Vec<(&str, &str)> =
                names.iter().copied().zip(labels.iter().copied()).collect();
            match &sample(name, &pairs).value {
                PrometheusValue::Counter(c) => c.value.as_f64(),
                PrometheusValue::Gauge(g) => g.as_f64(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(value("lonc_requests_total", &["msul1"]), 12.0);
        assert_eq!(value("lonc_replies_total", &["msul1"]), 9.0);
        assert_eq!(value("lonc_con_lost_total", &["msul1", "timeout"]), 2.0);
        assert_eq!(value("lonc_con_lost_total", &["msul1", "dead"]), 1.0);
        assert_eq!(value("lonc_con_lost_total", &["msul1", "too_long"]), 0.0);
        assert_eq!(value("lonc_replayed_total", &["msul1"]), 4.0);
        assert_eq!(value("lonc_links", &["msul1", "idle"]), 2.0);
        assert_eq!(value("lonc_queue_requests", &["msul1"]), 3.0);
        assert_eq!(value("lonc_queue_bytes", &["msul1"]), 40.0);
        assert_eq!(value("lonc_retries_left", &["msul1"]), 5.0);
        assert_eq!(value("lonc_spooled_files", &["msul1"]), 7.0);
        assert_eq!(value("lonc_host_dead", &["msul1"]), 0.0);
        assert_eq!(value("lonc_build_info", &["0.1.0 (abc1234)"]), 1.0);
        assert_eq!(value("lonc_hosts", &[]), 2.0);
        assert_eq!(value("lonc_clients", &[]), 4.0);
        assert_eq!(value("lonc_uptime_seconds", &[]), 93.0);
        // The odd id comes back whole through the escapes.
        let odd = "a \"quoted\\\" id\nwith a line feed";
        assert_eq!(value("lonc_host_dead", &[odd]), 1.0);
        assert_eq!(value("lonc_con_lost_total", &[odd, "dead"]), 1.0);
        // The histogram: cumulative, up to +Inf, its sum in seconds.
        let PrometheusValue::Histogram(h) =
            &sample("lonc_reply_latency_seconds", &[("host", "msul1")]).value
        else {
            panic!("not a histogram");
        };
        let buckets: Vec<(f64, f64)> = h
            .buckets
            .iter()
            .map(|b| (b.upper_bound, b.count.as_f64()))
            .collect();
        assert_eq!(buckets.len(), LATENCY_BOUNDS.len() + 1);
        assert_eq!(buckets[0], (0.001, 2.0));
        assert_eq!(buckets[2], (0.005, 2.0));
        assert_eq!(buckets[3], (0.01, 7.0));
        assert_eq!(buckets[11], (30.0, 7.0));
        assert_eq!(buckets[12], (f64::INFINITY, 8.0));
        assert_eq!(h.count, Some(8));
        assert_eq!(h.sum.as_ref().map(|s| s.as_f64()), Some(31.0205));
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let text = render(&daemon(), &hosts());
        assert!(
            text.contains(
                "lonc_host_dead{host=\"a \\\"quoted\\\\\\\" id\\nwith a line feed\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "# HELP lonc_requests_total Requests lonnet clients sent for the host.\n\
             # TYPE lonc_requests_total counter\n\
             lonc_requests_total{host=\"msul1\"} 12\n"
        ));
        assert!(text.contains("lonc_reply_latency_seconds_bucket{host=\"msul1\",le=\"+Inf\"} 8\n"));
        assert!(text.contains("lonc_reply_latency_seconds_sum{host=\"msul1\"} 31.0205\n"));
        let mut out = String::new();
        header(&mut out, "x", "gauge", "a\\b\nc");
        assert_eq!(out, "# HELP x a\\\\b\\nc\n# TYPE x gauge\n");
    }

    #[test]
    fn no_hosts_is_still_a_valid_exposition() {
        let text = render(&daemon(), &[]);
        parse_prometheus(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    }

    #[test]
    fn requests_are_routed_by_method_and_path() {
        let r = |bytes: &[u8]| route(bytes);
        assert_eq!(
            r(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Route::Metrics { head: false })
        );
        assert_eq!(
            r(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Some(Route::Metrics { head: false })
        );
        assert_eq!(
            r(b"HEAD /metrics HTTP/1.1\r\n\r\n"),
            Some(Route::Metrics { head: true })
        );
        assert_eq!(r(b"GET / HTTP/1.1\r\n\r\n"), Some(Route::NotFound));
        assert_eq!(
            r(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Some(Route::MethodNotAllowed)
        );
        assert_eq!(r(b"GET /metrics HTTP/1.1\r\nHost"), None);
        assert_eq!(r(b""), None);
        assert_eq!(r(b"\x00\x01garbage\r\n\r\n"), Some(Route::BadRequest));
        assert_eq!(r(b"status\n"), Some(Route::BadRequest));
        let mut long = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        long.resize(MAX_REQUEST, b'a');
        assert_eq!(r(&long), Some(Route::TooLarge));
        let many = format!(
            "GET /metrics HTTP/1.1\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(r(many.as_bytes()), Some(Route::TooLarge));
    }

    #[test]
    fn answers_are_whole_http_responses() {
        let ok = response(Route::Metrics { head: false }, || "a 1\n".into());
        assert_eq!(
            String::from_utf8(ok).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
             Content-Length: 4\r\nConnection: close\r\n\r\na 1\n"
        );
        let head = response(Route::Metrics { head: true }, || "a 1\n".into());
        assert!(
            String::from_utf8(head)
                .unwrap()
                .ends_with("Content-Length: 4\r\nConnection: close\r\n\r\n")
        );
        let not_found = String::from_utf8(response(Route::NotFound, || unreachable!())).unwrap();
        assert!(
            not_found.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{not_found}"
        );
        let body = not_found.split_once("\r\n\r\n").unwrap().1;
        assert!(not_found.contains(&format!("Content-Length: {}\r\n", body.len())));
        let allow = String::from_utf8(response(Route::MethodNotAllowed, String::new)).unwrap();
        assert!(allow.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(allow.contains("\r\nAllow: GET, HEAD\r\n"));
    }
}

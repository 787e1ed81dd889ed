//! The profile A `hosts.tab` parser (protocol.md 7.3).
//!
//! One host per line, `<id>:<domain>:<role>:<dns name>:<ip>`. Lines whose first non-blank
//! character is `#` and blank lines are skipped; every line and every field is trimmed of
//! surrounding whitespace. A bad line never stops the parse: it is left out and reported, with
//! its 1-based line number, in the list of problems.
//!
//! The IP field (everything after the fourth `:`) is taken as follows:
//!
//! 1. if it is a valid IPv4 or IPv6 address, that is the address;
//! 2. otherwise trailing non-digits are stripped, as lond did (`$ip=~s/\D+$//`), and the rest
//!    must be an IPv4 address (so `10.0.0.1\r`, `10.0.0.1 # lab` or `10.0.0.1:` are accepted);
//! 3. otherwise, if there are more than five fields, the fifth field alone is tried the same way
//!    (lond's `split(/:/)` silently dropped extra fields);
//! 4. otherwise the line is reported as a bad address.
//!
//! Host ids name UNIX socket files (`<lonSockDir>/<id>`), so an id must be a safe file name:
//! see [`is_safe_host_id`]. When an id appears twice, the later line wins (it replaces the
//! earlier entry in place) and a problem is reported.

use crate::quote::{Problems, excerpt};
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// One host of the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostEntry {
    /// The LON-CAPA host id (`lonHostID` of that server), e.g. `msul1`.
    pub id: String,
    /// Its LON-CAPA domain, e.g. `msu`.
    pub domain: String,
    /// `library` or `access` (not checked).
    pub role: String,
    /// Its DNS name (not used to connect in profile A).
    pub name: String,
    /// The address its lond listens on.
    pub ip: IpAddr,
}

impl fmt::Display for HostEntry {
    /// The `hosts.tab` line of this entry, without a line feed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}:{}",
            self.id, self.domain, self.role, self.name, self.ip
        )
    }
}

/// Why a line of `hosts.tab` was not (or not simply) taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// Fewer than five `:`-separated fields.
    TooFewFields { found: usize },
    /// The host id is not usable as a socket file name.
    UnsafeId { id: String },
    /// The IP field is not an address.
    BadAddress { text: String },
    /// The id was already defined; this line replaces the earlier one.
    DuplicateId { id: String, first_line: usize },
    /// More problems from this line on, counted but not listed (a file flooded with bad
    /// lines costs a few log lines, not one per line).
    More { count: usize },
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemKind::TooFewFields { found } => write!(
                f,
                "expected 5 fields id:domain:role:name:ip, found {found}; line ignored"
            ),
            ProblemKind::UnsafeId { id } => write!(
                f,
                "host id {id:?} cannot name a socket file (empty, '.', '..', or contains '/', \
                 whitespace or a control character); line ignored"
            ),
            ProblemKind::BadAddress { text } => {
                write!(f, "{text:?} is not an IP address; line ignored")
            }
            ProblemKind::DuplicateId { id, first_line } => write!(
                f,
                "host id {id:?} already defined on line {first_line}; this line replaces it"
            ),
            ProblemKind::More { count } => write!(
                f,
                "{count} more problem(s) from here on, not listed one by one"
            ),
        }
    }
}

/// A problem found on one line of `hosts.tab`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineProblem {
    /// 1-based line number.
    pub line: usize,
    pub kind: ProblemKind,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hosts.tab line {}: {}", self.line, self.kind)
    }
}

/// True when `id` can be used as the file name of a UNIX socket inside the socket directory:
/// not empty, not `.` or `..`, and without `/`, NUL, any other control character or any
/// whitespace.
pub fn is_safe_host_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && !id
            .chars()
            .any(|c| c == '/' || c.is_control() || c.is_whitespace())
}

/// lond's rule: strip trailing non-digits, then the rest must be an IPv4 address.
fn ipv4_stripped(text: &str) -> Option<IpAddr> {
    let stripped = text.trim_end_matches(|c: char| !c.is_ascii_digit());
    stripped.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The address of a line from the text after the fourth `:` (see the module documentation).
fn parse_ip(rest: &str) -> Option<IpAddr> {
    let rest = rest.trim();
    if let Ok(ip) = rest.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(ip) = ipv4_stripped(rest) {
        return Some(ip);
    }
    let fifth = rest.split(':').next().unwrap_or("").trim();
    if fifth.len() != rest.len() {
        return ipv4_stripped(fifth);
    }
    None
}

/// Parses one non-comment, non-blank line.
fn parse_line(line: &str) -> Result<HostEntry, ProblemKind> {
    let mut fields = line.splitn(5, ':');
    let id = fields.next().unwrap_or("").trim();
    let domain = fields.next();
    let role = fields.next();
    let name = fields.next();
    let rest = fields.next();
    let (Some(domain), Some(role), Some(name), Some(rest)) = (domain, role, name, rest) else {
        return Err(ProblemKind::TooFewFields {
            found: line.split(':').count(),
        });
    };
    if !is_safe_host_id(id) {
        return Err(ProblemKind::UnsafeId { id: excerpt(id) });
    }
    let ip = parse_ip(rest).ok_or_else(|| ProblemKind::BadAddress {
        text: excerpt(rest.trim()),
    })?;
    Ok(HostEntry {
        id: id.to_owned(),
        domain: domain.trim().to_owned(),
        role: role.trim().to_owned(),
        name: name.trim().to_owned(),
        ip,
    })
}

/// Parses the text of a `hosts.tab` file: the good entries in file order (a duplicate id keeps
/// the position of its first line and the content of its last) and the problems, in line
/// order: at most [`crate::quote::MAX_LISTED_PROBLEMS`], then one [`ProblemKind::More`] counting the rest;
/// each quotes at most [`crate::quote::MAX_EXCERPT`] bytes of the line. Never panics.
pub fn parse(text: &str) -> (Vec<HostEntry>, Vec<LineProblem>) {
    let mut entries: Vec<HostEntry> = Vec::new();
    let mut problems = Problems::default();
    // id -> (index in entries, line where it was first defined)
    let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(entry) => {
                if let Some(&(at, first_line)) = seen.get(&entry.id) {
                    problems.push(line_no, || LineProblem {
                        line: line_no,
                        kind: ProblemKind::DuplicateId {
                            id: excerpt(&entry.id),
                            first_line,
                        },
                    });
                    entries[at] = entry;
                } else {
                    seen.insert(entry.id.clone(), (entries.len(), line_no));
                    entries.push(entry);
                }
            }
            Err(kind) => problems.push(line_no, || LineProblem {
                line: line_no,
                kind,
            }),
        }
    }
    let problems = problems.finish(|line, count| LineProblem {
        line,
        kind: ProblemKind::More { count },
    });
    (entries, problems)
}

/// Renders entries as a `hosts.tab` text, one line each (the inverse of [`parse`] for entries
/// with safe ids, distinct ids, and fields without `:`, line breaks or surrounding blanks).
pub fn render(entries: &[HostEntry]) -> String {
    let mut out = String::new();
    for entry in entries {
        out.push_str(&entry.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flood of bad lines is a bounded list: the first few, then a count from the first
    /// line left out; a huge value is quoted in part.
    #[test]
    fn a_flood_of_bad_lines_lists_a_few_and_counts_the_rest() {
        use crate::quote::MAX_LISTED_PROBLEMS;
        let mut text = String::from("good:d:r:n:10.0.0.1\n");
        for i in 0..100_000 {
            text.push_str(&format!("bad{i}\n"));
        }
        let (entries, problems) = parse(&text);
        assert_eq!(entries.len(), 1);
        assert_eq!(problems.len(), MAX_LISTED_PROBLEMS + 1);
        assert_eq!(problems[0].line, 2);
        let last = &problems[MAX_LISTED_PROBLEMS];
        assert_eq!(last.line, MAX_LISTED_PROBLEMS + 2);
        assert_eq!(
            last.kind,
            ProblemKind::More {
                count: 100_000 - MAX_LISTED_PROBLEMS
            }
        );
        assert_eq!(
            last.to_string(),
            format!(
                "hosts.tab line {}: 99980 more problem(s) from here on, not listed one by one",
                MAX_LISTED_PROBLEMS + 2
            )
        );

        let huge = format!("h:d:r:n:{}\n", "x".repeat(10 << 20));
        let (_, problems) = parse(&huge);
        let line = problems[0].to_string();
        assert!(line.len() < 400, "{} bytes", line.len());
        assert!(line.contains("... (10485760 bytes)"), "{line}");
        let unsafe_id = format!("{}/:d:r:n:10.0.0.1\n", "y".repeat(10 << 20));
        assert!(parse(&unsafe_id).1[0].to_string().len() < 600);
    }
    use proptest::prelude::*;
    use std::net::Ipv6Addr;

    fn entry(id: &str, ip: &str) -> HostEntry {
        HostEntry {
            id: id.into(),
            domain: "msu".into(),
            role: "library".into(),
            name: format!("{id}.example.edu"),
            ip: ip.parse().unwrap(),
        }
    }

    #[test]
    fn good_lines_comments_and_blanks() {
        let text = "# LON-CAPA hosts\n\
                    msul1:msu:library:zaphod.lite.msu.edu:35.8.63.51\n\
                    \n   \n\
                    \t# indented comment\n  \
                    msua1:msu:access:agrajag.lite.msu.edu:35.8.63.68  \n\
                    v6:msu:access:six.example.edu:2001:db8::1\n";
        let (entries, problems) = parse(text);
        assert_eq!(problems, vec![]);
        assert_eq!(
            entries,
            vec![
                HostEntry {
                    id: "msul1".into(),
                    domain: "msu".into(),
                    role: "library".into(),
                    name: "zaphod.lite.msu.edu".into(),
                    ip: "35.8.63.51".parse().unwrap(),
                },
                HostEntry {
                    id: "msua1".into(),
                    domain: "msu".into(),
                    role: "access".into(),
                    name: "agrajag.lite.msu.edu".into(),
                    ip: "35.8.63.68".parse().unwrap(),
                },
                HostEntry {
                    id: "v6".into(),
                    domain: "msu".into(),
                    role: "access".into(),
                    name: "six.example.edu".into(),
                    ip: IpAddr::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap()),
                },
            ]
        );
    }

    #[test]
    fn fields_are_trimmed_and_crlf_accepted() {
        let (entries, problems) = parse(" a : d : library : n.edu : 10.0.0.1 \r\n");
        assert_eq!(problems, vec![]);
        assert_eq!(
            entries,
            vec![HostEntry {
                id: "a".into(),
                domain: "d".into(),
                role: "library".into(),
                name: "n.edu".into(),
                ip: "10.0.0.1".parse().unwrap(),
            }]
        );
    }

    #[test]
    fn trailing_junk_after_ip_is_stripped_like_lond() {
        for line in [
            "a:d:r:n:10.1.2.3\r",
            "a:d:r:n:10.1.2.3 # lab machine",
            "a:d:r:n:10.1.2.3xyz",
            "a:d:r:n:10.1.2.3:",
            "a:d:r:n:10.1.2.3:extra:fields",
            "a:d:r:n:10.1.2.3:5663",
        ] {
            let (entries, problems) = parse(line);
            assert_eq!(problems, vec![], "{line:?}");
            assert_eq!(entries, vec![HostEntry { ..entry_named("a") }], "{line:?}");
        }
    }

    fn entry_named(id: &str) -> HostEntry {
        HostEntry {
            id: id.into(),
            domain: "d".into(),
            role: "r".into(),
            name: "n".into(),
            ip: "10.1.2.3".parse().unwrap(),
        }
    }

    #[test]
    fn bad_lines_are_reported_with_numbers() {
        let text = "good:d:r:n:10.1.2.3\n\
                    # comment\n\
                    short:d:r:n\n\
                    noip:d:r:n:\n\
                    badip:d:r:n:300.1.2.3\n\
                    word:d:r:n:localhost\n\
                    \n\
                    good2:d:r:n:10.1.2.4\n";
        let (entries, problems) = parse(text);
        assert_eq!(
            entries.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["good", "good2"]
        );
        assert_eq!(
            problems,
            vec![
                LineProblem {
                    line: 3,
                    kind: ProblemKind::TooFewFields { found: 4 }
                },
                LineProblem {
                    line: 4,
                    kind: ProblemKind::BadAddress { text: "".into() }
                },
                LineProblem {
                    line: 5,
                    kind: ProblemKind::BadAddress {
                        text: "300.1.2.3".into()
                    }
                },
                LineProblem {
                    line: 6,
                    kind: ProblemKind::BadAddress {
                        text: "localhost".into()
                    }
                },
            ]
        );
        assert_eq!(
            problems[0].to_string(),
            "hosts.tab line 3: expected 5 fields id:domain:role:name:ip, found 4; line ignored"
        );
        assert_eq!(
            problems[2].to_string(),
            "hosts.tab line 5: \"300.1.2.3\" is not an IP address; line ignored"
        );
    }

    #[test]
    fn duplicate_id_later_wins_in_place() {
        let text = "a:d:r:n:10.0.0.1\nb:d:r:n:10.0.0.2\na:d:r:n:10.0.0.9\n";
        let (entries, problems) = parse(text);
        assert_eq!(
            entries
                .iter()
                .map(|e| (e.id.as_str(), e.ip.to_string()))
                .collect::<Vec<_>>(),
            [("a", "10.0.0.9".to_string()), ("b", "10.0.0.2".to_string())]
        );
        assert_eq!(
            problems,
            vec![LineProblem {
                line: 3,
                kind: ProblemKind::DuplicateId {
                    id: "a".into(),
                    first_line: 1
                }
            }]
        );
        assert_eq!(
            problems[0].to_string(),
            "hosts.tab line 3: host id \"a\" already defined on line 1; this line replaces it"
        );
    }

    #[test]
    fn unsafe_ids_are_rejected() {
        for id in [
            "", ".", "..", "a/b", "../x", "a\0b", "a b", "a\tb", "x\u{7f}",
        ] {
            let (entries, problems) = parse(&format!("{id}:d:r:n:10.0.0.1"));
            assert!(entries.is_empty(), "{id:?}");
            assert_eq!(problems.len(), 1, "{id:?}");
            assert_eq!(problems[0].line, 1);
            assert!(
                matches!(&problems[0].kind, ProblemKind::UnsafeId { .. }),
                "{id:?}: {:?}",
                problems[0]
            );
        }
        assert!(is_safe_host_id("msul1"));
        assert!(is_safe_host_id("...")); // odd, but a plain file name
        assert!(is_safe_host_id("a.b-c_d"));
    }

    #[test]
    fn render_then_parse() {
        let entries = vec![entry("a", "10.0.0.1"), entry("b", "fe80::1")];
        let text = render(&entries);
        assert_eq!(
            text,
            "a:msu:library:a.example.edu:10.0.0.1\nb:msu:library:b.example.edu:fe80::1\n"
        );
        assert_eq!(parse(&text), (entries, vec![]));
    }

    fn field() -> impl Strategy<Value = String> {
        // No ':', no line breaks, no surrounding blanks; may be empty.
        "([A-Za-z0-9._-]([A-Za-z0-9 ._-]*[A-Za-z0-9._-])?)?"
    }

    fn safe_id() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_-][A-Za-z0-9._-]{0,15}".prop_filter("safe", |s| is_safe_host_id(s))
    }

    fn ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u8; 16]>().prop_map(IpAddr::from),
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let (entries, problems) = parse(&text);
            for e in &entries {
                prop_assert!(is_safe_host_id(&e.id));
            }
            for p in &problems {
                prop_assert!(p.line >= 1);
                let _ = p.to_string();
            }
        }

        #[test]
        fn parse_never_panics_on_line_shaped_text(
            lines in proptest::collection::vec("[a-z./ \t#:0-9]{0,30}", 0..10)
        ) {
            let _ = parse(&lines.join("\n"));
        }

        #[test]
        fn rendered_entries_parse_back(
            raw in proptest::collection::btree_map(
                safe_id(),
                (field(), field(), field(), ip()),
                0..8,
            )
        ) {
            let entries: Vec<HostEntry> = raw
                .into_iter()
                .map(|(id, (domain, role, name, ip))| HostEntry { id, domain, role, name, ip })
                .collect();
            let (parsed, problems) = parse(&render(&entries));
            prop_assert_eq!(problems, vec![]);
            prop_assert_eq!(parsed, entries);
        }
    }
}

//! `config`: the text of `loncapa.conf`, `hosts.tab` and delayed-file names, whatever a file
//! holds. The input is taken as text (invalid UTF-8 replaced, as a lossy read would) and goes
//! through every parser:
//! * `conf::PerlVars::parse`: never panics; problems carry line numbers within the text, are
//!   at most 21 (20 listed and a count) and quote a bounded excerpt; parsing two files and
//!   merging them equals `merge_text` of the second onto the first (the input is cut at its
//!   first form feed, or in the middle); `Settings::resolve` never panics and only accepts a
//!   safe host id and a non-zero port, with or without flag overrides;
//! * `hosts_tab::parse`: never panics; ids are safe and distinct; problems bounded as above;
//!   rendering the entries and parsing that again gives the same entries with no problem;
//! * `spool::DelayedName::parse` on every line: never panics; a parsed name prints to a name
//!   that parses to the same value, and prints back to the line itself when its numbers have
//!   no leading zeros; the name of any line as a request (`for_request`) parses back.

use lonc_core::quote::{MAX_EXCERPT, MAX_LISTED_PROBLEMS};
use std::path::PathBuf;

use lonc_core::conf::{Overrides, PerlVars, Settings};
use lonc_core::hosts_tab::{self, is_safe_host_id};
use lonc_core::spool::{DelayedName, MIDDLE_LEN, middle_name};

pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    conf(&text);
    hosts(&text);
    for line in text.lines() {
        delayed(line);
    }
    delayed(&text);
}

fn conf(text: &str) {
    let lines = text.lines().count();
    let (vars, problems) = PerlVars::parse(text);
    assert!(problems.len() <= MAX_LISTED_PROBLEMS + 1, "a bounded list");
    for p in &problems {
        assert!(p.line >= 1 && p.line <= lines, "problem on line {}", p.line);
        assert!(
            p.to_string().len() < 2 * MAX_EXCERPT + 200,
            "a bounded quote"
        );
    }
    // Two files: cut at the first form feed, or at a char boundary near the middle.
    let cut = text.find('\u{c}').unwrap_or_else(|| {
        let mut mid = text.len() / 2;
        while !text.is_char_boundary(mid) {
            mid -= 1;
        }
        mid
    });
    let (first, second) = text.split_at(cut);
    let (mut merged, _) = PerlVars::parse(first);
    let (later, _) = PerlVars::parse(second);
    let mut by_text = merged.clone();
    let _ = by_text.merge_text(second);
    merged.merge(&later);
    assert_eq!(merged, by_text, "merge and merge_text agree");

    for overrides in [
        Overrides::default(),
        Overrides {
            host_id: Some("msul1".into()),
            sock_dir: Some(PathBuf::from("/home/httpd/sockets")),
            lond_port: Some(5663),
            ..Overrides::default()
        },
        Overrides {
            lond_port: Some(0),
            hosts_file: Some(PathBuf::new()),
            ..Overrides::default()
        },
    ] {
        for v in [&vars, &merged] {
            match Settings::resolve(v, &overrides) {
                Ok(s) => {
                    assert!(
                        is_safe_host_id(&s.host_id),
                        "unsafe host id {:?}",
                        s.host_id
                    );
                    assert_ne!(s.lond_port, 0);
                    for p in [&s.sock_dir, &s.daemons_dir, &s.doc_root, &s.hosts_file] {
                        assert!(!p.as_os_str().is_empty());
                    }
                    let _ = (s.log_file(), s.status_file(), s.socket_path(&s.host_id));
                }
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
    }
}

fn hosts(text: &str) {
    let (entries, problems) = hosts_tab::parse(text);
    let mut ids = std::collections::BTreeSet::new();
    for e in &entries {
        assert!(is_safe_host_id(&e.id), "unsafe id {:?}", e.id);
        assert!(ids.insert(e.id.clone()), "id {:?} twice", e.id);
    }
    let lines = text.lines().count();
    assert!(problems.len() <= MAX_LISTED_PROBLEMS + 1, "a bounded list");
    for p in &problems {
        assert!(p.line >= 1 && p.line <= lines);
        assert!(
            p.to_string().len() < 2 * MAX_EXCERPT + 200,
            "a bounded quote"
        );
    }
    let rendered = hosts_tab::render(&entries);
    let (again, problems_again) = hosts_tab::parse(&rendered);
    assert_eq!(
        problems_again,
        vec![],
        "rendered entries parse cleanly:\n{rendered}"
    );
    assert_eq!(again, entries, "render then parse gives the entries back");
}

fn delayed(line: &str) {
    if let Ok(name) = DelayedName::parse(line) {
        let printed = name.to_string();
        assert_eq!(
            DelayedName::parse(&printed).as_ref(),
            Ok(&name),
            "{printed:?} parses back"
        );
        let canonical_numbers = line
            .split('.')
            .take(3)
            .all(|n| n == "0" || !n.starts_with('0'));
        if canonical_numbers {
            assert_eq!(printed, line, "prints back as it was");
        }
        assert!(name.middle.len() <= MIDDLE_LEN);
        assert_eq!(name.cmp(&name), std::cmp::Ordering::Equal);
    }
    // Any line as lonnet's command: its spool name for a plain host parses back.
    let made = DelayedName::for_request(1_060_000_000, 3, 4242, line.as_bytes(), "msul1");
    assert_eq!(made.middle, middle_name(line.as_bytes()));
    assert_eq!(DelayedName::parse(&made.to_string()), Ok(made));
}

//! `loncapa.conf` parsing and the daemon's resolved [`Settings`] (protocol.md 7).
//!
//! Only `PerlSetVar NAME VALUE` lines matter; every other Apache directive, comment (`#`) and
//! blank line is ignored. The directive keyword is case-insensitive, leading whitespace is
//! allowed, and the name and the value may each be quoted with `"..."` or `'...'` (quotes are
//! removed; an unquoted value is its first whitespace-delimited word, as
//! `LONCAPA::Configuration::read_conf` split the line). Several files merge into one
//! [`PerlVars`], a later definition replacing an earlier one. Malformed `PerlSetVar` lines are
//! reported as [`ConfProblem`]s and skipped; nothing in a file can make the parser panic.
//!
//! [`Settings::resolve`] then combines the variables with command-line [`Overrides`]:
//! override > later file > earlier file > default.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::hosts_tab::is_safe_host_id;
use crate::quote::{Problems, excerpt};

/// The default TCP port of lond.
pub const DEFAULT_LOND_PORT: u16 = 5663;

/// Why a `PerlSetVar` line was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfProblemKind {
    /// `PerlSetVar` with no variable name.
    MissingName,
    /// `PerlSetVar NAME` with no value.
    MissingValue { name: String },
    /// A quoted name or value without its closing quote.
    UnterminatedQuote,
    /// More skipped lines from this one on, counted but not listed.
    More { count: usize },
}

/// A skipped `PerlSetVar` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfProblem {
    /// 1-based line number in its file.
    pub line: usize,
    pub kind: ConfProblemKind,
}

impl fmt::Display for ConfProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.kind {
            ConfProblemKind::MissingName => f.write_str("PerlSetVar without a variable name"),
            ConfProblemKind::MissingValue { name } => {
                write!(f, "PerlSetVar {name} without a value")
            }
            ConfProblemKind::UnterminatedQuote => {
                f.write_str("PerlSetVar with an unterminated quote")
            }
            ConfProblemKind::More { count } => {
                return write!(
                    f,
                    "{count} more PerlSetVar line(s) ignored from here on, not listed one by one"
                );
            }
        }?;
        f.write_str("; line ignored")
    }
}

/// The `PerlSetVar` variables of one or more configuration files. Names are case-sensitive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PerlVars {
    vars: BTreeMap<String, String>,
}

/// One word of a directive line: bare up to whitespace, or quoted up to the matching quote.
/// Returns the word and the rest of the line, or `Err` for an unterminated quote.
fn next_word(s: &str) -> Result<Option<(&str, &str)>, ConfProblemKind> {
    let s = s.trim_start();
    let Some(first) = s.chars().next() else {
        return Ok(None);
    };
    if first == '"' || first == '\'' {
        let body = &s[1..];
        match body.find(first) {
            Some(end) => Ok(Some((&body[..end], &body[end + 1..]))),
            None => Err(ConfProblemKind::UnterminatedQuote),
        }
    } else {
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        Ok(Some((&s[..end], &s[end..])))
    }
}

/// `None` for a line that is not a `PerlSetVar` directive.
fn parse_line(line: &str) -> Option<Result<(String, String), ConfProblemKind>> {
    let line = line.trim_start_matches('\u{feff}').trim();
    if line.starts_with('#') {
        return None;
    }
    let end = line.find(char::is_whitespace).unwrap_or(line.len());
    if !line[..end].eq_ignore_ascii_case("PerlSetVar") {
        return None;
    }
    let rest = &line[end..];
    let result = (|| {
        let (name, rest) = next_word(rest)?.ok_or(ConfProblemKind::MissingName)?;
        if name.is_empty() {
            return Err(ConfProblemKind::MissingName);
        }
        let (value, _ignored) = next_word(rest)?.ok_or_else(|| ConfProblemKind::MissingValue {
            name: excerpt(name),
        })?;
        Ok((name.to_owned(), value.to_owned()))
    })();
    Some(result)
}

impl PerlVars {
    /// No variables.
    pub fn new() -> Self {
        PerlVars::default()
    }

    /// The variables of one file's text, and the lines that were skipped.
    pub fn parse(text: &str) -> (PerlVars, Vec<ConfProblem>) {
        let mut vars = PerlVars::new();
        let problems = vars.merge_text(text);
        (vars, problems)
    }

    /// Adds the variables of a later file: its definitions replace earlier ones. Returns the
    /// lines that were skipped: at most [`crate::quote::MAX_LISTED_PROBLEMS`], then one
    /// [`ConfProblemKind::More`] counting the rest.
    pub fn merge_text(&mut self, text: &str) -> Vec<ConfProblem> {
        let mut problems = Problems::default();
        for (index, line) in text.lines().enumerate() {
            match parse_line(line) {
                None => {}
                Some(Ok((name, value))) => {
                    self.vars.insert(name, value);
                }
                Some(Err(kind)) => problems.push(index + 1, || ConfProblem {
                    line: index + 1,
                    kind,
                }),
            }
        }
        problems.finish(|line, count| ConfProblem {
            line,
            kind: ConfProblemKind::More { count },
        })
    }

    /// Adds the variables of `later`, which replace ours.
    pub fn merge(&mut self, later: &PerlVars) {
        for (name, value) in &later.vars {
            self.vars.insert(name.clone(), value.clone());
        }
    }

    /// The value of a variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Sets a variable (as a later `PerlSetVar` line would).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    /// All variables, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of variables.
    pub fn len(&self) -> usize {
        self.vars.len()
    }

    /// True when no variable is set.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }
}

/// Values given on the command line; each replaces the configuration file's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--host-id` (lonHostID).
    pub host_id: Option<String>,
    /// `--sock-dir` (lonSockDir).
    pub sock_dir: Option<PathBuf>,
    /// `--daemons-dir` (lonDaemons).
    pub daemons_dir: Option<PathBuf>,
    /// `--doc-root` (lonDocRoot).
    pub doc_root: Option<PathBuf>,
    /// `--hosts` (instead of `<lonTabDir>/hosts.tab`).
    pub hosts_file: Option<PathBuf>,
    /// `--lond-port` (londPort).
    pub lond_port: Option<u16>,
}

/// Where a bad value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueSource {
    /// A command-line flag.
    Flag,
    /// A `PerlSetVar` line.
    ConfFile,
}

/// A setting the daemon cannot run without is missing or unusable. `Display` is one line that
/// names the variable and the flag that would supply it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsError {
    /// A required variable is neither in the files nor on the command line (an empty value
    /// counts as not set).
    Missing {
        /// The `PerlSetVar` name, e.g. `lonHostID`.
        var: &'static str,
        /// The flag, e.g. `--host-id`.
        flag: &'static str,
    },
    /// londPort / `--lond-port` is not a port number from 1 to 65535.
    BadPort { value: String, source: ValueSource },
    /// lonHostID / `--host-id` contains `/`, whitespace or a control character, or is `.`/`..`.
    BadHostId { value: String, source: ValueSource },
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::Missing { var, flag } => {
                write!(
                    f,
                    "{var} is not set: give {flag} or a PerlSetVar {var} line"
                )
            }
            SettingsError::BadPort {
                value,
                source: ValueSource::ConfFile,
            } => write!(
                f,
                "londPort {value:?} is not a TCP port (1-65535): fix the PerlSetVar londPort \
                 line or give --lond-port"
            ),
            SettingsError::BadPort {
                value,
                source: ValueSource::Flag,
            } => write!(f, "--lond-port {value} is not a TCP port (1-65535)"),
            SettingsError::BadHostId {
                value,
                source: ValueSource::ConfFile,
            } => write!(
                f,
                "lonHostID {value:?} is not a usable host id (no '/', whitespace or control \
                 characters): fix the PerlSetVar lonHostID line or give --host-id"
            ),
            SettingsError::BadHostId {
                value,
                source: ValueSource::Flag,
            } => write!(
                f,
                "--host-id {value:?} is not a usable host id (no '/', whitespace or control \
                 characters)"
            ),
        }
    }
}

impl std::error::Error for SettingsError {}

/// What the daemon needs from the configuration, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// This server's LON-CAPA id (lonHostID); never served as a remote host.
    pub host_id: String,
    /// Directory of the per-host UNIX sockets and of `delayed/` (lonSockDir).
    pub sock_dir: PathBuf,
    /// Daemon directory; logs and pid file in `logs/` (lonDaemons).
    pub daemons_dir: PathBuf,
    /// Web root; the status file is in `lon-status/` (lonDocRoot).
    pub doc_root: PathBuf,
    /// The hosts table (`<lonTabDir>/hosts.tab` unless overridden).
    pub hosts_file: PathBuf,
    /// lond's TCP port (londPort, default 5663).
    pub lond_port: u16,
}

/// A variable's value, `None` when unset or empty.
fn var<'a>(vars: &'a PerlVars, name: &str) -> Option<&'a str> {
    vars.get(name).map(str::trim).filter(|v| !v.is_empty())
}

fn path_setting(
    flag_value: &Option<PathBuf>,
    vars: &PerlVars,
    var_name: &'static str,
    flag: &'static str,
) -> Result<PathBuf, SettingsError> {
    if let Some(p) = flag_value.as_ref().filter(|p| !p.as_os_str().is_empty()) {
        return Ok(p.clone());
    }
    var(vars, var_name)
        .map(PathBuf::from)
        .ok_or(SettingsError::Missing {
            var: var_name,
            flag,
        })
}

impl Settings {
    /// Resolves the settings: a flag wins over the files, a later file over an earlier one
    /// (already merged in `vars`), and londPort defaults to 5663. Checks in this order and
    /// reports the first failure: lonHostID, lonSockDir, lonDaemons, lonDocRoot, lonTabDir
    /// (unless `--hosts`), londPort.
    pub fn resolve(vars: &PerlVars, overrides: &Overrides) -> Result<Settings, SettingsError> {
        let (host_id, source) = match overrides.host_id.as_deref().filter(|s| !s.is_empty()) {
            Some(id) => (id.to_owned(), ValueSource::Flag),
            None => match var(vars, "lonHostID") {
                Some(id) => (id.to_owned(), ValueSource::ConfFile),
                None => {
                    return Err(SettingsError::Missing {
                        var: "lonHostID",
                        flag: "--host-id",
                    });
                }
            },
        };
        if !is_safe_host_id(&host_id) {
            return Err(SettingsError::BadHostId {
                value: host_id,
                source,
            });
        }
        let sock_dir = path_setting(&overrides.sock_dir, vars, "lonSockDir", "--sock-dir")?;
        let daemons_dir =
            path_setting(&overrides.daemons_dir, vars, "lonDaemons", "--daemons-dir")?;
        let doc_root = path_setting(&overrides.doc_root, vars, "lonDocRoot", "--doc-root")?;
        let hosts_file = match overrides
            .hosts_file
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty())
        {
            Some(p) => p.clone(),
            None => var(vars, "lonTabDir")
                .map(|dir| Path::new(dir).join("hosts.tab"))
                .ok_or(SettingsError::Missing {
                    var: "lonTabDir",
                    flag: "--hosts",
                })?,
        };
        let lond_port = match overrides.lond_port {
            Some(0) => {
                return Err(SettingsError::BadPort {
                    value: "0".into(),
                    source: ValueSource::Flag,
                });
            }
            Some(port) => port,
            None => match var(vars, "londPort") {
                None => DEFAULT_LOND_PORT,
                Some(text) => match text.parse::<u16>() {
                    Ok(port) if port != 0 => port,
                    _ => {
                        return Err(SettingsError::BadPort {
                            value: text.to_owned(),
                            source: ValueSource::ConfFile,
                        });
                    }
                },
            },
        };
        Ok(Settings {
            host_id,
            sock_dir,
            daemons_dir,
            doc_root,
            hosts_file,
            lond_port,
        })
    }

    /// `<lonDaemons>/logs/lonc.log`.
    pub fn log_file(&self) -> PathBuf {
        self.daemons_dir.join("logs").join("lonc.log")
    }

    /// `<lonDaemons>/logs/lonnet.perm.log`.
    pub fn perm_log_file(&self) -> PathBuf {
        self.daemons_dir.join("logs").join("lonnet.perm.log")
    }

    /// `<lonDaemons>/logs/lonc.pid`.
    pub fn pid_file(&self) -> PathBuf {
        self.daemons_dir.join("logs").join("lonc.pid")
    }

    /// `<lonDaemons>/logs/lonc.ctl`: the control socket, beside the pid file.
    pub fn control_socket(&self) -> PathBuf {
        self.daemons_dir.join("logs").join("lonc.ctl")
    }

    /// `<lonDocRoot>/lon-status/loncstatus.txt`.
    pub fn status_file(&self) -> PathBuf {
        self.doc_root.join("lon-status").join("loncstatus.txt")
    }

    /// `<lonSockDir>/delayed`, the spool of delayed (critical) requests.
    pub fn delayed_dir(&self) -> PathBuf {
        self.sock_dir.join("delayed")
    }

    /// `<lonSockDir>/<host>`, the UNIX socket of a remote host. `host` must be a safe id
    /// ([`is_safe_host_id`]), as every id from [`crate::hosts_tab::parse`] is.
    pub fn socket_path(&self, host: &str) -> PathBuf {
        self.sock_dir.join(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_bad_perlsetvar_lines_lists_a_few_and_counts_the_rest() {
        use crate::quote::MAX_LISTED_PROBLEMS;
        let mut text = String::new();
        for _ in 0..50_000 {
            text.push_str("PerlSetVar\n");
        }
        text.push_str(&format!("PerlSetVar {}\n", "n".repeat(10 << 20)));
        let mut vars = PerlVars::new();
        let problems = vars.merge_text(&text);
        assert_eq!(problems.len(), MAX_LISTED_PROBLEMS + 1);
        assert_eq!(
            problems[MAX_LISTED_PROBLEMS].to_string(),
            format!(
                "line {}: 49981 more PerlSetVar line(s) ignored from here on, not listed one by \
                 one",
                MAX_LISTED_PROBLEMS + 1
            )
        );
        // The long name alone, first in its file: quoted in part.
        let problems =
            PerlVars::new().merge_text(&format!("PerlSetVar {}\n", "n".repeat(10 << 20)));
        let line = problems[0].to_string();
        assert!(line.len() < 400, "{} bytes", line.len());
    }
    use proptest::prelude::*;

    const FULL: &str = "\
# loncapa.conf
<IfModule mod_perl.c>
PerlSetVar     lonHostID      msul1
PerlSetVar     lonSockDir     /home/httpd/sockets
PerlSetVar     lonDaemons     /home/httpd/perl
PerlSetVar     lonDocRoot     /home/httpd/html
PerlSetVar     lonTabDir      /home/httpd/lonTabs
</IfModule>
";

    fn vars(texts: &[&str]) -> PerlVars {
        let mut v = PerlVars::new();
        for t in texts {
            assert_eq!(v.merge_text(t), vec![]);
        }
        v
    }

    #[test]
    fn parses_perlsetvar_lines_and_ignores_the_rest() {
        let text = "\
# PerlSetVar commented out
   # PerlSetVar lonHostID commented
ServerName www.example.edu
  PerlSetVar lonHostID msul1
\tperlsetvar lonSockDir /s
PERLSETVAR lonDaemons \"/home/httpd/perl\"
PerlSetVar lonDocRoot '/home/httpd/html'
PerlSetVar 'quoted name' 'a value with spaces'
PerlSetVar lonTabDir /tabs trailing words ignored
PerlSetVarX notme x
PerlAddVar lonHostID other
PerlSetVar empty \"\"
PerlSetVar lonAdmEMail a@b.c\r
";
        let (v, problems) = PerlVars::parse(text);
        assert_eq!(problems, vec![]);
        let all: Vec<_> = v.iter().collect();
        assert_eq!(
            all,
            vec![
                ("empty", ""),
                ("lonAdmEMail", "a@b.c"),
                ("lonDaemons", "/home/httpd/perl"),
                ("lonDocRoot", "/home/httpd/html"),
                ("lonHostID", "msul1"),
                ("lonSockDir", "/s"),
                ("lonTabDir", "/tabs"),
                ("quoted name", "a value with spaces"),
            ]
        );
        assert_eq!(v.len(), 8);
        assert!(!v.is_empty());
        assert!(PerlVars::new().is_empty());
        assert!(PerlVars::parse("# nothing\nServerName x\n").0.is_empty());
        // Names are case-sensitive.
        assert_eq!(v.get("lonhostid"), None);
    }

    #[test]
    fn bad_perlsetvar_lines_are_reported() {
        let text = "PerlSetVar\nPerlSetVar onlyname\nPerlSetVar x \"open\nPerlSetVar '' v\nPerlSetVar ok yes\n";
        let (v, problems) = PerlVars::parse(text);
        assert_eq!(
            problems,
            vec![
                ConfProblem {
                    line: 1,
                    kind: ConfProblemKind::MissingName
                },
                ConfProblem {
                    line: 2,
                    kind: ConfProblemKind::MissingValue {
                        name: "onlyname".into()
                    }
                },
                ConfProblem {
                    line: 3,
                    kind: ConfProblemKind::UnterminatedQuote
                },
                ConfProblem {
                    line: 4,
                    kind: ConfProblemKind::MissingName
                },
            ]
        );
        assert_eq!(v.iter().collect::<Vec<_>>(), vec![("ok", "yes")]);
        assert_eq!(
            problems[1].to_string(),
            "line 2: PerlSetVar onlyname without a value; line ignored"
        );
        assert_eq!(
            problems[2].to_string(),
            "line 3: PerlSetVar with an unterminated quote; line ignored"
        );
    }

    #[test]
    fn later_definitions_win_within_and_across_files() {
        let v = vars(&[
            "PerlSetVar a 1\nPerlSetVar a 2\nPerlSetVar b x",
            "PerlSetVar a 3",
        ]);
        assert_eq!(v.get("a"), Some("3"));
        assert_eq!(v.get("b"), Some("x"));

        let mut first = PerlVars::parse("PerlSetVar a 1\nPerlSetVar c 1").0;
        first.merge(&PerlVars::parse("PerlSetVar a 2").0);
        assert_eq!(first.get("a"), Some("2"));
        assert_eq!(first.get("c"), Some("1"));
        first.set("c", "9");
        assert_eq!(first.get("c"), Some("9"));
    }

    #[test]
    fn resolves_full_configuration_with_default_port() {
        let s = Settings::resolve(&vars(&[FULL]), &Overrides::default()).unwrap();
        assert_eq!(
            s,
            Settings {
                host_id: "msul1".into(),
                sock_dir: "/home/httpd/sockets".into(),
                daemons_dir: "/home/httpd/perl".into(),
                doc_root: "/home/httpd/html".into(),
                hosts_file: "/home/httpd/lonTabs/hosts.tab".into(),
                lond_port: 5663,
            }
        );
        assert_eq!(
            s.log_file(),
            PathBuf::from("/home/httpd/perl/logs/lonc.log")
        );
        assert_eq!(
            s.perm_log_file(),
            PathBuf::from("/home/httpd/perl/logs/lonnet.perm.log")
        );
        assert_eq!(
            s.pid_file(),
            PathBuf::from("/home/httpd/perl/logs/lonc.pid")
        );
        assert_eq!(
            s.status_file(),
            PathBuf::from("/home/httpd/html/lon-status/loncstatus.txt")
        );
        assert_eq!(
            s.delayed_dir(),
            PathBuf::from("/home/httpd/sockets/delayed")
        );
        assert_eq!(
            s.socket_path("msul3"),
            PathBuf::from("/home/httpd/sockets/msul3")
        );
    }

    #[test]
    fn precedence_override_then_later_file_then_earlier_file_then_default() {
        let earlier = format!("{FULL}PerlSetVar londPort 1111\n");
        let later = "PerlSetVar lonHostID msul2\nPerlSetVar londPort 2222\n";
        // Default.
        let s = Settings::resolve(&vars(&[FULL]), &Overrides::default()).unwrap();
        assert_eq!(s.lond_port, 5663);
        // Earlier file over default.
        let s = Settings::resolve(&vars(&[&earlier]), &Overrides::default()).unwrap();
        assert_eq!(s.lond_port, 1111);
        assert_eq!(s.host_id, "msul1");
        // Later file over earlier file.
        let s = Settings::resolve(&vars(&[&earlier, later]), &Overrides::default()).unwrap();
        assert_eq!(s.lond_port, 2222);
        assert_eq!(s.host_id, "msul2");
        assert_eq!(s.sock_dir, PathBuf::from("/home/httpd/sockets"));
        // Overrides over everything.
        let o = Overrides {
            host_id: Some("cmdline".into()),
            sock_dir: Some("/o/sock".into()),
            daemons_dir: Some("/o/perl".into()),
            doc_root: Some("/o/html".into()),
            hosts_file: Some("/o/hosts.tab".into()),
            lond_port: Some(3333),
        };
        let s = Settings::resolve(&vars(&[&earlier, later]), &o).unwrap();
        assert_eq!(
            s,
            Settings {
                host_id: "cmdline".into(),
                sock_dir: "/o/sock".into(),
                daemons_dir: "/o/perl".into(),
                doc_root: "/o/html".into(),
                hosts_file: "/o/hosts.tab".into(),
                lond_port: 3333,
            }
        );
        // Overrides alone are enough.
        assert_eq!(Settings::resolve(&PerlVars::new(), &o).unwrap(), s);
    }

    #[test]
    fn each_missing_value_is_a_clear_error() {
        let cases = [
            (
                "lonHostID",
                "lonHostID is not set: give --host-id or a PerlSetVar lonHostID line",
            ),
            (
                "lonSockDir",
                "lonSockDir is not set: give --sock-dir or a PerlSetVar lonSockDir line",
            ),
            (
                "lonDaemons",
                "lonDaemons is not set: give --daemons-dir or a PerlSetVar lonDaemons line",
            ),
            (
                "lonDocRoot",
                "lonDocRoot is not set: give --doc-root or a PerlSetVar lonDocRoot line",
            ),
            (
                "lonTabDir",
                "lonTabDir is not set: give --hosts or a PerlSetVar lonTabDir line",
            ),
        ];
        for (missing, message) in cases {
            let text: String = FULL
                .lines()
                .filter(|l| !l.contains(missing))
                .map(|l| format!("{l}\n"))
                .collect();
            let err = Settings::resolve(&vars(&[&text]), &Overrides::default()).unwrap_err();
            assert!(
                matches!(err, SettingsError::Missing { var, .. } if var == missing),
                "{err:?}"
            );
            assert_eq!(err.to_string(), message);
            // An empty value counts as not set.
            let text = format!("{FULL}PerlSetVar {missing} \"\"\n");
            let err = Settings::resolve(&vars(&[&text]), &Overrides::default()).unwrap_err();
            assert_eq!(err.to_string(), message);
        }
        // lonTabDir is not needed when --hosts is given.
        let text: String = FULL
            .lines()
            .filter(|l| !l.contains("lonTabDir"))
            .map(|l| format!("{l}\n"))
            .collect();
        let o = Overrides {
            hosts_file: Some("/h.tab".into()),
            ..Overrides::default()
        };
        assert_eq!(
            Settings::resolve(&vars(&[&text]), &o).unwrap().hosts_file,
            PathBuf::from("/h.tab")
        );
    }

    #[test]
    fn bad_ports_are_errors() {
        for bad in ["0", "65536", "-1", "56x", "0x15"] {
            let text = format!("{FULL}PerlSetVar londPort {bad}\n");
            let err = Settings::resolve(&vars(&[&text]), &Overrides::default()).unwrap_err();
            assert_eq!(
                err,
                SettingsError::BadPort {
                    value: bad.into(),
                    source: ValueSource::ConfFile
                }
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "londPort {bad:?} is not a TCP port (1-65535): fix the PerlSetVar \
                     londPort line or give --lond-port"
                )
            );
        }
        let o = Overrides {
            lond_port: Some(0),
            ..Overrides::default()
        };
        let err = Settings::resolve(&vars(&[FULL]), &o).unwrap_err();
        assert_eq!(err.to_string(), "--lond-port 0 is not a TCP port (1-65535)");
        // A good flag hides a bad file value.
        let text = format!("{FULL}PerlSetVar londPort nonsense\n");
        let o = Overrides {
            lond_port: Some(7000),
            ..Overrides::default()
        };
        assert_eq!(
            Settings::resolve(&vars(&[&text]), &o).unwrap().lond_port,
            7000
        );
    }

    #[test]
    fn unsafe_host_ids_are_errors() {
        let text = format!("{FULL}PerlSetVar lonHostID ../x\n");
        let err = Settings::resolve(&vars(&[&text]), &Overrides::default()).unwrap_err();
        assert!(matches!(
            err,
            SettingsError::BadHostId {
                source: ValueSource::ConfFile,
                ..
            }
        ));
        let o = Overrides {
            host_id: Some("a/b".into()),
            ..Overrides::default()
        };
        let err = Settings::resolve(&vars(&[FULL]), &o).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--host-id \"a/b\" is not a usable host id (no '/', whitespace or control characters)"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let (v, problems) = PerlVars::parse(&text);
            for p in &problems {
                let _ = p.to_string();
            }
            let _ = Settings::resolve(&v, &Overrides::default()).map_err(|e| e.to_string());
        }

        #[test]
        fn parse_never_panics_on_directive_shaped_text(
            lines in proptest::collection::vec(
                "[ \t]{0,2}(PerlSetVar|perlsetvar|#)?[ \t]{0,2}[\"'a-z]{0,5}[ \t]{0,2}[\"'a-z0-9/]{0,6}",
                0..10,
            )
        ) {
            let (v, _) = PerlVars::parse(&lines.join("\n"));
            let _ = Settings::resolve(&v, &Overrides::default());
        }

        #[test]
        fn written_variables_read_back(
            // Names from "[ab]" too, so that some are written twice.
            pairs in proptest::collection::vec(
                (prop_oneof!["[ab]", "[A-Za-z][A-Za-z0-9_]{0,10}"], "[^\"\\n\\r]{0,20}"),
                0..10,
            )
        ) {
            let text: String = pairs
                .iter()
                .map(|(k, v)| format!("PerlSetVar {k} \"{v}\"\n"))
                .collect();
            let (parsed, problems) = PerlVars::parse(&text);
            prop_assert_eq!(problems, vec![]);
            // What was written, a later line replacing an earlier one of the same name.
            let mut expected: BTreeMap<&str, &str> = BTreeMap::new();
            for (k, v) in &pairs {
                expected.insert(k, v);
            }
            let read: Vec<(&str, &str)> = parsed.iter().collect();
            prop_assert_eq!(read, expected.clone().into_iter().collect::<Vec<_>>());
            prop_assert_eq!(parsed.len(), expected.len());
            for (k, v) in expected {
                prop_assert_eq!(parsed.get(k), Some(v));
            }
        }
    }
}

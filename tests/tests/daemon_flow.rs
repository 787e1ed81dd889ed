//! The daemon's pure pieces composed the way a runtime composes them: configuration text to
//! settings, hosts.tab text to a host table, signals to actions, actions to file contents.
//! Files and the clock are simulated; nothing sleeps.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lonc_core::conf::{Overrides, PerlVars, Settings};
use lonc_core::daemon::{Action, Daemon, DaemonConfig, PARENT_LOG_HOST, Signal};
use lonc_core::hosts_tab;
use lonc_core::logfmt::{
    HostStatus, LocalTime, log_event_line, process_title, status_file, status_string,
};

const CONF: &str = "\
<IfModule mod_perl.c>
PerlSetVar lonHostID  msul1
PerlSetVar lonSockDir /home/httpd/sockets
PerlSetVar lonDaemons /home/httpd/perl
PerlSetVar lonDocRoot /home/httpd/html
PerlSetVar lonTabDir  /home/httpd/lonTabs
</IfModule>
";

const HOSTS: &str = "\
msul1:msu:library:zaphod.lite.msu.edu:35.8.63.51
msul2:msu:library:marvin.lite.msu.edu:35.8.63.52
msua1:msu:access:agrajag.lite.msu.edu:35.8.63.68
";

/// A toy runtime: carries out actions on an in-memory file system and host set.
struct Runtime {
    pid: u32,
    files: BTreeMap<PathBuf, String>,
    hosts: BTreeMap<String, String>,
    title: String,
    state: String,
    exit: Option<i32>,
    settings: Settings,
    /// What the configuration files say when a reload happens.
    hosts_text: String,
}

impl Runtime {
    fn time(&self) -> LocalTime {
        LocalTime::from_unix(1_118_259_062, 0)
    }

    fn append(&mut self, path: PathBuf, text: &str) {
        self.files.entry(path).or_default().push_str(text);
    }

    fn drain(&mut self, d: &mut Daemon) {
        while let Some(action) = d.poll_action() {
            match action {
                Action::Log(ev) => {
                    let status = status_string(&self.time(), &self.state);
                    let line =
                        log_event_line(&self.time(), self.pid, PARENT_LOG_HOST, &status, &ev);
                    self.append(self.settings.log_file(), &line);
                }
                Action::SetState(state) => {
                    self.title = process_title(&state, &self.time());
                    self.state = state;
                }
                Action::StartHost(spec) => {
                    self.files
                        .insert(spec.socket_path.clone(), "<socket>".into());
                    self.hosts
                        .insert(spec.id().to_owned(), spec.addr.to_string());
                }
                Action::StopHost(spec) => {
                    self.files.remove(&spec.socket_path);
                    self.hosts.remove(spec.id());
                }
                Action::ResetHosts => {}
                Action::WriteStatus => {
                    let hosts: Vec<HostStatus> = self
                        .hosts
                        .keys()
                        .map(|h| HostStatus {
                            host: h.clone(),
                            state: format!("Connected to {h}"),
                        })
                        .collect();
                    let text = status_file(&self.time(), self.pid, &hosts, |_| String::new());
                    self.files.insert(self.settings.status_file(), text);
                }
                Action::ReloadConfig => {
                    let (vars, _) = PerlVars::parse(CONF);
                    match Settings::resolve(&vars, &Overrides::default()) {
                        Ok(settings) => {
                            let (entries, problems) = hosts_tab::parse(&self.hosts_text);
                            self.settings = settings.clone();
                            let _ = d.reload(Instant::now(), settings, &entries, &problems);
                        }
                        Err(e) => d.reload_failed(Instant::now(), &e.to_string()),
                    }
                }
                Action::BeginShutdown => {}
                Action::ForceClose => {}
                Action::RemoveFiles(paths) => {
                    for p in paths {
                        self.files.remove(&p);
                    }
                }
                Action::Exit(code) => self.exit = Some(code),
            }
        }
    }
}

fn start() -> (Runtime, Daemon) {
    let (vars, problems) = PerlVars::parse(CONF);
    assert!(problems.is_empty());
    let settings = Settings::resolve(&vars, &Overrides::default()).unwrap();
    let (entries, problems) = hosts_tab::parse(HOSTS);
    let mut rt = Runtime {
        pid: 4242,
        files: BTreeMap::new(),
        hosts: BTreeMap::new(),
        title: String::new(),
        state: String::new(),
        exit: None,
        settings: settings.clone(),
        hosts_text: HOSTS.into(),
    };
    rt.files.insert(settings.pid_file(), "4242\n".into());
    let mut d = Daemon::new(DaemonConfig::default(), settings, &entries, &problems);
    rt.drain(&mut d);
    (rt, d)
}

#[test]
fn start_writes_the_banner_and_serves_remote_hosts() {
    let (rt, _d) = start();
    let log = &rt.files[&PathBuf::from("/home/httpd/perl/logs/lonc.log")];
    assert!(log.starts_with(
        "Wed Jun  8 19:31:02 2005 (4242) [Parent Server] \
         [Wed Jun  8 19:31:02 2005: Starting hosts] \
         CRITICAL: --------------- Starting children ---------------\n"
    ));
    assert_eq!(
        rt.hosts.keys().collect::<Vec<_>>(),
        ["msua1", "msul2"],
        "our own id msul1 is not served"
    );
    assert!(
        rt.files
            .contains_key(&PathBuf::from("/home/httpd/sockets/msua1"))
    );
    assert!(
        !rt.files
            .contains_key(&PathBuf::from("/home/httpd/sockets/msul1"))
    );
    assert_eq!(rt.title, "lonc: Serving 2 hosts Wed Jun  8 19:31:02 2005");
}

#[test]
fn usr1_writes_the_status_file() {
    let (mut rt, mut d) = start();
    d.handle_signal(Instant::now(), Signal::Usr1);
    rt.drain(&mut d);
    assert_eq!(
        rt.files[&PathBuf::from("/home/httpd/html/lon-status/loncstatus.txt")],
        "LONC status Wed Jun  8 19:31:02 2005 - parent 4242 \n\n\
         4242\tmsua1\tWed Jun  8 19:31:02 2005: Connected to msua1\t\n\
         4242\tmsul2\tWed Jun  8 19:31:02 2005: Connected to msul2\t\n"
    );
}

#[test]
fn hup_applies_the_new_hosts_tab() {
    let (mut rt, mut d) = start();
    rt.hosts_text = "\
msul1:msu:library:zaphod.lite.msu.edu:35.8.63.51
msul2:msu:library:marvin.lite.msu.edu:35.8.63.99
msul3:msu:library:trillian.lite.msu.edu:35.8.63.53
"
    .into();
    d.handle_signal(Instant::now(), Signal::Hup);
    rt.drain(&mut d);
    assert_eq!(
        rt.hosts,
        BTreeMap::from([
            ("msul2".to_string(), "35.8.63.99:5663".to_string()),
            ("msul3".to_string(), "35.8.63.53:5663".to_string()),
        ])
    );
    assert!(
        !rt.files
            .contains_key(&PathBuf::from("/home/httpd/sockets/msua1"))
    );
    let log = &rt.files[&rt.settings.log_file()];
    assert!(log.contains("SUCCESS: Reloaded: 1 added, 1 removed, 1 changed, 0 unchanged\n"));
}

#[test]
fn term_removes_sockets_and_pid_file_then_exits() {
    let (mut rt, mut d) = start();
    let t0 = Instant::now();
    d.handle_signal(t0, Signal::Term);
    rt.drain(&mut d);
    assert_eq!(rt.exit, None);
    assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    d.handle_timeout(t0 + Duration::from_secs(5));
    rt.drain(&mut d);
    assert_eq!(rt.exit, Some(0));
    assert_eq!(
        rt.files.keys().collect::<Vec<_>>(),
        [&PathBuf::from("/home/httpd/perl/logs/lonc.log")],
        "only the log remains"
    );
    assert!(
        rt.files[&rt.settings.log_file()].ends_with(
            "[Wed Jun  8 19:31:02 2005: Shutting down] CRITICAL: Master process exiting\n"
        )
    );
}

#[test]
fn usr2_toggles_debug() {
    let (mut rt, mut d) = start();
    d.handle_signal(Instant::now(), Signal::Usr2);
    rt.drain(&mut d);
    assert!(d.debug());
    d.handle_signal(Instant::now(), Signal::Usr2);
    rt.drain(&mut d);
    assert!(!d.debug());
    let log = &rt.files[&rt.settings.log_file()];
    assert!(log.contains("SUCCESS: Debug logging on (SIGUSR2)\n"));
    assert!(log.contains("SUCCESS: Debug logging off (SIGUSR2)\n"));
}

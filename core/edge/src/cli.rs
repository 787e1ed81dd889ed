//! The command line of `lonc`: configuration sources, overrides, tunables and sub-commands.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use lonc_core::conf::{Overrides, PerlVars, Settings, SettingsError};
use lonc_core::daemon::DaemonConfig;
use lonc_core::framing::DEFAULT_MAX_LINE;
use lonc_core::host::HostConfig;
use lonc_core::link::LinkConfig;
use lonc_core::node::NodeConfig;

/// `lonc --version`: the package version and the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("LONC_COMMIT"), ")");

/// The default configuration file of a LON-CAPA server.
pub const DEFAULT_CONF: &str = "/etc/httpd/conf/loncapa.conf";

/// LON-CAPA's connection daemon.
///
/// Serves one UNIX socket per remote host in hosts.tab and carries lonnet's requests to each
/// host's lond over a small pool of encrypted TCP links. Without a sub-command, runs the
/// daemon.
#[derive(Parser, Debug, Clone)]
#[command(name = "lonc", version = VERSION)]
pub struct Cli {
    /// Where the configuration comes from.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The daemon's tunables.
    #[command(flatten)]
    pub run: RunArgs,
    /// A sub-command; none runs the daemon.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Does what the command line asks and returns the exit status: `serve` runs the daemon
    /// (each runtime its own); every sub-command is the same on both runtimes.
    pub fn run(&self, serve: fn(&ConfigArgs, &RunArgs) -> i32) -> i32 {
        let (config, run) = (&self.config, &self.run);
        match &self.command {
            None => serve(config, run),
            Some(Command::Send(args)) => crate::send::run(config, args) as i32,
            Some(Command::Check) => crate::check::run(config, run),
            Some(Command::Spool(command)) => crate::spool::run(config, run, command),
            Some(Command::Demo(args)) => crate::demo::run(args),
            Some(Command::Man) => crate::generate::run_man(),
            Some(Command::Completions { shell }) => crate::generate::run_completions(*shell),
            Some(
                c @ (Command::Status { .. }
                | Command::Revive { .. }
                | Command::Reload
                | Command::Debug { .. }
                | Command::Metrics),
            ) => crate::control::run(config, &c.control_line().unwrap_or_default()),
        }
    }
}

/// What to do besides running the daemon (which is what `lonc` alone does).
#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Send one request through the daemon, as lonnet's `reply` (or `critical`) does, and print
    /// the answer.
    #[command(after_help = crate::send::EXIT_STATUSES)]
    Send(SendArgs),
    /// Check the configuration: read loncapa.conf and hosts.tab exactly as the daemon would at
    /// start, print what it would serve and every problem, and exit 0 only if there is none.
    ///
    /// Also checks what the daemon would fail on (the log, socket, delayed and status
    /// directories, each host's socket path, a process already answering on a host's socket)
    /// and says whether a daemon already runs on this configuration (its pid file locked).
    /// Creates, changes and locks nothing, connects to no lond, and asks a host's socket
    /// whether a process answers only when no daemon of this configuration runs. Run it as the
    /// daemon's user, with the daemon's flags before `check` (`lonc --step-timeout 10 check`).
    #[command(after_help = crate::check::EXIT_STATUSES)]
    Check,
    /// Show the running daemon and its hosts: state (dead since when, next probe), links
    /// (handshaking/idle/busy), queue, retries left, spooled files, requests, replies,
    /// `con_lost` by cause, replays and the last minute's reply latency.
    ///
    /// Asks the daemon on its control socket (`<lonDaemons>/logs/lonc.ctl`). With host ids,
    /// every field of each; with `--json`, one line of JSON (the schema is in the README).
    #[command(after_help = crate::control::EXIT_STATUSES)]
    Status {
        /// Only these hosts, each shown in full.
        #[arg(value_name = "HOST")]
        host_ids: Vec<String>,
        /// One line of JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Give one host a fresh retry budget and, if it is dead, revive it and probe it at once
    /// (what SIGUSR1 does for every host).
    #[command(after_help = crate::control::EXIT_STATUSES)]
    Revive {
        /// The host id.
        host: String,
    },
    /// Re-read loncapa.conf and hosts.tab (what SIGHUP does) and say what changed.
    #[command(after_help = crate::control::EXIT_STATUSES)]
    Reload,
    /// Turn debug logging on or off (SIGUSR2 toggles it).
    #[command(after_help = crate::control::EXIT_STATUSES)]
    Debug {
        /// `on` or `off`.
        state: OnOff,
    },
    /// Print the daemon's metrics in Prometheus' text format (version 0.0.4): per host,
    /// requests, replies, `con_lost` by cause and replays (counters), the reply latency (a
    /// histogram), links by state, queue, dead, retries left and spooled files (gauges).
    ///
    /// Asks the daemon on its control socket, as `lonc status` does. For Prometheus to scrape
    /// them over HTTP, start the daemon with `--metrics-listen ADDR`.
    #[command(after_help = crate::control::EXIT_STATUSES)]
    Metrics,
    /// The delayed directory as a queue: list the spooled requests, replay them now, delete
    /// some.
    #[command(subcommand)]
    Spool(SpoolCommand),
    /// Show lonc at work: simulated londs on loopback, the real daemon, real sockets, and a
    /// short report. Needs no configuration.
    Demo(DemoArgs),
    /// Print the manual page (roff, section 8), for packages and `man -l -`.
    Man,
    /// Print a shell's completion script, for packages.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `lonc spool …`.
#[derive(Subcommand, Debug, Clone)]
pub enum SpoolCommand {
    /// List the delayed files: age, host, file and request, never an `encrypt:` request's
    /// arguments.
    ///
    /// All files, or one host's, in replay order, then a count; an `encrypt:` request is shown
    /// as `encrypt:<cmd>`. Reads the directory itself, as the daemon does, so it works with the
    /// daemon stopped: only regular files are read, never through a symbolic link, and only
    /// their first line, at most the daemon's `--max-line` bytes (`lonc --max-line N spool
    /// list`). A file being delivered is listed until the daemon deletes it.
    #[command(after_help = crate::spool::LIST_EXIT_STATUSES)]
    List {
        /// Only this host's files.
        host: Option<String>,
    },
    /// Replay the delayed files now.
    ///
    /// The daemon scans the delayed directory at once (trying again the files it could not
    /// read), and says, once that scan is in, how many files of each host (or of the one
    /// named) wait and how many are being delivered. A dead host's files wait for the host to
    /// come back: `lonc revive HOST` probes it now.
    #[command(after_help = crate::control::EXIT_STATUSES)]
    Flush {
        /// Only this host.
        host: Option<String>,
    },
    /// Delete delayed files, each with an `R:` record in lonnet.perm.log.
    ///
    /// The daemon deletes each file named, after appending `R:<host>:<file>:<user>(<uid>):
    /// <request>` to lonnet.perm.log (an `encrypt:` request as `encrypt:<cmd>`); a record that
    /// cannot be written keeps the file. It refuses, file by file, a name that is not a file of
    /// the delayed directory (a path, `..`, a hidden file, not a delayed-request name) and a
    /// file whose request is being delivered right now (try again once it is done), and says
    /// what it did with each.
    #[command(after_help = crate::spool::DELETE_EXIT_STATUSES)]
    Delete {
        /// File names as `lonc spool list` shows them (not paths).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
}

/// `on` or `off`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnOff {
    /// Debug lines are logged.
    On,
    /// They are not.
    Off,
}

impl Command {
    /// The control socket's command line for this sub-command, if it is one of those.
    pub fn control_line(&self) -> Option<String> {
        match self {
            Command::Status { host_ids, json } => {
                let mut line = String::from("status");
                for h in host_ids {
                    line.push(' ');
                    line.push_str(h);
                }
                if *json {
                    line.push_str(" --json");
                }
                Some(line)
            }
            Command::Revive { host } => Some(format!("revive {host}")),
            Command::Spool(SpoolCommand::Flush { host }) => Some(match host {
                Some(host) => format!("spool flush {host}"),
                None => "spool flush".into(),
            }),
            Command::Spool(SpoolCommand::Delete { files }) => {
                Some(format!("spool delete {}", files.join(" ")))
            }
            Command::Reload => Some("reload".into()),
            Command::Metrics => Some("metrics".into()),
            Command::Debug { state } => Some(
                match state {
                    OnOff::On => "debug on",
                    OnOff::Off => "debug off",
                }
                .into(),
            ),
            _ => None,
        }
    }
}

/// Where the configuration comes from and what overrides it.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win).
    /// Default: /etc/httpd/conf/loncapa.conf, if it exists.
    #[arg(long = "conf", value_name = "FILE", global = true)]
    pub conf: Vec<PathBuf>,
    /// This server's LON-CAPA host id (lonHostID).
    #[arg(long, value_name = "ID", global = true)]
    pub host_id: Option<String>,
    /// Directory of the per-host UNIX sockets and of delayed/ (lonSockDir).
    #[arg(long, value_name = "DIR", global = true)]
    pub sock_dir: Option<PathBuf>,
    /// Daemon directory; logs and the pid file go to its logs/ (lonDaemons).
    #[arg(long, value_name = "DIR", global = true)]
    pub daemons_dir: Option<PathBuf>,
    /// Web root; the status file goes to its lon-status/ (lonDocRoot).
    #[arg(long, value_name = "DIR", global = true)]
    pub doc_root: Option<PathBuf>,
    /// The hosts table (default `<lonTabDir>/hosts.tab`).
    #[arg(long = "hosts", value_name = "FILE", global = true)]
    pub hosts: Option<PathBuf>,
    /// TCP port of the peers' lond (londPort, default 5663).
    #[arg(long, value_name = "PORT", global = true)]
    pub lond_port: Option<u16>,
}

/// Tunables of the running daemon.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Daemon")]
pub struct RunArgs {
    /// Most TCP links per remote host.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub max_links: usize,
    /// Failed connection attempts before a host is marked dead.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub retries: u32,
    /// Seconds a TCP connect to a lond may take.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub connect_timeout: f64,
    /// Seconds any step of a handshake or transaction may go without progress.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub step_timeout: f64,
    /// Seconds a request may spend in the daemon in all (queued, waiting for a link, on a
    /// link) before it is answered con_lost. Default: the step timeout.
    #[arg(long, value_name = "SECS")]
    pub request_timeout: Option<f64>,
    /// Seconds between two scans of the delayed directory (also scanned at start-up, after a
    /// reload and when a host comes back).
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub delayed_scan: f64,
    /// Seconds of idleness after which one idle link is closed.
    #[arg(long, default_value_t = 3600.0, value_name = "SECS")]
    pub idle_timeout: f64,
    /// Most requests waiting for a link, per host; more are answered con_lost.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_queue: usize,
    /// Most bytes of requests waiting for a link, per host.
    #[arg(long, default_value_t = 8 << 20, value_name = "BYTES")]
    pub max_queue_bytes: usize,
    /// Longest request or reply line accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE, value_name = "BYTES")]
    pub max_line: usize,
    /// First delay, in seconds, before a dead host is probed again (then doubling).
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub probe_min: f64,
    /// Longest delay, in seconds, between probes of a dead host.
    #[arg(long, default_value_t = 300.0, value_name = "SECS")]
    pub probe_max: f64,
    /// Seconds an orderly shutdown waits for clients to be answered.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub shutdown_grace: f64,
    /// Permissions of the UNIX sockets, in octal.
    #[arg(long, default_value = "660", value_name = "OCTAL", value_parser = parse_mode)]
    pub socket_mode: u32,
    /// Also write human-readable log lines to standard error.
    #[arg(long)]
    pub log_stderr: bool,
    /// Start with debug logging on (SIGUSR2 toggles it).
    #[arg(long)]
    pub debug: bool,
    /// Detach from the terminal as loncnew did (the default is to stay in the foreground).
    #[arg(long)]
    pub daemonize: bool,
    /// Also serve the metrics (`lonc metrics`) over HTTP at `GET /metrics` on this TCP
    /// address, for Prometheus to scrape, e.g. `127.0.0.1:9661`. Off by default.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl Default for RunArgs {
    fn default() -> Self {
        RunArgs::parse_from_empty()
    }
}

impl RunArgs {
    fn parse_from_empty() -> RunArgs {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            run: RunArgs,
        }
        Only::parse_from(["lonc"]).run
    }

    /// The core's tunables from these flags; an unusable number is an error line.
    pub fn node_config(&self) -> Result<NodeConfig, String> {
        // With no link, or no room to queue a request (links open for queued work), every
        // request would be lost.
        for (flag, value) in [
            ("--max-links", self.max_links),
            ("--max-queue", self.max_queue),
            ("--max-queue-bytes", self.max_queue_bytes),
        ] {
            if value == 0 {
                return Err(format!("{flag} must be at least 1"));
            }
        }
        Ok(NodeConfig {
            daemon: DaemonConfig {
                shutdown_grace: secs("--shutdown-grace", self.shutdown_grace)?,
                debug: self.debug,
            },
            host: HostConfig {
                max_links: self.max_links,
                retries: self.retries,
                idle_timeout: secs("--idle-timeout", self.idle_timeout)?,
                max_queue_len: self.max_queue,
                max_queue_bytes: self.max_queue_bytes,
                probe_min: secs("--probe-min", self.probe_min)?,
                probe_max: secs("--probe-max", self.probe_max)?,
                request_timeout: secs(
                    "--request-timeout",
                    self.request_timeout.unwrap_or(self.step_timeout),
                )?,
                ..HostConfig::default()
            },
            link: LinkConfig {
                connect_timeout: secs("--connect-timeout", self.connect_timeout)?,
                step_timeout: secs("--step-timeout", self.step_timeout)?,
                max_line: self.max_line,
            },
            scan_interval: secs("--delayed-scan", self.delayed_scan)?,
            metrics_listen: self.metrics_listen,
        })
    }
}

/// `lonc send`.
#[derive(Args, Debug, Clone)]
pub struct SendArgs {
    /// The LON-CAPA id of the host to ask.
    pub host: String,
    /// The request line, e.g. `ping` or `encrypt:passwd:...`.
    pub request: String,
    /// On con_lost, spool the request to the delayed directory as lonnet's `critical` does
    /// (printing con_delayed or con_failed).
    #[arg(long)]
    pub critical: bool,
    /// Seconds to wait for the daemon's answer.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub timeout: f64,
}

/// `lonc demo`.
#[derive(Args, Debug, Clone, Default)]
pub struct DemoArgs {
    /// Keep the temporary LON-CAPA layout instead of removing it (its path is printed).
    #[arg(long)]
    pub keep: bool,
}

fn secs(flag: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("{flag} must be a number of seconds, not {value}"))
}

fn parse_mode(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("{text:?} is not an octal file mode"))
}

/// A configuration problem that stops the daemon before it starts: one line, exit status 2.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<SettingsError> for ConfigError {
    fn from(e: SettingsError) -> Self {
        ConfigError(e.to_string())
    }
}

impl ConfigArgs {
    /// The command-line overrides.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            host_id: self.host_id.clone(),
            sock_dir: self.sock_dir.clone(),
            daemons_dir: self.daemons_dir.clone(),
            doc_root: self.doc_root.clone(),
            hosts_file: self.hosts.clone(),
            lond_port: self.lond_port,
        }
    }

    /// The configuration files [`ConfigArgs::read_vars`] reads, in order: the `--conf` files,
    /// or the default one if it exists, or none.
    pub fn conf_files(&self) -> Vec<PathBuf> {
        if !self.conf.is_empty() {
            return self.conf.clone();
        }
        let default = Path::new(DEFAULT_CONF);
        if default.exists() {
            vec![default.to_path_buf()]
        } else {
            vec![]
        }
    }

    /// Reads the configuration files: the ones given, or the default one if it exists. Returns
    /// the merged variables and a warning line per bad PerlSetVar line.
    pub fn read_vars(&self) -> Result<(PerlVars, Vec<String>), ConfigError> {
        let files = self.conf_files();
        let mut vars = PerlVars::new();
        let mut warnings = Vec::new();
        for file in files {
            let text = std::fs::read(&file).map_err(|e| {
                ConfigError(format!("cannot read configuration {}: {e}", file.display()))
            })?;
            for p in vars.merge_text(&String::from_utf8_lossy(&text)) {
                warnings.push(format!("{}: {p}", file.display()));
            }
        }
        Ok((vars, warnings))
    }

    /// The daemon's settings from the files and the flags.
    pub fn settings(&self) -> Result<(Settings, Vec<String>), ConfigError> {
        let (vars, warnings) = self.read_vars()?;
        Ok((Settings::resolve(&vars, &self.overrides())?, warnings))
    }

    /// The socket directory alone (what `lonc send` needs), from the flag or the files.
    pub fn sock_dir(&self) -> Result<PathBuf, ConfigError> {
        self.directory(&self.sock_dir, "--sock-dir", "lonSockDir")
    }

    /// The control socket, `<lonDaemons>/logs/lonc.ctl`, from `--daemons-dir` or the files.
    pub fn control_socket(&self) -> Result<PathBuf, ConfigError> {
        let dir = self.directory(&self.daemons_dir, "--daemons-dir", "lonDaemons")?;
        Ok(dir.join("logs").join("lonc.ctl"))
    }

    /// A directory given by `flag`, or else by the PerlSetVar `var`.
    fn directory(
        &self,
        given: &Option<PathBuf>,
        flag: &str,
        var: &str,
    ) -> Result<PathBuf, ConfigError> {
        if let Some(dir) = given {
            return Ok(dir.clone());
        }
        let (vars, _) = self.read_vars()?;
        vars.get(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| {
                ConfigError(format!(
                    "{var} is not set: give {flag} or a PerlSetVar {var} line"
                ))
            })
    }

    /// The host table alone (what `lonc send` checks the host against): `--hosts`, or
    /// `hosts.tab` in `lonTabDir`.
    pub fn hosts_file(&self) -> Result<PathBuf, ConfigError> {
        if let Some(file) = self.hosts.as_ref().filter(|p| !p.as_os_str().is_empty()) {
            return Ok(file.clone());
        }
        let (vars, _) = self.read_vars()?;
        vars.get("lonTabDir")
            .filter(|v| !v.is_empty())
            .map(|dir| Path::new(dir).join("hosts.tab"))
            .ok_or_else(|| {
                ConfigError(
                    "lonTabDir is not set: give --hosts or a PerlSetVar lonTabDir line".into(),
                )
            })
    }

    /// The daemon directory alone (where `lonc send --critical` appends the permanent log).
    pub fn daemons_dir(&self) -> Result<PathBuf, ConfigError> {
        if let Some(dir) = &self.daemons_dir {
            return Ok(dir.clone());
        }
        let (vars, _) = self.read_vars()?;
        vars.get("lonDaemons")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| {
                ConfigError(
                    "lonDaemons is not set: give --daemons-dir or a PerlSetVar lonDaemons line"
                        .into(),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own checks of the definition (two arguments of one name, a global flag shadowed
    /// by a sub-command's, ...), which it otherwise makes only when that argument is read.
    #[test]
    fn the_definition_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }

    #[test]
    fn control_commands_become_their_command_lines() {
        let line = |args: &[&str]| {
            let cli = Cli::try_parse_from(args).unwrap();
            cli.command.and_then(|c| c.control_line())
        };
        assert_eq!(
            line(&["lonc", "status", "msul1", "--json", "msul3"]).as_deref(),
            Some("status msul1 msul3 --json")
        );
        assert_eq!(
            line(&["lonc", "--hosts", "/h", "status"]).as_deref(),
            Some("status")
        );
        assert_eq!(
            line(&["lonc", "revive", "msul1"]).as_deref(),
            Some("revive msul1")
        );
        assert_eq!(line(&["lonc", "reload"]).as_deref(), Some("reload"));
        assert_eq!(line(&["lonc", "metrics"]).as_deref(), Some("metrics"));
        assert_eq!(
            line(&["lonc", "debug", "off"]).as_deref(),
            Some("debug off")
        );
        assert_eq!(line(&["lonc", "check"]), None);
        assert_eq!(
            line(&["lonc", "spool", "flush", "msul1"]).as_deref(),
            Some("spool flush msul1")
        );
        assert_eq!(
            line(&["lonc", "spool", "flush"]).as_deref(),
            Some("spool flush")
        );
        assert_eq!(
            line(&["lonc", "spool", "delete", "1.2.3.p.h", "4.5.6.q.h"]).as_deref(),
            Some("spool delete 1.2.3.p.h 4.5.6.q.h")
        );
        assert_eq!(line(&["lonc", "spool", "list"]), None);
        assert!(Cli::try_parse_from(["lonc", "spool", "delete"]).is_err());
        assert!(Cli::try_parse_from(["lonc", "debug", "maybe"]).is_err());
    }

    #[test]
    fn defaults_are_loncnews() {
        let c = RunArgs::default().node_config().unwrap();
        assert_eq!(c.host.max_links, 10);
        assert_eq!(c.host.retries, 5);
        assert_eq!(c.host.idle_timeout, Duration::from_secs(3600));
        assert_eq!(c.link.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.link.step_timeout, Duration::from_secs(30));
        assert_eq!(c.host.request_timeout, Duration::from_secs(30));
        assert_eq!(c.scan_interval, Duration::from_secs(5));
        assert_eq!(c.metrics_listen, None, "no HTTP unless asked for");
    }

    #[test]
    fn metrics_listen_takes_an_address() {
        let cli = Cli::parse_from(["lonc", "--metrics-listen", "127.0.0.1:9661"]);
        assert_eq!(
            cli.run.node_config().unwrap().metrics_listen,
            Some("127.0.0.1:9661".parse().unwrap())
        );
        assert!(Cli::try_parse_from(["lonc", "--metrics-listen", "localhost"]).is_err());
    }

    #[test]
    fn the_request_timeout_follows_the_step_timeout_unless_given() {
        let cli = Cli::parse_from(["lonc", "--step-timeout", "7"]);
        assert_eq!(
            cli.run.node_config().unwrap().host.request_timeout,
            Duration::from_secs(7)
        );
        let cli = Cli::parse_from(["lonc", "--step-timeout", "7", "--request-timeout", "2.5"]);
        assert_eq!(
            cli.run.node_config().unwrap().host.request_timeout,
            Duration::from_millis(2500)
        );
    }

    #[test]
    fn flags_reach_the_core() {
        let cli = Cli::parse_from([
            "lonc",
            "--host-id",
            "me",
            "--max-links",
            "3",
            "--step-timeout",
            "1.5",
            "--socket-mode",
            "600",
        ]);
        let run = cli.run;
        assert!(cli.command.is_none());
        assert_eq!(cli.config.host_id.as_deref(), Some("me"));
        assert_eq!(run.socket_mode, 0o600);
        let c = run.node_config().unwrap();
        assert_eq!(c.host.max_links, 3);
        assert_eq!(c.link.step_timeout, Duration::from_millis(1500));
    }

    #[test]
    fn send_takes_the_config_flags_too() {
        let cli = Cli::parse_from(["lonc", "send", "msul1", "ping", "--sock-dir", "/s"]);
        assert!(matches!(cli.command, Some(Command::Send(ref s)) if s.host == "msul1"));
        assert_eq!(cli.config.sock_dir.as_deref(), Some(Path::new("/s")));
    }

    /// `lonc check` takes the configuration flags after it, and the daemon's before it.
    #[test]
    fn check_takes_the_config_flags_and_the_daemon_s() {
        let cli = Cli::parse_from(["lonc", "--max-links", "3", "check", "--conf", "/c"]);
        assert!(matches!(cli.command, Some(Command::Check)));
        assert_eq!(cli.config.conf, [PathBuf::from("/c")]);
        assert_eq!(cli.run.max_links, 3);
    }

    /// Each "give --flag" of a missing setting names a flag that exists, with the meaning.
    #[test]
    fn a_missing_setting_names_a_flag_that_sets_it() {
        use lonc_core::conf::SettingsError;
        let all = [
            "lonHostID",
            "lonSockDir",
            "lonDaemons",
            "lonDocRoot",
            "lonTabDir",
        ];
        for missing in all {
            let mut vars = PerlVars::new();
            for var in all.iter().filter(|v| **v != missing) {
                vars.merge_text(&format!("PerlSetVar {var} x\n"));
            }
            let Err(SettingsError::Missing { var, flag }) =
                Settings::resolve(&vars, &Overrides::default())
            else {
                panic!("{missing} missing is not an error");
            };
            assert_eq!(var, missing);
            let cli = Cli::try_parse_from(["lonc", flag, "given"])
                .unwrap_or_else(|e| panic!("{flag}, named for {var}: {e}"));
            Settings::resolve(&vars, &cli.config.overrides())
                .unwrap_or_else(|e| panic!("{flag} given, still: {e}"));
        }
    }

    #[test]
    fn bad_numbers_are_errors_not_panics() {
        let run = RunArgs {
            idle_timeout: -1.0,
            ..RunArgs::default()
        };
        assert!(run.node_config().unwrap_err().contains("--idle-timeout"));
        let zero = |set: fn(&mut RunArgs)| {
            let mut run = RunArgs::default();
            set(&mut run);
            run.node_config().unwrap_err()
        };
        assert_eq!(zero(|r| r.max_links = 0), "--max-links must be at least 1");
        assert_eq!(zero(|r| r.max_queue = 0), "--max-queue must be at least 1");
        assert_eq!(
            zero(|r| r.max_queue_bytes = 0),
            "--max-queue-bytes must be at least 1"
        );
        assert!(
            RunArgs {
                max_links: 1,
                max_queue: 1,
                max_queue_bytes: 1,
                ..RunArgs::default()
            }
            .node_config()
            .is_ok()
        );
        assert!(parse_mode("999").is_err());
        assert!(Cli::try_parse_from(["lonc", "--max-links", "x"]).is_err());
    }
}

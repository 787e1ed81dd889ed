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

/// The default configuration file of a LON-CAPA server.
pub const DEFAULT_CONF: &str = "/etc/httpd/conf/loncapa.conf";

/// lonc: LON-CAPA's connection daemon. Serves one UNIX socket per remote host in hosts.tab and
/// carries lonnet's requests to each host's lond over a small pool of encrypted TCP links.
#[derive(Parser, Debug, Clone)]
#[command(name = "lonc", version)]
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

/// What to do besides running the daemon (which is what `lonc` alone does).
#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Send one request through the daemon, as lonnet's `reply` (or `critical`) does, and print
    /// the answer.
    Send(SendArgs),
    /// Show lonc at work: simulated londs on loopback, the real daemon, real sockets, and a
    /// short report. Needs no configuration.
    Demo(DemoArgs),
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
                ..HostConfig::default()
            },
            link: LinkConfig {
                connect_timeout: secs("--connect-timeout", self.connect_timeout)?,
                step_timeout: secs("--step-timeout", self.step_timeout)?,
                max_line: self.max_line,
            },
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

    /// Reads the configuration files: the ones given, or the default one if it exists. Returns
    /// the merged variables and a warning line per bad PerlSetVar line.
    pub fn read_vars(&self) -> Result<(PerlVars, Vec<String>), ConfigError> {
        let files: Vec<PathBuf> = if self.conf.is_empty() {
            let default = Path::new(DEFAULT_CONF);
            if default.exists() {
                vec![default.to_path_buf()]
            } else {
                vec![]
            }
        } else {
            self.conf.clone()
        };
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
        if let Some(dir) = &self.sock_dir {
            return Ok(dir.clone());
        }
        let (vars, _) = self.read_vars()?;
        vars.get("lonSockDir")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| {
                ConfigError(
                    "lonSockDir is not set: give --sock-dir or a PerlSetVar lonSockDir line".into(),
                )
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

    #[test]
    fn defaults_are_loncnews() {
        let c = RunArgs::default().node_config().unwrap();
        assert_eq!(c.host.max_links, 10);
        assert_eq!(c.host.retries, 5);
        assert_eq!(c.host.idle_timeout, Duration::from_secs(3600));
        assert_eq!(c.link.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.link.step_timeout, Duration::from_secs(30));
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

    #[test]
    fn bad_numbers_are_errors_not_panics() {
        let run = RunArgs {
            idle_timeout: -1.0,
            ..RunArgs::default()
        };
        assert!(run.node_config().unwrap_err().contains("--idle-timeout"));
        assert!(parse_mode("999").is_err());
        assert!(Cli::try_parse_from(["lonc", "--max-links", "x"]).is_err());
    }
}

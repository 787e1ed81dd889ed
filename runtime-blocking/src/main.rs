//! `lonc-blocking`: LON-CAPA's connection daemon on plain threads and `polling`, with exactly
//! `lonc`'s command line.

use clap::Parser;
use lonc_edge::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let code = match &cli.command {
        None => lonc_blocking::serve::run(&cli.config, &cli.run),
        Some(Command::Send(args)) => lonc_edge::send::run(&cli.config, args) as i32,
        Some(Command::Check) => lonc_edge::check::run(&cli.config, &cli.run),
        Some(Command::Spool(command)) => lonc_edge::spool::run(&cli.config, &cli.run, command),
        Some(Command::Demo(args)) => lonc_edge::demo::run(args),
        Some(Command::Man) => lonc_edge::generate::run_man(),
        Some(Command::Completions { shell }) => lonc_edge::generate::run_completions(*shell),
        Some(
            c @ (Command::Status { .. }
            | Command::Revive { .. }
            | Command::Reload
            | Command::Debug { .. }
            | Command::Metrics),
        ) => lonc_edge::control::run(&cli.config, &c.control_line().unwrap_or_default()),
    };
    std::process::exit(code);
}

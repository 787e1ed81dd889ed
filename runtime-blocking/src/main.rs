//! `lonc-blocking`: LON-CAPA's connection daemon on plain threads and `polling`, with exactly
//! `lonc`'s command line.

use clap::Parser;
use lonc_edge::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let code = match &cli.command {
        None => lonc_blocking::serve::run(&cli.config, &cli.run),
        Some(Command::Send(args)) => lonc_edge::send::run(&cli.config, args),
        Some(Command::Demo(args)) => lonc_edge::demo::run(args),
    };
    std::process::exit(code);
}

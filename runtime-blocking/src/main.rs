//! `lonc-blocking`: LON-CAPA's connection daemon on plain threads and `polling`, with exactly
//! `lonc`'s command line.

use clap::Parser;
use lonc_edge::cli::Cli;

fn main() {
    let code = Cli::parse().run(lonc_blocking::serve::run);
    std::process::exit(code);
}

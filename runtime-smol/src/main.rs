//! `lonc`: LON-CAPA's connection daemon on smol.

use clap::Parser;
use lonc_edge::cli::Cli;

fn main() {
    let code = Cli::parse().run(lonc_smol::serve::run);
    std::process::exit(code);
}

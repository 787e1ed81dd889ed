//! `lonc man` and `lonc completions SHELL`: the manual page and the shell completions,
//! generated from the one command-line definition ([`crate::cli::Cli`]), for packages.

use std::io::{self, Write};

use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::cli::Cli;

/// The command line as packages document it: the version without the commit, so that the
/// generated files change only when the interface does.
fn command() -> clap::Command {
    Cli::command().version(env!("CARGO_PKG_VERSION"))
}

/// Writes the manual page, section 8 (a system daemon), in roff.
pub fn man(out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(command()).section("8").render(out)
}

/// Writes the completion script for `shell`.
pub fn completions(shell: Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut command(), "lonc", out);
}

/// `lonc man`: the manual page on standard output; the exit status.
pub fn run_man() -> i32 {
    match man(&mut io::stdout().lock()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lonc man: {e}");
            1
        }
    }
}

/// `lonc completions SHELL`: the script on standard output; the exit status.
pub fn run_completions(shell: Shell) -> i32 {
    completions(shell, &mut io::stdout().lock());
    0
}

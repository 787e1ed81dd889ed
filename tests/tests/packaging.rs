//! What packages install is what the code says: the manual page and the completions in
//! `runtime-smol/dist/` are exactly what `lonc man` and `lonc completions` generate from the one
//! command-line definition, and every file the Debian package lists exists.
//!
//! After changing a flag, regenerate them:
//!
//! ```sh
//! cargo run -q -p lonc-smol -- man > runtime-smol/dist/lonc.8
//! cargo run -q -p lonc-smol -- completions bash > runtime-smol/dist/completions/lonc.bash
//! cargo run -q -p lonc-smol -- completions zsh > runtime-smol/dist/completions/_lonc
//! cargo run -q -p lonc-smol -- completions fish > runtime-smol/dist/completions/lonc.fish
//! ```

use std::path::{Path, PathBuf};

use clap_complete::Shell;
use lonc_edge::generate;

fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime-smol/dist")
}

#[track_caller]
fn assert_committed(file: &str, generated: Vec<u8>, command: &str) {
    let committed = std::fs::read(dist().join(file)).unwrap_or_default();
    assert!(
        committed == generated,
        "runtime-smol/dist/{file} is not what the command line generates; run\n  \
         cargo run -q -p lonc-smol -- {command} > runtime-smol/dist/{file}"
    );
}

#[test]
fn the_manual_page_is_generated_from_the_command_line() {
    let mut page = Vec::new();
    generate::man(&mut page).unwrap();
    let text = String::from_utf8_lossy(&page);
    assert!(text.contains(".TH lonc 8"), "section 8");
    assert!(text.contains("request\\-timeout"), "every flag");
    assert_committed("lonc.8", page, "man");
}

#[test]
fn the_completions_are_generated_from_the_command_line() {
    for (shell, file) in [
        (Shell::Bash, "completions/lonc.bash"),
        (Shell::Zsh, "completions/_lonc"),
        (Shell::Fish, "completions/lonc.fish"),
    ] {
        let mut script = Vec::new();
        generate::completions(shell, &mut script);
        assert!(String::from_utf8_lossy(&script).contains("delayed-scan"));
        assert_committed(file, script, &format!("completions {shell}"));
    }
}

#[test]
fn every_file_the_debian_package_lists_exists() {
    let manifest = std::fs::read_to_string(dist().join("../Cargo.toml")).unwrap();
    let deb = manifest
        .split_once("[package.metadata.deb]")
        .expect("Debian package metadata")
        .1;
    let sources: Vec<&str> = deb
        .lines()
        .filter_map(|l| l.trim().strip_prefix("[\""))
        .filter_map(|l| l.split('"').next())
        .collect();
    assert!(sources.len() >= 7, "{sources:?}");
    for source in sources {
        if source.starts_with("target/") {
            continue; // built by cargo deb
        }
        assert!(
            dist().join("..").join(source).is_file(),
            "{source} is missing"
        );
    }
}

/// `--version` names the commit the binaries were built from (when built from a git checkout,
/// as here and in CI).
#[test]
fn the_version_names_the_commit() {
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git runs");
    assert!(head.status.success(), "built from a git checkout");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    assert_eq!(
        lonc_edge::cli::VERSION,
        format!("{} (commit {head})", env!("CARGO_PKG_VERSION"))
    );
}

//! Puts the commit the binaries are built from into `LONC_COMMIT`, for `--version`: the
//! environment's `LONC_COMMIT` if set (a package build from a tarball), else `git`'s short
//! hash, else "unknown commit".

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=LONC_COMMIT");
    // A new commit moves HEAD or the branch it names: build again then.
    for path in ["HEAD"]
        .into_iter()
        .map(str::to_owned)
        .chain(git(&["symbolic-ref", "-q", "HEAD"]))
    {
        if let Some(file) = git(&["rev-parse", "--path-format=absolute", "--git-path", &path]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    let commit = std::env::var("LONC_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]).map(|h| format!("commit {h}")))
        .unwrap_or_else(|| "unknown commit".to_owned());
    println!("cargo:rustc-env=LONC_COMMIT={commit}");
}

//! Replays every committed fuzz input on stable Rust: each file of `fuzz/corpus/<target>/`
//! (seeds and minimized crash inputs alike) goes through the target's logic in
//! `lonc_tests::fuzz_logic`, so a crash found once stays fixed. A missing or empty corpus
//! directory is a failure, and so is a fuzz target without a corpus or logic.

use std::fs;
use std::path::{Path, PathBuf};

use lonc_tests::fuzz_logic::{TARGETS, Target, seeds};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join("corpus").join(target);
    let entries = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {} missing: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "corpus directory {} is empty",
        dir.display()
    );
    files
}

fn replay(target: &str) {
    let run: Target = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no logic for target {target}"))
        .1;
    let files = corpus_files(target);
    let mut failed = Vec::new();
    for file in &files {
        let data = fs::read(file).expect("readable corpus file");
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} {target} inputs fail: {failed:#?}",
        failed.len(),
        files.len()
    );
}

#[test]
fn replay_framing() {
    replay("framing");
}

#[test]
fn replay_enc_codec() {
    replay("enc_codec");
}

#[test]
fn replay_link() {
    replay("link");
}

#[test]
fn replay_session() {
    replay("session");
}

#[test]
fn replay_host() {
    replay("host");
}

#[test]
fn replay_config() {
    replay("config");
}

#[test]
fn every_fuzz_target_has_logic_and_every_logic_a_fuzz_target() {
    let dir = fuzz_dir().join("fuzz_targets");
    let mut on_disk: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} missing: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter_map(|p| {
            (p.extension()? == "rs").then(|| p.file_stem().unwrap().to_string_lossy().into())
        })
        .collect();
    on_disk.sort();
    let mut known: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    known.sort();
    assert_eq!(on_disk, known);
}

#[test]
fn the_committed_seeds_are_the_current_ones() {
    for (target, name, bytes) in seeds::all() {
        let path = fuzz_dir().join("corpus").join(target).join(&name);
        let committed = fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "seed {} missing ({e}): run `cargo test -p lonc-tests --test fuzz_corpus -- \
                 --ignored write_seed_corpus`",
                path.display()
            )
        });
        assert!(
            committed == bytes,
            "seed {} is stale: run `cargo test -p lonc-tests --test fuzz_corpus -- --ignored \
             write_seed_corpus`",
            path.display()
        );
    }
}

/// Writes the seed corpora from `lonc_tests::fuzz_logic::seeds`.
#[test]
#[ignore = "writes fuzz/corpus; run by hand after changing the seeds"]
fn write_seed_corpus() {
    for (target, name, bytes) in seeds::all() {
        let dir = fuzz_dir().join("corpus").join(target);
        fs::create_dir_all(&dir).expect("create corpus directory");
        fs::write(dir.join(name), bytes).expect("write seed");
    }
}

#!/usr/bin/env bash
# The standard benchmark in one command: builds the release daemons (lonc, and lonc-blocking
# when the workspace has it) and the load tool, then runs every set-up in one run and prints
# the markdown report. Extra arguments go to `lonc-bench standard` (see --help), e.g.
#   bench/run.sh --out bench/last.md
#   bench/run.sh --smoke
#   bench/run.sh --also "lonc 952b463=/tmp/old/target/release/lonc"   # an older build in the rounds
#   bench/run.sh --rounds-only                                         # the interleaved rounds only
# `target/release/lonc-bench syscalls` counts syscalls per request (perf; root). Reports of runs
# quoted in the README are kept in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins >&2
exec target/release/lonc-bench standard "$@"

#!/usr/bin/env bash
# The standard benchmark in one command: builds the release daemons (lonc, and lonc-blocking
# when the workspace has it) and the load tool, then runs every set-up in one run and prints
# the markdown report. Extra arguments go to `lonc-bench standard` (see --help), e.g.
#   bench/run.sh --out bench/last.md
#   bench/run.sh --smoke
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins >&2
exec target/release/lonc-bench standard "$@"

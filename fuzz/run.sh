#!/usr/bin/env bash
# Runs every fuzz target of lonc for SECONDS each (default 60), two at a time (FUZZ_JOBS to
# change), then prints per target the executions and the coverage from libFuzzer's final
# lines. Needs a nightly toolchain; installs cargo-fuzz if it is missing.
#
#   fuzz/run.sh          # 60 s per target
#   fuzz/run.sh 600      # the 10-minute run per target
#   fuzz/run.sh 60 link host   # only these targets
#
# The committed corpus/<target>/ is read but not written: new inputs go to work/<target>/
# (ignored by git). A crash leaves its input in artifacts/<target>/; minimize it with
# `cargo +nightly fuzz tmin <target> <file>` and commit it into corpus/<target>/ so that
# `cargo test --workspace` replays it.
set -euo pipefail
cd "$(dirname "$0")"

per_target=${1:-60}
jobs=${FUZZ_JOBS:-2}
targets=(framing enc_codec link session host config)
if (($# > 1)); then
    targets=("${@:2}")
fi

max_len() {
    case $1 in
    enc_codec) echo 512 ;;
    host) echo 2048 ;;
    *) echo 4096 ;;
    esac
}

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cargo +nightly fuzz build
mkdir -p work logs
rm -f logs/*.status

run_one() {
    local t=$1
    mkdir -p "work/$t"
    # -timeout: an input running 10 s is a wedge; -rss_limit_mb: memory must stay bounded.
    cargo +nightly fuzz run "$t" "work/$t" "corpus/$t" -- \
        -max_total_time="$per_target" -max_len="$(max_len "$t")" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"logs/$t.log" 2>&1
}

declare -A status
running=0
for t in "${targets[@]}"; do
    if ((running >= jobs)); then
        wait -n || true
        running=$((running - 1))
    fi
    echo "fuzzing $t for ${per_target}s"
    (run_one "$t" && echo ok >"logs/$t.status" || echo FAILED >"logs/$t.status") &
    running=$((running + 1))
done
wait

failed=0
printf '\n%-10s %8s %12s %8s %8s %8s  %s\n' target seconds execs exec/s cov ft result
for t in "${targets[@]}"; do
    log="logs/$t.log"
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
    result=$(cat "logs/$t.status" 2>/dev/null || echo FAILED)
    [[ $result == ok ]] || failed=1
    printf '%-10s %8s %12s %8s %8s %8s  %s\n' "$t" "$per_target" "${execs:-?}" "${rate:-?}" \
        "${cov:-?}" "${ft:-?}" "$result"
done
if ((failed)); then
    echo
    echo "crashes or failures: see fuzz/logs/<target>.log and fuzz/artifacts/<target>/"
    exit 1
fi

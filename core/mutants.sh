#!/usr/bin/env bash
# Mutation testing of the core (lonc-core) with cargo-mutants; the README's "Mutation testing"
# section gives the figures. The settings (which tests judge a mutant, the timeout, the mutants
# listed as equivalent and why) are in .cargo/mutants.toml.
#
#   core/mutants.sh [REF] [-- ARGS]    the core files changed since REF (default: main)
#   core/mutants.sh --all [-- ARGS]    the whole core
#
# ARGS go to `cargo mutants` unchanged (e.g. `-- -j2`, `-- -F 'handle_written'`).
#
# What "changed" means: every file under core/src that differs between the merge base of REF and
# the working tree (committed or not, untracked files included) is mutated *whole*, one `-f`
# per file. Whole files rather than `--in-diff` (only the mutants on changed lines): a change
# moves behaviour around a file, so mutants on lines it did not touch can become unkilled (a new
# early return, a test deleted or weakened) and only a run over the whole file shows it. The
# core's files are small: each takes 1 to 30 minutes on 2 cores.
#
# The report is in <target>/mutants/mutants.out (missed.txt, timeout.txt, caught.txt, and
# previously_caught.txt: what the first pass caught).
# Exit status: 0 when no mutant was missed (mutants caught only by the timeout, loops that
# spin, are fine and listed), 2 when one was missed, anything else when cargo-mutants failed.
set -euo pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"

ref=main
all=false
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --all) all=true ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "core/mutants.sh: unknown option $1 (try --help)" >&2; exit 1 ;;
        *) ref=$1 ;;
    esac
    shift
done

files=()
if $all; then
    files=(-f 'core/src/**/*.rs')
else
    base=$(git merge-base "$ref" HEAD)
    while IFS= read -r f; do
        case $f in
            core/src/*.rs) [ -f "$f" ] && files+=(-f "$f") ;;
        esac
    done < <({ git diff --name-only "$base" -- core/src; \
               git ls-files --others --exclude-standard -- core/src; } | sort -u)
    if [ ${#files[@]} -eq 0 ]; then
        echo "core/mutants.sh: no file under core/src changed since $ref ($base); nothing to do"
        echo "(a change to tests alone can only unkill mutants by weakening a test: --all checks)"
        exit 0
    fi
fi

target=$(cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
out="$target/mutants"
report="$out/mutants.out"
mkdir -p "$out"   # cargo-mutants creates mutants.out, not its parents (none in a fresh clone)

# Two passes, the same verdict as one in about 40 % less time. The first judges each mutant by
# lonc-core's own tests only, so a mutant's build is the core and its tests (about 4 s), not
# lonc-tests' dozen binaries as well (about 20 s); what they catch is caught, as it would be by
# the full set they belong to. The second (`--iterate`: only what the first did not catch)
# judges the rest by every test that .cargo/mutants.toml names. The first pass's settings are
# the same file without its `test_package`. node.rs skips it: its behaviour is tested through
# the node harness in lonc-tests, and the first pass caught none of its 253 mutants.
core_only=$(mktemp)
trap 'rm -f "$core_only"' EXIT
grep -v '^test_package' .cargo/mutants.toml > "$core_only"

status=0
echo "core/mutants.sh: pass 1, lonc-core's tests: cargo mutants ${files[*]} ${extra[*]}"
# (Without doctests, which rustdoc would compile again for each mutant; the second pass runs them.)
nice cargo mutants --config "$core_only" --cargo-test-arg=--tests --exclude core/src/node.rs \
    "${files[@]}" -o "$out" "${extra[@]}" || status=$?
case $status in
    0|2|3)
        status=0
        echo "core/mutants.sh: pass 2, the rest judged by all the tests (--iterate)"
        nice cargo mutants --iterate "${files[@]}" -o "$out" "${extra[@]}" || status=$?
        ;;
esac
echo
echo "core/mutants.sh: report in $report"
case $status in
    0|2|3)
        # cargo-mutants exits 3 (timeouts) rather than 2 (missed) when there are both, so the
        # verdict comes from the report.
        if [ -s "$report/timeout.txt" ]; then
            echo "core/mutants.sh: caught by the timeout only (a loop that spins):"
            sed 's/^/    /' "$report/timeout.txt"
        fi
        if [ -s "$report/missed.txt" ]; then
            echo "core/mutants.sh: MISSED (kill each with a test, or list it as equivalent, with"
            echo "its reason, in .cargo/mutants.toml):"
            sed 's/^/    /' "$report/missed.txt"
            status=2
        else
            echo "core/mutants.sh: no mutant missed"
            status=0
        fi
        ;;
    *) echo "core/mutants.sh: cargo mutants failed (status $status)" ;;
esac
exit "$status"

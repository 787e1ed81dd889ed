#!/usr/bin/env bash
# How long `lonc status` takes with many hosts: builds the release daemon, starts it on a
# temporary layout with N remote hosts (no lond needed: the hosts are only configured), runs
# `lonc status` (table), `lonc status --json` and `lonc status <one host>` R times each and
# prints the median and the slowest, in milliseconds (client start to exit, the daemon's work
# and the process start included). Stops the daemon at the end.
#
#   bench/status.sh [N] [R]        N hosts (2000), R runs each (20)
#   BIN=target/release/lonc-blocking bench/status.sh
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
runs=${2:-20}
bin=${BIN:-target/release/lonc}
cargo build --release -p lonc-smol -p lonc-blocking >&2
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/sockets/delayed" "$dir/lonTabs" "$dir/perl"
cat > "$dir/loncapa.conf" <<CONF
PerlSetVar lonHostID me
PerlSetVar lonSockDir $dir/sockets
PerlSetVar lonDaemons $dir/perl
PerlSetVar lonDocRoot $dir/html
PerlSetVar lonTabDir $dir/lonTabs
PerlSetVar londPort 9
CONF
{
    echo "me:bench:library:me.bench:127.0.0.1"
    for i in $(seq 1 "$n"); do
        printf 'h%05d:bench:access:h%05d.bench:127.1.%d.%d\n' "$i" "$i" $((i / 250)) $((i % 250 + 1))
    done
} > "$dir/lonTabs/hosts.tab"
"$bin" --conf "$dir/loncapa.conf" 2>/dev/null &
pid=$!
for _ in $(seq 1 200); do
    "$bin" --conf "$dir/loncapa.conf" status >/dev/null 2>&1 && break
    sleep 0.05
done
measure() {
    local what=$1; shift
    local times=()
    for _ in $(seq 1 "$runs"); do
        local t0 t1
        t0=$(date +%s%N)
        "$bin" --conf "$dir/loncapa.conf" "$@" >/dev/null
        t1=$(date +%s%N)
        times+=($(( (t1 - t0) / 1000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v what="$what" -v n="$n" '
        { t[NR] = $1 }
        END { printf "%-28s %5d hosts: median %6.2f ms, slowest %6.2f ms (%d runs)\n",
              what, n, t[int((NR + 1) / 2)] / 1000, t[NR] / 1000, NR }'
}
bytes=$("$bin" --conf "$dir/loncapa.conf" status | wc -c)
jbytes=$("$bin" --conf "$dir/loncapa.conf" status --json | wc -c)
echo "$(basename "$bin"): table $bytes bytes, JSON $jbytes bytes"
measure "lonc status" status
measure "lonc status --json" status --json
measure "lonc status h00001" status h00001

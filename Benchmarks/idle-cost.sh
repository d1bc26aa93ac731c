#!/usr/bin/env bash
# The daemon's idle cost: CPU and memory with 10 idle stores and 10 attached viewers.
#
#   Benchmarks/idle-cost.sh [SECONDS]     (default 60; builds release binaries first)
#
# Prints CPU % of one core (utime+stime from /proc over the window), RSS, and context switches
# per second, for syncd alone and for one `syncctl watch` viewer for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
window=${1:-60}
swift build -c release --product syncd >/dev/null
swift build -c release --product syncctl >/dev/null
bin=$(swift build -c release --show-bin-path)
run=$(mktemp -d /tmp/syncd-idle.XXXXXX)
{
    for i in $(seq 1 10); do
        printf '[store.idle%02d]\nprovider = "synthetic"\ninterval = "1h"\nrun_at_startup = false\n\n' "$i"
    done
} > "$run/syncd.toml"
export SYNCD_SOCKET=$run/s.sock
"$bin/syncd" --config "$run/syncd.toml" --socket "$SYNCD_SOCKET" --state-dir "$run/state" 2>"$run/log" &
daemon=$!
viewers=()
cleanup() { kill "${viewers[@]}" 2>/dev/null; kill $daemon 2>/dev/null; wait 2>/dev/null; rm -rf "$run"; }
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$SYNCD_SOCKET" ] && break; sleep 0.1; done
for _ in $(seq 1 10); do "$bin/syncctl" watch --json >/dev/null & viewers+=($!); done
sleep 2

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
switches() { cat /proc/$1/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
d0=$(ticks $daemon); v0=$(ticks "${viewers[0]}"); c0=$(switches $daemon)
sleep "$window"
d1=$(ticks $daemon); v1=$(ticks "${viewers[0]}"); c1=$(switches $daemon)

echo "# Benchmarks/idle-cost.sh $window — 10 idle stores, 10 viewers attached, ${window}s window"
echo "| process | CPU (% of one core) | RSS | context switches/s |"
echo "|---|---|---|---|"
awk -v t=$((d1 - d0)) -v hz="$hz" -v w="$window" -v r="$(rss $daemon)" -v c=$((c1 - c0)) \
    'BEGIN { printf "| syncd | %.3f %% | %.1f MiB | %.1f |\n", 100 * t / hz / w, r / 1024, c / w }'
awk -v t=$((v1 - v0)) -v hz="$hz" -v w="$window" -v r="$(rss "${viewers[0]}")" \
    'BEGIN { printf "| one syncctl watch | %.3f %% | %.1f MiB | |\n", 100 * t / hz / w, r / 1024 }'
echo "viewers connected: $("$bin/syncctl" status --json | grep -c '"name"') stores visible; $(ls /proc/$daemon/fd | wc -l) fds open in syncd"

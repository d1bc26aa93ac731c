#!/usr/bin/env bash
# syncd-http under a synthetic flood: 100 SSE clients against one `syncctl watch --json` viewer
# in the same run, and the daemon's CPU with and without syncd-http attached.
#
#   Benchmarks/http-sse.sh [SECONDS] [CLIENTS]     (default 8 s, 100 clients; release binaries,
#                                                   BUILD=debug for the debug ones, SCRATCH=DIR
#                                                   for a build directory other than .build)
#
# 4 synthetic stores at RATE (500) steps/s each. Phase A: one `syncctl watch --json` viewer;
# B: two; C: one, and syncd-http with CLIENTS readers of its /events. Per reader: events/s,
# latency p50/p99 (receipt time minus the event's timestamp, for the first event of each read);
# per phase the daemon's CPU (% of one core). The ratio lines: SSE p99 / syncctl p99 in the same
# run, and the daemon's extra CPU for syncd-http (C-A) against one more viewer's (B-A).
set -euo pipefail
cd "$(dirname "$0")/.."
window=${1:-8}
clients=${2:-100}
rate=${RATE:-500}
config=${BUILD:-release}
for product in syncd syncctl syncd-http; do swift build -c "$config" ${SCRATCH:+--scratch-path "$SCRATCH"} --product "$product" >/dev/null; done
bin=$(swift build -c "$config" ${SCRATCH:+--scratch-path "$SCRATCH"} --show-bin-path)
run=$(mktemp -d /tmp/syncd-sse.XXXXXX)
reader=Benchmarks/http-sse-reader.py
steps=$(( rate * (window + 20) ))
for i in 1 2 3 4; do printf '[store.flood%d]\nprovider = "synthetic"\nsteps = %d\nrate = %d\nrun_at_startup = false\n\n' "$i" "$steps" "$rate"; done > "$run/syncd.toml"
export SYNCD_SOCKET=$run/s.sock
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$run"; }
trap cleanup EXIT
"$bin/syncd" --config "$run/syncd.toml" --socket "$SYNCD_SOCKET" --state-dir "$run/state" 2>"$run/syncd.log" &
daemon=$!; pids+=($daemon)
for _ in $(seq 100); do [ -S "$SYNCD_SOCKET" ] && break; sleep 0.1; done
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
warmup=2

flood() { for i in 1 2 3 4; do "$bin/syncctl" sync "flood$i" >/dev/null; done; }
stop_flood() { for i in 1 2 3 4; do "$bin/syncctl" cancel "flood$i" >/dev/null 2>&1 || true; done; "$bin/syncctl" wait --until idle --timeout 30 >/dev/null; }
# Starts the flood and prints the CPU % of one core pid $1 used over the window (after a warm-up).
measure() {
    local pid=$1
    flood
    sleep "$warmup"
    local t0; t0=$(ticks "$pid")
    sleep "$window"
    local t1; t1=$(ticks "$pid")
    echo $(( (t1 - t0) * 100 / hz / window ))
}

# A `syncctl watch --json` viewer measured by the reader into $1 (started before the flood).
watcher() { "$bin/syncctl" watch --json | /usr/bin/python3 $reader lines 2 "$window" > "$1" & pids+=($!); }

# Phase A: the daemon and one syncctl viewer. Phase B: two (what one more viewer costs).
watcher "$run/watchA.json"; sleep 0.5
cpuA=$(measure $daemon); sleep 1; stop_flood
watcher "$run/watchB.json"; watcher "$run/watchB2.json"; sleep 0.5
cpuB=$(measure $daemon); sleep 1; stop_flood

# Phase C: one syncctl viewer and syncd-http with CLIENTS SSE readers.
"$bin/syncd-http" --listen 127.0.0.1:0 2>"$run/http.log" &
http=$!; pids+=($http)
for _ in $(seq 100); do grep -q "listening on http" "$run/http.log" && break; sleep 0.1; done
port=$(sed -n 's/^syncd-http: listening on http:\/\/127.0.0.1:\([0-9]*\)\/$/\1/p' "$run/http.log")
/usr/bin/python3 $reader sse "http://127.0.0.1:$port" "$clients" 2 "$window" > "$run/sse.json" &
ssepid=$!; pids+=($ssepid)
watcher "$run/watchC.json"
sleep 0.5
h0=$(ticks $http)
cpuC=$(measure $daemon)
h1=$(ticks $http)
wait $ssepid 2>/dev/null || true
sleep 1; stop_flood

field() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
echo "# Benchmarks/http-sse.sh $window $clients — 4 synthetic stores at $rate steps/s each, ${window}s window, $config build"
echo "| reader | events/s per client (mean / min) | p50 ms | p99 ms |"
echo "|---|---|---|---|"
row() { echo "| $1 | $(field $2 events_per_s_mean) / $(field $2 events_per_s_min) | $(field $2 p50_ms) | $(field $2 p99_ms) |"; }
row "A: syncctl watch --json, the only viewer" "$run/watchA.json"
row "B: syncctl watch --json, one of two" "$run/watchB.json"
row "C: syncctl watch --json, beside syncd-http" "$run/watchC.json"
row "C: $clients SSE clients of syncd-http (each)" "$run/sse.json"
echo
echo "daemon CPU (% of one core): A ${cpuA}%, B ${cpuB}%, C ${cpuC}%; syncd-http itself in C: $(( (h1 - h0) * 100 / hz / (window + 2) ))%"
echo "daemon cost of syncd-http with $clients clients (C-A) vs one more syncctl viewer (B-A): $((cpuC - cpuA)) vs $((cpuB - cpuA)) points"
/usr/bin/python3 - "$run" <<'PY'
import json, sys
d = sys.argv[1]
w, s = json.load(open(d + "/watchC.json")), json.load(open(d + "/sse.json"))
if w["p99_ms"] and s["p99_ms"]:
    print(f"ratio: SSE p99 / syncctl p99 = {s['p99_ms'] / max(w['p99_ms'], 0.1):.2f}x; SSE events/s / syncctl events/s = {s['events_per_s_mean'] / max(w['events_per_s_mean'], 1):.2f}x")
PY

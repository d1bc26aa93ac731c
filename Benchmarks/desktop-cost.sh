#!/usr/bin/env bash
# What syncd-desktop costs while a store syncs flat out: its CPU and the D-Bus calls it makes,
# against a `syncctl watch --json` viewer of the same events in the same run (the baseline: the
# cheapest viewer there is).
#
#   Benchmarks/desktop-cost.sh [STEPS]     (default 200000; builds release binaries first;
#                                           BIN=.build/debug to measure a debug build instead)
#
# Needs dbus-daemon and /usr/bin/python3 with python3-dbus and python3-gi (tests/desktop/
# jobview-peer.py stands in for KDE's JobViewServer and records each call).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-200000}
if [ -z "${BIN:-}" ]; then
    for p in syncd syncctl syncd-desktop; do swift build -c release --product $p >/dev/null; done
    BIN=$(swift build -c release --show-bin-path)
fi
run=$(mktemp -d /tmp/desk-bench.XXXXXX)
printf '[store.flood]\nprovider = "synthetic"\nsteps = %d\nrate = 1000000\nrun_at_startup = false\n' "$steps" > "$run/syncd.toml"
cat > "$run/bus.conf" <<'CONF'
<busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
CONF
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$run"; }
trap cleanup EXIT
dbus-daemon --config-file="$run/bus.conf" --nofork --address="unix:path=$run/bus" --print-address=1 > "$run/bus.addr" 2>/dev/null & pids+=($!)
until [ -s "$run/bus.addr" ]; do sleep 0.05; done
export DBUS_SESSION_BUS_ADDRESS=$(head -1 "$run/bus.addr") SYNCD_SOCKET=$run/s.sock
"$BIN/syncd" --config "$run/syncd.toml" --socket "$SYNCD_SOCKET" --state-dir "$run/state" 2>"$run/syncd.log" & pids+=($!)
/usr/bin/python3 tests/desktop/jobview-peer.py "$run/calls.jsonl" & pids+=($!)
for _ in $(seq 200); do [ -S "$SYNCD_SOCKET" ] && gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.NameHasOwner org.kde.JobViewServer 2>/dev/null | grep -q true && break; sleep 0.05; done
"$BIN/syncd-desktop" 2>"$run/desktop.log" & desktop=$!; pids+=($desktop)
"$BIN/syncctl" watch --json > "$run/watch.jsonl" & watch=$!; pids+=($watch)
until grep -q "connected to" "$run/desktop.log" 2>/dev/null; do sleep 0.05; done
sleep 0.5
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
d0=$(ticks $desktop); w0=$(ticks $watch); t0=$(date +%s.%N)
"$BIN/syncctl" sync --wait flood >/dev/null || true
sleep 0.5   # the last tick and the view's end
t1=$(date +%s.%N); d1=$(ticks $desktop); w1=$(ticks $watch)
hz=$(getconf CLK_TCK)
events=$(grep -c '"progress"' "$run/watch.jsonl" || true)
calls=$(grep -vc '"Update"' "$run/calls.jsonl" || true)
updates=$(grep -c '"Update"' "$run/calls.jsonl" || true)
awk -v s="$steps" -v t0="$t0" -v t1="$t1" -v d="$((d1 - d0))" -v w="$((w1 - w0))" -v hz="$hz" -v e="$events" -v c="$calls" -v u="$updates" 'BEGIN {
    secs = t1 - t0
    printf "synthetic store: %d steps in %.2f s; syncctl watch saw %d Progress events (after merging)\n", s, secs, e
    printf "syncd-desktop: %.2f s CPU, %d JobView calls, %d launcher signals (%.1f D-Bus messages/s)\n", d / hz, c, u, (c + u) / secs
    printf "syncctl watch --json (baseline): %.2f s CPU\n", w / hz
    if (w > 0) printf "ratio syncd-desktop / syncctl watch CPU: %.2fx\n", d / w; else print "ratio: baseline used under one tick"
}'

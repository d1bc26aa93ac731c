#!/usr/bin/env bash
# The daemon's fan-out path end to end: the real syncd with 16 synthetic stores publishing as fast
# as they can, 1 / 10 / 100 viewer processes reading, and in the same run a raw C epoll fan-out
# (Benchmarks/fanout-baseline.c) writing frames of the same layout and sizes to the same readers.
#
#   Benchmarks/daemon-fanout.sh [SECONDS]     (default 5 s per phase; VIEWERS="1 10 100";
#                                              SCRATCH=DIR for a release build directory other
#                                              than .build-release, which `make build` fills once)
#
# Readers: Benchmarks/fanout-reader.c, one process per viewer (fork), 64 KiB reads parsed in
# place: a few ns per event, so the figures are the sender's. Per phase: events/s delivered per
# viewer and in total, the ratio to the baseline, the daemon's CPU (% of one core) over the
# window, and, so that the figure says what a viewer sees, the providers' callbacks/s (how far the
# runs' indexes moved) against the Progress events/s a viewer got and the callbacks those stand
# for (merged Progress carries `callbacks` > 1). Then both at a paced 10 000 events/s (16 stores
# at 625 steps/s; the baseline writes each frame when due) with 10 viewers: p50/p99 latency,
# receipt time minus the event's own time field.
set -euo pipefail
cd "$(dirname "$0")/.."
window=${1:-5}
viewer_counts=${VIEWERS:-1 10 100}
scratch=${SCRATCH:-.build-release}
stores=16
warmup=2
# NO_BUILD=1: take the binaries as they are (a rerun on an unchanged tree).
[ -n "${NO_BUILD:-}" ] || make build SCRATCH="$scratch" PRODUCTS="syncd syncctl" >/dev/null 2>"${TMPDIR:-/tmp}/daemon-fanout-build.log"
bin=$scratch/release
run=$(mktemp -d /tmp/syncd-fanout.XXXXXX)
cc -O2 -o "$run/reader" Benchmarks/fanout-reader.c
cc -O2 -o "$run/baseline" Benchmarks/fanout-baseline.c
{
    printf '[daemon]\nmax_concurrent_runs = 64\nmax_viewers = 512\nmax_viewers_per_user = 512\n\n'
    for i in $(seq -w 1 $stores); do
        printf '[store.flood%s]\nprovider = "synthetic"\nsteps = 2147483647\nrate = 1000000\nrun_at_startup = false\n\n' "$i"
        printf '[store.paced%s]\nprovider = "synthetic"\nsteps = 2147483647\nrate = %d\nrun_at_startup = false\n\n' "$i" $((10000 / stores))
    done
} > "$run/syncd.toml"
export SYNCD_SOCKET=$run/s.sock
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    # Only our own processes, by pid; one that ignores SIGTERM for 10 s gets SIGKILL.
    local p alive
    for _ in $(seq 100); do
        alive=
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ -n "$alive" ] || break
        sleep 0.1
    done
    kill -9 "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$run"
}
trap cleanup EXIT
"$bin/syncd" --config "$run/syncd.toml" --socket "$SYNCD_SOCKET" --state-dir "$run/state" 2>"$run/syncd.log" &
daemon=$!; pids+=($daemon)
for _ in $(seq 100); do [ -S "$SYNCD_SOCKET" ] && break; sleep 0.1; done
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now_us() { date +%s%6N; }
names() { for i in $(seq -w 1 $stores); do printf '%s%s ' "$1" "$i"; done; }
field() { tr ' ' '\n' < "$1" | sed -n "s/^$2=//p"; }

# daemon KIND VIEWERS OUT: the readers on syncd while the KIND stores run; the daemon's CPU % into OUT.cpu.
daemon_phase() {
    local start=$(( $(now_us) + warmup * 1000000 )); local end=$(( start + window * 1000000 ))
    "$run/reader" "$SYNCD_SOCKET" "$2" "$start" "$end" > "$3" & local reader=$!; pids+=($reader)
    sleep 0.5
    "$bin/syncctl" sync $(names "$1") >/dev/null
    sleep "$(awk -v t="$start" -v n="$(now_us)" 'BEGIN { d = (t - n) / 1e6; print (d > 0 ? d : 0) }')"
    local t0; t0=$(ticks $daemon)
    sleep "$window"
    local t1; t1=$(ticks $daemon)
    wait $reader
    "$bin/syncctl" cancel $(names "$1") >/dev/null 2>&1 || true
    "$bin/syncctl" wait --until idle --timeout 30 >/dev/null || true
    echo $(( (t1 - t0) * 100 / hz / window )) > "$3.cpu"
}

# baseline RATE VIEWERS OUT: the same readers on the raw fan-out.
baseline_phase() {
    local start=$(( $(now_us) + warmup * 1000000 )); local end=$(( start + window * 1000000 ))
    "$run/baseline" "$run/base.sock" "$2" $stores "$1" "$end" > "$3.made" & local sender=$!; pids+=($sender)
    for _ in $(seq 100); do [ -S "$run/base.sock" ] && break; sleep 0.05; done
    "$run/reader" "$run/base.sock" "$2" "$start" "$end" > "$3"
    wait $sender
}

echo "# Benchmarks/daemon-fanout.sh $window — $stores synthetic stores, ${window}s per phase, release build, $(nproc) cores"
echo
echo "| viewers | syncd events/s per viewer | total | baseline per viewer | total | ratio | syncd CPU | provider callbacks/s | Progress events/s per viewer | callbacks they stand for |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for v in $viewer_counts; do
    daemon_phase flood "$v" "$run/d$v"
    baseline_phase 0 "$v" "$run/b$v"
    d=$run/d$v b=$run/b$v
    ratio=$(awk -v a="$(field "$d" events_total_per_s)" -v b="$(field "$b" events_total_per_s)" 'BEGIN { printf "%.2f", a / b }')
    echo "| $v | $(field "$d" events_per_viewer_per_s) (min $(field "$d" min_viewer_per_s)) | $(field "$d" events_total_per_s) | $(field "$b" events_per_viewer_per_s) | $(field "$b" events_total_per_s) | ${ratio}× | $(cat "$d.cpu") % | $(field "$d" steps_per_s) | $(field "$d" progress_per_viewer_per_s) | $(field "$d" callbacks_per_viewer_per_s) |"
done
daemon_phase paced 10 "$run/dp"
baseline_phase 10000 10 "$run/bp"
echo
echo "| paced 10 000 events/s, 10 viewers | events/s per viewer | p50 µs | p99 µs | CPU |"
echo "|---|---|---|---|---|"
echo "| syncd | $(field "$run/dp" events_per_viewer_per_s) | $(field "$run/dp" p50_us) | $(field "$run/dp" p99_us) | $(cat "$run/dp.cpu") % |"
echo "| baseline | $(field "$run/bp" events_per_viewer_per_s) | $(field "$run/bp" p50_us) | $(field "$run/bp" p99_us) | |"
awk -v a="$(field "$run/dp" p50_us)" -v b="$(field "$run/bp" p50_us)" -v c="$(field "$run/dp" p99_us)" -v d="$(field "$run/bp" p99_us)" \
    'BEGIN { printf "\nlatency vs baseline: p50 %.2f×, p99 %.2f×\n", a / (b > 0 ? b : 1), c / (d > 0 ? d : 1) }'

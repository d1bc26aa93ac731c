#!/usr/bin/env bash
# Push's idle cost: 2 imap accounts with 10 pushed folders each (20 IDLE connections, NOTIFY off),
# nothing changing, for MINUTES minutes: syncd's CPU (utime+stime from /proc/PID/stat) as % of one
# core, and its wake-ups beside the keep-alives it is expected to make.
#
#   Benchmarks/push-idle-cost.sh [MINUTES]     (default 10; target ≤ 0.1 % of a core)
#
# Wake-ups are counted by `perf stat -e context-switches` when perf can count here, else as the
# delta of voluntary+involuntary context switches over syncd's threads (/proc/PID/task/*/status).
# Expected: one keep-alive (DONE, tagged OK, IDLE, continuation) per folder per push_keepalive
# (10 min), and Dovecot's own "* OK Still here" per IDLE connection every 2 min
# (imap_idle_notify_interval); each is a few switches (the socket's event loop, the task's thread).
# SYNCD_BIN=DIR uses binaries already built there (e.g. .build/debug) instead of `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
window=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
dpkg-query -W -f='${Status}' dovecot-imapd 2>/dev/null | grep -q "install ok installed" || {
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null
}
if [ -n "${SYNCD_BIN:-}" ]; then bin=$SYNCD_BIN; else make build >/dev/null; bin=.build-release/release; fi
py=/usr/bin/python3

work=$(mktemp -d /tmp/push-idle-cost.XXXXXX)
chmod 755 "$work"
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tests/dovecot/dovecot.sh start "$work/dovecot" "$port" $((port + 1)) >/dev/null
folders="INBOX,F01,F02,F03,F04,F05,F06,F07,F08,F09"
for user in alice bob; do
    python3 tests/dovecot/make-mailbox.py "$work/dovecot/mail/$user" --messages 20 --folders "$folders" >/dev/null
done
[ "$(id -u)" -ne 0 ] || chown -R 65534:65534 "$work/dovecot/mail"
cleanup() {
    # Only the pid this script started.
    [ -z "${daemon:-}" ] || kill "$daemon" 2>/dev/null || true
    wait 2>/dev/null || true
    tests/dovecot/dovecot.sh stop "$work/dovecot"
    rm -rf "$work"
}
trap cleanup EXIT
echo secret > "$work/password"
push=$(echo "$folders" | sed 's/[^,]*/"&"/g; s/,/, /g')
for user in alice bob; do
    cat <<TOML
[store.$user]
provider = "imap"
host = "127.0.0.1"
port = $port
security = "none"
user = "$user"
password = { file = "$work/password" }
maildir = "$work/maildir-$user"
interval = "24h"
push = [$push]
push_connections = 10
push_notify = false

TOML
done > "$work/syncd.toml"
"$bin/syncd" --config "$work/syncd.toml" --socket "$work/s.sock" --state-dir "$work/state" 2>"$work/syncd.log" &
daemon=$!
for _ in $(seq 600); do
    [ "$("$bin/syncctl" --socket "$work/s.sock" status 2>/dev/null | grep -c "push: listening (IDLE, 10 folders")" -eq 2 ] && break
    sleep 0.2
done
"$bin/syncctl" --socket "$work/s.sock" status | grep "push:"
# Past the start-up runs' tails (relisting, the Maildir watch settling).
sleep 5

ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
# Per thread (name and switches), to tell which of them wakes: printed at the end.
by_thread() {
    for t in /proc/"$1"/task/*; do
        echo "$(basename "$t") $(tr ' ' _ < "$t/comm") $(awk '/ctxt_switches/ { s += $2 } END { print s }' "$t/status")"
    done | sort
}
hz=$(getconf CLK_TCK)
by_thread "$daemon" > "$work/threads0"
t0=$(ticks "$daemon")
perf_out=""
if command -v perf >/dev/null; then
    perf_out=$(perf stat -x, -e context-switches -p "$daemon" -- sleep "$window" 2>&1 >/dev/null || true)
else
    sleep "$window"
fi
t1=$(ticks "$daemon")
by_thread "$daemon" > "$work/threads1"
# Per thread, because a thread that ends takes its count out of /proc: the switches of threads alive
# at the end since the start (a thread born in the window counts whole); those that ended are named.
switched=$(join -a 2 -e 0 -o 2.1,1.3,2.3 "$work/threads0" "$work/threads1" | awk '{ s += $3 - $2 } END { print s + 0 }')
ended=$(join -v 1 "$work/threads0" "$work/threads1" | wc -l)
perf_switches=$(echo "$perf_out" | awk -F, '/context-switches/ && $1 ~ /^[0-9]+$/ { print $1 }')

echo "command: $0 $minutes   (syncd from $bin; 2 accounts, 20 folders on IDLE, ${window}s window)"
awk -v t=$((t1 - t0)) -v hz="$hz" -v w="$window" 'BEGIN {
    printf "syncd CPU: %.2f s over %d s = %.4f %% of one core (target <= 0.1 %%)\n", t / hz, w, 100 * t / hz / w }'
echo "syncd context switches (/proc, per thread): $switched = $(awk -v c="$switched" -v w="$window" 'BEGIN { printf "%.2f", c / w }')/s$([ "$ended" -eq 0 ] || echo " (not counting $ended threads that ended in the window)")"
[ -z "$perf_switches" ] || echo "syncd context switches (perf stat): $perf_switches"
[ -n "$perf_switches" ] || echo "perf stat: cannot count here (${perf_out:-not installed}); /proc figure above"
awk -v w="$window" 'BEGIN {
    k = 20 * int(w / 600); s = 20 * int(w / 120)
    printf "expected events: %d keep-alives (20 folders x every 600 s) + %d Dovecot \"OK Still here\" (20 x every 120 s) = %d\n", k, s, k + s }'
echo "switches by thread (name: count), the busiest:"
join "$work/threads0" "$work/threads1" | awk '$5 > $3 { print "  " $2 ": " $5 - $3 }' | sort -t: -k2 -n -r | head -8

#!/usr/bin/env bash
# Push latency: how long a change on one side takes to reach the other, with syncd's push (IMAP
# IDLE + inotify on the Maildir) beside mbsync on a 60 s timer (the usual setup), same Dovecot.
#
#   Benchmarks/push-latency.sh [MESSAGES [MBSYNC_MESSAGES [FLAGS]]]     (default 200, 10, 50)
#
# 1. server → Maildir: another client APPENDs a message at random intervals (0.1–0.6 s apart); the
#    time until its file appears in the Maildir (watched with inotify by the benchmark), and the
#    time from when a third client's IDLE hears of it: Dovecot tells IDLE and NOTIFY clients of
#    another session's change 500 ms after it at the earliest (NOTIFY_DELAY_MSECS in its
#    mailbox-watch.c), so that is syncd's own share.
# 2. Maildir → server: a flag set in the Maildir (a rename in cur/, as a mail client does); the
#    time until it is on the server (another client's NOOP every 10 ms shows it), and until a
#    third client's IDLE sees the FETCH — which Dovecot sends 500 ms after the change at the
#    earliest (NOTIFY_DELAY_MSECS in its mailbox-watch.c: it coalesces changes for IDLE).
# 3. mbsync (isync) run every 60 s by a timer loop started at a random phase, direction 1, the
#    messages 0.1–60 s apart (random points of its cycle): its delay is measured, not assumed.
# Prints p50 / p99 / max per case and syncd's ratio to mbsync. SYNCD_BIN=DIR uses binaries
# already built there (e.g. .build/debug) instead of `make build`; PUSH_NOTIFY=false measures IDLE
# where the server offers NOTIFY (Dovecot does).
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-200}
mbsync_messages=${2:-10}
flags=${3:-50}
for p in dovecot-imapd isync; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
        sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get install -y -qq --no-install-recommends dovecot-imapd isync >/dev/null
    }
done
if [ -n "${SYNCD_BIN:-}" ]; then bin=$SYNCD_BIN; else make build >/dev/null; bin=.build-release/release; fi
py=/usr/bin/python3

work=$(mktemp -d /tmp/push-bench.XXXXXX)
chmod 755 "$work"
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tests/dovecot/dovecot.sh start "$work/dovecot" "$port" $((port + 1)) >/dev/null
python3 tests/dovecot/make-mailbox.py "$work/dovecot/mail/alice" --messages 20 --folders INBOX >/dev/null
[ "$(id -u)" -ne 0 ] || chown -R 65534:65534 "$work/dovecot/mail"
cleanup() {
    # Only pids this script started (never `kill 0`: that is the whole process group).
    [ -z "${daemon:-}" ] || kill "$daemon" 2>/dev/null || true
    [ -z "${timer:-}" ] || kill -- "-$timer" 2>/dev/null || true
    wait 2>/dev/null || true
    tests/dovecot/dovecot.sh stop "$work/dovecot"
    rm -rf "$work"
}
trap cleanup EXIT
echo secret > "$work/password"

stats() {  # name, file of seconds → "name: n=…, p50 …, p99 …, max …" and sets p50
    $py - "$1" "$2" <<'PY'
import sys
name, path = sys.argv[1], sys.argv[2]
v = sorted(float(l) for l in open(path) if l.strip() and l.strip() != "timeout")
t = sum(1 for l in open(path) if l.strip() == "timeout")
q = lambda p: v[min(len(v) - 1, int(round(p * (len(v) - 1))))]
print(f"{name}: n={len(v)}{f' ({t} timed out)' if t else ''}  p50 {q(.5):.3f} s  p99 {q(.99):.3f} s  max {v[-1]:.3f} s")
PY
}

# --- syncd ---
cat > "$work/syncd.toml" <<TOML
[store.mail]
provider = "imap"
host = "127.0.0.1"
port = $port
security = "none"
user = "alice"
password = { file = "$work/password" }
maildir = "$work/syncd"
interval = "15m"
push_notify = ${PUSH_NOTIFY:-true}
TOML
"$bin/syncd" --config "$work/syncd.toml" --socket "$work/s.sock" --state-dir "$work/state" 2>"$work/syncd.log" &
daemon=$!
until "$bin/syncctl" --socket "$work/s.sock" status 2>/dev/null | grep -Eq "push: listening \((NOTIFY|IDLE), 1 folder"; do sleep 0.2; done
"$bin/syncctl" --socket "$work/s.sock" status | grep "push:"
echo "command: $0 $messages $mbsync_messages $flags   (syncd from $bin)"
$py Benchmarks/push-latency.py append "$port" "$work/syncd" "$messages" 0.6 1 > "$work/syncd-append-both.txt"
awk '{print $1}' "$work/syncd-append-both.txt" > "$work/syncd-append.txt"
awk 'NF == 2 {print $2}' "$work/syncd-append-both.txt" > "$work/syncd-append-share.txt"
stats "syncd   server→Maildir ($messages APPENDs)" "$work/syncd-append.txt"
stats "syncd   server→Maildir, from the server's IDLE notice (Dovecot sends it 500 ms after the APPEND)" "$work/syncd-append-share.txt"
$py Benchmarks/push-latency.py flag "$port" "$work/syncd" "$flags" > "$work/syncd-flag.txt"
awk '{print $1}' "$work/syncd-flag.txt" > "$work/syncd-flag-server.txt"
awk '{print $2}' "$work/syncd-flag.txt" > "$work/syncd-flag-idle.txt"
stats "syncd   Maildir→server ($flags flags set; on the server, seen by a NOOP every 10 ms)" "$work/syncd-flag-server.txt"
stats "syncd   Maildir→server (the same, seen by another client's IDLE: Dovecot adds 500 ms)" "$work/syncd-flag-idle.txt"
kill "$daemon"; wait "$daemon" || true; daemon=

# --- mbsync on a 60 s timer ---
mkdir -p "$work/mbsync"
cat > "$work/mbsyncrc" <<RC
IMAPAccount bench
Host 127.0.0.1
Port $port
User alice
Pass secret
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path $work/mbsync/
Inbox $work/mbsync/INBOX

Channel bench
Far :remote:
Near :local:
Patterns INBOX
Create Near
SyncState *
RC
mbsync -c "$work/mbsyncrc" -a >/dev/null 2>&1
# Its own process group (set -m), so that cleanup stops the sleep or mbsync it is in as well.
set -m
( sleep "$($py -c 'import random; print(random.uniform(0, 60))')"; while true; do mbsync -c "$work/mbsyncrc" -a >/dev/null 2>&1; sleep 60; done ) &
set +m
timer=$!
# Up to a whole period between messages, so they arrive at random points of the timer's cycle.
$py Benchmarks/push-latency.py append "$port" "$work/mbsync/INBOX" "$mbsync_messages" 60 > "$work/mbsync-append.txt"
stats "mbsync  server→Maildir ($mbsync_messages APPENDs, 60 s timer)" "$work/mbsync-append.txt"
$py - "$work/syncd-append.txt" "$work/mbsync-append.txt" <<'PY'
import sys
def p50(path):
    v = sorted(float(l) for l in open(path) if l.strip() and l.strip() != "timeout")
    return v[len(v) // 2]
a, b = p50(sys.argv[1]), p50(sys.argv[2])
print(f"ratio server→Maildir p50, syncd/mbsync: {a / b:.4f} ({b / a:.0f}× sooner)")
PY

#!/usr/bin/env bash
# The imap provider against mbsync (isync 1.4, FSync on), same Dovecot, same mailbox, same run.
#
#   Benchmarks/imap-vs-mbsync.sh [MESSAGES]     (default 10000, ~170 MB)
#
# Times each tool's syncs: the first (full) download, a re-sync with nothing new, and a re-sync
# after 100 new messages, each with the page cache dropped first (when run as root); then a
# re-sync with nothing new right after another (warm cache: a daemon's usual case). Reports wall
# time (for syncd: `syncctl sync --wait` against the running daemon, client start-up included),
# CPU time (user+sys of the syncing process) and max RSS, and syncd's ratio to mbsync.
# Needs root or sudo for apt (dovecot-imapd, isync).
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-10000}
for p in dovecot-imapd isync time; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
        sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get install -y -qq --no-install-recommends dovecot-imapd isync time >/dev/null
    }
done
# The binaries `make install` installs: release, Swift runtime linked statically.
make build >/dev/null
bin=.build-release/release

work=$(mktemp -d /tmp/imap-bench.XXXXXX)
chmod 755 "$work"  # Dovecot's own users read its config and passwords below it
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tests/dovecot/dovecot.sh start "$work/dovecot" "$port" $((port + 1)) >/dev/null
cleanup() { kill "${daemon:-0}" 2>/dev/null || true; tests/dovecot/dovecot.sh stop "$work/dovecot"; rm -rf "$work"; }
trap cleanup EXIT
[ -z "${KEEP:-}" ] || trap - EXIT
generate() {
    python3 tests/dovecot/make-mailbox.py "$work/dovecot/mail/alice" --messages "$1" --first "$2" >/dev/null
    [ "$(id -u)" -ne 0 ] || chown -R 65534:65534 "$work/dovecot/mail"
    # Let Dovecot index the new mail now, so neither tool pays for it.
    python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); f = s.makefile("rb"); f.readline()
def cmd(tag, line):
    s.sendall(f"{tag} {line}\r\n".encode())
    out = []
    while True:
        l = f.readline(); out.append(l)
        if l.startswith(tag.encode() + b" "): return out
cmd("a", "LOGIN alice secret")
boxes = [l.split(b'"/" ')[1].strip().decode() for l in cmd("b", 'LIST "" "*"') if l.startswith(b"* LIST") and b"Noselect" not in l]
for i, box in enumerate(boxes): cmd(f"c{i}", f"STATUS {box} (MESSAGES UIDNEXT)")
cmd("z", "LOGOUT")
PY
}
generate "$messages" 0
echo secret > "$work/password"

# --- mbsync ---
mkdir -p "$work/mbsync"
cat > "$work/mbsyncrc" <<RC
FSync yes
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
SubFolders Verbatim

Channel bench
Far :remote:
Near :local:
Patterns *
Create Near
SyncState *
RC
# wall seconds, CPU seconds (to the microsecond, from wait4's rusage), max RSS in KiB. /usr/bin/time
# reports mbsync's own max RSS; its own CPU time (measured here on `true`) is taken off mbsync's.
mbsync_run() {
    python3 - "$work/mbsyncrc" "$work/time" 2>>"$work/mbsync.log" <<'PY'
import os, sys, time
def spawn(argv, stdout=None):
    actions = [(os.POSIX_SPAWN_DUP2, os.open(os.devnull, os.O_WRONLY), 1)]
    start = time.monotonic()
    _, _, usage = os.wait4(os.posix_spawn(argv[0], argv, os.environ, file_actions=actions), 0)
    return time.monotonic() - start, usage.ru_utime + usage.ru_stime
timer = ["/usr/bin/time", "-f", "%M", "-o", sys.argv[2]]
_, overhead = spawn(timer + ["/bin/true"])
_, alone = spawn(["/bin/true"])
wall, cpu = spawn(timer + ["/usr/bin/mbsync", "-c", sys.argv[1], "-a", "-q"])
rss = int(open(sys.argv[2]).read().split()[-1])
print(f"{wall:.4f} {max(cpu - (overhead - alone), 0):.4f} {rss}")
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
maildir = "$work/syncd-mail"
run_at_startup = false
TOML
export SYNCD_SOCKET=$work/syncd.sock
"$bin/syncd" --config "$work/syncd.toml" --socket "$SYNCD_SOCKET" --state-dir "$work/state" 2>"$work/syncd.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$SYNCD_SOCKET" ] && break; sleep 0.1; done
# The daemon's CPU time in nanoseconds: every thread's time on a CPU (schedstat), to the nanosecond.
cpu() { cat /proc/$daemon/task/*/schedstat | awk '{sum += $1} END {printf "%d\n", sum}'; }
syncd_run() {
    local c0 t0 t1 c1
    c0=$(cpu); t0=$(date +%s.%N)
    "$bin/syncctl" sync mail --wait >/dev/null
    t1=$(date +%s.%N); c1=$(cpu)
    awk -v a="$t0" -v b="$t1" -v c0="$c0" -v c1="$c1" -v rss="$(awk '/VmHWM/ {print $2}' /proc/$daemon/status)" \
        'BEGIN {printf "%.4f %.4f %d\n", b - a, (c1 - c0) / 1e9, rss}'
}

declare -A results
phases="full nothing new100 nothing-warm"
for phase in $phases; do
    if [ "$phase" = new100 ]; then generate 100 "$messages"; fi
    if [ "$phase" = nothing-warm ]; then
        mbsync_run >/dev/null
        results[mbsync-$phase]=$(mbsync_run)
        syncd_run >/dev/null
        results[syncd-$phase]=$(syncd_run)
        continue
    fi
    sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
    results[mbsync-$phase]=$(mbsync_run)
    sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
    results[syncd-$phase]=$(syncd_run)
done

count() { find "$1" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l; }
echo "# Benchmarks/imap-vs-mbsync.sh $messages — Dovecot on loopback, $(du -sh "$work/dovecot/mail/alice" | cut -f1) mailbox, both fsync"
[ ! -s "$work/mbsync.log" ] || { echo "# mbsync said:"; sed "s/^/#   /" "$work/mbsync.log" | sort -u | head -5; }
echo "# messages on disk after the runs: syncd $(count "$work/syncd-mail"), mbsync $(count "$work/mbsync")"
echo "| sync | syncd wall | mbsync wall | ratio | syncd CPU | mbsync CPU | ratio | syncd max RSS | mbsync max RSS |"
echo "|---|---|---|---|---|---|---|---|---|"
for phase in $phases; do
    read -r sw sc sr <<< "${results[syncd-$phase]}"
    read -r mw mc mr <<< "${results[mbsync-$phase]}"
    awk -v p="$phase" -v sw="$sw" -v mw="$mw" -v sc="$sc" -v mc="$mc" -v sr="$sr" -v mr="$mr" 'BEGIN {
        printf "| %s | %.3f s | %.3f s | %.2f× | %.3f s | %.3f s | %.2f× | %.1f MiB | %.1f MiB |\n",
            p, sw, mw, sw / (mw > 0 ? mw : 0.01), sc, mc, sc / (mc > 0 ? mc : 0.01), sr / 1024, mr / 1024 }'
done

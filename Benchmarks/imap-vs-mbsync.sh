#!/usr/bin/env bash
# The imap provider against mbsync (isync 1.4, FSync on), same Dovecot, same mailbox, same run.
#
#   Benchmarks/imap-vs-mbsync.sh [MESSAGES]     (default 10000, ~170 MB)
#
# Times each tool's syncs: the first (full) download, a re-sync with nothing new, and a re-sync
# after 100 new messages, each with the page cache dropped first (when run as root); then a
# re-sync with nothing new right after another (warm cache: a daemon's usual case). Then the
# upload direction, as a mail client leaves the Maildir: 1 000 new local messages, 1 000 local
# flag changes, 500 messages moved between two folders, 500 deleted (each tool's own changes,
# measured; the other tool then takes them in, unmeasured). Reports wall time (for syncd:
# `syncctl sync --wait` against the running daemon, client start-up included), CPU time
# (user+sys of the syncing process), max RSS, the bytes the server received (Dovecot's
# `in=` per logout), and syncd's ratio to mbsync.
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
Create Both
Expunge Both
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
# Each tool syncs when asked, as mbsync does: no run of syncd's own (its Maildir watch on the
# change script's files, or IDLE on mbsync's) beside or before the one measured.
push = []
push_local = false
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

# Bytes the server received from a run: the sum of Dovecot's in= over the sessions that ended since.
log=$work/dovecot/log/dovecot.log
mark() { wc -l <"$log"; }
received() { tail -n +"$(( $1 + 1 ))" "$log" | grep -o ' in=[0-9]*' | awk -F= '{s += $2} END {print s + 0}'; }
measure() {  # tool: "wall cpu rss received"
    local before line
    before=$(mark)
    if [ "$1" = syncd ]; then line=$(syncd_run); else line=$(mbsync_run); fi
    sleep 0.2  # the logout line
    echo "$line $(received "$before")"
}

# A mail client's changes to one tool's Maildir: INBOX and Archiv/2024 in each tool's layout.
change() {
    local inbox archive
    if [ "$1" = syncd ]; then inbox=$work/syncd-mail archive=$work/syncd-mail/.Archiv.2024
    else inbox=$work/mbsync/INBOX archive=$work/mbsync/Archiv/2024; fi
    python3 - "$2" "$1" "$inbox" "$archive" <<'PY'
import os, sys, time
phase, tool, inbox, archive = sys.argv[1:]
cur = os.path.join(inbox, "cur")
names = sorted(n for n in os.listdir(cur) if not n.startswith("."))
if phase == "new1000":
    for i in range(1000):
        body = (f"From: Bench <bench@example.org>\nTo: alice@example.org\nSubject: local {tool} {i}\n"
                f"Message-ID: <local.{tool}.{i}@example.org>\nDate: Tue, 24 Nov 2025 16:00:00 +0000\n\n"
                + "A message saved by a mail client.\n" * 40)
        name = f"{int(time.time())}.bench{tool}{i}.local:2,S"
        with open(os.path.join(inbox, "tmp", name), "w") as f: f.write(body)
        os.rename(os.path.join(inbox, "tmp", name), os.path.join(cur, name))
elif phase == "flags1000":
    for n in names[:1000]:
        base, _, flags = n.partition(":2,")
        os.rename(os.path.join(cur, n), os.path.join(cur, base + ":2," + "".join(sorted(set(flags) | {"F"}))))
elif phase == "move500":
    for n in names[:500]: os.rename(os.path.join(cur, n), os.path.join(archive, "cur", n))
elif phase == "delete500":
    for n in names[-500:]: os.unlink(os.path.join(cur, n))
PY
}

declare -A results
phases="full nothing new100 nothing-warm"
for phase in $phases; do
    if [ "$phase" = new100 ]; then generate 100 "$messages"; fi
    if [ "$phase" = nothing-warm ]; then
        mbsync_run >/dev/null
        results[mbsync-$phase]=$(measure mbsync)
        syncd_run >/dev/null
        results[syncd-$phase]=$(measure syncd)
        continue
    fi
    sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
    results[mbsync-$phase]=$(measure mbsync)
    sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
    results[syncd-$phase]=$(measure syncd)
done
upload_phases="new1000 flags1000 move500 delete500"
for phase in $upload_phases; do
    change syncd "$phase"
    results[syncd-$phase]=$(measure syncd)
    mbsync_run >/dev/null  # takes syncd's changes in
    change mbsync "$phase"
    results[mbsync-$phase]=$(measure mbsync)
    syncd_run >/dev/null  # takes mbsync's changes in
done
phases="$phases $upload_phases"

count() { find "$1" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l; }
echo "# Benchmarks/imap-vs-mbsync.sh $messages — Dovecot on loopback, $(du -sh "$work/dovecot/mail/alice" | cut -f1) mailbox, both fsync"
[ ! -s "$work/mbsync.log" ] || { echo "# mbsync said:"; sed "s/^/#   /" "$work/mbsync.log" | sort -u | head -5; }
echo "# messages on disk after the runs: syncd $(count "$work/syncd-mail"), mbsync $(count "$work/mbsync")"
echo "| sync | syncd wall | mbsync wall | ratio | syncd CPU | mbsync CPU | ratio | syncd max RSS | mbsync max RSS | syncd sent | mbsync sent |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for phase in $phases; do
    read -r sw sc sr sb <<< "${results[syncd-$phase]}"
    read -r mw mc mr mb <<< "${results[mbsync-$phase]}"
    awk -v p="$phase" -v sw="$sw" -v mw="$mw" -v sc="$sc" -v mc="$mc" -v sr="$sr" -v mr="$mr" -v sb="$sb" -v mb="$mb" 'BEGIN {
        printf "| %s | %.3f s | %.3f s | %.2f× | %.3f s | %.3f s | %.2f× | %.1f MiB | %.1f MiB | %.1f KiB | %.1f KiB |\n",
            p, sw, mw, sw / (mw > 0 ? mw : 0.01), sc, mc, sc / (mc > 0 ? mc : 0.01), sr / 1024, mr / 1024, sb / 1024, mb / 1024 }'
done

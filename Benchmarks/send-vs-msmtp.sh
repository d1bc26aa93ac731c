#!/usr/bin/env bash
# Sending: syncd's outbox against msmtp, same Postfix (submission with STARTTLS and AUTH through
# Dovecot, delivery over LMTP into Dovecot; tests/postfix/postfix.sh), same messages, same run.
#
#   Benchmarks/send-vs-msmtp.sh [MESSAGES]     (default 200)
#
# MESSAGES messages of mail-like sizes (most 2–40 KB, one in ten 200 KB–1 MB) are sent to
# bob@example.test three ways, as a mail client hands them over:
#   msmtp          one `msmtp -t` process per message (what mutt's sendmail setting runs);
#   syncd          one `syncd-sendmail -t` per message into the outbox of a running syncd, which
#                  sends what waits over one connection (pipelined) and files nothing
#                  (save_sent = false: the same work as msmtp);
#   syncd+Sent     the same with the default save_sent = true: each sent copy is also APPENDed
#                  to the server's Sent folder by the same run.
# Each ends when the last message has the server's 250 (msmtp: its last process exits; syncd:
# the outbox is empty). Prints wall time, CPU time (msmtp's processes; syncd-sendmail's processes
# plus the daemon's threads), and syncd's ratios to msmtp. Needs root (Postfix's master).
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-200}
[ "$(id -u)" -eq 0 ] || { echo "send-vs-msmtp.sh: needs root (Postfix's master runs as root)" >&2; exit 2; }
for p in dovecot-imapd dovecot-lmtpd postfix msmtp; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd dovecot-lmtpd postfix sasl2-bin libsasl2-modules msmtp >/dev/null
    }
done
# SYNCD_BIN=DIR uses binaries built there already (e.g. .build/debug: slower) instead of `make build`.
if [ -n "${SYNCD_BIN:-}" ]; then bin=$(realpath "$SYNCD_BIN"); else
    echo "building the release binaries (make build)..." >&2
    make build >/dev/null
    bin=$PWD/.build-release/release
fi

work=$(mktemp -d /tmp/send-bench.XXXXXX)
chmod 755 "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
imap=$(free_port) imaps=$(free_port) submission=$(free_port) smtps=$(free_port) cleartext=$(free_port)
DOVECOT_POSTFIX=1 tests/dovecot/dovecot.sh start "$work/dovecot" "$imap" "$imaps" >/dev/null
tests/postfix/postfix.sh start "$work/postfix" "$submission" "$smtps" "$cleartext" "$work/dovecot" >/dev/null
daemon=""
cleanup() {
    [ -z "$daemon" ] || { kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null || true; }
    tests/postfix/postfix.sh stop "$work/postfix"
    tests/dovecot/dovecot.sh stop "$work/dovecot"
    rm -rf "$work"
}
trap cleanup EXIT

python3 - "$work/messages" "$messages" <<'PY'
import os, random, sys
out, n = sys.argv[1], int(sys.argv[2]); os.makedirs(out); random.seed(7)
line = "The quarterly figures are attached; see the notes below for what changed since May.\n"
for i in range(n):
    size = random.randint(200_000, 1_000_000) if i % 10 == 9 else random.randint(2_000, 40_000)
    body = (line * (size // len(line) + 1))[:size]
    with open(f"{out}/{i:05}.eml", "w") as f:
        f.write(f"From: Alice <alice@example.test>\nTo: Bob <bob@example.test>\nSubject: report {i}\n"
                f"Message-ID: <bench-{i}@example.test>\nDate: Wed, 02 Dec 2026 10:00:00 +0000\n\n{body}")
PY
echo secret > "$work/password"
bob=$work/dovecot/mail/bob
delivered() { find "$bob/new" "$bob/cur" -type f 2>/dev/null | wc -l; }

# CPU seconds of this shell's finished children so far (user + sys).
children_cpu() { python3 -c 'import os; t = os.times(); print(t[2] + t[3])'; }
# msmtp / syncd-sendmail per message, timed by a Python parent: wall and children's CPU.
run_each() {  # command... : runs it once per message file, the file on stdin
    python3 - "$work/messages" "$@" <<'PY'
import os, subprocess, sys, time
directory, command = sys.argv[1], sys.argv[2:]
start = time.monotonic()
for name in sorted(os.listdir(directory)):
    with open(os.path.join(directory, name), "rb") as f:
        subprocess.run(command, stdin=f, check=True)
t = os.times()
print(f"{time.monotonic() - start:.4f} {t[2] + t[3]:.4f}")
PY
}

# --- msmtp ---
cat > "$work/msmtprc" <<RC
account bench
host 127.0.0.1
port $submission
tls on
tls_starttls on
tls_trust_file $work/postfix/tls/cert.pem
auth plain
user alice
passwordeval cat $work/password
from alice@example.test
account default : bench
RC
chmod 600 "$work/msmtprc"
echo "msmtp: $messages messages, one process each..." >&2
read -r msmtp_wall msmtp_cpu < <(run_each /usr/bin/msmtp -C "$work/msmtprc" -t)

# --- syncd ---
daemon_cpu() { cat /proc/$daemon/task/*/schedstat | awk '{sum += $1} END {printf "%.4f\n", sum / 1e9}'; }
run_syncd() {  # name save_sent
    local dir=$work/syncd-$1 before
    mkdir -p "$dir"
    cat > "$dir/syncd.toml" <<TOML
[store.mail]
provider = "imap"
host = "127.0.0.1"
port = $imap
security = "none"
user = "alice"
password = { file = "$work/password" }
maildir = "$dir/mail"
push = []
save_sent = $2
interval = "1h"

[store.mail.smtp]
host = "127.0.0.1"
port = $submission
ca_file = "$work/postfix/tls/cert.pem"
TOML
    "$bin/syncd" --config "$dir/syncd.toml" --socket "$dir/s.sock" --state-dir "$dir/state" 2>"$dir/syncd.log" &
    daemon=$!
    for _ in $(seq 200); do [ -S "$dir/s.sock" ] && break; sleep 0.05; done
    "$bin/syncctl" sync mail --wait --socket "$dir/s.sock" >/dev/null 2>&1 || true  # the start-up run, done
    local c0 t0 each t1 c1 left
    c0=$(daemon_cpu); t0=$(date +%s.%N)
    each=$(run_each "$bin/syncd-sendmail" --config "$dir/syncd.toml" --socket "$dir/s.sock" -t)
    # Until the outbox is empty: every message has its 250.
    while :; do
        left=$(find "$dir/mail/.Outbox/new" "$dir/mail/.Outbox/cur" "$dir/mail/.Outbox/sending" -type f ! -name '*.envelope' 2>/dev/null | wc -l)
        [ "$left" -eq 0 ] && break
        sleep 0.01
    done
    t1=$(date +%s.%N); c1=$(daemon_cpu)
    # The run that sent the last ones may still be uploading Sent copies: let it finish.
    "$bin/syncctl" wait --socket "$dir/s.sock" >/dev/null 2>&1 || true
    kill "$daemon"; wait "$daemon" 2>/dev/null || true; daemon=""
    awk -v a="$t0" -v b="$t1" -v c0="$c0" -v c1="$c1" -v each="$each" \
        'BEGIN { split(each, e, " "); printf "%.4f %.4f\n", b - a, c1 - c0 + e[2] }'
}
echo "syncd (save_sent = false): $messages messages through syncd-sendmail..." >&2
read -r plain_wall plain_cpu < <(run_syncd plain false)
echo "syncd (save_sent = true): $messages messages, Sent copies uploaded..." >&2
read -r sent_wall sent_cpu < <(run_syncd sent true)
for _ in $(seq 100); do [ "$(delivered)" -ge $((3 * messages)) ] && break; sleep 0.1; done
sent_on_server=$(find "$work/dovecot/mail/alice/.Sent/new" "$work/dovecot/mail/alice/.Sent/cur" -type f 2>/dev/null | wc -l)

echo
echo "# Benchmarks/send-vs-msmtp.sh $messages   ($(nproc) cores; same Postfix and Dovecot, same messages)"
printf '%-28s %10s %10s %12s %12s\n' "" "wall s" "cpu s" "wall/msmtp" "cpu/msmtp"
printf '%-28s %10.3f %10.3f %12s %12s\n' "msmtp (process per message)" "$msmtp_wall" "$msmtp_cpu" "1.00" "1.00"
for row in "syncd, save_sent = false:$plain_wall:$plain_cpu" "syncd, Sent uploaded too:$sent_wall:$sent_cpu"; do
    IFS=: read -r name w c <<<"$row"
    awk -v n="$name" -v w="$w" -v c="$c" -v mw="$msmtp_wall" -v mc="$msmtp_cpu" 'BEGIN { printf "%-28s %10.3f %10.3f %12.2f %12.2f\n", n, w, c, w / mw, c / mc }'
done
echo "bob's mailbox: $(delivered) messages (of $((3 * messages))); Sent on the server after the last phase: $sent_on_server (of $messages)"

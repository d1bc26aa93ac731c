#!/usr/bin/env bash
# Proves packaging/syncd.service and syncd.socket under a real systemd 252: a Debian 12 minbase
# rootfs (debootstrap, cached in /var/cache/syncd-test/rootfs) gets syncd through `make install
# DESTDIR=...` and is booted with systemd-nspawn. The installed config (the commented example, no
# stores) is checked, then replaced by the installed demo.toml (packaging/examples/), whose stores
# the later checks need. Then a second copy of the rootfs is booted for the Debian package (`make
# deb`): installed with apt, used by a member of group syncd, reloaded, a user's own syncd under
# her user manager (packaging/user/), then removed and purged. Prints one "ok - ..." / "not ok -
# ..." line per check and ends with "N passed, M failed"; exits 1 if any check failed.
#
#   sudo tests/systemd/run.sh                          builds the static release and the package first
#                                                      (make build, make deb; slow the first time)
#   sudo SYNCD_BIN=path/to/syncd tests/systemd/run.sh  tests that binary instead, and no package
#   sudo SYNCD_BIN=... SYNCD_DEB=path/to/syncd_V_amd64.deb tests/systemd/run.sh   ... and that package
#
# Needs root (debootstrap, nspawn, nsenter); installs systemd-container and debootstrap if missing.
# KEEP=1 keeps the booted rootfs copy (its path is printed). MIRROR= overrides the Debian mirror,
# which is otherwise read from this machine's /etc/apt/sources.list*.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=/var/cache/syncd-test
# procps: /bin/kill for ExecReload=; socat: the test client; dbus-user-session, libpam-systemd: a
# user manager with its own bus, for `systemctl --user -M alice@`; libxml2: what `make install`'s
# binaries link beyond minbase (syncctl's XMLParser; the package's Depends pulls it in itself).
packages=systemd,dbus,procps,socat,dbus-user-session,libpam-systemd,libxml2
started=$SECONDS
[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root" >&2; exit 2; }

passed=0 failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }
# check DESCRIPTION COMMAND...: one result line from the command's exit status.
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; return 1; fi; }
note() { echo "# $*"; }
die() { echo "run.sh: $*" >&2; exit 2; }

# --- Host tools, mirror, rootfs ---------------------------------------------------------------

# dovecot-imapd: the imap server (on this machine's loopback, which the container shares) that the
# package test's user syncs her mail from.
host_packages=()
command -v systemd-nspawn >/dev/null || host_packages+=(systemd-container)
command -v debootstrap >/dev/null || host_packages+=(debootstrap)
[ -x /usr/sbin/dovecot ] || host_packages+=(dovecot-imapd)
if [ ${#host_packages[@]} -gt 0 ]; then
    note "installing ${host_packages[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${host_packages[@]}" >/dev/null \
        || die "cannot install ${host_packages[*]}"
fi

# The first bookworm mirror in this machine's apt sources (one-line .list or deb822 .sources).
find_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] && awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                                         if ($(i + 1) == "bookworm") { print $i; exit } }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && awk 'BEGIN { RS = "" }
            /Types:[^\n]*deb([ \t\n]|$)/ && /Suites:[^\n]*[ \t]bookworm([ \t\n]|$)/ {
                if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { u = substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", u); print u; exit } }' "$f"
    done
}

if [ -d "$cache/rootfs" ] && [ "$(cat "$cache/rootfs.packages" 2>/dev/null)" = "$packages" ]; then
    note "reusing $cache/rootfs"
else
    mirror=${MIRROR:-$(find_mirror | head -n 1)}
    [ -n "$mirror" ] || die "no bookworm mirror in /etc/apt/sources.list*; set MIRROR="
    note "debootstrap bookworm from $mirror into $cache/rootfs (about a minute)"
    mkdir -p "$cache" && rm -rf "$cache/rootfs.new"
    debootstrap --variant=minbase --include="$packages" bookworm "$cache/rootfs.new" "$mirror" >"$cache/debootstrap.log" 2>&1 \
        || die "debootstrap failed; see $cache/debootstrap.log"
    rm -rf "$cache/rootfs" && mv "$cache/rootfs.new" "$cache/rootfs" && echo "$packages" >"$cache/rootfs.packages"
fi

# Each run boots a throwaway copy, so the cache stays pristine.
work=$(mktemp -d /var/tmp/syncd-test.XXXXXX)
root=$work/rootfs
nspawn_pid="" pid1=""
# halt: powers the booted container off (the one nspawn_pid started), or kills it after 15 s.
halt() {
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        kill -TERM "$nspawn_pid"  # nspawn asks the container's systemd to power off
        for _ in $(seq 150); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$nspawn_pid" 2>/dev/null; then
            [ -n "$pid1" ] && kill -KILL "$pid1" 2>/dev/null
            kill -KILL "$nspawn_pid" 2>/dev/null
        fi
        wait "$nspawn_pid" 2>/dev/null
    fi
    nspawn_pid="" pid1=""
}
dovecot_dir=""  # deb.sh's Dovecot, stopped by the pid it recorded
cleanup() {
    halt
    if [ -n "$dovecot_dir" ]; then
        "$repo/tests/dovecot/dovecot.sh" stop "$dovecot_dir" >/dev/null 2>&1
        rm -rf --one-file-system "$dovecot_dir"
    fi
    if [ "${KEEP:-0}" = 1 ]; then echo "# kept $work" >&2; else rm -rf --one-file-system "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # so that cleanup runs
cp -a "$cache/rootfs" "$root"

# --- Build and install ------------------------------------------------------------------------

if [ -n "${SYNCD_BIN:-}" ]; then
    [ -x "$SYNCD_BIN" ] || die "SYNCD_BIN=$SYNCD_BIN is not an executable"
    mkdir "$work/bin" && ln -s "$(realpath "$SYNCD_BIN")" "$work/bin/syncd"
    install_args=(BUILD="$work/bin" PRODUCTS=syncd)
else
    note "building the static release (make build)"
    make -s -C "$repo" build >"$work/build.log" 2>&1 || { tail -n 30 "$work/build.log" >&2; die "make build failed"; }
    install_args=()
fi
# The package, built from the same release build (make deb only packages it when that is current).
version=$(dpkg-parsechangelog -l "$repo/packaging/debian/changelog" -S Version)
if [ -n "${SYNCD_DEB:-}" ]; then
    deb=$(realpath "$SYNCD_DEB") && [ -f "$deb" ] || die "SYNCD_DEB=$SYNCD_DEB is not a file"
elif [ -z "${SYNCD_BIN:-}" ]; then
    note "building the package (make deb)"
    make -s -C "$repo" deb >"$work/deb.log" 2>&1 || { tail -n 30 "$work/deb.log" >&2; die "make deb failed"; }
    deb=$repo/syncd_${version}_amd64.deb
else
    deb=""
fi
make -s -C "$repo" install DESTDIR="$root" "${install_args[@]}" >"$work/install.log" 2>&1 \
    || { cat "$work/install.log" >&2; die "make install DESTDIR=$root failed"; }
systemctl --root="$root" enable syncd.socket >/dev/null 2>&1 || die "cannot enable syncd.socket in $root"

# --- The installed configuration --------------------------------------------------------------

# A first install writes the commented example (no stores; checked by syncd after the boot) and
# keeps a pristine copy beside the other examples.
check "make install wrote the commented example as /etc/syncd/syncd.toml" cmp -s "$repo/packaging/syncd.example.toml" "$root/etc/syncd/syncd.toml"
check "... and as /usr/lib/syncd/examples/syncd.example.toml" cmp -s "$repo/packaging/syncd.example.toml" "$root/usr/lib/syncd/examples/syncd.example.toml"
# A later install leaves the admin's file alone (staged into a second tree, to keep $root pristine).
mkdir -p "$work/stage/etc/syncd" && echo '# edited by the admin' >"$work/stage/etc/syncd/syncd.toml"
make -s -C "$repo" install DESTDIR="$work/stage" "${install_args[@]}" >"$work/install2.log" 2>&1 \
    || { cat "$work/install2.log" >&2; die "make install DESTDIR=$work/stage failed"; }
check "make install over an existing /etc/syncd/syncd.toml keeps it" test "$(cat "$work/stage/etc/syncd/syncd.toml")" = '# edited by the admin'
rm -rf "$work/stage"

# --- a. Static checks (no boot) ---------------------------------------------------------------

out=$(systemd-analyze verify --root="$root" syncd.socket syncd.service syncd-http.service 2>&1)
if [ $? -eq 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify: no findings"
else not_ok "systemd-analyze verify:"; sed 's/^/#   /' <<<"$out"; fi

out=$(systemd-analyze security --offline=true --root="$root" syncd.service 2>&1)
score=$(sed -n 's/.*Overall exposure level for syncd.service: \([0-9.]*\).*/\1/p' <<<"$out")
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then ok "systemd-analyze security: exposure $score <= 2.0"
else not_ok "systemd-analyze security: exposure ${score:-?} (want <= 2.0)"; grep '✗' <<<"$out" | sed 's/^/#   /'; fi

out=$(systemd-analyze security --offline=true --root="$root" syncd-http.service 2>&1)
score=$(sed -n 's/.*Overall exposure level for syncd-http.service: \([0-9.]*\).*/\1/p' <<<"$out")
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then ok "systemd-analyze security syncd-http.service: exposure $score <= 2.0"
else not_ok "systemd-analyze security syncd-http.service: exposure ${score:-?} (want <= 2.0)"; grep '✗' <<<"$out" | sed 's/^/#   /'; fi

# The user units (packaging/user/): systemd-analyze takes no --root with --user, so the files
# themselves, with a runtime directory of their own (a user manager's %t).
userunits=$root/usr/local/lib/systemd/user
mkdir -p "$work/xdg" && chmod 0700 "$work/xdg"
out=$(XDG_RUNTIME_DIR=$work/xdg systemd-analyze --user security --offline=true "$userunits/syncd.service" 2>&1)
score=$(sed -n 's/.*Overall exposure level for syncd.service: \([0-9.]*\).*/\1/p' <<<"$out")
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then ok "systemd-analyze --user security (user unit): exposure $score <= 2.0"
else not_ok "systemd-analyze --user security (user unit): exposure ${score:-?} (want <= 2.0)"; grep '✗' <<<"$out" | sed 's/^/#   /'; fi

# Test-only settings: a 3 s watchdog, so the hung-daemon check is quick; the socket client.
mkdir -p "$root/etc/systemd/system/syncd.service.d"
printf '[Service]\nWatchdogSec=3s\n' >"$root/etc/systemd/system/syncd.service.d/test-watchdog.conf"
# The client, run inside the container (minbase has no python; socat is in the rootfs).
mkdir -p "$root/usr/local/lib/syncd-test"
cat >"$root/usr/local/lib/syncd-test/hello" <<'EOF'
#!/bin/bash
# hello [SOCKET]: connects to syncd's socket, sends the protocol's Hello (docs/vectors/hello.hex)
# and prints the first 9 bytes of the answer in hex: a Welcome is "00 00 00 LL 00 02 00 01 AA"
# (AA: 00 watch, 01 control). Exits non-zero, with socat's error on stderr, if it cannot connect.
set -u
trap "" PIPE  # socat may be gone (no permission) before the Hello is written
socket=${1:-/run/syncd/syncd.sock}
dir=$(mktemp -d)
trap 'exec 4>&-; rm -rf "$dir"' EXIT
mkfifo "$dir/in"
socat - "UNIX-CONNECT:$socket" <"$dir/in" >"$dir/out" 2>"$dir/err" &
socat=$!
exec 4>"$dir/in"  # held open, so the connection stays up until the answer is read
printf '\x00\x00\x00\x15\x00\x01SYNC\x00\x01\x00\x01\x00\x09viewer.py' >&4 2>/dev/null
for _ in $(seq 100); do
    [ "$(stat -c %s "$dir/out")" -ge 9 ] && break
    kill -0 "$socat" 2>/dev/null || break
    sleep 0.1
done
exec 4>&-
wait "$socat"
status=$?
cat "$dir/err" >&2
[ "$(stat -c %s "$dir/out")" -ge 9 ] || exit $((status == 0 ? 1 : status))
head -c 9 "$dir/out" | od -An -tx1 | sed 's/^ *//'
EOF
chmod 0755 "$root/usr/local/lib/syncd-test/hello"

# --- Boot -------------------------------------------------------------------------------------

# boot ROOTFS: boots it in the background; sets nspawn_pid and pid1 (the container's systemd).
boot() {
    systemd-nspawn -q -D "$1" -b --register=no --keep-unit --console=pipe >"$work/console.log" 2>&1 &
    nspawn_pid=$!
    for _ in $(seq 300); do
        pid1=$(pgrep -P "$nspawn_pid" -x systemd | head -n 1)
        [ -n "$pid1" ] && [ -S "/proc/$pid1/root/run/systemd/private" ] && break
        kill -0 "$nspawn_pid" 2>/dev/null || { cat "$work/console.log" >&2; die "systemd-nspawn exited"; }
        pid1=""
        sleep 0.1
    done
    [ -n "$pid1" ] || die "no systemd in the container after 30 s"
}
boot "$root"
# inside COMMAND...: runs a command inside the container, with its own clean environment.
inside() { nsenter -t "$pid1" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin SYSTEMD_COLORS=0 "$@"; }
prop() { inside systemctl show -P "$1" "${2:-syncd.service}"; }
# wait_for SECONDS COMMAND...: until the command succeeds.
wait_for() { local end=$((SECONDS + $1)); shift; until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done; }
state=$(timeout 60 nsenter -t "$pid1" -a systemctl is-system-running --wait 2>&1)
note "container booted in $((SECONDS - started)) s since start: $state"
failed_units=$(inside systemctl list-units --failed --plain --no-legend | awk '{print $1}' | xargs)
[ -z "$failed_units" ] || note "failed units in the container (not syncd's): $failed_units"
# (Run here, not by chroot before the boot: without /proc a static Swift binary sees no arguments.)
# as_syncd COMMAND...: runs a command inside the container as user syncd, for at most 10 s.
as_syncd() { inside timeout 10 setpriv --reuid=syncd --regid=syncd --init-groups "$@"; }
out=$(as_syncd /usr/local/bin/syncd --check --config /etc/syncd/syncd.toml 2>&1); status=$?
check "the installed binary runs in the minbase rootfs and, as user syncd, accepts the installed config with no stores ($out)" \
    eval '[ $status -eq 0 ] && [[ $out == *": OK: no stores"* ]]'
# Every setting the example shows commented out ("#key = ..." and "#[store.NAME]") is accepted once
# uncommented; mbsync and rclone, which its exec stores run, and notmuch, its after_sync hook, are
# stubs here.
mkdir -p "$root/usr/local/lib/syncd-test/bin"
for stub in mbsync rclone notmuch; do printf '#!/bin/sh\nexit 0\n' >"$root/usr/local/lib/syncd-test/bin/$stub"; chmod 0755 "$root/usr/local/lib/syncd-test/bin/$stub"; done
sed 's/^#\([a-z_[]\)/\1/' "$root/etc/syncd/syncd.toml" >"$root/usr/local/lib/syncd-test/all-keys.toml"
out=$(inside env PATH=/usr/local/lib/syncd-test/bin:/usr/local/bin:/usr/bin:/bin timeout 10 \
    setpriv --reuid=syncd --regid=syncd --init-groups /usr/local/bin/syncd --check --config /usr/local/lib/syncd-test/all-keys.toml 2>&1); status=$?
check "the example with every setting uncommented is valid too ($out)" eval '[ $status -eq 0 ] && [[ $out == *": OK: 4 stores (documents, mail, mbsync, work)" ]]'
# The rest runs on the demo configuration, a synthetic store and an exec store (no server needed).
cp "$root/usr/lib/syncd/examples/demo.toml" "$root/etc/syncd/syncd.toml"
out=$(as_syncd /usr/local/bin/syncd --check --config /etc/syncd/syncd.toml 2>&1); status=$?
check "the installed demo config, as /etc/syncd/syncd.toml, is valid ($out)" eval '[ $status -eq 0 ] && [[ $out == *": OK: 2 stores (demo, docs-archive)" ]]'
# Accounts for the access checks: a member of group syncd, and a plain user.
inside useradd -M -G syncd member && inside useradd -M plain || die "useradd failed"

# --- b. Socket activation ---------------------------------------------------------------------

check "syncd.socket is listening after boot" test "$(prop SubState syncd.socket)" = listening
check "syncd.service is not running before a client connects ($(prop ActiveState))" test "$(prop ActiveState)" = inactive
sock=$(inside stat -c '%a %U %G' /run/syncd/syncd.sock 2>&1)
check "the socket /run/syncd/syncd.sock is 0660 root:syncd ($sock)" test "$sock" = "660 root syncd"
reply=$(inside /usr/local/lib/syncd-test/hello 2>&1)
check "root's Hello starts syncd.service and gets a Welcome with control access ($reply)" \
    eval '[[ $reply == "00 00 00 "??" 00 02 00 01 01" ]]'
check "syncd.service is active after the first connection" test "$(prop ActiveState)" = active
reply=$(inside setpriv --reuid=member --regid=member --init-groups /usr/local/lib/syncd-test/hello 2>&1)
check "a member of group syncd connects and gets control access ($reply)" eval '[[ $reply == "00 00 00 "??" 00 02 00 01 01" ]]'
reply=$(inside setpriv --reuid=plain --regid=plain --init-groups /usr/local/lib/syncd-test/hello 2>&1)
check "a user outside group syncd cannot connect (${reply##*: })" eval '[[ $reply == *"Permission denied"* ]]'

# --- c. Type=notify ---------------------------------------------------------------------------

check "Type=notify service is active (running)" test "$(prop ActiveState)/$(prop SubState)" = active/running
wait_for 5 eval '[[ $(prop StatusText) =~ ^[0-9]+\ stores,\ [0-9]+\ syncing,\ [0-9]+\ viewers ]]'
check "StatusText from STATUS=: \"$(prop StatusText)\"" eval '[[ $(prop StatusText) =~ ^[0-9]+\ stores,\ [0-9]+\ syncing,\ [0-9]+\ viewers ]]'

# --- g. Journal fields ------------------------------------------------------------------------

demo() { inside journalctl -q --no-pager -o verbose _SYSTEMD_UNIT=syncd.service STORE=demo; }
wait_for 10 eval '[ -n "$(demo)" ]'
entry=$(demo | grep -m 1 '^ *MESSAGE=' | sed 's/^ *//')
check "journal entry with STORE=demo from syncd.service ($entry)" test -n "$entry"
check "... carrying RUN= too" eval 'demo | grep -q "^ *RUN=[0-9]"'
shown=$(inside /usr/local/bin/syncctl show demo 2>&1)
check "syncctl show demo lists the store's journal lines" eval 'sed -n "/^Journal:/,\$p" <<<"$shown" | grep -q "^  20.* info: run "' \
    || sed 's/^/#   /' <<<"$shown" | tail -n 12

# --- syncd-http.service: the dashboard and metrics, as installed ----------------------------------

# The container shares this machine's network: its 127.0.0.1:9477 is ours.
fetch() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1" 2>/dev/null; }
out=$(inside systemctl start syncd-http.service 2>&1)
check "systemctl start syncd-http.service${out:+ ($out)}" test -z "$out"
wait_for 20 eval 'fetch http://127.0.0.1:9477/metrics | grep -q "^syncd_up 1"'
metrics=$(fetch http://127.0.0.1:9477/metrics)
check "... it runs as a dynamic user (DynamicUser=$(prop DynamicUser syncd-http.service)) in group syncd and /metrics says it is attached" \
    eval 'grep -q "^syncd_up 1" <<<"$metrics"'
[ -n "$metrics" ] || inside journalctl -q --no-pager -o cat -u syncd-http.service | tail -n 5 | sed 's/^/#   /'
inside /usr/local/bin/syncctl sync --wait demo >/dev/null 2>&1
wait_for 10 eval 'fetch http://127.0.0.1:9477/metrics | grep -q "^syncd_runs_total{.*store=\"demo\".*} [1-9]"'
check "... and counts the demo store's run in syncd_runs_total" \
    eval 'fetch http://127.0.0.1:9477/metrics | grep -q "^syncd_runs_total{.*store=\"demo\".*} [1-9]"'
status_json=$(fetch http://127.0.0.1:9477/api/status)
check "... /api/status lists the store demo" eval '[[ $status_json == *"\"demo\""* ]]'
inside systemctl stop syncd-http.service

# --- Exec store: tar under the sandbox, writing into the state directory ----------------------

if [ -x "$root/usr/lib/syncd/examples/archive-dir" ]; then
    archived() { inside journalctl -q --no-pager -o cat _SYSTEMD_UNIT=syncd.service STORE=docs-archive SYNC_CODE=ok | grep -q 'run finished'; }
    wait_for 60 archived
    check "exec store docs-archive (archive-dir: sh, find, tar) finished ok" archived
    tarball=$(inside stat -c '%U %a %s' /var/lib/syncd/docs-archive.tar 2>&1)
    check "... and wrote /var/lib/syncd/docs-archive.tar (owner, mode, size: $tarball)" eval '[[ $tarball == "syncd 600 "* ]]'
    inside journalctl -q --no-pager -o cat _SYSTEMD_UNIT=syncd.service STORE=docs-archive -p warning | head -n 5 | sed 's/^/#   docs-archive: /'
else
    note "skip: packaging/examples/archive-dir is not there, so the exec store is not exercised"
fi

# --- e. Reload --------------------------------------------------------------------------------

pid=$(prop MainPID)
# (bounded: a daemon that never confirms the reload with READY=1 keeps the job waiting forever)
out=$(timeout 20 nsenter -t "$pid1" -a systemctl reload syncd 2>&1)
status=$?
[ $status -ne 124 ] || out="no answer in 20 s; the unit is $(prop ActiveState)"
check "systemctl reload syncd succeeds${out:+ ($out)}" test $status -eq 0
sleep 1
check "after the reload: same MainPID ($pid -> $(prop MainPID)), ActiveState=$(prop ActiveState)" \
    test "$(prop MainPID)/$(prop ActiveState)" = "$pid/active"
check "... and the daemon logged the reload" eval 'inside journalctl -q --no-pager -o cat _SYSTEMD_UNIT=syncd.service | grep -q "^reloaded "'

# --- d. Watchdog ------------------------------------------------------------------------------

pid=$(prop MainPID) restarts=$(prop NRestarts) t0=$SECONDS
inside kill -STOP "$pid"
restarted() { local p; p=$(prop MainPID); [ "$(prop NRestarts)" -gt "$restarts" ] && [ "$p" != 0 ] && [ "$p" != "$pid" ] && [ "$(prop ActiveState)" = active ]; }
wait_for 40 restarted
check "watchdog: SIGSTOPped daemon $pid was killed and restarted in $((SECONDS - t0)) s (NRestarts $restarts -> $(prop NRestarts), MainPID $(prop MainPID))" restarted
check "... systemd logged the watchdog timeout" eval 'inside journalctl -q --no-pager -u syncd.service | grep -q "Watchdog timeout"'

# --- f. Clean stop ----------------------------------------------------------------------------

t0=$SECONDS
timeout 40 nsenter -t "$pid1" -a systemctl stop syncd 2>/dev/null  # (it warns that the socket can restart it)
took=$((SECONDS - t0))
check "systemctl stop took ${took} s (< 10)" test "$took" -lt 10
check "stopped unit is inactive, not failed ($(prop ActiveState), Result=$(prop Result))" \
    test "$(prop ActiveState)/$(prop Result)" = inactive/success
check "ExecMainStatus=0 after SIGTERM (ExecMainCode=$(prop ExecMainCode), 1 = exited)" test "$(prop ExecMainCode)/$(prop ExecMainStatus)" = 1/0
check "syncd.socket is still listening after the service stopped" test "$(prop SubState syncd.socket)" = listening

# --- h. StateDirectory ------------------------------------------------------------------------

st=$(inside stat -c '%U %a' /var/lib/syncd /var/lib/syncd/state.json 2>&1 | xargs)
check "/var/lib/syncd/state.json exists (dir and file owner/mode: $st)" test "$st" = "syncd 700 syncd 600"

# --- Exit status 78 (RestartPreventExitStatus=): a broken config is not retried by Restart= -----

scheduled() { inside journalctl -q --no-pager -o cat -u syncd.service | grep -c 'Scheduled restart job'; }
before=$(scheduled)
cp "$root/etc/syncd/syncd.toml" "$work/syncd.toml.good"
echo '[broken' >>"$root/etc/syncd/syncd.toml"
inside timeout 3 /usr/local/lib/syncd-test/hello >/dev/null 2>&1  # a client starts it
wait_for 10 eval '[ "$(prop ExecMainStatus)" = 78 ]'
sleep 3  # longer than RestartSec=
check "broken config: syncd exits 78 (ExecMainStatus=$(prop ExecMainStatus)), unit $(prop ActiveState), no restart scheduled ($((before)) -> $(scheduled))" \
    test "$(prop ExecMainStatus)/$(prop ActiveState)/$(scheduled)" = "78/failed/$before"
# The pending connection re-triggers the service until StartLimitBurst=, then the socket gives up.
note "then: syncd.service Result=$(prop Result); syncd.socket $(prop ActiveState syncd.socket), Result=$(prop Result syncd.socket)"
cp "$work/syncd.toml.good" "$root/etc/syncd/syncd.toml"
inside systemctl reset-failed syncd.service syncd.socket && inside systemctl start syncd.socket
reply=$(inside /usr/local/lib/syncd-test/hello 2>&1)
check "config fixed, reset-failed, socket started: a client is served again ($reply)" eval '[[ $reply == "00 00 00 "??" 00 02 "* ]]'

if [ "$failed" -gt 0 ]; then
    note "syncd's journal (last 40 lines):"
    inside journalctl -q --no-pager -u syncd.socket -u syncd.service | tail -n 40 | sed 's/^/#   /'
fi
halt

if [ -n "$deb" ]; then
    . "$repo/tests/systemd/deb.sh"
else
    note "skip: the Debian package (SYNCD_BIN without SYNCD_DEB)"
fi
note "wall time $((SECONDS - started)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

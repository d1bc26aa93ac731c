# The Debian package in a booted container: sourced by run.sh (its check, inside, prop, wait_for,
# boot and halt; $deb, $version, $cache, $work, $repo), after the make install checks, on a fresh
# copy of the cached rootfs. apt installs it as a user would; a member of group syncd drives the
# system daemon; alice runs her own syncd under her user manager (packaging/user/); then apt
# removes and purges it.

note "--- the Debian package: $(basename "$deb")"
# (Its tags on stdout; stderr only says it runs as root.)
out=$(lintian --fail-on warning "$deb" 2>/dev/null); status=$?
check "lintian: no errors, no warnings${out:+ ($out)}" test $status -eq 0 -a -z "$out"
note "Depends: $(dpkg-deb -f "$deb" Depends)"

root=$work/rootfs-deb
cp -a "$cache/rootfs" "$root"
cp "$deb" "$root/root/"
boot "$root"
state=$(timeout 60 nsenter -t "$pid1" -a systemctl is-system-running --wait 2>&1)
note "container booted: $state"

# --- Install -----------------------------------------------------------------------------------

pkg=/root/$(basename "$deb")
apt_get() { inside env DEBIAN_FRONTEND=noninteractive timeout 300 apt-get -y -q "$@"; }
out=$(apt_get install "$pkg" 2>&1); status=$?
if [ $status -ne 0 ]; then
    # A dependency the minbase rootfs lacks comes from the mirror.
    note "apt install without the mirror's lists failed; apt-get update and again"
    apt_get update >/dev/null 2>&1
    out=$(apt_get install "$pkg" 2>&1); status=$?
fi
check "apt install ./$(basename "$deb")" test $status -eq 0
[ $status -eq 0 ] || sed 's/^/#   /' <<<"$out" | tail -n 20
paths=$(inside dpkg -L syncd | grep -vx /.)

check "syncd.socket is enabled ($(inside systemctl is-enabled syncd.socket)) and listening ($(prop SubState syncd.socket))" \
    test "$(inside systemctl is-enabled syncd.socket)/$(prop SubState syncd.socket)" = enabled/listening
# Its [Install] section is only Also=syncd.socket: "indirect", never enabled itself.
check "syncd.service is not enabled ($(inside systemctl is-enabled syncd.service)) and not running ($(prop ActiveState))" \
    test "$(inside systemctl is-enabled syncd.service)/$(prop ActiveState)" = indirect/inactive
sock=$(inside stat -c '%a %U %G' /run/syncd/syncd.sock 2>&1)
check "the socket /run/syncd/syncd.sock is 0660 root:syncd ($sock)" test "$sock" = "660 root syncd"
check "the postinst created the system user syncd ($(inside getent passwd syncd))" \
    eval '[[ $(inside getent passwd syncd) == syncd:*:/var/lib/syncd:* ]]'
check "/etc/syncd/syncd.toml is a conffile" eval 'inside dpkg-query -W -f="\${Conffiles}" syncd | grep -q "^ /etc/syncd/syncd.toml "'
out=$(inside timeout 10 setpriv --reuid=syncd --regid=syncd --init-groups /usr/bin/syncd --check --config /etc/syncd/syncd.toml 2>&1)
check "the installed config enables nothing ($out)" eval '[[ $out == *": OK: no stores"* ]]'
libs=$(inside ldd /usr/bin/syncd /usr/bin/syncctl 2>&1 | awk '/=>/ { print $1 }' | sort -u | xargs)
check "the binaries link no Swift runtime ($libs)" eval '[ -n "$libs" ] && [[ $libs != *swift* && $libs != *Foundation* && $libs != *dispatch* ]]'
missing=""
for page in "$repo"/docs/man/*.[1-9]; do
    name=$(basename "$page"); grep -qx "/usr/share/man/man${name##*.}/$name.gz" <<<"$paths" || missing+=" $name"
done
check "every page in docs/man/ is installed ($(cd "$repo/docs/man" && ls -- *.[1-9] | xargs))${missing:+; missing:$missing}" test -z "$missing"
check "completions for bash, zsh and fish are installed" eval 'grep -qx /usr/share/bash-completion/completions/syncctl <<<"$paths" &&
    grep -qx /usr/share/zsh/site-functions/_syncctl <<<"$paths" && grep -qx /usr/share/fish/vendor_completions.d/syncctl.fish <<<"$paths"'
check "syncd-http.service is in /lib/systemd/system, the admin's to enable ($(inside systemctl is-enabled syncd-http.service 2>&1))" \
    eval 'grep -qx /lib/systemd/system/syncd-http.service <<<"$paths" && [ "$(inside systemctl is-enabled syncd-http.service)" = disabled ]'
check "the user units are in /usr/lib/systemd/user, enabled for nobody" eval 'grep -qx /usr/lib/systemd/user/syncd.socket <<<"$paths" &&
    grep -qx /usr/lib/systemd/user/syncd.service <<<"$paths" && ! inside test -e /etc/systemd/user/sockets.target.wants/syncd.socket'

# --- The system daemon, driven by a member of group syncd ---------------------------------------

cat >"$root/etc/syncd/syncd.toml" <<'EOF'
# tests/systemd/deb.sh: a synthetic store, synced on demand.
[store.demo]
provider = "synthetic"
steps = 20
rate = 20
run_at_startup = false
EOF
inside useradd -M -G syncd member || die "useradd member failed"
# as_member COMMAND...: as the user member (group syncd), for at most 30 s.
as_member() { inside timeout 30 setpriv --reuid=member --regid=member --init-groups "$@"; }
out=$(as_member /usr/bin/syncctl status 2>&1); status=$?
check "syncctl status as a member of group syncd starts the daemon and shows the store ($(head -n 1 <<<"$out"))" \
    eval '[ $status -eq 0 ] && [ "$(head -n 1 <<<"$out")" = "syncd (system): /run/syncd/syncd.sock" ] && grep -q "^demo  *synthetic " <<<"$out"'
[ $status -eq 0 ] || sed 's/^/#   /' <<<"$out"
out=$(as_member /usr/bin/syncctl sync --wait demo 2>&1); status=$?
check "syncctl sync --wait demo as the member: the synthetic store's run completes (exit $status)" test $status -eq 0
[ $status -eq 0 ] || sed 's/^/#   /' <<<"$out" | tail -n 10
check "... and the journal has it: STORE=demo SYNC_CODE=ok" \
    eval 'inside journalctl -q --no-pager -o cat _SYSTEMD_UNIT=syncd.service STORE=demo SYNC_CODE=ok | grep -q "run finished"'

pid=$(prop MainPID)
cat >>"$root/etc/syncd/syncd.toml" <<'EOF'

[store.added]
provider = "synthetic"
steps = 5
run_at_startup = false
EOF
out=$(timeout 20 nsenter -t "$pid1" -a systemctl reload syncd 2>&1); status=$?
check "systemctl reload syncd succeeds${out:+ ($out)}" test $status -eq 0
out=$(as_member /usr/bin/syncctl status added 2>&1)
check "... same MainPID ($pid -> $(prop MainPID)), and the store the reload added is there" \
    eval '[ "$(prop MainPID)" = "$pid" ] && grep -q "^added  *synthetic " <<<"$out"'

# --- alice's own syncd under her user manager ---------------------------------------------------

inside useradd -m -s /bin/bash alice || die "useradd alice failed"
uid=$(inside id -u alice)
inside loginctl enable-linger alice
wait_for 30 inside test -S "/run/user/$uid/systemd/private" -a -S "/run/user/$uid/bus"
check "loginctl enable-linger alice starts her user manager (user@$uid.service $(prop ActiveState "user@$uid.service"))" \
    test "$(prop ActiveState "user@$uid.service")" = active
# Her mail server: a Dovecot on the loopback the container shares, with three messages for her.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Not under $work (0700): Dovecot's auth process, an unprivileged user, must read its passwd file.
dovecot_dir=$(mktemp -d /var/tmp/syncd-test-dovecot.XXXXXX) && chmod 755 "$dovecot_dir" || die "mktemp failed"
dovecot=$("$repo/tests/dovecot/dovecot.sh" start "$dovecot_dir" "$(free_port)" "$(free_port)" 2>&1) || die "dovecot: $dovecot"
imaps_port=$(sed -n 's/.*tls=\([0-9]*\).*/\1/p' <<<"$dovecot")
mkdir -p "$dovecot_dir/mail/alice/new"
for n in 1 2 3; do
    printf 'From: bob@example.test\r\nTo: alice@example.test\r\nSubject: message %s\r\nMessage-ID: <%s.deb@example.test>\r\n\r\nHello %s.\r\n' \
        $n $n $n >"$dovecot_dir/mail/alice/new/100000000$n.M1P1.deb"
done
chown -R 65534:65534 "$dovecot_dir/mail"
mkdir -p "$root/home/alice/.config/syncd"
cp "$dovecot_dir/tls/ca.pem" "$root/home/alice/.config/syncd/mail-ca.pem"
printf secret >"$root/home/alice/.config/syncd/mail-password"
chmod 600 "$root/home/alice/.config/syncd/mail-password"
cat >"$root/home/alice/.config/syncd/syncd.toml" <<EOF
# tests/systemd/deb.sh: alice's own stores. Her mail over IMAPS into ~/Mail/work (under the user
# unit's ReadWritePaths=), a synthetic store, and an exec store that writes into her Maildir and
# tries the rest of her home (ProtectHome=read-only: it must fail).
[store.alice-imap]
provider = "imap"
host = "127.0.0.1"
port = $imaps_port
security = "tls"
ca_file = "/home/alice/.config/syncd/mail-ca.pem"
user = "alice"
password = { file = "/home/alice/.config/syncd/mail-password" }
maildir = "/home/alice/Mail/work"
run_at_startup = false

EOF
cat >>"$root/home/alice/.config/syncd/syncd.toml" <<'EOF'
[store.alice-demo]
provider = "synthetic"
steps = 10
rate = 20
run_at_startup = false

[store.alice-mail]
provider = "exec"
command = ["/bin/sh", "-c", "date > /home/alice/Mail/synced; date > /home/alice/outside; exit 0"]
run_at_startup = false
EOF
inside chown -R alice:alice /home/alice/.config
out=$(inside timeout 30 systemctl --user -M alice@ enable --now syncd.socket 2>&1); status=$?
check "systemctl --user -M alice@ enable --now syncd.socket${out:+ ($(tr '\n' ' ' <<<"$out"))}" test $status -eq 0
sock=$(inside stat -c '%a %U %G' "/run/user/$uid/syncd/syncd.sock" 2>&1)
check "her socket /run/user/$uid/syncd/syncd.sock is 0600 alice:alice ($sock)" test "$sock" = "600 alice alice"
# as_alice COMMAND...: as alice in her session's environment, for at most 30 s.
as_alice() { inside timeout 30 runuser -u alice -- env XDG_RUNTIME_DIR="/run/user/$uid" HOME=/home/alice "$@"; }
# The packaged unit as her manager loads it (before the container's drop-in below).
out=$(as_alice systemd-analyze --user security syncd.service 2>&1)
score=$(sed -n 's/.*Overall exposure level for syncd.service: \([0-9.]*\).*/\1/p' <<<"$out")
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then ok "systemd-analyze --user security of her syncd.service, as her manager loaded it: exposure $score <= 2.0"
else not_ok "systemd-analyze --user security of her syncd.service: exposure ${score:-?} (want <= 2.0)"; grep '✗' <<<"$out" | sed 's/^/#   /'; fi
# Test-only: systemd-nspawn gives the container no /proc/kmsg, and systemd 252's user manager fails
# the service (226/NAMESPACE) when ProtectKernelLogs= cannot mask it. A real machine has it.
mkdir -p "$root/etc/systemd/user/syncd.service.d"
printf '[Service]\nProtectKernelLogs=no\n' >"$root/etc/systemd/user/syncd.service.d/test-no-kmsg.conf"
inside systemctl --user -M alice@ daemon-reload
out=$(as_alice syncctl status 2>&1); status=$?
check "syncctl status as alice talks to her own syncd ($(head -n 1 <<<"$out"))" \
    eval '[ $status -eq 0 ] && [ "$(head -n 1 <<<"$out")" = "syncd (user): /run/user/$uid/syncd/syncd.sock" ] && grep -q "^alice-demo  *synthetic " <<<"$out"'
[ $status -eq 0 ] || sed 's/^/#   /' <<<"$out"
out=$(as_alice syncctl sync --wait alice-demo alice-mail alice-imap 2>&1); status=$?
check "syncctl sync --wait alice-demo alice-mail alice-imap as alice (exit $status)" test $status -eq 0
[ $status -eq 0 ] || sed 's/^/#   /' <<<"$out" | tail -n 10
mail=$(inside find /home/alice/Mail/work/cur /home/alice/Mail/work/new -type f -printf '%u %m\n' 2>&1 | sort | uniq -c | xargs)
check "... her three messages from the IMAP server are in ~/Mail/work, hers, 0600 ($mail)" test "$mail" = "3 alice 600"
st=$(inside stat -c '%U %a' /home/alice/.local/state/syncd/state.json /home/alice/Mail/synced 2>&1 | xargs)
check "... her state is in ~/.local/state/syncd and the exec store wrote ~/Mail/synced (owner, mode: $st)" \
    test "$st" = "alice 600 alice 600"
check "... but could not write elsewhere in her home (ProtectHome=read-only)" eval '! inside test -e /home/alice/outside'
user_service=$(inside systemctl --user -M alice@ show -P ActiveState syncd.service 2>&1)
check "her syncd.service runs under her manager, started by the socket ($user_service)" test "$user_service" = active
out=$(inside timeout 30 systemctl --user -M alice@ disable --now syncd.socket syncd.service 2>&1); status=$?
check "systemctl --user -M alice@ disable --now syncd.socket syncd.service${out:+ ($(tr '\n' ' ' <<<"$out"))}" test $status -eq 0
rm -rf "$root/etc/systemd/user/syncd.service.d"

# --- Remove, then purge ---------------------------------------------------------------------------

out=$(apt_get remove syncd 2>&1); status=$?
check "apt remove syncd" test $status -eq 0
[ $status -eq 0 ] || sed 's/^/#   /' <<<"$out" | tail -n 20
check "... stopped the socket and the service ($(prop ActiveState syncd.socket), $(prop ActiveState syncd.service))" \
    eval '[ "$(prop ActiveState syncd.socket)/$(prop ActiveState syncd.service)" = inactive/inactive ] && ! inside test -e /run/syncd/syncd.sock'
check "... kept /etc/syncd/syncd.toml (as edited), /var/lib/syncd/state.json and the user syncd" \
    eval 'grep -q "^\[store.added\]" "$root/etc/syncd/syncd.toml" && inside test -f /var/lib/syncd/state.json && inside getent passwd syncd >/dev/null'

out=$(apt_get purge syncd 2>&1); status=$?
check "apt purge syncd" test $status -eq 0
[ $status -eq 0 ] || sed 's/^/#   /' <<<"$out" | tail -n 20
# A path of the package may stay only if another package owns it too (/usr/bin, /usr/lib/systemd/user).
left=""
while read -r path; do
    inside test -e "$path" -o -L "$path" && ! inside dpkg-query -S "$path" >/dev/null 2>&1 && left+=" $path"
done <<<"$paths"
check "... every path dpkg -L listed ($(wc -l <<<"$paths")) is gone, but those other packages own${left:+; left:$left}" test -z "$left"
check "... /etc/syncd and /var/lib/syncd are gone" eval '! inside test -e /etc/syncd && ! inside test -e /var/lib/syncd'
check "... the user and the group syncd are gone" eval '! inside getent passwd syncd && ! inside getent group syncd'
enabled=$(inside sh -c 'ls -d /etc/systemd/system/*.wants/syncd* /etc/systemd/user/*.wants/syncd* /var/lib/systemd/deb-systemd-helper-enabled/*syncd* 2>/dev/null' | xargs)
check "... no syncd unit is left enabled (/etc/systemd/{system,user}/*.wants, deb-systemd-helper)${enabled:+: $enabled}" test -z "$enabled"
units=$(inside systemctl list-unit-files --no-legend 'syncd*' | xargs)
check "... and systemd knows no syncd unit any more${units:+ ($units)}" test -z "$units"

if [ "$failed" -gt 0 ]; then
    note "the package container's journal for syncd (last 40 lines):"
    inside journalctl -q --no-pager -u syncd.socket -u syncd.service | tail -n 40 | sed 's/^/#   /'
fi
halt

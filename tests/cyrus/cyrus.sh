#!/usr/bin/env bash
# A throwaway Cyrus IMAP (Debian 12's 3.6) on loopback for the imap provider's tests, beside Dovecot.
#
#   tests/cyrus/cyrus.sh packages          the Debian packages Cyrus needs installed (one a line)
#   tests/cyrus/cyrus.sh setup             installs those, unpacks cyrus-common and cyrus-imapd into
#                                          the prefix and creates the user cyrus (idempotent; quiet
#                                          when done already; needs root or sudo)
#   tests/cyrus/cyrus.sh start DIR PORT [SEPARATOR [ALTNAMESPACE [SUPPRESS]]]
#                                          prints "plain=PORT pid=PID"
#   tests/cyrus/cyrus.sh stop DIR
#
# Debian's IMAP servers conflict with each other as packages (dovecot-imapd is installed for the
# other tests), so Cyrus is not installed but unpacked with apt-get download + dpkg -x into
# $CYRUS_PREFIX (/var/cache/syncd-tests/cyrus), with its shared libraries from apt.
#
# Users (sasldb, plain passwords): alice/secret, and the admin cyrus/secret; alice's mailbox exists.
# SEPARATOR "." (Debian's default, unixhierarchysep: no) or "/"; ALTNAMESPACE "no" (Debian's
# default: folders below INBOX, e.g. INBOX.Sent) or "yes" (beside it, like Dovecot). SUPPRESS names
# capabilities Cyrus must not announce (e.g. "QRESYNC CONDSTORE"). Every path is in DIR; never
# touches /etc/imapd.conf or /var/lib/cyrus. The master runs in a session of its own and is stopped
# by the PID it recorded (then its process group), never by name.
set -euo pipefail
prefix=${CYRUS_PREFIX:-/var/cache/syncd-tests/cyrus}
packages=(libclamav12 libical3 libicu72 libjansson4 libldap-2.5-0 libpcre3 libpq5 libsqlite3-0 libwrap0
          libxapian30 libxml2 libzephyr4 libsasl2-modules libsasl2-modules-db sasl2-bin python3)
command=${1:?packages, setup, start or stop}

sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

libdir() { echo "$prefix"/usr/lib/*-linux-gnu; }

case $command in
packages)
    printf '%s\n' "${packages[@]}"
    ;;
setup)
    missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    if ! getent passwd cyrus >/dev/null; then
        echo "creating the system user cyrus (Cyrus's binaries drop to it)"
        $sudo useradd --system --gid mail --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin cyrus
    fi
    if [ ! -x "$prefix/usr/lib/cyrus/bin/master" ]; then
        version=$(apt-cache policy cyrus-imapd | awk '/Candidate:/ { print $2 }')
        echo "unpacking cyrus-imapd $version into $prefix (it conflicts with dovecot-imapd as a package)"
        $sudo mkdir -p "$(dirname "$prefix")"
        work=$($sudo mktemp -d "$(dirname "$prefix")/.cyrus-unpack.XXXXXX")
        # apt's download sandbox user must be able to write there.
        getent passwd _apt >/dev/null && $sudo chown _apt "$work"
        (cd "$work" && $sudo apt-get download -qq cyrus-common cyrus-imapd)
        $sudo mkdir "$work/root"
        for deb in "$work"/*.deb; do $sudo dpkg -x "$deb" "$work/root"; done
        [ -x "$work/root/usr/lib/cyrus/bin/master" ] || { echo "no master in the packages" >&2; exit 1; }
        $sudo rm -rf "$prefix"
        $sudo mv "$work/root" "$prefix"
        $sudo rm -rf "$work"
    fi
    ;;
start)
    dir=$(realpath -m "${2:?directory}")
    port=${3:?port}
    separator=${4:-.}
    altnamespace=${5:-no}
    suppress=${6:-}
    bin=$prefix/usr/lib/cyrus/bin
    [ -x "$bin/master" ] || { echo "Cyrus is not unpacked in $prefix: run $0 setup" >&2; exit 1; }
    getent passwd cyrus >/dev/null || { echo "no user cyrus: run $0 setup" >&2; exit 1; }
    case $separator in .) unixsep=no ;; /) unixsep=yes ;; *) echo "separator: . or /" >&2; exit 2 ;; esac
    export LD_LIBRARY_PATH=$(libdir)
    mkdir -p "$dir"/{conf,spool,sieve,socket,lock,log}
    servername=syncd-test
    cat > "$dir/imapd.conf" <<CONF
configdirectory: $dir/conf
proc_path: $dir/conf/proc
mboxname_lockpath: $dir/lock
defaultpartition: default
partition-default: $dir/spool
sievedir: $dir/sieve
lmtpsocket: $dir/socket/lmtp
idlesocket: $dir/socket/idle
notifysocket: $dir/socket/notify
serverpath: $bin
servername: $servername
admins: cyrus
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $dir/sasldb2
sasl_mech_list: PLAIN LOGIN
altnamespace: $altnamespace
unixhierarchysep: $unixsep
delete_mode: immediate
expunge_mode: immediate
syslog_prefix: cyrus-$(basename "$dir")
${suppress:+suppress_capabilities: $suppress}
CONF
    # One imapd per connection (the tests open a few at once), none forked ahead.
    cat > "$dir/cyrus.conf" <<CONF
START {
  recover cmd="$bin/ctl_cyrusdb -C $dir/imapd.conf -r"
}
SERVICES {
  imap cmd="$bin/imapd -C $dir/imapd.conf" listen="127.0.0.1:$port" prefork=0 maxchild=50
}
EVENTS {
}
CONF
    for user in alice cyrus; do
        printf secret | /usr/sbin/saslpasswd2 -p -f "$dir/sasldb2" -c -u "$servername" "$user"
    done
    chown -R cyrus:mail "$dir"
    chmod 755 "$dir"
    # In a session (and process group) of its own, so stop ends every Cyrus process at once; its
    # command line (and its children's) names DIR, which is how scripts/test finds leftovers.
    setsid "$bin/master" -C "$dir/imapd.conf" -M "$dir/cyrus.conf" -p "$dir/master.pid" \
        >"$dir/log/master.log" 2>&1 < /dev/null &
    echo $! > "$dir/cyrus.pid"
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            # alice's mailbox, made by the admin (user.alice or user/alice).
            python3 "$(dirname "$0")/imap.py" --port "$port" --user cyrus create "user${separator}alice" >/dev/null
            echo "plain=$port pid=$(cat "$dir/cyrus.pid")"
            exit 0
        fi
        kill -0 "$(cat "$dir/cyrus.pid")" 2>/dev/null || break
        sleep 0.1
    done
    echo "cyrus did not start; see $dir/log" >&2
    cat "$dir/log/"*.log >&2 || true
    exit 1
    ;;
stop)
    dir=$(realpath -m "${2:?directory}")
    if [ -f "$dir/cyrus.pid" ]; then
        pid=$(cat "$dir/cyrus.pid")
        # The master ends its children on SIGTERM; the group catches any it missed.
        kill -TERM "$pid" 2>/dev/null || true
        # Until it is gone or a zombie (where PID 1 does not reap orphans, it stays one).
        for _ in $(seq 30); do
            grep -qs '^State:[[:space:]]*[^Z]' "/proc/$pid/status" || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
        rm -f "$dir/cyrus.pid"
    fi
    ;;
*)
    echo "usage: $0 packages|setup|start|stop ..." >&2
    exit 2
    ;;
esac

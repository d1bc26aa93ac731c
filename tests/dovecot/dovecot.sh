#!/usr/bin/env bash
# A throwaway Dovecot on loopback for the imap provider's tests and benchmark.
#
#   tests/dovecot/dovecot.sh start DIR [PLAIN_PORT [TLS_PORT [CAPABILITY]]]
#                                               prints "plain=PORT tls=PORT pid=PID"
#   tests/dovecot/dovecot.sh stop DIR
#
# Users (passwd-file, plain passwords): alice/secret and bob/secret; mail in DIR/mail/USER
# (Maildir, "/" separator). TLS uses a self-signed certificate for "localhost" in DIR/tls
# (ca.pem is what a client should trust). Needs dovecot-imapd; never touches /etc/dovecot or
# /run/dovecot, and is stopped by the PID it recorded. CAPABILITY replaces what Dovecot announces
# after login (e.g. "IMAP4rev1 LITERAL+ ENABLE UIDPLUS" for a server without CONDSTORE/QRESYNC).
# Opt-in: with DOVECOT_OAUTH2_INTROSPECTION_URL set, Dovecot also offers XOAUTH2 and OAUTHBEARER,
# validating each token by POSTing it to that URL (RFC 7662; tests/oauth2/server.py).
# Opt-in: with DOVECOT_COMPRESS=1, Dovecot offers COMPRESS=DEFLATE (RFC 4978, its imap_zlib plugin).
# Opt-in: with DOVECOT_RAWLOG=1, Dovecot writes each imap session's traffic to DIR/rawlog
# (*.in what the client sent, *.out what Dovecot answered; as on the wire, so compressed after
# COMPRESS).
# DOVECOT_AUTH_MECHANISMS replaces "plain login" (e.g. "xoauth2": Dovecot then checks the bearer
# token as the user's password, against the passwd-file).
# Opt-in: with DOVECOT_POSTFIX=1, Dovecot also serves a Postfix as real sites have it: SASL for
# its submission service on DIR/run/auth-postfix (smtpd_sasl_type = dovecot) and LMTP delivery on
# DIR/run/lmtp-postfix, recipients user@domain being the users above (auth_username_format %Ln).
set -euo pipefail
command=${1:?start or stop}
dir=$(realpath -m "${2:?directory}")

case $command in
start)
    plain=${3:-14300}
    tls=${4:-14993}
    capability=${5:-}
    mkdir -p "$dir"/{run,state,mail,tls,log}
    if [ ! -f "$dir/tls/key.pem" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem" 2>/dev/null
        cp "$dir/tls/cert.pem" "$dir/tls/ca.pem"
    fi
    printf 'alice:{PLAIN}secret::::::\nbob:{PLAIN}secret::::::\n' > "$dir/passwd"
    oauth2_mechanisms="" oauth2_passdb=""
    if [ -n "${DOVECOT_OAUTH2_INTROSPECTION_URL:-}" ]; then
        printf 'introspection_mode = post\nintrospection_url = %s\nforce_introspection = yes\nusername_attribute = username\nactive_attribute = active\nactive_value = true\n' \
            "$DOVECOT_OAUTH2_INTROSPECTION_URL" > "$dir/dovecot-oauth2.conf.ext"
        oauth2_mechanisms=" xoauth2 oauthbearer"
        oauth2_passdb="passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $dir/dovecot-oauth2.conf.ext
}"
    fi
    imap_plugins="" rawlog=""
    if [ -n "${DOVECOT_COMPRESS:-}" ]; then imap_plugins="mail_plugins = \$mail_plugins imap_zlib"; fi
    if [ -n "${DOVECOT_RAWLOG:-}" ]; then mkdir -p "$dir/rawlog"; rawlog="rawlog_dir = $dir/rawlog"; fi
    protocols=imap postfix=""
    if [ -n "${DOVECOT_POSTFIX:-}" ]; then
        protocols="imap lmtp"
        # Postfix's smtpd and lmtp run as user postfix: only they may use the sockets.
        owner="mode = 0666"
        if [ "$(id -u)" -eq 0 ]; then owner="mode = 0660
    user = postfix
    group = postfix"; fi
        postfix="auth_username_format = %Ln
service auth {
  unix_listener auth-postfix {
    $owner
  }
}
service lmtp {
  unix_listener lmtp-postfix {
    $owner
  }
}"
    fi
    # As root, Dovecot's own unprivileged users run the login processes and mail belongs to
    # nobody (65534); as anyone else, everything runs as that user.
    if [ "$(id -u)" -eq 0 ]; then
        login_user=dovenull internal_user=dovecot internal_group=dovecot mail_uid=65534 mail_gid=65534
        chown -R 65534:65534 "$dir/mail"
        if [ -n "$rawlog" ]; then chown 65534:65534 "$dir/rawlog"; fi
        chmod 755 "$dir"
    else
        login_user=$(id -un) internal_user=$(id -un) internal_group=$(id -gn) mail_uid=$(id -u) mail_gid=$(id -g)
    fi
    cat > "$dir/dovecot.conf" <<CONF
instance_name = syncd-test-$(basename "$dir")
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/log/dovecot.log
info_log_path = $dir/log/dovecot.log
protocols = $protocols
listen = 127.0.0.1
ssl = yes
ssl_cert = <$dir/tls/cert.pem
ssl_key = <$dir/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = ${DOVECOT_AUTH_MECHANISMS:-plain login}$oauth2_mechanisms
first_valid_uid = 1
mail_location = maildir:$dir/mail/%u
imap_logout_format = in=%i out=%o
default_login_user = $login_user
default_internal_user = $internal_user
default_internal_group = $internal_group
namespace inbox {
  inbox = yes
  separator = /
}
$oauth2_passdb
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/passwd
}
userdb {
  driver = static
  args = uid=$mail_uid gid=$mail_gid home=$dir/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $plain
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $tls
    ssl = yes
  }
}
$postfix
protocol imap {
  mail_max_userip_connections = 100
  ${capability:+imap_capability = $capability}
  $imap_plugins
  $rawlog
}
CONF
    # In a session (and process group) of its own, so stop can end every Dovecot process at once.
    setsid dovecot -F -c "$dir/dovecot.conf" >"$dir/log/stdout.log" 2>&1 < /dev/null &
    echo $! > "$dir/dovecot.pid"
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$plain") 2>/dev/null; then
            echo "plain=$plain tls=$tls pid=$(cat "$dir/dovecot.pid")"
            exit 0
        fi
        sleep 0.1
    done
    echo "dovecot did not start; see $dir/log" >&2
    cat "$dir/log/"*.log >&2 || true
    exit 1
    ;;
stop)
    if [ -f "$dir/dovecot.pid" ]; then
        pid=$(cat "$dir/dovecot.pid")
        kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
        # A moment for the listening sockets to close, so a restart can take the same ports.
        # (Not "wait until gone": where PID 1 does not reap orphans, they stay as zombies.)
        sleep 0.3
        rm -f "$dir/dovecot.pid"
    fi
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# A throwaway Postfix on loopback for the SMTP client's tests: submission as real sites run it,
# SASL and delivery through a Dovecot started with DOVECOT_POSTFIX=1 (tests/dovecot/dovecot.sh).
#
#   tests/postfix/postfix.sh start DIR SUBMISSION_PORT TLS_PORT CLEARTEXT_PORT DOVECOT_DIR [MESSAGE_SIZE_LIMIT]
#                                               prints "submission=PORT tls=PORT cleartext=PORT pid=PID"
#   tests/postfix/postfix.sh stop DIR
#
# SUBMISSION_PORT requires STARTTLS before anything else (587's rules); TLS_PORT is implicit TLS
# (465). CLEARTEXT_PORT is a careless server: no STARTTLS, AUTH offered in the clear (a client
# must not use it). AUTH asks Dovecot's auth; mail for example.test goes over LMTP into
# Dovecot, where its users read it. Recipients: alice@ and bob@example.test; greybob@example.test
# is bob greylisted (451 4.7.1 to the first RCPT of each sender, then accepted);
# nobody@example.test gets 550 5.1.1; slowbob@example.test is bob whose end of data is answered
# only after 3 s (DIR/grey/holding appears when the data is in). The certificate (CN localhost, SAN 127.0.0.1) is
# DIR/tls/cert.pem, its own CA. Log: DIR/maillog. Needs root (Postfix's master does) and the
# packages postfix, python3; never touches /etc/postfix or the system's queue, and is stopped by
# the PID it recorded (master and every process it started: they share its session).
set -euo pipefail
command=${1:?start or stop}
dir=$(realpath -m "${2:?directory}")

case $command in
start)
    submission=${3:?submission port}
    tls=${4:?implicit TLS port}
    cleartext=${5:?cleartext port}
    dovecot=$(realpath "${6:?Dovecot directory}")
    size_limit=${7:-67108864}
    mkdir -p "$dir"/{conf,queue,data,grey,tls}
    chmod 755 "$dir"
    chown postfix: "$dir/data"
    chown 65534:65534 "$dir/grey"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem" 2>/dev/null
    printf '%s OK\n' alice@example.test bob@example.test > "$dir/vmailbox"
    printf '%s bob@example.test\n' greybob@example.test slowbob@example.test > "$dir/virtual"
    echo 'nobody@example.test 550 5.1.1 No such user here' > "$dir/rcpt_access"
    # A policy service: the first RCPT to grey*@ from each sender is deferred, later ones pass.
    cat > "$dir/greylist.py" <<'PY'
import os, sys, time
attributes = {}
for line in sys.stdin:
    if line.strip():
        key, _, value = line.strip().partition("=")
        attributes[key] = value
        continue
    if attributes.get("protocol_state") == "END-OF-MESSAGE":
        # slowbob@: the answer to the data waits 3 s (a test kills the client meanwhile); the file
        # "holding" says the data is in.
        if attributes.get("recipient", "").startswith("slow"):
            open(os.path.join(sys.argv[1], "holding"), "w").close()
            time.sleep(3)
        print("action=DUNNO\n", flush=True)
        attributes = {}
        continue
    seen = os.path.join(sys.argv[1], (attributes["sender"] + "," + attributes["recipient"]).replace("/", "_"))
    first = attributes["recipient"].startswith("grey") and not os.path.exists(seen)
    if first:
        open(seen, "w").close()
    print("action=" + ("451 4.7.1 Greylisted, try again later" if first else "DUNNO") + "\n", flush=True)
    attributes = {}
PY
    cp /etc/postfix/master.cf "$dir/conf/"
    : > "$dir/conf/main.cf"
    pc="postconf -c $dir/conf"
    $pc -e compatibility_level=3.6 queue_directory="$dir/queue" data_directory="$dir/data" \
        maillog_file="$dir/maillog" maillog_file_prefixes="$dir" myhostname=mx.example.test \
        mydestination= inet_interfaces=127.0.0.1 inet_protocols=ipv4 alias_maps= alias_database= \
        local_header_rewrite_clients= message_size_limit="$size_limit" \
        virtual_mailbox_domains=example.test virtual_mailbox_maps="texthash:$dir/vmailbox" \
        virtual_alias_maps="texthash:$dir/virtual" virtual_transport="lmtp:unix:$dovecot/run/lmtp-postfix" \
        smtpd_tls_cert_file="$dir/tls/cert.pem" smtpd_tls_key_file="$dir/tls/key.pem" \
        smtpd_sasl_type=dovecot smtpd_sasl_path="$dovecot/run/auth-postfix" \
        smtpd_relay_restrictions=reject_unauth_destination \
        "smtpd_end_of_data_restrictions=check_policy_service unix:private/greylist" \
        "smtpd_recipient_restrictions=check_recipient_access texthash:$dir/rcpt_access check_policy_service unix:private/greylist permit_sasl_authenticated reject"
    $pc -F '*/*/chroot=n'
    $pc -MX smtp/inet
    $pc -Me "127.0.0.1:$submission/inet=127.0.0.1:$submission inet n - n - - smtpd" \
        "127.0.0.1:$tls/inet=127.0.0.1:$tls inet n - n - - smtpd" \
        "127.0.0.1:$cleartext/inet=127.0.0.1:$cleartext inet n - n - - smtpd" \
        "greylist/unix=greylist unix - n n - 0 spawn user=nobody argv=/usr/bin/python3 $dir/greylist.py $dir/grey"
    $pc -P "127.0.0.1:$submission/inet/smtpd_tls_security_level=encrypt" \
        "127.0.0.1:$submission/inet/smtpd_tls_auth_only=yes" "127.0.0.1:$submission/inet/smtpd_sasl_auth_enable=yes" \
        "127.0.0.1:$tls/inet/smtpd_tls_wrappermode=yes" "127.0.0.1:$tls/inet/smtpd_sasl_auth_enable=yes" \
        "127.0.0.1:$cleartext/inet/smtpd_tls_security_level=none" "127.0.0.1:$cleartext/inet/smtpd_sasl_auth_enable=yes"
    postfix -c "$dir/conf" check
    # Postfix's master stays in the foreground with -s; in a session of its own, so stop ends it
    # and everything it started at once.
    setsid /usr/lib/postfix/sbin/master -c "$dir/conf" -s >"$dir/master.log" 2>&1 < /dev/null &
    echo $! > "$dir/postfix.pid"
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$submission") 2>/dev/null; then
            echo "submission=$submission tls=$tls cleartext=$cleartext pid=$(cat "$dir/postfix.pid")"
            exit 0
        fi
        sleep 0.1
    done
    echo "postfix did not start; see $dir/maillog" >&2
    cat "$dir/master.log" "$dir/maillog" >&2 || true
    exit 1
    ;;
stop)
    if [ -f "$dir/postfix.pid" ]; then
        pid=$(cat "$dir/postfix.pid")
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        sleep 0.3
        rm -f "$dir/postfix.pid"
    fi
    ;;
*)
    echo "usage: $0 start|stop DIR ..." >&2
    exit 2
    ;;
esac

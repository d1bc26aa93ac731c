#!/usr/bin/env bash
# COMPRESS=DEFLATE (RFC 4978) on and off: a full download of a generated mailbox (sizes from 1 KB
# to a few MB, ~17 KB on average, three folders; text of random words, and above 8 KB a base64
# attachment of random bytes, as images and PDFs are: make-mailbox.py --body mixed) from Dovecot
# on loopback over TLS, with Dovecot's imap_zlib plugin loaded (dovecot.sh, DOVECOT_COMPRESS=1).
#
#   Benchmarks/imap-compress.sh [MESSAGES]     (default 2000, ~35 MB)
#
# Runs CompressTests' opt-in benchmark (debug test build; one warm-up download first, then off
# and on) and prints bytes on the wire — counted by syncd's own handler below TLS, so what a
# network would carry — and wall time. On loopback the wall time shows the CPU cost of deflate;
# on a real link the bytes saved dominate. Needs dovecot-imapd (scripts/test installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests >/dev/null 2>&1 || { echo "build failed: swift build --build-tests" >&2; exit 1; }
SYNCD_COMPRESS_BENCH=1 SYNCD_COMPRESS_MESSAGES=${1:-2000} \
    swift test --skip-build --filter 'CompressTests/testBenchmark_fullDownload_withAndWithoutCompress' 2>&1 \
    | tee /tmp/imap-compress.$$.log | grep -E '^compress:|error|failed' || true
grep -q "passed" /tmp/imap-compress.$$.log && status=0 || status=1
rm -f /tmp/imap-compress.$$.log
exit $status

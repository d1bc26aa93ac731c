#!/usr/bin/env bash
# The flag scan of a server without CONDSTORE/QRESYNC (Outlook/Microsoft 365, Yahoo): peak RSS of
# an incremental sync of a 100 000-message folder against a 1 000-message one, same Dovecot setup
# (tests/dovecot/dovecot.sh, capabilities "IMAP4rev1 LITERAL+ UIDPLUS", messages of at most 400
# bytes), flags changed in three places on the server before the measured sync.
#
#   Benchmarks/imap-flag-scan.sh [MESSAGES]     (default 100000; the first download takes minutes)
#
# Runs FlagScanTests' opt-in test in the debug test build (the flag scan's memory does not depend
# on the optimiser); prints its figures: the scan's peak RSS over the RSS before it (VmHWM after
# resetting it through /proc/self/clear_refs), and the difference, which the test keeps < 30 MB.
# Needs dovecot-imapd (scripts/test installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests >/dev/null 2>&1 || { echo "build failed: swift build --build-tests" >&2; exit 1; }
SYNCD_FLAG_SCAN_100K=1 SYNCD_FLAG_SCAN_MESSAGES=${1:-100000} \
    swift test --skip-build --filter 'FlagScanTests/testPlainPath_100000Messages_memoryStaysFlat' 2>&1 \
    | tee /tmp/imap-flag-scan.$$.log | grep -E '^flag-scan:|error|failed' || true
grep -q "passed" /tmp/imap-flag-scan.$$.log && status=0 || status=1
rm -f /tmp/imap-flag-scan.$$.log
exit $status

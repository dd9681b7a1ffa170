#!/usr/bin/env bash
# test-faults.sh — what `make test-faults` runs (and `make test` after the
# other tests): the fault suite of internal/e2e. It starts two `parley
# serve` nodes behind a round-robin balancer on a MinIO and a Redis of its
# own (on free 127.0.0.1 ports), breaks them on purpose, and prints one row
# per scenario — what was sent, acknowledged, received and lost — then an
# at-rest scan for plaintext canaries. Any acknowledged loss, unclear
# failure or canary found fails the run.
#
# The table is also written to $PARLEY_FAULTS_TABLE (default
# bin/fault-scenarios.txt) so it can be quoted.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh install
eval "$(scripts/services.sh binaries)"
export PARLEY_TEST_REQUIRE_SERVICES=1

table=${PARLEY_FAULTS_TABLE:-bin/fault-scenarios.txt}
mkdir -p "$(dirname "$table")"
log=$(mktemp "${TMPDIR:-/tmp}/parley-faults.XXXXXX")
trap 'rm -f "$log"' EXIT

status=0
go test -race -count=1 -timeout 10m -v ./internal/e2e >"$log" 2>&1 || status=$?
if [ "$status" != 0 ]; then
	# The failures in full (node log tails included), not the passing chatter.
	grep -v -e '^=== \(RUN\|PAUSE\|CONT\)' "$log" | tail -n 300
fi
{
	echo "# make test-faults — $(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	sed -n '/^FAULT SCENARIOS/,/^AT-REST SCAN/p' "$log"
	grep -e '^--- FAIL' -e '^--- SKIP' "$log" || true
} >"$table"
cat "$table"
if [ "$status" != 0 ]; then
	echo "test-faults: FAILED (see above)" >&2
fi
exit "$status"

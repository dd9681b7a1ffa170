#!/usr/bin/env bash
# test.sh — what `make test` runs: static checks, then every Go test with the
# race detector against a real MinIO and a real Redis started on free
# loopback ports for this run and stopped afterwards, whatever happens.
# PARLEY_TEST_REQUIRE_SERVICES=1 turns "service missing" from a skip into a
# failure, so no test can pass by quietly not running.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh install
make --no-print-directory check

state=$(mktemp -d "${TMPDIR:-/tmp}/parley-test.XXXXXX")
cleanup() { scripts/services.sh stop "$state" || true; rm -rf "$state"; }
trap cleanup EXIT
scripts/services.sh start "$state"
# shellcheck disable=SC1091
source "$state/env"
export PARLEY_TEST_REQUIRE_SERVICES=1

go test -race -count=1 -timeout 12m ./...

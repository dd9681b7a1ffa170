#!/usr/bin/env bash
# soak.sh — what `make soak` runs: the messaging engine's checked history
# (messaging TestCheckedHistory) for longer than `make test` does, on a
# MinIO and a Redis of its own. Nodes are killed and replaced, Redis is
# flushed and the store stalls on a seeded random schedule; every publish,
# acknowledgement and delivery is checked by porcupine against a per-room
# ordered log. SOAK (default 5m) is how long the faults run per store;
# PARLEY_HISTORY_SEED replays a printed schedule.
# Then package retention's crash tests with every step on S3 as well as
# on the directory store: `make test` runs every step on the directory
# store and a few drawn at random on S3 (retention/helpers_test.go,
# s3CrashSteps).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh install
state=$(mktemp -d "${TMPDIR:-/tmp}/parley-soak.XXXXXX")
cleanup() { scripts/services.sh stop "$state" || true; rm -rf "$state"; }
trap cleanup EXIT
scripts/services.sh start "$state"
# shellcheck disable=SC1091
source "$state/env"
export PARLEY_TEST_REQUIRE_SERVICES=1
export PARLEY_HISTORY_DURATION=${SOAK:-5m}
go test -race -count=1 -timeout 0 -v -run 'TestCheckedHistory|TestIdleRoomsAreFreed' ./messaging/ 2>&1 |
	grep -v -e '^=== \(RUN\|PAUSE\|CONT\)' -e ' INFO ' -e ' WARN '
PARLEY_RETENTION_CRASH_STEPS=all go test -race -count=1 -timeout 30m \
	-run 'CrashAtEvery|TestDisposalRemovesLateSeatIndexEntries|TestDisposalDestroysTheAccountOfAStoppedJoin' ./retention/

#!/usr/bin/env bash
# test.sh — what `make test` runs: static checks, then every Go test with the
# race detector against a real MinIO and a real Redis started on free
# loopback ports for this run and stopped afterwards, whatever happens.
# PARLEY_TEST_REQUIRE_SERVICES=1 turns "service missing" from a skip into a
# failure, so no test can pass by quietly not running.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage prints how long it took, so a slow one is found from the log.
start=$SECONDS
stage() { echo "test.sh: $1 done at $((SECONDS - start)) s"; }

scripts/services.sh install
# Debian's age decrypts the encrypted evaluation export in its test.
if ! command -v age >/dev/null; then
	if [ "$(id -u)" = 0 ]; then apt-get install -y age || { apt-get update && apt-get install -y age; }
	else sudo apt-get install -y age; fi
fi
# The browser client's tests drive Debian's chromium with playwright-core
# (browser downloads are not used); the client is built with esbuild from
# the npm registry (npm ci: exact versions from package-lock.json).
if [ ! -x /usr/bin/chromium ]; then
	if [ "$(id -u)" = 0 ]; then apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }
	else sudo apt-get install -y chromium; fi
fi
command -v node >/dev/null || { echo "node (v20 or later) is required for the browser client" >&2; exit 1; }
make --no-print-directory web
make --no-print-directory check
stage "build and static checks"

# Every fuzz target runs for a bounded time on top of its seed corpus
# (which the `go test` run below also replays). A crasher fails the run and is
# written to testdata/fuzz/ — commit it as a regression test. Each package's
# fuzzing binary is built once (`go test -c -fuzz`, instrumented for every
# target in it) and run once per target, in the package's directory, with
# the fuzz cache `go test -fuzz` would use.
fuzztime=${PARLEY_FUZZTIME:-5s}
fuzzbin=$(mktemp -d "${TMPDIR:-/tmp}/parley-fuzz.XXXXXX")
trap 'rm -rf "$fuzzbin"' EXIT
fuzzcache=$(go env GOCACHE)/fuzz
for file in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
	dir=$(dirname "${file#./}")
	targets=$(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2)
	[ -n "$targets" ] || continue
	bin=$fuzzbin/$(echo "$dir" | tr / _).test
	if [ ! -x "$bin" ]; then
		go test -c -fuzz . -o "$bin" "./$dir"
	fi
	importpath=$(go list "./$dir")
	for target in $targets; do
		echo "fuzz: ./$dir $target ($fuzztime)"
		# Go's fuzzer sometimes reports "context deadline exceeded" when
		# -fuzztime ends during a slow input, with no crasher; that one case
		# is retried once. A real crasher ("Failing input written") fails.
		for attempt in 1 2; do
			if out=$(cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^${target}\$" -test.fuzztime "$fuzztime" \
				-test.fuzzcachedir "$fuzzcache/$importpath" 2>&1); then
				break
			fi
			if [ "$attempt" = 2 ] || ! grep -q 'context deadline exceeded' <<<"$out" || grep -q 'Failing input written' <<<"$out"; then
				echo "$out"
				exit 1
			fi
			echo "fuzz: $target stopped on the fuzzer's deadline race, not a crasher; running it again"
		done
	done
done
rm -rf "$fuzzbin"
echo "fuzz: all targets ran clean"
stage "fuzzing"

# Tests, MinIO's data and the build's scratch files live in memory (tmpfs,
# /dev/shm) when it has room: what the tests check of durability is the
# order of writes and renames across a killed process, which tmpfs keeps,
# and a disk's fsync only made them wait (a local-directory store test ran
# 4.1 s on disk, 0.24 s on tmpfs). PARLEY_TEST_TMPDIR chooses another place.
scratch=${PARLEY_TEST_TMPDIR:-}
if [ -z "$scratch" ] && [ -d /dev/shm ] && [ -w /dev/shm ] &&
	[ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt $((4 * 1024 * 1024)) ]; then
	scratch=/dev/shm
fi
scratch=$(mktemp -d "${scratch:-${TMPDIR:-/tmp}}/parley-test.XXXXXX")
export TMPDIR=$scratch
echo "test.sh: temporary files in $scratch"
state=$scratch/services
mkdir -p "$state"
cleanup() { scripts/services.sh stop "$state" || true; rm -rf "$scratch"; }
trap cleanup EXIT
scripts/services.sh start "$state"
# shellcheck disable=SC1091
source "$state/env"
export PARLEY_TEST_REQUIRE_SERVICES=1

# The fault suite (internal/e2e) runs on its own services after the rest,
# so that its table is printed; see scripts/test-faults.sh.
# The longest packages are listed first: go test runs packages two at a
# time here (-p is the number of cores), in the order given, so a long one
# started last would run alone at the end while a core idles.
long="./web ./retention ./client ./server ./vault"
go test -race -count=1 -timeout 25m $long $(go list ./... | grep -v -e '/internal/e2e$' $(for p in $long; do printf -- ' -e /%s$' "${p#./}"; done))
stage "go test"
# deploy/validate is a module of its own (it checks the deployment files
# with compose-go and the Kubernetes API types, which the product does not
# link), so ./... above does not reach it.
(cd deploy/validate && go test -count=1 ./...)
stage "deploy/validate"
scripts/test-faults.sh
stage "fault suite"

#!/usr/bin/env bash
# test.sh — what `make test` runs: static checks, fuzzing, every Go test
# with the race detector against a real MinIO and a real Redis started on
# free loopback ports for this run and stopped afterwards, whatever
# happens, then the fault suite.
# PARLEY_TEST_REQUIRE_SERVICES=1 turns "service missing" from a skip into a
# failure, so no test can pass by quietly not running.
#
# On two cores the stages overlap where one waits: `go test` (the longest:
# the web package's browser tests mostly wait on pages) runs in front while
# the static checks and the fuzzing run beside it, both from the start and
# at a lower priority, and the browser tests beside it too, each with its
# output kept in a log that is printed whole after go test's. The fault
# suite runs once go test and the browser tests are done, beside only the
# low-priority tail of the others, since its scenarios time what they
# check. A failed stage does not
# stop the others; the run fails if any stage failed, and the summary at
# the end names it.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
# cpu PID prints the CPU time (user + system, in clock ticks) used so far
# by what the shell PID started and waited for (Linux's /proc/PID/stat).
tick=$(getconf CLK_TCK)
cpu() { awk '{ print $16 + $17 }' "/proc/$1/stat"; }
failed=()
# stage NAME COMMAND... runs COMMAND and prints whether it passed, its
# wall-clock time, its CPU time and when it ended. A failure is recorded
# and the run goes on.
stage() {
	local name=$1 t0=$SECONDS me=$BASHPID c0 rc=0
	shift
	c0=$(cpu "$me")
	"$@" || rc=$?
	local verdict=passed
	if [ "$rc" != 0 ]; then
		verdict="FAILED (exit $rc)"
		failed+=("$name")
	fi
	echo "test.sh: $name $verdict in $((SECONDS - t0)) s ($((($(cpu "$me") - c0) / tick)) s of CPU), done at $((SECONDS - start)) s"
	return 0
}

# Builds leave the checkout's path out of what they compile (-trimpath), so
# that the build cache serves a clone at another path as it serves this
# one: compiled with the path, a new clone's packages, tests, fuzzing
# binaries and vet results were all rebuilt, 150 s of CPU for go test's
# alone.
# A binary built so does not know the Go tree's path either; GOROOT tells
# the tests that type-check Go source (api/internal/tsgen) where the
# standard library is.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath"
GOROOT=$(go env GOROOT)
export GOROOT

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
echo "test.sh: tools installed and browser client built at $((SECONDS - start)) s"

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
beside=()
cleanup() {
	# The jobs beside go test, if this run stops early: each subshell and
	# what it runs now (its own children).
	for pid in "${beside[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			pkill -TERM -P "$pid" 2>/dev/null || true
			kill "$pid" 2>/dev/null || true
		fi
	done
	scripts/services.sh stop "$state" || true
	rm -rf "$scratch"
}
trap cleanup EXIT

# Beside go test, from the start: the static checks (gofmt, go vet,
# staticcheck, tsc, govulncheck) and every fuzz target for a bounded time
# (scripts/fuzz.sh), as two jobs. go test keeps 2 cores busy only part of
# the time (its longest package, web, mostly waits on pages), so the jobs
# beside it run in what it leaves idle: both at a lower priority (nice), so
# that go test's CPU-bound tests come first. The static checks time
# nothing; each fuzz target still runs its full PARLEY_FUZZTIME, with
# fewer inputs when go test is busy (go test replays every seed corpus
# itself), with one fuzzing worker each (PARLEY_FUZZPARALLEL=1): a worker
# per core took 200–270 s of CPU from the run, one takes half. Running the
# fuzzing after the static checks instead made it start when go test was
# nearly done, and the run waited for it.
# besidejob NAME LOG COMMAND... runs COMMAND as a stage in the background,
# its output in LOG; its exit status is 1 if the stage failed.
besidenames=()
besidelogs=()
besidejob() {
	local name=$1 log=$2
	shift 2
	(
		failed=()
		stage "$name" "$@"
		exit "${#failed[@]}"
	) >"$log" 2>&1 &
	beside+=($!)
	besidenames+=("$name")
	besidelogs+=("$log")
}
besidejob "static checks" "$scratch/static-checks.log" nice -n 10 make --no-print-directory check
besidejob "fuzzing" "$scratch/fuzzing.log" env PARLEY_FUZZPARALLEL=1 nice -n 10 scripts/fuzz.sh
echo "test.sh: static checks and fuzzing run beside go test; their output follows go test's"

scripts/services.sh start "$state"
# shellcheck disable=SC1091
source "$state/env"
export PARLEY_TEST_REQUIRE_SERVICES=1

# The web package's browser tests (TestBrowser*) run as a job of their own
# beside go test, from its binary built first: they mostly wait on pages,
# three at a time (web/browser_script_test.go: each has its own node, ports
# and Chromium), and inside one go test of the package they could start
# only once its other tests were done (a parallel test waits for the
# sequential ones), two minutes later. Their output is printed with the
# static checks' and the fuzzing's.
webtest=$scratch/web.test
if go test -race -c -o "$webtest" ./web; then
	besidejob "browser tests (web TestBrowser*)" "$scratch/browser-tests.log" \
		sh -c 'cd web && exec "$0" -test.count=1 -test.parallel 3 -test.timeout 25m -test.run "^TestBrowser"' "$webtest"
	browserjob=$((${#beside[@]} - 1))
else
	failed+=("building the web package's tests")
fi

# The fault suite (internal/e2e) runs on its own services once go test and
# the browser tests are done, beside the tail of the static checks and the
# fuzzing (which run at a lower priority, so its timed scenarios keep the
# CPU), and prints its table before their output; see scripts/test-faults.sh.
# The longest packages are listed first: go test runs packages two at a
# time here (-p is the number of cores), in the order given, so a long one
# started last would run alone at the end while a core idles (in the run
# of 89755b9: client 407 s, web 142 s, server 68 s, vault 54 s; retention
# took 700 s then, before its tests ran in parallel; 768 s in the run of
# 89a9610, half of it its crash tests' S3 subtests, of which it now runs
# a seeded random few, every one in make soak: retention/helpers_test.go,
# s3CrashSteps). It skips the browser tests, which run beside it (above).
long="./client ./retention ./web ./server ./vault"
gotest() {
	go test -race -count=1 -parallel 3 -timeout 25m -skip '^TestBrowser' $long $(go list ./... | grep -v -e '/internal/e2e$' $(for p in $long; do printf -- ' -e /%s$' "${p#./}"; done))
}
stage "go test" gotest
# deploy/validate is a module of its own (it checks the deployment files
# with compose-go and the Kubernetes API types, which the product does not
# link), so ./... above does not reach it.
validate() { (cd deploy/validate && go test -count=1 ./...); }
stage "deploy/validate" validate
# The benchmark's own set-up (a mediator made with `admin user create`,
# nodes, cases, sockets), once, briefly, in embedded mode: its figures are
# for BENCHMARKS.md, not here; this only keeps it working.
benchsmoke() {
	go build -o "$scratch/parley-bench" ./cmd/parley || return 1
	local out
	out=$("$scratch/parley-bench" bench fanout --rooms 2 --members 2 --rate 20 --duration 1s --warmup 0s --idle 0 2>&1) || { echo "$out"; return 1; }
	echo "$out" | tail -6
	echo "$out" | grep -Eq 'acknowledged +[1-9][0-9]* +lost 0$'
}
stage "bench smoke" benchsmoke

# besiderc[i] is job i's exit status once waited for.
besiderc=()
if [ -n "${browserjob:-}" ]; then
	rc=0
	wait "${beside[$browserjob]}" || rc=$?
	besiderc[$browserjob]=$rc
fi
stage "fault suite" scripts/test-faults.sh

for i in "${!beside[@]}"; do
	rc=0
	if [ -n "${besiderc[$i]:-}" ]; then
		rc=${besiderc[$i]}
	else
		wait "${beside[$i]}" || rc=$?
	fi
	echo "test.sh: ---- ${besidenames[$i]} (run beside go test) ----"
	cat "${besidelogs[$i]}"
	if [ "$rc" != 0 ]; then
		failed+=("${besidenames[$i]} (see above)")
	fi
done
beside=()
echo "test.sh: ---- end of what ran beside go test ----"

if [ "${#failed[@]}" != 0 ]; then
	printf 'test.sh: FAILED after %d s: %s\n' "$((SECONDS - start))" "$(IFS=,; echo "${failed[*]}")" >&2
	exit 1
fi
echo "test.sh: every stage passed in $((SECONDS - start)) s"

#!/usr/bin/env bash
# fuzz.sh — the fuzzing stage of `make test` (and `make fuzz` alone): every
# fuzz target runs for a bounded time (PARLEY_FUZZTIME, default 5s) on top
# of its seed corpus (which `go test` also replays). A crasher fails the
# run and is written to testdata/fuzz/ — commit it as a regression test.
# Each package's fuzzing binary is built once (`go test -c -fuzz`,
# instrumented for every target in it) and run once per target, in the
# package's directory, with the fuzz cache `go test -fuzz` would use.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${PARLEY_FUZZTIME:-5s}
# PARLEY_FUZZPARALLEL workers per target (default: one per core, as go test
# -fuzz does); make test runs one, beside go test, where a second would
# only take a core from it.
parallel=${PARLEY_FUZZPARALLEL:-$(nproc)}
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
			if out=$(cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^${target}\$" -test.fuzztime "$fuzztime" -test.parallel "$parallel" \
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
echo "fuzz: all targets ran clean"

#!/usr/bin/env bash
# vulncheck.sh GOVULNCHECK — run govulncheck on every package. A real
# finding fails (exit 3 from govulncheck); a vulnerability database that
# cannot be reached (no network to vuln.go.dev, which the Go module proxy
# does not mirror) prints one notice line and passes, since it says nothing
# about the code. GOVULNDB points it at a mirror (https://… or file://…).
set -uo pipefail
bin=$1
db=${GOVULNDB:-https://vuln.go.dev}
out=$(timeout 600 "$bin" -db "$db" ./... 2>&1)
rc=$?
case $rc in
0) echo "govulncheck: no known vulnerabilities (database $db)" ;;
3) echo "$out"; echo "govulncheck: vulnerabilities found (see above)" >&2 ;;
*)
	if grep -q -e 'fetching vulnerabilities' -e 'creating client' -e 'no such host' -e 'connection refused' -e 'i/o timeout' <<<"$out" &&
		! grep -q -e '^Vulnerability #' <<<"$out"; then
		echo "govulncheck: NOTICE — vulnerability database $db unreachable from here ($(grep -m1 -o -e 'no such host' -e 'connection refused' -e 'i/o timeout' -e 'no such file or directory' <<<"$out" || echo 'fetch failed')); not checked. Set GOVULNDB to a reachable mirror to check."
		exit 0
	fi
	echo "$out"
	echo "govulncheck failed (exit $rc)" >&2
	;;
esac
exit $rc

#!/usr/bin/env bash
# services.sh — the real services Parley's tests run against: MinIO, Redis
# and Mailpit (an SMTP server whose HTTP API shows what arrived).
#
#   scripts/services.sh install            install what is missing
#   scripts/services.sh start <statedir>   start both on free 127.0.0.1 ports
#   scripts/services.sh stop  <statedir>   stop what start started
#   scripts/services.sh binaries           print the export of the server binaries' paths
#                                          (the fault suite starts its own MinIO and Redis)
#
# start writes <statedir>/env; `source` it and the tests find the services
# through the PARLEY_TEST_* variables (see internal/testenv). Everything binds
# 127.0.0.1 only, credentials are random per start, and state lives in
# <statedir>, so parallel checkouts never collide.
#
# MinIO is pinned to one commit and built from source with `go install`: no
# downloaded binary to trust, and the exact server the storage contract suite
# was checked against. The cold build takes minutes, so it is cached under
# ${PARLEY_CACHE:-~/.cache/parley} and shared by all checkouts.
set -euo pipefail

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_MODULE=github.com/minio/minio
CACHE=${PARLEY_CACHE:-$HOME/.cache/parley}/minio-${MINIO_VERSION##*-}
MINIO_BIN=$CACHE/minio
MAILPIT_VERSION=v1.33.1
MAILPIT_MODULE=github.com/axllent/mailpit
MAILPIT_CACHE=${PARLEY_CACHE:-$HOME/.cache/parley}/mailpit-$MAILPIT_VERSION
MAILPIT_BIN=$MAILPIT_CACHE/mailpit
WAIT_SECONDS=60

die() { echo "services.sh: $*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install() {
	if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
		echo "services.sh: installing redis-server" >&2
		as_root apt-get update
		as_root apt-get install -y redis-server
	fi
	mkdir -p "$CACHE"
	# The lock makes a second `install` (another checkout, a parallel make)
	# wait for the build in progress instead of starting its own.
	(
		flock 9
		if [ ! -x "$MINIO_BIN" ]; then
			echo "services.sh: building MinIO $MINIO_VERSION into $CACHE (several minutes, once)" >&2
			GOBIN=$CACHE go install "$MINIO_MODULE@$MINIO_VERSION"
		fi
	) 9>"$CACHE.lock"
	mkdir -p "$MAILPIT_CACHE"
	(
		flock 9
		if [ ! -x "$MAILPIT_BIN" ]; then
			echo "services.sh: building Mailpit $MAILPIT_VERSION into $MAILPIT_CACHE (about a minute, once)" >&2
			GOBIN=$MAILPIT_CACHE go install "$MAILPIT_MODULE@$MAILPIT_VERSION"
		fi
	) 9>"$MAILPIT_CACHE.lock"
}

# free_ports N prints N distinct free TCP ports on 127.0.0.1. The kernel picks
# them (bind to port 0); there is a small window before the servers bind
# them, in which case start fails loudly rather than silently sharing.
free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
	local state=$1
	[ -x "$MINIO_BIN" ] || die "MinIO not installed; run: scripts/services.sh install"
	command -v redis-server >/dev/null || die "redis-server not installed; run: scripts/services.sh install"
	[ -x "$MAILPIT_BIN" ] || die "Mailpit not installed; run: scripts/services.sh install"
	mkdir -p "$state"
	state=$(cd "$state" && pwd)
	stop "$state" 2>/dev/null || true # start twice = restart

	local p_minio p_redis p_console p_smtp p_mailapi
	read -r p_minio p_redis p_console p_smtp p_mailapi < <(free_ports 5)
	local user pass
	user=parley$(random_hex 6)
	pass=$(random_hex 16)
	mkdir -p "$state/minio-data"
	chmod 700 "$state" "$state/minio-data"

	# setsid detaches MinIO from make's process group and terminal; output
	# goes to a log so the caller's pipes are not held open.
	# MINIO_SCANNER_SPEED=slowest: MinIO's background scanner (data usage,
	# lifecycle, healing: nothing the tests use) walks every bucket about
	# once a minute, and the tests leave hundreds (a fresh one each): idle
	# after one run of the retention tests (251 buckets), it took about
	# 2.1 s of CPU a minute from the tests; slowest, 0.1 s.
	MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$pass MINIO_BROWSER=off MINIO_UPDATE=off MINIO_SCANNER_SPEED=slowest \
		setsid "$MINIO_BIN" server --quiet \
		--address "127.0.0.1:$p_minio" --console-address "127.0.0.1:$p_console" \
		"$state/minio-data" >"$state/minio.log" 2>&1 </dev/null &
	echo $! >"$state/minio.pid"

	setsid "$MAILPIT_BIN" --smtp "127.0.0.1:$p_smtp" --listen "127.0.0.1:$p_mailapi" \
		--database "$state/mailpit.db" --disable-version-check \
		>"$state/mailpit.log" 2>&1 </dev/null &
	echo $! >"$state/mailpit.pid"

	redis-server --port "$p_redis" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$state" --daemonize yes --pidfile "$state/redis.pid" \
		--logfile "$state/redis.log"

	local deadline=$((SECONDS + WAIT_SECONDS)) minio_ok= redis_ok= mail_ok=
	while [ $SECONDS -lt $deadline ]; do
		[ -n "$minio_ok" ] || ! curl -fs -o /dev/null "http://127.0.0.1:$p_minio/minio/health/live" || minio_ok=1
		[ -n "$redis_ok" ] || [ "$(redis-cli -h 127.0.0.1 -p "$p_redis" ping 2>/dev/null)" != PONG ] || redis_ok=1
		[ -n "$mail_ok" ] || ! curl -fs -o /dev/null "http://127.0.0.1:$p_mailapi/api/v1/messages" || mail_ok=1
		[ -n "$minio_ok" ] && [ -n "$redis_ok" ] && [ -n "$mail_ok" ] && break
		alive "$state/minio.pid" || { tail -n 20 "$state/minio.log" >&2; die "minio exited"; }
		alive "$state/mailpit.pid" || { tail -n 20 "$state/mailpit.log" >&2; stop "$state" || true; die "mailpit exited"; }
		sleep 0.5
	done
	if [ -z "$minio_ok" ] || [ -z "$redis_ok" ] || [ -z "$mail_ok" ]; then
		tail -n 20 "$state/minio.log" "$state/redis.log" "$state/mailpit.log" >&2 || true
		stop "$state" || true
		die "services not up after ${WAIT_SECONDS}s (minio=${minio_ok:-no} redis=${redis_ok:-no} mailpit=${mail_ok:-no})"
	fi

	umask 077
	cat >"$state/env" <<EOF
export PARLEY_TEST_S3_ENDPOINT=127.0.0.1:$p_minio
export PARLEY_TEST_S3_ACCESS_KEY=$user
export PARLEY_TEST_S3_SECRET_KEY=$pass
export PARLEY_TEST_MINIO_DATA=$state/minio-data
export PARLEY_TEST_REDIS_URL=redis://127.0.0.1:$p_redis/0
export PARLEY_TEST_MINIO_BINARY=$MINIO_BIN
export PARLEY_TEST_SMTP=127.0.0.1:$p_smtp
export PARLEY_TEST_MAILPIT_API=http://127.0.0.1:$p_mailapi
EOF
	echo "services.sh: minio 127.0.0.1:$p_minio, redis 127.0.0.1:$p_redis, mailpit smtp 127.0.0.1:$p_smtp api 127.0.0.1:$p_mailapi; source $state/env" >&2
}

stop() {
	local state=$1 name pidfile pid
	for name in minio redis mailpit; do
		pidfile=$state/$name.pid
		if alive "$pidfile"; then
			pid=$(cat "$pidfile")
			kill "$pid"
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
			kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
		fi
		rm -f "$pidfile"
	done
	rm -f "$state/env"
}

binaries() {
	[ -x "$MINIO_BIN" ] || die "MinIO not installed; run: scripts/services.sh install"
	echo "export PARLEY_TEST_MINIO_BINARY=$MINIO_BIN"
}

case "${1:-}" in
install) install ;;
binaries) binaries ;;
start) [ $# -eq 2 ] || die "usage: $0 start <statedir>"; start "$2" ;;
stop) [ $# -eq 2 ] || die "usage: $0 stop <statedir>"; stop "$2" ;;
*) die "usage: $0 install | start <statedir> | stop <statedir> | binaries" ;;
esac

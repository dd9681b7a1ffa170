#!/usr/bin/env bash
# init-secrets.sh — make the compose deployment's secret files, once:
#
#   secrets/master.key      the master key (`parley admin gen-master-key`)
#   secrets/s3_secret_key   MinIO's root password, which Parley uses as its S3 secret
#
# Both end up owned by uid/gid 65532 (the containers' "nonroot" user) with
# mode 0400: compose bind-mounts secret files with their host owner and
# mode (it cannot change them), and Parley refuses a master key that anyone
# but its owner can read. Existing files are never overwritten.
#
# Needs docker and, unless run as root, sudo (for chown). With rootless
# Docker or Docker Desktop the uid inside the container maps differently:
# see docs/operations.md.
set -euo pipefail
cd "$(dirname "$0")"
UID_GID=65532:65532
IMAGE=${PARLEY_IMAGE:-parley:local}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

mkdir -p secrets
as_root chown "$UID_GID" secrets
# Others may list the directory (compose checks the files exist), not read the files.
as_root chmod 0755 secrets

if ! as_root test -e secrets/master.key; then
	if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
		docker build -f ../Dockerfile -t "$IMAGE" ../..
	fi
	# The key is made inside the image, by the user that will read it.
	docker run --rm --network none --user "$UID_GID" -v "$PWD/secrets:/out" "$IMAGE" admin gen-master-key /out/master.key
	echo "init-secrets.sh: made secrets/master.key — keep an offline copy (docs/operations.md, Master key)." >&2
fi
as_root chmod 0400 secrets/master.key

if ! as_root test -e secrets/s3_secret_key; then
	tmp=$(mktemp)
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp"
	as_root install -m 0400 -o "${UID_GID%:*}" -g "${UID_GID#*:}" "$tmp" secrets/s3_secret_key
	rm -f "$tmp"
	echo "init-secrets.sh: made secrets/s3_secret_key." >&2
fi

#!/bin/sh
# tests/compose/run.sh - make test-compose: the docker compose deployment built,
# started, scaled and broken for real (tests/compose/test_compose.py).
# Sees to what it needs first, as root: Debian's docker.io, docker-compose and
# debootstrap (apt), s3rver in tests/node_modules (npm, tests/package.json), a
# running Docker engine (dockerd is started if none answers; its log goes to
# $TMPDIR/vinted-dockerd.log) and the bookworm base image (base.sh, cached).
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
if [ "$(id -u)" != 0 ]; then
    echo "test-compose: needs root (debootstrap, dockerd): run it as root or with sudo" >&2
    exit 2
fi
need=
command -v docker >/dev/null 2>&1 || need="$need docker.io"
command -v dockerd >/dev/null 2>&1 || need="$need docker.io"
command -v docker-compose >/dev/null 2>&1 || need="$need docker-compose"
command -v debootstrap >/dev/null 2>&1 || need="$need debootstrap"
command -v psql >/dev/null 2>&1 || need="$need postgresql-client"
command -v npm >/dev/null 2>&1 || need="$need npm"
if [ -n "$need" ]; then
    echo "test-compose: installing$need"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
fi
if [ ! -x tests/node_modules/.bin/s3rver ]; then
    npm install --no-audit --no-fund --prefix tests
fi
if ! docker info >/dev/null 2>&1; then
    log=${TMPDIR:-/tmp}/vinted-dockerd.log
    echo "test-compose: starting dockerd (log: $log)"
    nohup dockerd >"$log" 2>&1 &
    i=0
    until docker info >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 60 ]; then
            tail -20 "$log" >&2
            echo "test-compose: dockerd did not answer within 60 s" >&2
            exit 1
        fi
        sleep 1
    done
fi
sh tests/compose/base.sh "${VINTED_TEST_BASE:-vinted-test/bookworm:base}"
exec python3 tests/compose/test_compose.py -v

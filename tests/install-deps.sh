#!/bin/sh
# install-deps.sh - make sure the Debian packages needed to build and test
# vinted-pipeline are installed. As root, installs what is missing with apt-get
# (running apt-get update only then); otherwise prints what is missing and exits 1.
# Then installs the npm test tools of tests/package.json (s3rver, the S3 server the
# object store is tested against) into tests/node_modules when they are missing.
# Quiet and idempotent when everything is there.
set -u
repo=$(cd "$(dirname "$0")/.." && pwd) || exit 1

# present PACKAGE: true when the package, or what we need from it, is installed.
present() {
    case "$1" in
        postgresql) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && return 0 ;;
        postgresql-client) command -v psql >/dev/null 2>&1 && return 0 ;;
        python3) command -v python3 >/dev/null 2>&1 && return 0 ;;
        build-essential) command -v cc >/dev/null 2>&1 && command -v make >/dev/null 2>&1 && return 0 ;;
        # node may come from elsewhere (nodesource, nvm): any node and npm on PATH will do
        nodejs) command -v node >/dev/null 2>&1 && return 0 ;;
        npm) command -v npm >/dev/null 2>&1 && return 0 ;;
        # the SigV4 check runs Debian's interpreter: it must import botocore
        python3-botocore) [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import botocore' >/dev/null 2>&1 && return 0 ;;
    esac
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

packages="build-essential pkg-config libczmq-dev libzmq3-dev libcurl4-openssl-dev libmsgpack-dev
libcjson-dev libmicrohttpd-dev libpq-dev libssl-dev postgresql postgresql-client python3 procps iproute2
nodejs npm python3-botocore docker-compose chromium clang-14 libclang-rt-14-dev valgrind"

missing=""
for p in $packages; do
    present "$p" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps.sh: missing Debian packages:$missing" >&2
        echo "install-deps.sh: run as root (or: sudo apt-get install$missing)" >&2
        exit 1
    fi
    echo "install-deps.sh: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || exit 1
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing || exit 1
fi

# npm test tools (tests/package.json, versions pinned; tests/package-lock.json)
if [ ! -e "$repo/tests/node_modules/.bin/s3rver" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "install-deps.sh: npm is needed to install s3rver (tests/package.json)" >&2
        exit 1
    fi
    echo "install-deps.sh: installing the npm test tools into tests/node_modules"
    npm install --no-audit --no-fund --prefix "$repo/tests" || exit 1
fi
exit 0

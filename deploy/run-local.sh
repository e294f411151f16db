#!/usr/bin/env bash
# Run the whole pipeline on this machine, no Docker: a private PostgreSQL
# cluster under the state directory, the broker and N workers per stage.
#   deploy/run-local.sh --simulate            against the simulated Vinted (offline)
#   deploy/run-local.sh                       against the live site (VINTED_SITE, default pt)
# Options: --state DIR (default ./var), --fetchers N --transformers N --sinks N.
# Ctrl-C stops everything; the next start resumes from the stored marks.
set -euo pipefail
cd "$(dirname "$0")/.."

state=./var simulate=0 fetchers=1 transformers=1 sinks=1
while [ $# -gt 0 ]; do
    case "$1" in
        --simulate) simulate=1 ;;
        --state) state=$2; shift ;;
        --fetchers) fetchers=$2; shift ;;
        --transformers) transformers=$2; shift ;;
        --sinks) sinks=$2; shift ;;
        --help|-h) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "run-local.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
for n in "$fetchers" "$transformers" "$sinks"; do
    case "$n" in ''|*[!0-9]*) echo "run-local.sh: worker counts must be whole numbers, got '$n'" >&2; exit 2 ;; esac
done

sh tests/install-deps.sh
make -s
mkdir -p "$state"
state=$(cd "$state" && pwd)
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pgport=${VINTED_PG_PORT:-54329}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ ! -f "$state/pg/PG_VERSION" ]; then
    mkdir -p "$state/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$state/pg"
    as_pg "$pgbin/initdb" -D "$state/pg" -A trust -U postgres >"$state/initdb.log"
fi
touch "$state/pg.log"
[ "$(id -u)" = 0 ] && chown postgres "$state/pg.log"
as_pg "$pgbin/pg_ctl" -D "$state/pg" -l "$state/pg.log" -w \
    -o "-p $pgport -c listen_addresses=127.0.0.1 -k /tmp" start >/dev/null
"$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U postgres vinted 2>/dev/null || true

pids=()
cleanup() {
    trap - INT TERM EXIT
    echo "stopping..."
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    as_pg "$pgbin/pg_ctl" -D "$state/pg" -m fast stop >/dev/null || true
}
trap cleanup INT TERM EXIT

export VINTED_PG=${VINTED_PG:-"host=127.0.0.1 port=$pgport user=postgres dbname=vinted"}
export VINTED_BROKER=${VINTED_BROKER:-tcp://127.0.0.1:5555}
export VINTED_CONTROL=${VINTED_CONTROL:-tcp://127.0.0.1:5556}
export VINTED_CATALOGS=${VINTED_CATALOGS:-221,1242,2320}
if [ "$simulate" = 1 ]; then
    python3 tests/sim/vinted_sim.py --port 0 --port-file "$state/sim.port" --seed 1 \
        --catalogs "$VINTED_CATALOGS" --initial 300 --generation "${VINTED_API:-svc}" \
        --auto-tick 10 2>"$state/sim.log" &
    pids+=($!)
    for _ in $(seq 50); do [ -s "$state/sim.port" ] && break; sleep 0.1; done
    export VINTED_WWW_URL="http://127.0.0.1:$(cat "$state/sim.port")"
    export VINTED_API_URL="$VINTED_WWW_URL"
    export VINTED_WINDOW=${VINTED_WINDOW:-30s} VINTED_RATE=${VINTED_RATE:-120}
fi
bin/vinted-broker 2>>"$state/broker.log" & pids+=($!)
for _ in $(seq "$fetchers"); do bin/vinted-fetcher 2>>"$state/fetcher.log" & pids+=($!); done
for _ in $(seq "$transformers"); do bin/vinted-transformer 2>>"$state/transformer.log" & pids+=($!); done
for _ in $(seq "$sinks"); do bin/vinted-pg-sink 2>>"$state/pg-sink.log" & pids+=($!); done
echo "running: logs in $state/*.log; database: psql \"$VINTED_PG\"; status: bin/vinted-ctl status"
echo "Ctrl-C stops everything."
wait

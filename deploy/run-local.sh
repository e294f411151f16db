#!/usr/bin/env bash
# run-local.sh - run the whole pipeline on this machine, no Docker: a private
# PostgreSQL cluster and a file:// object store under the state directory, the
# broker and N workers per stage.
#
#   deploy/run-local.sh --simulate     against the simulated Vinted (tests/sim/, offline):
#                                      30 s windows, 120 requests a minute, new listings
#                                      every 10 s
#   deploy/run-local.sh                against the live site (VINTED_SITE, default pt) at
#                                      VINTED_RATE (default 1 request a minute)
#
# Options:
#   --simulate          use the simulator instead of the live site
#   --state DIR         state directory: cluster, store, logs (default ./var)
#   --fetchers N        fetcher workers (default 1)
#   --transformers N    transformer workers (default 1)
#   --sinks N           pg-sink workers (default 1)
#   --uploaders N       s3-uploader workers (default 1)
#   --help              this text
#
# As root it installs the missing Debian packages first (tests/install-deps.sh),
# then builds (make). Every VINTED_* variable of the README is honoured; the
# defaults here: VINTED_CATALOGS=221,1242,2320, VINTED_STORE=file://DIR/store,
# PostgreSQL on 127.0.0.1:${VINTED_PG_PORT:-54329}, broker on tcp://127.0.0.1:5555
# and 5556 (so bin/vinted-ctl works with no settings). Logs: DIR/*.log.
# Ctrl-C stops everything (SIGTERM, then PostgreSQL); the next start resumes the
# open windows and the catalogs' marks from the database. The simulator starts
# afresh every time, so after a restart its first windows find little that is
# newer than the stored marks.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "run-local.sh: $*" >&2; exit 2; }

state=./var simulate=0 fetchers=1 transformers=1 sinks=1 uploaders=1
while [ $# -gt 0 ]; do
    case "$1" in
        --simulate) simulate=1 ;;
        --state|--fetchers|--transformers|--sinks|--uploaders)
            [ $# -ge 2 ] || die "$1 needs a value (see --help)"
            case "$1" in
                --state) state=$2 ;;
                --fetchers) fetchers=$2 ;;
                --transformers) transformers=$2 ;;
                --sinks) sinks=$2 ;;
                --uploaders) uploaders=$2 ;;
            esac
            shift ;;
        --help|-h) usage; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done
for pair in "fetchers=$fetchers" "transformers=$transformers" "sinks=$sinks" "uploaders=$uploaders"; do
    n=${pair#*=}
    case "$n" in
        ''|*[!0-9]*) die "--${pair%%=*} must be a whole number, got '$n'" ;;
    esac
    [ "$n" -le 64 ] || die "--${pair%%=*} $n is more than 64"
done
if [ "$fetchers" -lt 1 ] || [ "$transformers" -lt 1 ] || [ "$sinks" -lt 1 ] || [ "$uploaders" -lt 1 ]; then
    die "every stage needs at least one worker (a window is done only when its pages are committed and stored)"
fi
[ -n "$state" ] || die "--state must not be empty"

sh tests/install-deps.sh
make -s
mkdir -p "$state"
state=$(cd "$state" && pwd)
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pgport=${VINTED_PG_PORT:-54329}
is_root=0
[ "$(id -u)" = 0 ] && is_root=1
as_pg() { if [ "$is_root" = 1 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# The cluster lives in DIR/pg. As root the server runs as user postgres, which must
# reach that directory: under a private home (/root is 0700) it cannot, and the
# cluster goes to /var/tmp instead, under a name derived from DIR (the same each start).
pgdata=$state/pg
if [ "$is_root" = 1 ]; then
    mkdir -p "$pgdata"
    chown postgres "$pgdata"
    if ! runuser -u postgres -- test -w "$pgdata"; then
        pgdata=/var/tmp/vinted-pg-$(printf '%s' "$state" | md5sum | cut -c1-12)
        echo "run-local.sh: user postgres cannot reach $state/pg: the cluster is in $pgdata"
        mkdir -p "$pgdata"
        chown postgres "$pgdata"
        chmod 700 "$pgdata"
    fi
fi
pglog=$pgdata.log
if [ ! -f "$pgdata/PG_VERSION" ]; then
    mkdir -p "$pgdata"
    as_pg "$pgbin/initdb" -D "$pgdata" -A trust -U postgres -E UTF8 --locale=C >"$state/initdb.log" \
        || { cat "$state/initdb.log" >&2; exit 1; }
fi
touch "$pglog"
[ "$is_root" = 1 ] && chown postgres "$pglog"

pids=()
names=()
stopping=0
cleanup() {
    trap - INT TERM EXIT
    [ "$stopping" = 1 ] && return
    stopping=1
    echo "run-local.sh: stopping..."
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    # give everything 10 s to end on its own, then SIGKILL what is left
    for _ in $(seq 100); do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null && echo "run-local.sh: killed $p (no exit after SIGTERM)"; done
    wait 2>/dev/null || true
    as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
    echo "run-local.sh: stopped; the next start resumes from $state"
}
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$pglog" -w -t 60 \
    -o "-p $pgport -c listen_addresses=127.0.0.1 -k /tmp" start >/dev/null \
    || { tail -n 20 "$pglog" >&2; die "PostgreSQL did not start on port $pgport (set VINTED_PG_PORT to use another port)"; }
"$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U postgres vinted 2>/dev/null || true

# start NAME CMD...: run CMD in the background, stderr and stdout to DIR/NAME.log
cmds=()
start() {
    local name=$1
    shift
    echo "==== $(date -u +%FT%TZ) start: $*" >>"$state/$name.log"
    "$@" >>"$state/$name.log" 2>&1 &
    pids+=($!)
    names+=("$name")
    cmds+=("$*")
}

# restart I: start program I again in its slot (a worker that died)
restart() {
    local i=$1
    echo "==== $(date -u +%FT%TZ) restart: ${cmds[$i]}" >>"$state/${names[$i]}.log"
    # shellcheck disable=SC2086
    ${cmds[$i]} >>"$state/${names[$i]}.log" 2>&1 &
    pids[$i]=$!
}

export VINTED_PG=${VINTED_PG:-"host=127.0.0.1 port=$pgport user=postgres dbname=vinted"}
export VINTED_BROKER=${VINTED_BROKER:-tcp://127.0.0.1:5555}
export VINTED_CONTROL=${VINTED_CONTROL:-tcp://127.0.0.1:5556}
export VINTED_CATALOGS=${VINTED_CATALOGS:-221,1242,2320}
export VINTED_STORE=${VINTED_STORE:-file://$state/store}
if [ "$simulate" = 1 ]; then
    rm -f "$state/sim.port"
    # --user-rate 0: no 429 on seller profiles; --auto-tick: new listings every 10 s
    start sim python3 tests/sim/vinted_sim.py --port 0 --port-file "$state/sim.port" --seed 1 \
        --catalogs "$VINTED_CATALOGS" --initial 300 --generation "${VINTED_API:-svc}" \
        --user-rate 0 --auto-tick 10
    for _ in $(seq 100); do [ -s "$state/sim.port" ] && break; sleep 0.1; done
    [ -s "$state/sim.port" ] || { tail -n 20 "$state/sim.log" >&2; die "the simulator did not start"; }
    sim_url="http://127.0.0.1:$(cat "$state/sim.port")"
    export VINTED_WWW_URL=$sim_url VINTED_API_URL=$sim_url VINTED_CDN_URL=$sim_url
    export VINTED_WINDOW=${VINTED_WINDOW:-30s} VINTED_RATE=${VINTED_RATE:-120}
fi
start broker bin/vinted-broker
for i in $(seq "$fetchers"); do start "fetcher-$i" bin/vinted-fetcher; done
for i in $(seq "$transformers"); do start "transformer-$i" bin/vinted-transformer; done
for i in $(seq "$sinks"); do start "pg-sink-$i" bin/vinted-pg-sink; done
for i in $(seq "$uploaders"); do start "s3-uploader-$i" bin/vinted-s3-uploader; done

echo "run-local.sh: running $([ "$simulate" = 1 ] && echo "against the simulator at $sim_url" || echo "against the live site") (catalogs $VINTED_CATALOGS)"
echo "  logs:     $state/*.log"
echo "  status:   bin/vinted-ctl status"
echo "  prices:   bin/vinted-ctl prices"
echo "  database: psql \"$VINTED_PG\""
echo "  reports:  export VINTED_PG=\"$VINTED_PG\"   (vinted-ctl prices/quality/report read it)"
echo "Ctrl-C stops everything."

# Supervise: a worker that dies is started again (the broker hands its tasks to the
# others meanwhile); the broker, the simulator or a clean exit (Ctrl-C reaches every
# program of the terminal's process group at once) stops everything.
while true; do
    ended=
    rc=0
    wait -n -p ended || rc=$?
    [ -n "$ended" ] || continue
    [ "$stopping" = 1 ] && exit 1
    for i in "${!pids[@]}"; do
        [ "${pids[$i]}" = "$ended" ] || continue
        case "${names[$i]}" in
            broker|sim) ;;
            *)
                if [ "$rc" -ne 0 ]; then
                    echo "run-local.sh: ${names[$i]} died (exit $rc), starting it again (log: $state/${names[$i]}.log)" >&2
                    sleep 1
                    restart "$i"
                    continue 2
                fi ;;
        esac
        echo "run-local.sh: ${names[$i]} ended (exit $rc): stopping everything (log: $state/${names[$i]}.log)" >&2
        exit 1
    done
done

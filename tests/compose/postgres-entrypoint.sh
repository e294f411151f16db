#!/bin/sh
# tests/compose/postgres-entrypoint.sh - the stand-in postgres image's start: make the
# cluster with the role, password and database of POSTGRES_* on the first start (an
# empty data directory), then run the server in the foreground as user postgres.
set -eu
bin=/usr/lib/postgresql/15/bin
data=/var/lib/postgresql/data
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
mkdir -p "$data" /var/run/postgresql
chown postgres:postgres "$data" /var/run/postgresql
chmod 700 "$data"
if [ ! -s "$data/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "postgres-entrypoint: POSTGRES_PASSWORD is empty: set it (deploy/.env)" >&2
        exit 1
    fi
    pw=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pw"
    chown postgres "$pw"
    as_postgres "$bin/initdb" -D "$data" -U "$user" --pwfile="$pw" -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pw"
    echo "host all all all scram-sha-256" >> "$data/pg_hba.conf"
    if [ "$db" != postgres ]; then
        as_postgres "$bin/pg_ctl" -D "$data" -o "-c listen_addresses=''" -w -s start
        as_postgres /usr/bin/createdb -U "$user" -- "$db"
        as_postgres "$bin/pg_ctl" -D "$data" -m fast -w -s stop
    fi
    echo "postgres-entrypoint: cluster created (role $user, database $db)"
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$data" \
    -c listen_addresses='*'

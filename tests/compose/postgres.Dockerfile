# tests/compose/postgres.Dockerfile - stand-in for the postgres:15-bookworm image,
# from Debian's postgresql-15, for machines that cannot pull it. It honours what
# deploy/docker-compose.yml relies on: POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB
# on the first start, data in /var/lib/postgresql/data, TCP on 5432 with password
# (SCRAM) authentication, pg_isready on the local socket, fast shutdown on stop.
ARG BASE=vinted-test/bookworm:base
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-common \
 && sed -ri 's/#?(create_main_cluster) .*$/\1 = false/' /etc/postgresql-common/createcluster.conf \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data \
 && chown postgres:postgres /var/lib/postgresql/data && chmod 700 /var/lib/postgresql/data
COPY tests/compose/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["/bin/sh", "/usr/local/bin/postgres-entrypoint.sh"]

# tests/compose/s3.Dockerfile - stand-in S3 server for machines that cannot pull the
# SeaweedFS image: s3rver, the npm package the test suite already uses, on Debian's
# nodejs. It is copied from tests/node_modules (tests/install-deps.sh installs it there,
# version pinned by tests/package.json and package-lock.json; it is plain JavaScript):
# the build then needs no npm registry, whose TLS a proxy may intercept. s3rver
# accepts the one key pair S3RVER / S3RVER, so the test's env file sets those.
ARG BASE=vinted-test/bookworm:base
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir /data
COPY tests/node_modules/ /opt/s3rver/node_modules/
EXPOSE 8333
# --openssl-legacy-provider: s3rver makes list continuation tokens with DES (OpenSSL 3 legacy)
ENTRYPOINT ["node", "--openssl-legacy-provider", "/opt/s3rver/node_modules/.bin/s3rver"]
CMD ["-d", "/data", "-a", "0.0.0.0", "-p", "8333", "--no-vhost-buckets"]

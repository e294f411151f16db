# tests/compose/awscli.Dockerfile - stand-in for the amazon/aws-cli image (the s3-init
# service creates the bucket with it): Debian's awscli.
ARG BASE=vinted-test/bookworm:base
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends awscli ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["aws"]

# tests/compose/sim.Dockerfile - the simulated Vinted (tests/sim, Python standard
# library only) as a compose service (tests/compose/docker-compose.sim.yml).
ARG BASE=vinted-test/bookworm:base
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/*
COPY tests/sim/ /opt/sim/
EXPOSE 8080
ENTRYPOINT ["python3", "/opt/sim/vinted_sim.py"]
CMD ["--bind", "0.0.0.0", "--port", "8080"]

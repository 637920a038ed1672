# ykc-bridge in a container: `docker compose up` (docker-compose.yml), or
#   docker build -t ykc-bridge . && docker run -p 8768:8768 -e YKC_MQTT_URL=tcp://broker:1883 ykc-bridge
# Both stages install their packages with scripts/install-deps.sh and the build is scripts/run.sh's,
# the README's set-up path (tests/docker/check_docker.py keeps them the same).

# ---- build: the project's own scripts, so this cannot drift from the README --------------------
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt config.yaml ./
COPY cmake/ cmake/
COPY mappings/ mappings/
COPY protocol/ protocol/
COPY bridge/ bridge/
COPY tools/ tools/
COPY scripts/ scripts/
RUN bash scripts/run.sh build && build-release/bridge/ykc-bridge --version

# ---- runtime: the shared libraries only, a non-root user ---------------------------------------
FROM debian:bookworm-slim
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/ykc-bridge --no-create-home ykc \
    && mkdir -p /var/lib/ykc-bridge/data /etc/ykc-bridge \
    && chown -R ykc:ykc /var/lib/ykc-bridge
COPY --from=build /src/build-release/bridge/ykc-bridge /usr/local/bin/ykc-bridge
# the defaults; mount your own over it (docker-compose.yml mounts ./config.yaml)
COPY config.yaml /etc/ykc-bridge/config.yaml
# YKC_<KEY_PATH> overrides a key of the file (config.yaml's header), e.g. YKC_MQTT_URL
ENV YKC_CONFIG=/etc/ykc-bridge/config.yaml \
    YKC_MQTT_PERSISTENCE_DIR=/var/lib/ykc-bridge/data
# Paho's file persistence: what is published while the broker is down survives a restart
VOLUME /var/lib/ykc-bridge/data
WORKDIR /var/lib/ykc-bridge
USER ykc
EXPOSE 8768
# healthy while the charger port (of the same configuration and environment) accepts connections
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["ykc-bridge", "health"]
ENTRYPOINT ["ykc-bridge"]
CMD ["run"]

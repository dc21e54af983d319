# syntax=docker/dockerfile:1
# iotmock in a container: `docker build -t iotmock .` then
#   docker run --rm -p 4580:4580 -p 8883:8883 -v iotmock-state:/var/lib/iotmock iotmock
# The API is then http://localhost:4580 and MQTT over mutual TLS localhost:8883; the trust
# anchor is served at http://localhost:4580/iotmock/AmazonRootCA1.pem.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
# BuildKit cache mounts keep the crate registry and the build between image builds; the
# executable is copied out of the cached target dir.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin iotmock \
    && cp target/release/iotmock /usr/local/bin/iotmock

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/iotmock iotmock \
    && mkdir -p /var/lib/iotmock && chown iotmock /var/lib/iotmock
COPY --from=build /usr/local/bin/iotmock /usr/local/bin/iotmock
USER iotmock
VOLUME /var/lib/iotmock
EXPOSE 4580 8883
# Outside a container iotmock listens on loopback only. Inside one it must listen on every
# interface to be reachable through the published ports, so the image says so here.
ENV IOTMOCK_API_ADDR=0.0.0.0:4580 \
    IOTMOCK_MQTT_ADDR=0.0.0.0:8883 \
    IOTMOCK_STATE_DIR=/var/lib/iotmock
# Ready once every listener serves: the API answers only then.
HEALTHCHECK --interval=2s --timeout=2s --start-period=5s --retries=15 \
    CMD ["iotmock", "health", "--endpoint-url", "http://127.0.0.1:4580"]
ENTRYPOINT ["iotmock"]
CMD ["serve"]

# syntax=docker/dockerfile:1

# Build stage: the toolchain pinned to the project's minimum supported Rust version or newer.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin nodeport-watch

# Runtime stage: glibc, CA certificates for the cloud APIs, nothing else.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin nodeport-watch \
 && mkdir -p /var/lib/nodeport-watch /etc/nodeport-watch \
 && chown 10001 /var/lib/nodeport-watch
COPY --from=build /src/target/release/nodeport-watch /usr/local/bin/nodeport-watch
USER 10001
# The state database (checkpoints and alert outbox) must outlive the container.
VOLUME ["/var/lib/nodeport-watch"]
ENTRYPOINT ["/usr/local/bin/nodeport-watch"]
CMD ["run", "--config", "/etc/nodeport-watch/config.toml"]

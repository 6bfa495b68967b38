# syntax=docker/dockerfile:1

# Build stage: the toolchain pinned to the project's minimum supported Rust version or newer.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY benches ./benches
# No .git in the build context: pass the commit, e.g. --build-arg NODEPORT_WATCH_COMMIT=$(git rev-parse --short=12 HEAD)
ARG NODEPORT_WATCH_COMMIT=unknown
ENV NODEPORT_WATCH_COMMIT=${NODEPORT_WATCH_COMMIT}
RUN cargo build --release --locked --bin nodeport-watch

# Runtime stage: glibc, CA certificates for the cloud APIs and the HTTPS sinks, nothing else.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 nodeport-watch \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin nodeport-watch \
 && mkdir -p /var/lib/nodeport-watch /etc/nodeport-watch \
 && chown 10001:10001 /var/lib/nodeport-watch
COPY --from=build /src/target/release/nodeport-watch /usr/local/bin/nodeport-watch
# The only writable place the daemon needs is the state volume: the SQLite database and its
# WAL live there, and so do SQLite's temporary files, so a read-only root filesystem works
# (`docker run --read-only`, Kubernetes `readOnlyRootFilesystem: true`).
ENV SQLITE_TMPDIR=/var/lib/nodeport-watch \
    TMPDIR=/var/lib/nodeport-watch
USER 10001:10001
# The state database (checkpoints and alert outbox) must outlive the container.
VOLUME ["/var/lib/nodeport-watch"]
# [server] listen in the configuration: /healthz, /readyz, /metrics.
EXPOSE 9090
# The image has no curl: the binary asks its own /healthz (the address comes from [server]).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/nodeport-watch", "health", "--config", "/etc/nodeport-watch/config.toml"]
ENTRYPOINT ["/usr/local/bin/nodeport-watch"]
CMD ["run", "--config", "/etc/nodeport-watch/config.toml"]

# Attune's container image: the crate built in rust:1.95-bookworm, run from
# debian:bookworm-slim as uid 10001 with the binary and CA certificates alone.
#
#   docker build -t attune .
#   docker run -d -p 8080:8080 --stop-timeout 35 \
#       -e DATABASE_URL=postgres://... -e ATTUNE_JWT_SECRET=<32+ random bytes> attune
#   docker exec <container> attune bootstrap --practice "My Practice" --json
#
# Stopping: on SIGTERM the service lets in-flight requests finish for up to
# ATTUNE_SHUTDOWN_TIMEOUT_SECONDS (default 30). `docker stop` sends SIGKILL
# after 10 s unless told otherwise, and a Dockerfile cannot change that: pass
# `--stop-timeout 35` to `docker run` (or `docker stop -t 35`); the label
# io.attune.stop-timeout records the value, docker-compose.yml sets
# stop_grace_period: 35s.
#
# No `# syntax=` line and no `RUN --mount`: the file builds with the builder
# built into the Docker engine (classic or BuildKit), offline, without fetching
# a Dockerfile frontend from a registry; scripts/check-container checks it.

# Build: a dependency layer that only changes with Cargo.toml/Cargo.lock, then
# the crate.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Stub lib.rs and main.rs (the crate has both; no build.rs, [[bin]] or
# [[bench]] targets) compile every dependency; then drop everything built for
# the stub crate itself, fingerprints included, so the real sources are
# always compiled whatever their timestamps.
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/attune target/release/attune.d target/release/libattune.* \
        target/release/.fingerprint/attune-* target/release/deps/attune-* \
        target/release/deps/libattune-*
# Every top-level folder the code embeds at compile time (include_str!,
# include_bytes!, embed_migrations!), one COPY each; add new ones here
# (askama reads templates/ at compile time).
COPY migrations migrations
COPY catalog catalog
COPY templates templates
COPY src src
RUN cargo build --release --locked \
    && strip target/release/attune

# Run: a small image, a non-root user, the binary alone.
FROM debian:bookworm-slim
# A regular (non-system) user and group 10001: no home, no login, no
# lastlog/faillog entry.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 attune \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --no-log-init attune
COPY --from=build /src/target/release/attune /usr/local/bin/attune
USER 10001:10001
# Metrics listen on their own port: reachable on the container's network for a
# scraper, and never published with the API port (do not map 9464 to the host).
ENV ATTUNE_BIND=0.0.0.0:8080 \
    ATTUNE_METRICS_BIND=0.0.0.0:9464 \
    ATTUNE_LOG_FORMAT=json
EXPOSE 8080 9464
LABEL org.opencontainers.image.title="attune" \
      io.attune.stop-timeout="35"
STOPSIGNAL SIGTERM
# `attune healthcheck` reads ATTUNE_BIND like `serve` does and asks /healthz
# on that port, so the check follows a changed bind address.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["attune", "healthcheck"]
ENTRYPOINT ["attune"]
CMD ["serve"]

# syntax=docker/dockerfile:1
# Build: a dependency layer that only changes with Cargo.toml/Cargo.lock, then the crate.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/.fingerprint/attune-* target/release/deps/attune-* target/release/deps/libattune-*
COPY src src
COPY migrations migrations
COPY openapi openapi
RUN cargo build --release --locked

# Run: a small image, a non-root user, the binary alone.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home --uid 10001 attune
COPY --from=build /src/target/release/attune /usr/local/bin/attune
USER 10001:10001
ENV ATTUNE_BIND=0.0.0.0:8080 \
    ATTUNE_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["attune"]
CMD ["serve"]

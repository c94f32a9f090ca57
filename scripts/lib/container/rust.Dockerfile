# Local stand-in for rust:<version>-bookworm (scripts/check-container): the
# debian:bookworm-slim stand-in, the build packages of the official image's
# base (buildpack-deps:bookworm, which has no cmake either), this machine's
# TLS proxy CA certificates, and the host's Rust toolchain.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates curl wget git gnupg dirmngr xz-utils bzip2 unzip \
        binutils gcc g++ libc6-dev make pkg-config libssl-dev perl patch file procps \
    && rm -rf /var/lib/apt/lists/*
COPY ca-certificates/ /usr/local/share/ca-certificates/
RUN rm -f /usr/local/share/ca-certificates/.keep && update-ca-certificates
ARG RUST_VERSION
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    RUST_VERSION=${RUST_VERSION}
COPY rustup /usr/local/rustup
COPY cargo /usr/local/cargo
RUN chmod -R a+w "$RUSTUP_HOME" "$CARGO_HOME" \
    && rustup --version && cargo --version && rustc --version
